"""The DCGAN as one `keras.Model`: two networks, two optimizers, its own train_step.

Saved as a `.keras` file, a DCGAN keeps both networks and both optimizers
(their moments and step counts; Keras saves every optimizer held in an
attribute), so `--resume` continues exactly where an epoch ended.

Under `--strategy mirrored` each replica trains on its slice of the batch
with its own noise; the losses (gan.losses) divide by the number of replicas
as Keras's do (so the summed gradients are those of the global batch), and
the logged losses are multiplied back, so they read the same as on one device.
"""

import dataclasses

import keras
import tensorflow as tf

from common.configs import config_from_dict
from gan.losses import LOSSES, gradient_penalty
from gan.model import RENAMED, GANConfig, build_discriminator, build_generator


@keras.saving.register_keras_serializable(package="tfcourse")
class DCGAN(keras.Model):
    """Generator G and discriminator D trained against each other.

    The loss comes from gan.losses by the config's `loss` name (the paper's
    non-saturating loss by default): D minimizes its loss on real images and
    on G's, then G minimizes its loss against the updated D. A loss with a
    gradient penalty adds it to D's loss, on random interpolates of the same
    real and generated images.
    """

    def __init__(self, gan_config, image_size=28, channels=1, seed=0, **kwargs):
        super().__init__(**kwargs)
        # Checkpoints made before a field was renamed or added still load.
        config = config_from_dict(GANConfig, gan_config, RENAMED)
        self.gan_config = dataclasses.asdict(config)
        self.image_size = image_size
        self.channels = channels
        self.seed = seed
        self.latent_dim = config.latent_dim
        self.generator = build_generator(config, image_size, channels)
        self.discriminator = build_discriminator(config, image_size, channels)
        self.g_optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1,
                                                 name="g_adam")
        self.d_optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1,
                                                 name="d_adam")
        # Not `self.loss`: keras.Model keeps its compiled loss there.
        self.adversarial_loss = LOSSES[config.loss]
        names = ["d_loss", "g_loss", "d_real", "d_fake"]
        if self.adversarial_loss.penalty_weight:
            names.append("gradient_penalty")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def build(self, input_shape=None):
        # Optimizer variables exist before a checkpoint's weights are loaded
        # into them (Keras skips loading into an unbuilt optimizer).
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def sample_noise(self, batch_size, draw):
        """(batch, latent_dim) noise, a function of (seed, step, draw, replica).

        Keyed on D's optimizer step count, which checkpoints keep, so a
        resumed run draws the noise an uninterrupted run would have. Each
        replica of a mirrored run draws its own (on one device: replica 0 of 1,
        the same noise as before replicas were counted).
        """
        return tf.random.stateless_normal(tf.stack([batch_size, self.latent_dim]),
                                          seed=self._step_seed(draw))

    def sample_mix(self, batch_size):
        """(batch, 1, 1, 1) interpolation weights in [0, 1) for the gradient penalty."""
        return tf.random.stateless_uniform(tf.stack([batch_size, 1, 1, 1]),
                                           seed=self._step_seed(2))

    def _step_seed(self, draw):
        """The stateless seed of draw 0 (D's noise), 1 (G's noise) or 2 (the penalty's mix).

        Draws 0 and 1 keep their numbers from before the penalty existed: 2
        draws per step, so old runs resume with the noise they had.
        """
        step = tf.cast(self.d_optimizer.iterations, tf.int32)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group,
                          tf.int32)
        if draw < 2:
            index = (step * 2 + draw) * replicas + replica
        else:  # a stream of its own, apart from the noise's indices (all >= 0)
            index = -1 - (step * replicas + replica)
        return tf.stack([tf.constant(self.seed, tf.int32), index])

    def train_step(self, real_images):
        # real_images: (batch, size, size, channels) floats in [-1, 1].
        loss = self.adversarial_loss
        batch_size = tf.shape(real_images)[0]
        # D step (one per G step, k = 1 in Goodfellow et al.'s Algorithm 1).
        fake_images = self.generator(self.sample_noise(batch_size, 0), training=True)
        with tf.GradientTape() as tape:
            real_outputs = self.discriminator(real_images, training=True)  # (batch, 1)
            fake_outputs = self.discriminator(fake_images, training=True)
            d_loss = loss.discriminator(real_outputs, fake_outputs)
            if loss.penalty_weight:  # decided when the step is traced, not per batch
                penalty = gradient_penalty(self.discriminator, real_images, fake_images,
                                           self.sample_mix(batch_size))
                d_loss = d_loss + loss.penalty_weight * penalty
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        # G step against the updated D, with fresh noise.
        with tf.GradientTape() as tape:
            fake_outputs = self.discriminator(
                self.generator(self.sample_noise(batch_size, 1), training=True), training=True)
            g_loss = loss.generator(fake_outputs)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        # Each loss was divided by the replica count; the logs show the whole loss.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        values = {"d_loss": d_loss * replicas, "g_loss": g_loss * replicas,
                  "d_real": loss.reading(real_outputs), "d_fake": loss.reading(fake_outputs)}
        if loss.penalty_weight:
            values["gradient_penalty"] = penalty * replicas
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def compile_from_config(self, config):
        # The two optimizers are part of the model (built in build()), so
        # compiling only prepares fit(); Keras's default would add a third.
        self.compile(optimizer=None)

    def get_config(self):
        return dict(super().get_config(), gan_config=self.gan_config,
                    image_size=self.image_size, channels=self.channels, seed=self.seed)


def build_dcgan(config, image_size=28, channels=1, seed=0, jit_compile="auto"):
    """A compiled DCGAN (or fc_gan) for a GANConfig and image shape."""
    model = DCGAN(dataclasses.asdict(config), image_size, channels, seed)
    model.build()
    model.compile(optimizer=None, jit_compile=jit_compile)
    return model
