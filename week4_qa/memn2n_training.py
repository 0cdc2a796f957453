"""How a memn2n run trains: tries, linear start and the learning rate, epoch by epoch.

One run holds `tries` trainings of `epochs` epochs each, one after another
(epoch e of the run is epoch e % epochs of try e // epochs + 1). At the start
of each try the weights are drawn anew from a seed made of (run seed, try);
best.keras is the epoch with the lowest validation loss over all tries, so it
is the paper's "best of N runs", and a run can be resumed (or given more
tries) at any epoch. Everything a try's epoch needs is decided from the run's
history alone (state.json), never from what this process did before, so a
resumed run makes the decisions an uninterrupted one makes:

- linear start: a try begins with the hops' softmax removed and reinserts it
  after the first epoch whose validation loss did not fall below the try's
  best so far, or at the latest after half the try's epochs; once
  reinserted it stays. Only epochs with the softmax are candidates for
  best.keras (their validation loss is logged as val_loss_softmax), so the
  attention a kept model reports is a distribution.
- the learning rate halves every `halve_every` epochs of a try.

Under tf.distribute (--strategy mirrored or multi_worker) the callback runs
outside the replicas' steps, in cross-replica context, so each `assign`
(new weights, the flag, the learning rate) writes every replica's copy of
the variable; every worker of a cluster computes the same values from the
same seed and history (its validation losses are reduced across workers),
so no worker's copy differs. The clipping of the summed batch gradient is
common.optimizers.WholeBatchClipSGD's.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.optimizers import WholeBatchClipSGD
from week4_qa.memn2n_model import initial_weights

SELECTION_KEY = "val_loss_softmax"


def linear_start_on(config, try_rows):
    """Whether the next epoch of a try trains without the softmax.

    try_rows: the history rows of the try's finished epochs, each with
    "linear" (1.0 if that epoch trained without the softmax) and "val_loss".
    """
    if not config.linear_start or len(try_rows) >= config.epochs // 2:
        return False
    if any(row.get("linear") != 1.0 for row in try_rows):
        return False  # the softmax, once reinserted, stays
    losses = [row.get("val_loss", math.inf) for row in try_rows]
    return not (len(losses) >= 2 and losses[-1] >= min(losses[:-1]))


def learning_rate_at(config, step):
    """The learning rate of epoch `step` (0-based) of a try: halved every halve_every."""
    return config.learning_rate * 0.5 ** (step // config.halve_every)


def with_selection_key(row):
    """Progress's derived metric: the validation loss of epochs trained with the softmax."""
    return {SELECTION_KEY: row["val_loss"]} if row.get("linear") == 0.0 else {}


class TrySchedule(keras.callbacks.Callback):
    """Sets each epoch's weights (a new try), linear-start flag and learning rate."""

    def __init__(self, config, state, vocab_size, seed):
        super().__init__()
        self.config, self.state, self.vocab_size, self.seed = config, state, vocab_size, seed
        # Resumed from a Ctrl-C's partial epoch: its weights continue, even at a try's start.
        interrupted = state.get("interrupted") or {}
        self.keep_weights_once = interrupted.get("after_epoch") == state["epoch"]

    def on_train_begin(self, logs=None):
        # A run begun before WholeBatchClipSGD has Keras's SGD, which clips each
        # replica's part of the gradient alone: right on one replica only.
        replicas = self.model.distribute_strategy.num_replicas_in_sync
        if (replicas > 1 and self.config.grad_clip
                and not isinstance(self.model.optimizer, WholeBatchClipSGD)):
            raise UsageError(f"this run's checkpoint clips each of the {replicas} replicas' "
                             "gradients apart (it was made by an older version); resume it "
                             "with --strategy default, or --grad_clip 0 in a new run")

    def on_epoch_begin(self, epoch, logs=None):
        attempt, step = divmod(epoch, self.config.epochs)
        layer = self.model.get_layer("memory")
        if step == 0 and not self.keep_weights_once:
            weights = initial_weights(self.config, self.vocab_size, [self.seed, attempt])
            # Cross-replica context: each assign writes every replica's copy.
            for variable, value in zip([layer.embeddings, layer.temporal], weights):
                variable.assign(value)
        self.keep_weights_once = False
        try_rows = self.state["history"][attempt * self.config.epochs:epoch]
        linear = linear_start_on(self.config, try_rows)
        layer.linear.assign(1.0 if linear else 0.0)
        # Per summed loss, as the config's; Keras's mean loss steps batch_size times it.
        self.model.optimizer.learning_rate.assign(
            learning_rate_at(self.config, step) * self.config.batch_size)
        if linear != bool(try_rows and try_rows[-1].get("linear")) and step:
            print(f"try {attempt + 1}, epoch {step + 1}: linear start ends; the softmax is "
                  "back in every hop", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        # Recorded in history.csv and state.json (the checkpoint callback runs after this).
        layer = self.model.get_layer("memory")
        logs["try"] = float(epoch // self.config.epochs + 1)
        logs["linear"] = float(layer.linear.numpy())
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy()
                                      / self.config.batch_size)


def spread_times(story, ratio, seed):
    """Random noise (RN): each story's time indices spread as if empty memories were inserted.

    story (B, M, J) ids, slot 0 the most recent; returns time (B, M) int32. A
    story of n memories draws b in 0..ceil(ratio * n) blanks and gives its
    memories n distinct, increasing indices out of 0..n + b - 1, uniformly;
    so their ages jitter and the temporal embedding cannot fit exact
    positions (the paper's "10% empty memories"; the blanks themselves hold
    nothing and are never attended). Padded slots keep their index; they are
    masked anyway. `seed` is the batch's stateless (2,) seed.
    """
    memories = tf.reduce_sum(tf.cast(tf.reduce_any(story > 0, -1), tf.int32), -1)  # (B,)
    slots = tf.shape(story)[1]
    extra = tf.cast(tf.math.ceil(ratio * tf.cast(slots, tf.float32)), tf.int32)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    max_blanks = tf.cast(tf.math.ceil(ratio * tf.cast(memories, tf.float32)), tf.float32)
    blanks = tf.cast(tf.floor(tf.random.stateless_uniform(tf.shape(memories), seeds[0])
                              * (max_blanks + 1.0)), tf.int32)             # (B,)
    positions = slots + extra
    # Random keys for positions 0..n+b-1 (the others sort last); the n smallest win.
    keys = tf.random.stateless_uniform(tf.stack([tf.shape(story)[0], positions]), seeds[1])
    usable = tf.range(positions)[None, :] < (memories + blanks)[:, None]   # (B, P)
    chosen = tf.argsort(tf.where(usable, keys, 2.0), -1)[:, :slots]        # (B, M)
    is_memory = tf.range(slots)[None, :] < memories[:, None]               # (B, M)
    chosen = tf.sort(tf.where(is_memory, chosen, positions + tf.range(slots)[None, :]), -1)
    default = tf.broadcast_to(tf.range(slots)[None, :], tf.shape(chosen))
    return tf.where(is_memory, chosen, default)


def as_inputs(batch):
    """A batch dict -> (model inputs, answers)."""
    return ({"story": batch["story"], "query": batch["query"], "time": batch["time"]},
            batch["answer"])


def noise_augment(ratio, memory_size):
    """shuffled_batches' augment: the batch with spread time indices (capped at memory_size - 1)."""
    def augment(batch, seed, epoch):
        time = tf.minimum(spread_times(batch["story"], ratio, seed), memory_size - 1)
        return {**batch, "time": time}
    return augment


def train_arrays(arrays):
    """What shuffled_batches reads: the arrays the model needs (not the supporting facts)."""
    return {key: np.asarray(arrays[key]) for key in ("story", "query", "time", "answer")}
