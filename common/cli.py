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
fraction = _number_type(float, lambda v: 0.0 <= v < 1.0, "in [0, 1)")


class ErrorExitParser(argparse.ArgumentParser):
    """argparse already exits with 2 on bad flags; this keeps its message one line."""

    def error(self, message):
        self.exit(2, f"error: {message} (see --help)\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def make_parser(description, **kwargs):
    return ErrorExitParser(description=description, formatter_class=HelpFormatter, **kwargs)


def add_training_flags(parser, default_out_dir, strategy=True):
    """Flags every training command shares, spelled the same everywhere.

    `strategy=False` leaves out --strategy, for models that only train on one
    device (for example one that carries its RNN state between batches).
    """
    parser.add_argument("--out_dir", default=default_out_dir,
                        help="run directory: config.json, checkpoints, history.csv, plots, "
                             "TensorBoard logs")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out_dir from its last finished epoch")
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="total number of epochs (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for weights, data order and dropout")
    if strategy:
        parser.add_argument("--strategy", choices=["default", "mirrored", "multi_worker"],
                            default="default",
                            help="tf.distribute strategy: one device, all local devices "
                                 "(MirroredStrategy), or several machines set up by TF_CONFIG")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch")
