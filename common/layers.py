"""Layers (and an initializer) shared by the assignments.

PartialDirac: a conv kernel initializer that starts the first filters as the
identity (airbench's; short CIFAR-10 schedules train faster from it).

FusedBatchNormalization: Keras 3's BatchNormalization computes batch norm from
primitive ops (mean, variance, subtract, scale...), each a pass over the
activations forward and again backward. TensorFlow has one fused kernel for
the whole forward pass and one for the backward pass (oneDNN's on CPU), which
Keras 2 used for 4-D inputs. This layer puts that kernel back for the common
case (4-D NHWC input, normalized over the last axis) and gives the same
numbers as keras.layers.BatchNormalization otherwise.
"""

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tfcourse")
class PartialDirac(keras.initializers.Initializer):
    """Conv kernels whose first min(in, out) filters each pass one input channel through.

    Filter i < min(in, out) is 1 at the centre tap of channel i and 0 elsewhere
    (PyTorch's dirac_ on those filters, as airbench initialises its convolutions);
    the other filters come from `base`. A block so initialised starts close to
    the identity, which a 7-8 epoch CIFAR-10 schedule trains faster
    (benchmarks/RESULTS.md).
    """

    def __init__(self, base="he_normal"):
        self.base = keras.initializers.get(base)

    def __call__(self, shape, dtype=None):
        rows, columns, inputs, filters = shape
        count = min(inputs, filters)
        identity = np.zeros((rows, columns, inputs, count), np.float32)
        identity[rows // 2, columns // 2, np.arange(count), np.arange(count)] = 1.0
        kernel = self.base(shape, dtype=dtype)
        return keras.ops.concatenate(
            [keras.ops.cast(identity, kernel.dtype), kernel[..., count:]], axis=-1)

    def get_config(self):
        return {"base": keras.initializers.serialize(self.base)}


@keras.saving.register_keras_serializable(package="tfcourse")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization through tf's FusedBatchNormV3 kernel."""

    def _can_fuse(self, inputs, mask):
        return (mask is None and len(inputs.shape) == 4 and self.axis in (-1, 3)
                and not self.synchronized and not getattr(self, "renorm", False)
                and inputs.dtype == tf.float32)

    def call(self, inputs, training=None, mask=None):
        if not self._can_fuse(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels], inputs.dtype)
        offset = self.beta if self.center else tf.zeros([channels], inputs.dtype)
        if not training or not self.trainable:  # Keras: a frozen BN uses moving stats
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, scale, offset, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=False)
            return outputs
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=self.epsilon, is_training=True)
        # The kernel returns the unbiased (n - 1) batch variance; Keras keeps the
        # biased one in its moving average, so undo Bessel's correction.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:-1]), inputs.dtype)
        variance = variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum
                                + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * (1.0 - self.momentum))
        return outputs
