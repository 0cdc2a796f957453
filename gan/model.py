"""DCGAN and the course's fully connected GAN: configuration, presets, builders.

The DCGAN follows Radford et al. (2016), section 3: no pooling (strided
convolutions in D, transposed convolutions in G), batch norm everywhere except
G's output layer and D's input layer, ReLU in G with tanh at the output,
LeakyReLU(0.2) in D, weights from N(0, 0.02), Adam(2e-4, beta_1 0.5), batch 128.
G starts with the paper's "project and reshape" (a dense layer to a small
feature map) and doubles the resolution per transposed convolution while
halving the filters; D mirrors it and ends with one linear unit (a logit
for the logistic losses, a score for the others; gan.losses). With `--loss
wgan_gp` D's batch norm becomes layer normalization over each image's
features: the gradient penalty is taken per image, and batch norm would make
each image's output depend on the rest of the batch.

    size 28: 7 -> 14 -> 28         size 32: 4 -> 8 -> 16 -> 32
    size 64: 4 -> 8 -> 16 -> 32 -> 64 (the paper's LSUN generator, narrower)

`fc_gan` is the course's original GAN: G 100 -> 128 (ReLU) -> H*W*C, D H*W*C
-> 128 (LeakyReLU) -> 1, Adam(1e-3), batch 64. It outputs tanh images in
[-1, 1] like the DCGAN (the original used sigmoid on [0, 1]: the same model up
to an affine change of the pixel scale), so both share data and sampling code.
"""

import dataclasses

import keras
from keras import layers

from common.argtypes import count, fraction, positive_float
from common.configs import setting
from common.layers import FusedBatchNormalization
from common.model_size import Counter
from gan.losses import LOSS_NAMES, LOSSES

ARCHS = ("dcgan", "fc_gan")
IMAGE_SIZES = (28, 32, 64)
# Config keys renamed since older runs were made: old -> new.
RENAMED = {"model": "arch"}


@dataclasses.dataclass(frozen=True)
class GANConfig:
    arch: str = setting("dcgan", "dcgan (Radford et al.) or fc_gan (the course's fully "
                        "connected GAN; --preset fc_gan gives its training settings too)",
                        choices=ARCHS)
    loss: str = setting("non_saturating", "adversarial loss: minimax (the original, G "
                        "saturates), non_saturating (the paper's), lsgan (least squares), "
                        "wgan_gp (Wasserstein critic with gradient penalty 10 and layer norm), "
                        "hinge", choices=LOSS_NAMES)
    latent_dim: int = setting(100, "size of the noise vector z", count(4096))
    # Filters of G's last hidden layer and of D's first layer; each step
    # towards the small end doubles them (the paper's 64 at 64x64 images).
    generator_filters: int = setting(64, "filters of G's last hidden layer (doubled towards "
                                     "the small end)", count(1024))
    discriminator_filters: int = setting(64, "filters of D's first layer (doubled per layer)",
                                         count(1024))
    kernel_size: int = setting(5, "convolution kernel size", count(15))
    hidden_units: int = setting(128, "fc_gan: hidden units of G and D", count(65_536))
    batch_size: int = setting(128, "images per batch", count(65_536))
    epochs: int = 20
    learning_rate: float = setting(2e-4, "Adam learning rate (both networks)", positive_float)
    beta_1: float = setting(0.5, "Adam beta_1 in [0, 1) (the paper lowers it to 0.5 for "
                            "stability)", fraction)


PRESETS = {
    # Trains in seconds; for tests and for trying the commands out.
    "test": GANConfig(generator_filters=8, discriminator_filters=8, kernel_size=3,
                      batch_size=16, epochs=2),
    # The paper's structure at widths sized for 2 CPU cores: about 25-35 s per
    # MNIST epoch with the CPU free, 20 epochs in about 10 minutes (benchmarks/RESULTS.md).
    # 4x4 kernels, as in PyTorch's DCGAN example: divisible by the stride, so
    # transposed convolutions overlap evenly (no checkerboard), cheaper than 5x5.
    "default": GANConfig(generator_filters=24, discriminator_filters=24, kernel_size=4),
    # The widths of the usual TensorFlow DCGAN (64 base filters, 5x5; at 64x64
    # G has 512-256-128-64 filters, the paper's LSUN G 1024-512-256-128), for a GPU.
    "paper": GANConfig(generator_filters=64, discriminator_filters=64),
    # The course's fully connected GAN (the old --model fc_gan picks these settings).
    "fc_gan": GANConfig(arch="fc_gan", batch_size=64, learning_rate=1e-3, beta_1=0.9),
}


def num_upsamplings(image_size):
    """Transposed convolutions needed to grow G's first feature map to image_size."""
    if image_size not in IMAGE_SIZES:
        raise ValueError(f"image size {image_size} is not one of {IMAGE_SIZES}")
    return 2 if image_size == 28 else {32: 3, 64: 4}[image_size]


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


def build_generator(config, image_size=28, channels=1):
    """noise (batch, latent_dim) -> images (batch, size, size, channels) in [-1, 1]."""
    noise = keras.Input((config.latent_dim,), name="noise")
    if config.arch == "fc_gan":
        x = layers.Dense(config.hidden_units, activation="relu", name="hidden")(noise)
        x = layers.Dense(image_size * image_size * channels, activation="tanh",
                         name="pixels")(x)
        images = layers.Reshape((image_size, image_size, channels), name="images")(x)
        return keras.Model(noise, images, name="generator")
    steps = num_upsamplings(image_size)
    start = image_size // 2 ** steps  # 7 for 28, else 4
    filters = config.generator_filters * 2 ** (steps - 1)
    # Biases are left out before batch norm, whose offset makes them redundant.
    x = layers.Dense(start * start * filters, use_bias=False, kernel_initializer=_init(),
                     name="project")(noise)
    x = layers.Reshape((start, start, filters))(x)  # (batch, start, start, filters)
    x = layers.ReLU()(FusedBatchNormalization(name="project_bn")(x))
    for i in range(steps - 1):
        filters //= 2
        x = layers.Conv2DTranspose(filters, config.kernel_size, strides=2, padding="same",
                                   use_bias=False, kernel_initializer=_init(),
                                   name=f"deconv_{i}")(x)  # resolution doubles
        x = layers.ReLU()(FusedBatchNormalization(name=f"deconv_{i}_bn")(x))
    images = layers.Conv2DTranspose(channels, config.kernel_size, strides=2, padding="same",
                                    activation="tanh", kernel_initializer=_init(),
                                    name="images")(x)  # (batch, size, size, channels)
    return keras.Model(noise, images, name="generator")


def build_discriminator(config, image_size=28, channels=1):
    """images (batch, size, size, channels) -> D's outputs (batch, 1), one linear unit."""
    images = keras.Input((image_size, image_size, channels), name="images")
    if config.arch == "fc_gan":
        x = layers.Flatten()(images)
        x = layers.Dense(config.hidden_units, name="hidden")(x)
        x = layers.LeakyReLU(0.2)(x)
        return keras.Model(images, layers.Dense(1, name="logit")(x), name="discriminator")
    x = images
    filters = config.discriminator_filters
    layer_norm = LOSSES[config.loss].layer_norm_critic
    for i in range(num_upsamplings(image_size)):
        x = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same",
                          use_bias=i == 0, kernel_initializer=_init(),
                          name=f"conv_{i}")(x)  # resolution halves
        if i > 0 and layer_norm:  # over (H, W, C) of each image: no batch statistics
            x = layers.LayerNormalization(axis=(1, 2, 3), name=f"conv_{i}_ln")(x)
        elif i > 0:  # no batch norm on D's input layer
            x = FusedBatchNormalization(name=f"conv_{i}_bn")(x)
        x = layers.LeakyReLU(0.2)(x)
        filters *= 2
    x = layers.Flatten()(x)
    logit = layers.Dense(1, kernel_initializer=_init(), name="logit")(x)
    return keras.Model(images, logit, name="discriminator")



def estimated_size(config, image_size=28, channels=1):
    """The ModelSize of G and D together for one training batch, unbuilt.

    A step runs G once and D on the real and the generated images (wgan_gp a
    third time, on the mixed images of its gradient penalty).
    """
    generator, discriminator = Counter(), Counter()
    pixels = image_size * image_size * channels
    if config.arch == "fc_gan":
        generator.output(generator.dense(config.latent_dim, config.hidden_units))  # ReLU
        generator.output(generator.dense(config.hidden_units, pixels))             # tanh
        discriminator.output(discriminator.dense(pixels, config.hidden_units))     # LeakyReLU
        discriminator.dense(config.hidden_units, 1)
    else:
        _count_generator(generator, config, image_size, channels)
        _count_discriminator(discriminator, config, image_size, channels)
    d_passes = 3 if LOSSES[config.loss].layer_norm_critic else 2
    return (generator.size(config.batch_size)
            + discriminator.size(d_passes * config.batch_size))


def _count_generator(count, config, image_size, channels):
    """build_generator's dcgan branch: project, (transposed conv, BN, ReLU)s, tanh image."""
    steps = num_upsamplings(image_size)
    side = image_size // 2 ** steps
    filters = config.generator_filters * 2 ** (steps - 1)
    count.dense(config.latent_dim, side * side * filters, bias=False)  # project
    for i in range(steps):
        count.weights(4 * filters)                      # BN: scale, offset, moving mean, var
        count.output(2 * side * side * filters)         # BN, ReLU
        side *= 2
        if i < steps - 1:
            filters = count.conv(filters, filters // 2, config.kernel_size, side * side,
                                 bias=False)
    count.conv(filters, channels, config.kernel_size, side * side)
    count.output(side * side * channels)                # tanh


def _count_discriminator(count, config, image_size, channels):
    """build_discriminator's dcgan branch: strided convs with BN (or LN) and LeakyReLU."""
    layer_norm = LOSSES[config.loss].layer_norm_critic
    side, filters_in, filters = image_size, channels, config.discriminator_filters
    for i in range(num_upsamplings(image_size)):
        side = (side + 1) // 2                          # "same" padding, stride 2
        filters_in = count.conv(filters_in, filters, config.kernel_size, side * side,
                                bias=i == 0)
        if i:  # LN normalizes over (H, W, C): a scale and offset per value
            count.weights(2 * side * side * filters if layer_norm else 4 * filters)
            count.output(side * side * filters)
        count.output(side * side * filters)             # LeakyReLU
        filters *= 2
    count.dense(side * side * filters_in, 1)
