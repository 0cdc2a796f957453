"""The variational autoencoder (Kingma & Welling 2014): config, presets, builders, the model.

The encoder maps an image x to the mean and log variance of a Gaussian
q(z|x) = N(mu, diag(sigma^2)); the reparameterization trick draws
z = mu + sigma * eps with eps ~ N(0, I), so the sample is a differentiable
function of (mu, log sigma^2). The decoder maps z to p(x|z): Bernoulli pixels
(the course's choice; images binarized at 0.5) or Gaussian pixels of fixed
standard deviation `sigma` (images scaled to [0, 1]). The loss is the negative
evidence lower bound, per image, in nats:

    -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || N(0, I))
    KL    = -1/2 * sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)     (closed form)

The reconstruction term is estimated with one z per image, as in the paper.
The decoder outputs logits; the image it "generates" is its mean,
sigmoid(logits) in [0, 1], served like the DCGAN's tanh output: `generator`
maps z to that mean rescaled to [-1, 1], so gan.sampling, gan.grids and
gan.metrics read a VAE exactly as they read a DCGAN.
"""

import dataclasses
import math

import keras
import tensorflow as tf
from keras import layers

from common.argtypes import count, positive_float
from common.configs import config_from_dict, setting
from common.model_size import Counter

LIKELIHOODS = ("bernoulli", "gaussian")


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    latent_dim: int = setting(20, "size of the latent code z", count(4096))
    hidden_units: int = setting(512, "units of each hidden layer of the encoder and decoder",
                                count(65_536))
    num_layers: int = setting(2, "hidden layers of the encoder (the decoder mirrors them)",
                              count(16))
    likelihood: str = setting("bernoulli", "p(x|z): bernoulli (images binarized at 0.5) or "
                              "gaussian (pixels in [0, 1], fixed --sigma)", choices=LIKELIHOODS)
    sigma: float = setting(0.1, "gaussian only: the decoder's pixel standard deviation",
                           positive_float)
    batch_size: int = setting(100, "images per batch", count(65_536))
    epochs: int = 20
    learning_rate: float = setting(1e-3, "Adam learning rate", positive_float)


PRESETS = {
    # Trains in seconds; a 2-D code, so the latent maps are drawn too.
    "test": VAEConfig(latent_dim=2, hidden_units=32, num_layers=1, batch_size=16, epochs=2),
    # An MLP VAE like the published ones (Kingma & Welling: 20 latent units,
    # one hidden layer of 500; later MLP VAEs two of 500-512), Adam 1e-3.
    "default": VAEConfig(),
}


def estimated_size(config, image_shape):
    """The ModelSize of build_vae(config, image_shape) for one training batch, unbuilt."""
    count, pixels = Counter(), math.prod(image_shape)
    count.output(pixels)                               # the images
    for widths in ([pixels] + [config.hidden_units] * config.num_layers,     # encoder
                   [config.latent_dim] + [config.hidden_units] * config.num_layers):  # decoder
        for inputs, units in zip(widths, widths[1:]):
            count.output(count.dense(inputs, units))   # and its ReLU
    count.dense(config.hidden_units, config.latent_dim)  # mu
    count.dense(config.hidden_units, config.latent_dim)  # log sigma^2
    count.output(config.latent_dim)                    # z
    count.dense(config.hidden_units, pixels)           # pixel logits
    count.output(pixels)                               # per-pixel -log p(x|z)
    return count.size(config.batch_size)


def build_encoder(config, image_shape):
    """images (batch, H, W, C) in [0, 1] -> (mu, log sigma^2), each (batch, latent_dim)."""
    images = keras.Input(image_shape, name="images")
    x = layers.Flatten()(images)  # (batch, H*W*C)
    for i in range(config.num_layers):
        x = layers.Dense(config.hidden_units, activation="relu", name=f"hidden_{i}")(x)
    mean = layers.Dense(config.latent_dim, name="z_mean")(x)
    log_var = layers.Dense(config.latent_dim, name="z_log_var")(x)
    return keras.Model(images, [mean, log_var], name="encoder")


def build_decoder(config, image_shape):
    """z (batch, latent_dim) -> pixel logits (batch, H, W, C); the mean is sigmoid(logits)."""
    z = keras.Input((config.latent_dim,), name="z")
    x = z
    for i in range(config.num_layers):
        x = layers.Dense(config.hidden_units, activation="relu", name=f"hidden_{i}")(x)
    x = layers.Dense(math.prod(image_shape), name="pixel_logits")(x)
    logits = layers.Reshape(tuple(image_shape), name="logits")(x)
    return keras.Model(z, logits, name="decoder")


def build_generator(decoder):
    """z -> the decoder's mean image in [-1, 1] (the DCGAN generator's range and contract)."""
    z = keras.Input(decoder.input_shape[1:], name="noise")
    mean = layers.Activation("sigmoid", name="mean")(decoder(z))  # [0, 1]
    images = layers.Rescaling(2.0, offset=-1.0, name="images")(mean)  # [-1, 1]
    return keras.Model(z, images, name="generator")


def reparameterize(mean, log_var, eps):
    """z = mu + sigma * eps: a sample of N(mu, sigma^2) that gradients flow through."""
    return mean + tf.exp(0.5 * log_var) * eps


def kl_divergence(mean, log_var):
    """KL(N(mu, diag sigma^2) || N(0, I)) per example (batch,), in closed form."""
    return -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)


def bernoulli_nll(images, logits):
    """-log p(x|z) per example for Bernoulli pixels: summed sigmoid cross-entropy."""
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(images)[0], -1]), axis=-1)


def gaussian_nll(images, logits, sigma):
    """-log p(x|z) per example for N(sigmoid(logits), sigma^2) pixels (a density, in nats)."""
    squared = tf.square(images - tf.sigmoid(logits)) / (2.0 * sigma ** 2)
    per_pixel = squared + 0.5 * math.log(2.0 * math.pi * sigma ** 2)
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(images)[0], -1]), axis=-1)


def to_model_input(images, likelihood):
    """uint8 [0, 255] -> what the VAE models: {0, 1} (bernoulli: > 0.5) or [0, 1] floats."""
    scaled = tf.cast(images, tf.float32) / 255.0
    return tf.cast(scaled > 0.5, tf.float32) if likelihood == "bernoulli" else scaled


@keras.saving.register_keras_serializable(package="tfcourse")
class VAE(keras.Model):
    """Encoder and decoder trained together on the negative ELBO (module docstring).

    Logged per image (means over images): loss (-ELBO), reconstruction, kl.
    The optimizer is injected through compile (build_vae).
    """

    def __init__(self, vae_config, image_shape=(28, 28, 1), seed=0, **kwargs):
        super().__init__(**kwargs)
        config = config_from_dict(VAEConfig, vae_config)  # later fields take their defaults
        self.vae_config = dataclasses.asdict(config)
        self.settings = config  # the VAEConfig itself, for reading
        self.image_shape = tuple(int(d) for d in image_shape)
        self.seed = seed
        self.latent_dim = config.latent_dim
        self.encoder = build_encoder(config, self.image_shape)
        self.decoder = build_decoder(config, self.image_shape)
        self.generator = build_generator(self.decoder)  # shares the decoder's weights
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "reconstruction", "kl")}

    def build(self, input_shape=None):
        self.built = True  # encoder and decoder are built functional models

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        """images in [0, 1] -> the mean reconstruction in [0, 1] (z = mu, no sampling)."""
        mean, _ = self.encoder(images, training=training)
        return tf.sigmoid(self.decoder(mean, training=training))

    def sample_eps(self, shape, step, stream):
        """N(0, I) noise (batch, latent), a pure function of (seed, step, stream).

        Keyed on the optimizer's step count in training (checkpoints keep it,
        so a resumed run draws what an uninterrupted one would); evaluation
        uses its own stream with step 0, so its numbers are reproducible.
        Under a strategy of several replicas each replica draws the noise of
        the whole global batch and keeps its own rows, so the replicas (the
        workers of a cluster) train on exactly the noise one process would.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        seed = tf.stack([tf.constant(self.seed, tf.int32),
                         tf.cast(step, tf.int32) * 2 + stream])
        if replicas == 1:
            return tf.random.stateless_normal(shape, seed=seed)
        batch = shape[0]  # this replica's rows (the global batch split evenly)
        noise = tf.random.stateless_normal(tf.stack([batch * replicas, shape[1]]), seed=seed)
        first = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group,
                        tf.int32) * batch
        return noise[first:first + batch]

    def losses_per_image(self, images, eps, training=False):
        """(-ELBO, reconstruction, KL), each (batch,) nats, for images and noise eps."""
        mean, log_var = self.encoder(images, training=training)  # (batch, latent) each
        logits = self.decoder(reparameterize(mean, log_var, eps), training=training)
        if self.settings.likelihood == "bernoulli":
            reconstruction = bernoulli_nll(images, logits)
        else:
            reconstruction = gaussian_nll(images, logits, self.settings.sigma)
        kl = kl_divergence(mean, log_var)
        return reconstruction + kl, reconstruction, kl

    def _update(self, values):
        for name, value in zip(("loss", "reconstruction", "kl"), values):
            self.trackers[name].update_state(value)  # per image: the mean is over images
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, images):
        # images: (batch, H, W, C) in [0, 1] ({0, 1} for bernoulli).
        batch_size = tf.shape(images)[0]
        eps = self.sample_eps(tf.stack([batch_size, self.latent_dim]),
                              self.optimizer.iterations, 0)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            values = self.losses_per_image(images, eps, training=True)
            # The mean over the global batch: replicas' gradients are summed.
            loss = tf.reduce_sum(values[0]) / tf.cast(batch_size * replicas, tf.float32)
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._update(values)

    def test_step(self, images):
        eps = self.sample_eps(tf.stack([tf.shape(images)[0], self.latent_dim]), 0, 1)
        return self._update(self.losses_per_image(images, eps))

    def get_config(self):
        return dict(super().get_config(), vae_config=self.vae_config,
                    image_shape=self.image_shape, seed=self.seed)


def build_vae(config, image_shape=(28, 28, 1), seed=0, jit_compile="auto"):
    """A compiled VAE for a VAEConfig and image shape (H, W, C)."""
    model = VAE(dataclasses.asdict(config), image_shape, seed)
    model.build()
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  jit_compile=jit_compile)
    return model


def negative_elbo(model, images, batch_size=500):
    """Means over uint8 `images` of -ELBO, reconstruction and KL (nats per image).

    Images are prepared as in training (binarized at 0.5 for bernoulli); one
    z per image from the evaluation noise stream, so the numbers repeat.
    """
    if not model.compiled:  # read from a checkpoint without its optimizer
        model.compile(optimizer=None)
    data = (tf.data.Dataset.from_tensor_slices(images).batch(batch_size)
            .map(lambda x: to_model_input(x, model.settings.likelihood)))
    results = model.evaluate(data, verbose=0, return_dict=True)
    return {"negative_elbo": float(results["loss"]),
            "reconstruction": float(results["reconstruction"]), "kl": float(results["kl"])}


def encode_means(model, images, batch_size=500):
    """The codes mu of uint8 images, numpy (N, latent_dim).

    The encoder is called batch by batch rather than through `predict`: after
    each epoch (LatentMaps) the model lives in the training strategy's scope,
    and under MultiWorkerMirroredStrategy Keras's predict reduces across the
    workers, so it would wait for every worker to predict at the same moment.
    """
    inputs = to_model_input(images, model.settings.likelihood)
    parts = [model.encoder(inputs[i:i + batch_size], training=False)[0]
             for i in range(0, len(images), batch_size)]
    return (tf.concat(parts, axis=0) if parts else tf.zeros([0, model.latent_dim])).numpy()
