"""Command-line plumbing shared by every assignment.

Every command module has `main(argv=None)`; `run_cli(main)` wraps it so that
mistakes a user can fix (a missing file, a bad flag value, an incompatible run
directory) print one line, `error: ...`, and exit with status 2 instead of a
traceback. Anything else is a bug and keeps its traceback.
"""

import argparse
import math
import os
import sys


class UsageError(ValueError):
    """An input problem the user can act on; the message says what and how."""


def run_cli(main, argv=None):
    """Runs `main(argv)` and turns UsageError into `error: ...` plus exit 2."""
    try:
        return main(argv)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def quiet_tensorflow():
    """Hides TensorFlow's C++ start-up chatter (CUDA probing, CPU features)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def positive_int(text):
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def positive_float(text):
    """argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fraction(text):
    """argparse type: a float in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


class ErrorExitParser(argparse.ArgumentParser):
    """argparse already exits with 2 on bad flags; this keeps its message one line."""

    def error(self, message):
        self.exit(2, f"error: {message} (see --help)\n")


def make_parser(description, **kwargs):
    return ErrorExitParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        **kwargs,
    )


def add_training_flags(parser, default_out_dir):
    """Flags every training command shares, spelled the same everywhere."""
    parser.add_argument("--out_dir", default=default_out_dir,
                        help="run directory: config.json, checkpoints, history.csv, plots, "
                             "TensorBoard logs")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out_dir from its last finished epoch")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="total number of epochs (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for weights, data order and dropout")
    parser.add_argument("--strategy", choices=["default", "mirrored", "multi_worker"],
                        default="default",
                        help="tf.distribute strategy: one device, all local devices "
                             "(MirroredStrategy), or several machines set up by TF_CONFIG")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch")
