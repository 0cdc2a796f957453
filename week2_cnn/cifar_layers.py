"""Layer helpers shared by the CIFAR-10 model builders (cifar_models, cifar_zoo_models).

Each takes the model's frozen config (week2_cnn.cifar_models.CifarConfig) for
the settings every network shares: batch norm on or off, the activation and
the L2 weight decay. Batch norm is common.layers.FusedBatchNormalization:
Keras's numbers through TensorFlow's fused kernel (+22% images/s on `fast`).
"""

import keras
from keras import layers

from common.layers import FusedBatchNormalization


def l2_regularizer(config):
    """Keras's L2 adds l * sum(w^2); the config's l2 is the decay rate, whose loss is l/2 * w^2.

    None with --optimizer airbench, which adds l2 * w to every variable's gradient itself.
    """
    if not config.l2 or config.optimizer == "airbench":
        return None
    return keras.regularizers.L2(config.l2 / 2)


def conv(x, filters, config, kernel_size=3, strides=1, name=None, initializer="he_normal"):
    """A 'same'-padded conv (He-initialised unless `initializer` says otherwise), with a
    bias only when no batch norm follows."""
    return layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                         use_bias=not config.batch_norm, kernel_initializer=initializer,
                         kernel_regularizer=l2_regularizer(config), name=name)(x)


def conv_bn(x, filters, config, kernel_size=3, strides=1, name=None, initializer="he_normal"):
    """conv (no bias when batch norm follows) -> batch norm -> activation."""
    x = conv(x, filters, config, kernel_size, strides, name, initializer)
    if config.batch_norm:
        # Short runs need fast-moving statistics for evaluation (airbench uses 0.4).
        x = FusedBatchNormalization(momentum=0.6 if config.arch == "fast" else 0.9,
                                      scale=config.arch != "fast")(x)
    return layers.Activation(config.activation)(x)


def bn_act(x, config):
    """batch norm (when on) -> activation: the pre-activation of ResNet v2 and DenseNet.

    Momentum 0.9 (PyTorch's 0.1, what those papers' CIFAR code used), not Keras's
    0.99: after a few hundred steps of a short run the moving statistics that
    evaluation uses must already be the data's, not their initial 0 and 1.
    """
    if config.batch_norm:
        x = FusedBatchNormalization(momentum=0.9)(x)
    return layers.Activation(config.activation)(x)


def dense(x, units, config, name=None):
    """A fully connected layer with the activation and the L2 decay of the config."""
    return layers.Dense(units, activation=config.activation,
                        kernel_regularizer=l2_regularizer(config), name=name)(x)
