"""The validation split of a labelled training set, the same for every classifier.

Deterministic (no random numbers, so any seed and NumPy version give the same
split): within each class, in data order, evenly spaced examples are held
out. Every class with at least two examples keeps one for validation and one
for training, so a small folder still trains; a class with a single example
stays in training. The test set is never touched: `best.keras` is chosen on
this split.
"""

import numpy as np

from common.cli import UsageError


def split_validation(x, y, fraction):
    """(x_train, y_train, x_val, y_val): `fraction` of each class held out (0: none)."""
    held_out = np.zeros(len(y), dtype=bool)
    if fraction > 0:
        for label in np.unique(y):
            members = np.flatnonzero(y == label)
            count = len(members)
            if count < 2:
                continue
            num_val = min(count - 1, max(1, int(round(fraction * count))))
            positions = np.floor((np.arange(num_val) + 0.5) * count / num_val).astype(np.int64)
            held_out[members[positions]] = True
    return x[~held_out], y[~held_out], x[held_out], y[held_out]


def split_for_training(x, y, fraction, batch_size):
    """split_validation, refusing a training part smaller than one batch."""
    x_train, y_train, x_val, y_val = split_validation(x, y, fraction)
    if len(x_train) < batch_size:
        raise UsageError(f"{len(x_train)} training images (after holding out {len(x_val)} "
                         f"for validation) are fewer than one batch (--batch_size "
                         f"{batch_size})")
    return x_train, y_train, x_val, y_val
