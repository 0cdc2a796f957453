"""tf.data pipelines that cut a long id sequence into (input, target) windows.

Language models see a corpus as one long array of token ids. Training pairs
are non-overlapping windows of `seq_length + 1` ids: the first `seq_length`
are the input, the last `seq_length` (shifted by one) the target.

The shuffle order of epoch `e` depends only on (seed, e), not on how many
epochs ran before in this process, so a resumed run sees exactly the batches
an uninterrupted run would have seen.
"""

import numpy as np
import tensorflow as tf

from common.cli import UsageError


def split_tail(ids, val_fraction):
    """Splits ids into (train, validation) with validation the last fraction."""
    ids = np.asarray(ids, dtype=np.int32)
    num_val = int(len(ids) * val_fraction)
    if num_val == 0:
        return ids, ids[:0]
    return ids[:-num_val], ids[-num_val:]


def make_windows(ids, seq_length, what="text"):
    """(num_windows, seq_length + 1) array of non-overlapping windows."""
    num_windows = (len(ids) - 1) // seq_length
    if num_windows < 1:
        raise UsageError(
            f"the {what} has {len(ids)} characters, shorter than one training sequence "
            f"({seq_length + 1}); use a longer text or a smaller --seq_length"
        )
    # Windows overlap by one id so every position is a target exactly once.
    starts = np.arange(num_windows) * seq_length
    return np.stack([ids[s:s + seq_length + 1] for s in starts]).astype(np.int32)


def _to_pair(window):
    return window[..., :-1], window[..., 1:]


def training_dataset(windows, batch_size, seed, first_epoch, num_epochs, transform=None):
    """Batches for epochs [first_epoch, num_epochs), reshuffled per epoch.

    Each batch of rows goes through `transform` (default: the (input,
    target) split of language-model windows; the GAN scales image pixels).

    Every epoch has the same number of full batches (the ragged rest of each
    shuffled epoch is dropped, a different rest every epoch), so one traced
    training step serves the whole run.
    """
    windows = tf.constant(windows)
    count = windows.shape[0]

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.cast(seed, tf.int64), epoch]))
        return (tf.data.Dataset.from_tensor_slices(tf.gather(windows, order))
                .batch(batch_size, drop_remainder=True))

    return (tf.data.Dataset.range(first_epoch, num_epochs)
            .flat_map(epoch_batches)
            .map(transform or _to_pair, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def evaluation_dataset(windows, batch_size):
    """All windows in order, the last batch possibly smaller."""
    return (tf.data.Dataset.from_tensor_slices(windows)
            .batch(batch_size)
            .map(_to_pair)
            .prefetch(tf.data.AUTOTUNE))
