"""airbench94's network (Keller Jordan, "94% on CIFAR-10 in 3.29 seconds on a single GPU",
2024), built in Keras layer for layer; `--preset airbench94` trains it with the rest of
the recipe (week2_cnn.airbench_optimizer, cifar_training's alternating flip and TTA).

    images 0..255 (batch, 32, 32, 3), normalised per channel
    whiten   2x2 conv, 24 filters, "valid": 12 whitened patch components and their
             negatives, computed from training patches and never trained; a bias
             (ChannelBias) that trains for the first 3 epochs, then freezes  (31, 31, 24)
    GELU
    3 groups of conv 3x3 -> max pool 2 -> BN -> GELU -> conv 3x3 -> BN -> GELU,
             widths 64, 256, 256 (--width, 4 x width, 4 x width)  (15, 7, 3 pixels a side)
    global max pool (airbench's MaxPool2d(3) over the last 3x3 map)  (batch, 256)
    dense 10, no bias, times 1/9 (airbench's `scaling_factor`)        logits (batch, 10)

The convolutions are initialised as PyTorch initialises them (uniform within
1/sqrt(fan_in)), then their first in-channels filters as the identity (`dirac_init`).
Batch norm normalises with a frozen scale of 1 and a trained offset; its moving
statistics move fast (Keras momentum 0.6 = PyTorch 0.4) because the run is short.
airbench's eps of 1e-12 is PyTorch's; TensorFlow's fused kernel takes at least
1.001e-5, which is what it gets here (it only matters for channels of near-zero
variance). Weight decay is not a regularizer of the model: the optimizer applies
it to every trained variable, as airbench's SGD does.
"""

import keras
import numpy as np
from keras import layers

from common.layers import FusedBatchNormalization, PartialDirac

# airbench's widths of the three groups, for --width 64: 64, 256, 256.
GROUP_WIDTHS = (1, 4, 4)
LOGIT_SCALE = 1 / 9
BN_MOMENTUM = 0.6       # Keras's (the old value's weight); PyTorch's momentum 0.4
BN_EPSILON = 1.001e-5   # the least TensorFlow's fused batch norm takes (airbench: 1e-12)
WHITEN_PATCH = 2        # 2x2 patches of 3 channels: 12 components
WHITEN_FILTERS = 2 * 3 * WHITEN_PATCH ** 2
WHITEN_IMAGES = 5000    # airbench computes the patch statistics on the first 5,000 images


def torch_default_init():
    """PyTorch's default init of conv and linear weights, uniform within 1/sqrt(fan_in)
    (kaiming_uniform with a = sqrt(5)); Keras's VarianceScaling says it as scale 1/3."""
    return keras.initializers.VarianceScaling(1 / 3, mode="fan_in", distribution="uniform")


@keras.saving.register_keras_serializable(package="week2_cnn")
class ChannelBias(layers.Layer):
    """Adds a trained bias per channel: the whitening conv's bias, a variable of its own
    so that the conv's kernel can stay frozen while the bias trains (its own path,
    `whiten_bias/bias`, is what the optimizer freezes after `whiten_bias_epochs`)."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                    name="bias")

    def call(self, inputs):
        return inputs + self.bias


def _conv(filters, config):
    """A 3x3 "same" conv, biased only when no batch norm follows (--no-batch_norm)."""
    initializer = torch_default_init()
    if config.dirac_init:
        initializer = PartialDirac(initializer)
    return layers.Conv2D(filters, 3, padding="same", use_bias=not config.batch_norm,
                         kernel_initializer=initializer)


def _norm_act(x, config):
    """Batch norm (a frozen scale of 1, a trained offset), then the activation."""
    if config.batch_norm:
        x = FusedBatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, scale=False)(x)
    return layers.Activation(config.activation)(x)


def airbench_body(x, config):
    """Normalised images (batch, 32, 32, 3) -> features (batch, 4 * width)."""
    # With --no-whitening the first layer is an ordinary trained conv (the ablation).
    x = layers.Conv2D(WHITEN_FILTERS, WHITEN_PATCH, padding="valid", use_bias=False,
                      trainable=not config.whitening, kernel_initializer=torch_default_init(),
                      name="whiten")(x)                                  # (batch, 31, 31, 24)
    x = ChannelBias(name="whiten_bias")(x)
    x = layers.Activation(config.activation)(x)
    for scale in GROUP_WIDTHS:
        x = _conv(config.width * scale, config)(x)
        x = _norm_act(layers.MaxPooling2D(2)(x), config)                 # 31 -> 15 -> 7 -> 3
        x = _norm_act(_conv(config.width * scale, config)(x), config)
    return layers.GlobalMaxPooling2D()(x)                                # (batch, 4 * width)


def airbench_classifier(x, num_classes):
    """Features -> logits: a dense layer without bias, scaled by 1/9."""
    x = layers.Dense(num_classes, use_bias=False, kernel_initializer=torch_default_init(),
                     name="logits")(x)
    return layers.Rescaling(LOGIT_SCALE, name="logit_scale")(x)


def patch_whitening(images, eps=5e-4, centred=False):
    """(2, 2, 3, 24) kernel that whitens the 2x2 patches of normalised images.

    images: float (N, 32, 32, 3), already normalised per channel. The patches'
    second-moment matrix C = P^T P / n (12 x 12) is eigendecomposed, C = V diag(l) V^T;
    filter i is eigenvector v_i / sqrt(l_i + eps), largest eigenvalue first, followed
    by the 12 negated filters (so a following ReLU keeps both signs). So the first 12
    outputs have second moments l_i / (l_i + eps), about 1, and no correlation.
    airbench leaves the patches uncentred (`centred=False`); the `fast` preset
    centres them first, so C is their covariance.
    """
    x = np.asarray(images, np.float64)
    # Each patch flattened in the order of a (2, 2, 3) kernel: (row, column, channel).
    patches = np.concatenate([x[:, i:i + 31, j:j + 31, :] for i in (0, 1) for j in (0, 1)],
                             axis=-1).reshape(-1, 12)
    if centred:
        patches = patches - patches.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(patches.T @ patches / len(patches))
    order = np.argsort(eigenvalues)[::-1]
    kernel = eigenvectors[:, order] / np.sqrt(eigenvalues[order] + eps)  # a filter per column
    return np.concatenate([kernel, -kernel], axis=1).reshape(2, 2, 3, 24).astype(np.float32)
