"""The DCGAN as one `keras.Model`: two networks, two optimizers, its own train_step.

Saved as a `.keras` file, a DCGAN keeps both networks and both optimizers
(their moments and step counts; Keras saves every optimizer held in an
attribute), so `--resume` continues exactly where an epoch ended.

Under `--strategy mirrored` each replica trains on its slice of the batch
with its own noise; Keras's losses already divide by the number of replicas
(so the summed gradients are those of the global batch), and the logged
losses are multiplied back, so they read the same as on one device.
"""

import dataclasses

import keras
import tensorflow as tf

from common.configs import config_from_dict
from gan.model import RENAMED, GANConfig, build_discriminator, build_generator


@keras.saving.register_keras_serializable(package="tfcourse")
class DCGAN(keras.Model):
    """Generator G and discriminator D trained against each other.

    The loss is the lecture's minimax objective with the non-saturating
    generator loss: D minimizes -log D(x) - log(1 - D(G(z))), G minimizes
    -log D(G(z)) (strong gradients early, when D easily rejects G's samples).
    Both are sigmoid cross-entropies on D's logits.
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
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("d_loss", "g_loss", "d_real", "d_fake")}

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
        step = tf.cast(self.d_optimizer.iterations, tf.int32)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group,
                          tf.int32)
        seed = tf.stack([tf.constant(self.seed, tf.int32),
                         (step * 2 + draw) * replicas + replica])
        return tf.random.stateless_normal(tf.stack([batch_size, self.latent_dim]), seed=seed)

    def train_step(self, real_images):
        # real_images: (batch, size, size, channels) floats in [-1, 1].
        batch_size = tf.shape(real_images)[0]
        # D step (one per G step, k = 1 in Goodfellow et al.'s Algorithm 1).
        fake_images = self.generator(self.sample_noise(batch_size, 0), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)  # (batch, 1)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = (self.cross_entropy(tf.ones_like(real_logits), real_logits)
                      + self.cross_entropy(tf.zeros_like(fake_logits), fake_logits))
        grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        # G step against the updated D, with fresh noise.
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(
                self.generator(self.sample_noise(batch_size, 1), training=True), training=True)
            g_loss = self.cross_entropy(tf.ones_like(fake_logits), fake_logits)
        grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_variables))
        # Keras divided each loss by the replica count; the logs show the whole loss.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        values = {"d_loss": d_loss * replicas, "g_loss": g_loss * replicas,
                  "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                  "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits))}
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
