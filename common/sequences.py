"""Language-model windows: a long id sequence cut into (input, target) pairs.

Language models see a corpus as one long array of token ids. Training pairs
are non-overlapping windows of `seq_length + 1` ids: the first `seq_length`
are the input, the last `seq_length` (shifted by one) the target. Training
batches of windows come from common.batching.shuffled_batches(windows, ...,
transform=to_pair).
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


def to_pair(windows):
    """Windows (batch, seq_length + 1) -> (inputs, targets), each (batch, seq_length)."""
    return windows[..., :-1], windows[..., 1:]


def evaluation_dataset(windows, batch_size):
    """All windows in order, the last batch possibly smaller."""
    return (tf.data.Dataset.from_tensor_slices(windows)
            .batch(batch_size)
            .map(to_pair)
            .prefetch(tf.data.AUTOTUNE))
