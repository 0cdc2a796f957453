"""Optimizers whose gradient clipping measures the whole batch's gradient under tf.distribute.

Keras 3 clips each replica's gradient (Optimizer._clip_gradients runs in the
replica's step) before the replicas' gradients are summed, so with R > 1
replicas a step is the sum of R separately clipped parts, not the clipped
gradient one device takes on the same global batch. WholeBatchClipping
measures the norm of the summed gradient (one all-reduce) and scales each
replica's part by the one factor min(1, clip / norm); the optimizer's own sum
of the parts is then the clipped batch gradient, as on one device.
WholeBatchClipSGD (memn2n) and WholeBatchClipAdam (captioning) are that
clipping on Keras's SGD and Adam.
"""

import keras
import tensorflow as tf

from common.cli import UsageError


class DenseReplicaGradients:
    """Mixin for a keras.optimizers class: on several replicas, an embedding's IndexedSlices
    gradient is made dense before the replicas' gradients are summed.

    TF sums IndexedSlices across replicas by gathering their rows, which fails when the
    replicas hold different numbers of rows ("Shape mismatch in the collective instance":
    seen resuming a week4_qa.vqa run on two CPU replicas). Dense, the sum is an all-reduce
    of (vocabulary, E) floats; Adam's moments are dense anyway. One replica: unchanged.
    """

    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()  # None in cross-replica context
        if context is not None and context.num_replicas_in_sync > 1:
            grads = [g if g is None else tf.convert_to_tensor(g) for g in grads]
        return super()._clip_gradients(grads)


@keras.saving.register_keras_serializable(package="tfcourse")
class DenseReplicaAdam(DenseReplicaGradients, keras.optimizers.Adam):
    """Adam whose embedding gradients are summed densely across replicas
    (DenseReplicaGradients); on one replica, Keras's Adam exactly."""


class WholeBatchClipping(DenseReplicaGradients):
    """Mixin for a keras.optimizers class: global_clipnorm over the global batch (module
    docstring); on several replicas the gradients are dense (DenseReplicaGradients)."""

    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()  # None in cross-replica context
        if (not self.global_clipnorm or context is None
                or context.num_replicas_in_sync == 1):
            return super()._clip_gradients(grads)
        # Dense as DenseReplicaGradients makes them; an IndexedSlices gradient with repeated
        # rows would also have a values' norm that is not the gradient's.
        grads = [g if g is None else tf.convert_to_tensor(g) for g in grads]
        present = [g for g in grads if g is not None]
        norm = tf.linalg.global_norm(context.all_reduce(tf.distribute.ReduceOp.SUM, present))
        # As keras's clip_by_global_norm: a non-finite norm makes the step NaN (the NaN stop).
        scale = (self.global_clipnorm * tf.minimum(1.0 / norm, 1.0 / self.global_clipnorm)
                 + (norm - norm))
        return [g if g is None else g * tf.cast(scale, g.dtype) for g in grads]


@keras.saving.register_keras_serializable(package="tfcourse")
class WholeBatchClipAdam(WholeBatchClipping, keras.optimizers.Adam):
    """Adam with global_clipnorm measured on the whole batch's gradient (module docstring);
    on one replica, Keras's Adam exactly."""


@keras.saving.register_keras_serializable(package="tfcourse")
class WholeBatchClipSGD(WholeBatchClipping, keras.optimizers.SGD):
    """SGD with global_clipnorm measured on the whole batch's gradient (module docstring);
    on one replica, Keras's SGD exactly. Registered as 'tfcourse>WholeBatchClipSGD', the
    name memn2n checkpoints saved when it lived in week4_qa.memn2n_model."""


class DenseReplicaCheck(keras.callbacks.Callback):
    """Refuses, before the first step, to train on several replicas with an optimizer
    that sums an embedding's IndexedSlices gradients across them (a checkpoint compiled
    before its command used DenseReplicaGradients), which TF fails at with a traceback."""

    def on_train_begin(self, logs=None):
        replicas = self.model.distribute_strategy.num_replicas_in_sync
        if replicas > 1 and not isinstance(self.model.optimizer, DenseReplicaGradients):
            raise UsageError(f"this run's checkpoint cannot sum its embedding's gradients "
                             f"across {replicas} replicas (it was made by an older version); "
                             "resume it with --strategy default, or start a new run")


class WholeBatchClipCheck(keras.callbacks.Callback):
    """Refuses, before the first step, to train on several replicas with a clipping
    optimizer that clips each replica's part apart (a checkpoint compiled before its
    command used WholeBatchClipping): right on one replica only."""

    def on_train_begin(self, logs=None):
        replicas = self.model.distribute_strategy.num_replicas_in_sync
        optimizer = self.model.optimizer
        if (replicas > 1 and getattr(optimizer, "global_clipnorm", None)
                and not isinstance(optimizer, WholeBatchClipping)):
            raise UsageError(f"this run's checkpoint clips each of the {replicas} replicas' "
                             "gradients apart (it was made by an older version); resume it "
                             "with --strategy default, or start a new run")
