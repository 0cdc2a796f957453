"""The types of command-line values: numbers with their ranges, seeds, paths.

Each is an argparse `type=`: it converts the text and refuses what the
program cannot use (NaN, a negative count, a typo such as 10**9), so a bad
value is one `error:` line naming the flag, never a traceback or an
out-of-memory kill later. config.json values are checked with the same types
(common.configs).
"""

import argparse
import math

# The seeds a user may pass: TensorFlow's stateless ops and the exported
# signatures take int32 seeds, and a seed is never folded into a smaller range.
SEED_MAX = 2 ** 31 - 1
# The most epochs a run may train (--epochs); a state.json counting more is not this project's.
EPOCHS_MAX = 100_000


def _number_type(convert, is_valid, requirement):
    """An argparse type that converts text and checks the value."""
    kind = "whole number" if convert is int else "number"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind}, got {text!r}")
        if not is_valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    parse.__name__ = requirement  # argparse names the type in its messages
    return parse


positive_int = _number_type(int, lambda v: v > 0, "positive")
non_negative_int = _number_type(int, lambda v: v >= 0, "zero or more")
positive_float = _number_type(float, lambda v: math.isfinite(v) and v > 0, "a positive number")
# Sampling divides float32 logits by the temperature: 1e-50 is positive but 0 in
# float32, and 1e-6 already samples like argmax, so the range stops there.
temperature = _number_type(float, lambda v: math.isfinite(v) and 1e-6 <= v <= 1e6,
                           "in [1e-6, 1e6]")
non_negative_float = _number_type(float, lambda v: math.isfinite(v) and v >= 0, "zero or more")
fraction = _number_type(float, lambda v: 0.0 <= v < 1.0, "in [0, 1)")
seed_int = _number_type(int, lambda v: 0 <= v <= SEED_MAX, f"a seed in 0..{SEED_MAX}")


def input_path(text):
    """A file or folder path; an empty one (an unset shell variable) is an error, never
    a silent fall-back to a default dataset."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    return text


input_path.__name__ = "path"


def count(maximum):
    """A positive whole number of at most `maximum` (a typo such as 10**9 is an error)."""
    return _number_type(int, lambda v: 0 < v <= maximum, f"in 1..{maximum:,}")


def whole_number_in(low, high):
    """A whole number in [low, high]."""
    return _number_type(int, lambda v: low <= v <= high, f"in {low}..{high:,}")


def percentage(text):
    """A percentage in [0, 100] (NaN and infinities refused)."""
    return _number_type(float, lambda v: 0.0 <= v <= 100.0, "in [0, 100]")(text)
