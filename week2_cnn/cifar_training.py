"""Training pieces for CIFAR-10: the learning-rate schedule, optimizer, input pipeline.

Kept apart from the command module so that the speed benchmark and the
transfer-learning proof build and compile models exactly as `train` does.
"""

import math
import time

import keras
import numpy as np
import tensorflow as tf

from common.batching import shuffled_batches
from week2_cnn.airbench_optimizer import AirbenchSGD

LOOKAHEAD_EVERY = 5  # airbench's: the slow weights sync every 5 steps
ALTERNATING_FLIP_STREAM = 1  # numpy's stream of the run seed for the per-image flip bits


@keras.saving.register_keras_serializable(package="week2_cnn")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from start * peak to `peak`, then down to end * peak (triangular,
    cosine) or level (constant). airbench94's triangle: start 0.2, end 0.07.

    Driven by the optimizer's step counter, so a resumed run (the optimizer is
    saved in every checkpoint) continues exactly where it stopped. Checkpoints
    saved before start and end existed read 0, which is what they did.
    """

    def __init__(self, peak, total_steps, warmup_steps, shape="triangular", start=0.0,
                 end=0.0):
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.shape = shape
        self.start, self.end = float(start), float(end)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.start + (1.0 - self.start) * step / max(self.warmup_steps, 1)
        progress = tf.clip_by_value((step - self.warmup_steps)
                                    / max(self.total_steps - self.warmup_steps, 1), 0.0, 1.0)
        if self.shape == "triangular":
            after = 1.0 - (1.0 - self.end) * progress
        elif self.shape == "cosine":
            after = self.end + (1.0 - self.end) * 0.5 * (1.0 + tf.cos(math.pi * progress))
        else:
            after = tf.ones_like(progress)
        return self.peak * tf.where(step < self.warmup_steps, warm, after)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "shape": self.shape,
                "start": self.start, "end": self.end}


def compile_model(model, config, steps_per_epoch, jit_compile=False, schedule=None):
    """Optimizer, label-smoothed loss and accuracy for `config`.

    jit_compile=False: on the reference CPU XLA trained the fast model no
    faster (310 vs 317 images per second of 2-core CPU time; benchmarks/RESULTS.md)
    and costs a compile at start. schedule: another learning-rate schedule than
    the config's over its epochs (benchmarks.cifar_zoo's runs on a wall clock).
    """
    total = config.epochs * steps_per_epoch
    if schedule is None:
        # airbench's triangle puts its peak at int(0.23 * steps), a whole step.
        warmup = (int(config.warmup_fraction * total) if config.optimizer == "airbench"
                  else round(config.warmup_fraction * total))
        schedule = WarmupSchedule(config.learning_rate, total, warmup, config.schedule,
                                  config.lr_start, config.lr_end)
    if config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(schedule)
    elif config.optimizer == "airbench":
        optimizer = AirbenchSGD(
            schedule, config.momentum, decay=config.l2, offset_lr_scale=config.offset_lr_scale,
            frozen_after=({"whiten_bias": config.whiten_bias_epochs * steps_per_epoch}
                          if config.arch == "airbench" else {}),
            lookahead_every=LOOKAHEAD_EVERY if config.lookahead else 0, total_steps=total)
    else:
        optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(
                      from_logits=True, label_smoothing=config.label_smoothing),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                  jit_compile=jit_compile)
    return model


def augment(images, translate, seed, mirror=None):
    """Random horizontal flips and shifts of up to `translate` pixels, each image its own.

    images: (batch, height, width, channels), uint8 or float; returns float32
    0..255. Every draw is stateless, a function of `seed` ((2,) int) alone:
    common.batching gives each batch a seed made from (run seed, epoch, step),
    so a resumed run augments its batches as an uninterrupted one does. The
    shift pads by reflection and crops back to the image's size, as the fast
    CIFAR-10 trainers do. One nearest-neighbour crop_and_resize
    does shift and flip for the whole batch (a box from right to left is a
    mirrored crop): 0.8 CPU seconds an epoch of `fast`, against 4.1 image by
    image, CPU that the 2-core machine's training step needs. mirror: (batch,)
    bool, which images to flip (the alternating flip), instead of drawing it.
    """
    batch, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    padded = tf.pad(tf.cast(images, tf.float32),
                    [[0, 0], [translate, translate], [translate, translate], [0, 0]],
                    mode="REFLECT")
    seeds = tf.random.experimental.stateless_split(seed, 3)  # (3, 2): top, left, mirror
    top, left = (tf.random.stateless_uniform([batch], seeds[i], 0, 2 * translate + 1,
                                             dtype=tf.int32) for i in range(2))
    if mirror is None:
        mirror = tf.random.stateless_uniform([batch], seeds[2]) < 0.5
    right = left + width - 1
    boxes = tf.cast(tf.stack([top, tf.where(mirror, right, left), top + height - 1,
                              tf.where(mirror, left, right)], axis=1), tf.float32)
    # Box corners in units of the padded image's size minus one (crop_and_resize's).
    boxes = boxes / tf.constant([height + 2 * translate - 1, width + 2 * translate - 1] * 2,
                                tf.float32)
    return tf.image.crop_and_resize(padded, boxes, tf.range(batch), [height, width],
                                    method="nearest")


def training_dataset(x, y, config, num_classes, seed, first_epoch):
    """Endless batches of (float32 images 0..255, one-hot labels) from epoch first_epoch on.

    Epoch e's order and each batch's augmentation depend only on (seed, e)
    and the step (common.batching), so a resumed run sees the batches an
    uninterrupted one would; each epoch's ragged rest is dropped.

    --flip alternating (airbench's): each image gets one random bit from the run's
    seed; it is mirrored in even epochs where the bit is set and in odd epochs
    where it is not, so every image is seen both ways in every two epochs.
    """
    def augmented(batch, batch_seed, epoch):
        images, labels, first_flip = batch
        mirror = (None if config.flip == "random"
                  else tf.not_equal(first_flip, tf.equal(epoch % 2, 1)))
        return augment(images, config.translate, batch_seed, mirror), labels, first_flip

    first_flip = np.random.default_rng([seed, ALTERNATING_FLIP_STREAM]).random(len(x)) < 0.5
    return shuffled_batches((x, y, first_flip), config.batch_size, seed, first_epoch,
                            augment=augmented if config.augment else None,
                            transform=lambda batch: _model_inputs(*batch[:2], num_classes))


def evaluation_dataset(x, y, num_classes, batch_size=1000):
    return (tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
            .map(lambda images, labels: _model_inputs(images, labels, num_classes),
                 num_parallel_calls=tf.data.AUTOTUNE).prefetch(2))


def _model_inputs(images, labels, num_classes):
    """(float32 images 0..255, one-hot labels (batch, num_classes))."""
    return tf.cast(images, tf.float32), tf.one_hot(labels, num_classes)


def tta_views(images, tta, translate=0):
    """[(weight, view)]: the views test-time augmentation averages the logits of.

    images: float (batch, height, width, channels). No tta: the image alone.
    tta: the image and its mirror, 1/2 each. tta with translate t (airbench's level 2,
    t = 1): those two at 1/4 each, and the image shifted t pixels up-left and t
    down-right (reflect-padded, as in training), each with its mirror, at 1/8 each.
    """
    if not tta:
        return [(1.0, images)]
    views = [(0.5, images), (0.5, tf.reverse(images, axis=[2]))]
    if not translate:
        return views
    height, width = images.shape[1], images.shape[2]
    padded = tf.pad(images, [[0, 0], [translate, translate], [translate, translate], [0, 0]],
                    mode="REFLECT")
    shifted = [padded[:, :height, :width], padded[:, 2 * translate:, 2 * translate:]]
    return ([(weight / 2, view) for weight, view in views]
            + [(0.125, view) for image in shifted for view in (image, tf.reverse(image, [2]))])


def tta_logits(model, images, tta, translate=0):
    """The weighted mean of the model's logits over tta_views (a tf function of images)."""
    return tf.add_n([weight * model(view, training=False)
                     for weight, view in tta_views(images, tta, translate)])


def predict_probabilities(model, images, tta, translate=0, batch_size=1000):
    """Softmax probabilities [N, classes] of the TTA-averaged logits (tta_views)."""
    images = np.asarray(images, np.float32)
    # One batch at a time becomes a tensor: no second copy of all the images.
    return np.concatenate([tf.nn.softmax(tta_logits(
        model, tf.constant(images[start:start + batch_size]), tta, translate)).numpy()
        for start in range(0, len(images), batch_size)]
        or [np.zeros((0, model.output_shape[-1]), np.float32)])


class TrainingClock(keras.callbacks.Callback):
    """Adds cumulative wall and CPU seconds to every epoch's logs (time-to-accuracy).

    CPU seconds of this process divided by the core count is what the wall time
    would have been on an otherwise idle machine; both are kept because the
    reference machine is shared. A resumed run continues from the saved totals.
    """

    def __init__(self, history):
        super().__init__()
        last = history[-1] if history else {}
        self.wall = last.get("elapsed_seconds", 0.0)
        self.cpu = last.get("cpu_seconds", 0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]
        if logs is not None:
            logs.update(elapsed_seconds=self.wall, cpu_seconds=self.cpu)
