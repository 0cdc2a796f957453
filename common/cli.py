"""Command-line plumbing shared by every assignment.

Every command module has `main(argv=None)`; `run_cli(main)` wraps it so that
mistakes a user can fix (a missing file, a bad flag value, an incompatible run
directory) print one line, `error: ...`, and exit with status 2 instead of a
traceback. Anything else is a bug and keeps its traceback.
"""

import argparse
import dataclasses
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
    """Imports TensorFlow without its C++ start-up chatter.

    TF_CPP_MIN_LOG_LEVEL hides most of it, but the CUDA probe of the PyPI
    wheel logs through absl before that setting is read, so the import runs
    with the process's stderr (file descriptor 2) pointed at /dev/null.
    Python exceptions are unaffected: they are printed after it is restored.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401  (imported for its side effects, quietly)
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


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
non_negative_float = _number_type(float, lambda v: math.isfinite(v) and v >= 0, "zero or more")
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


def add_export_flags(parser):
    """--export_dir and --overwrite, the same for every command's `export`."""
    parser.add_argument("--export_dir", required=True, help="where to write the SavedModel")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing export_dir (otherwise it is an error)")


def add_config_flags(parser, config_flags, presets, choices=None):
    """One flag per config field; its help lists every preset's value.

    config_flags: {field: (type, help)}; a field of type bool becomes
    --field / --no-field. choices: {field: allowed values}.
    """
    choices = choices or {}
    for flag, (kind, text) in config_flags.items():
        values = ", ".join(f"{name} {getattr(preset, flag)}" for name, preset in presets.items())
        if flag in choices:
            options = {"choices": choices[flag]}
        elif kind is bool:
            options = {"action": argparse.BooleanOptionalAction}
        else:
            options = {"type": kind}
        parser.add_argument(f"--{flag}", help=f"{text} (presets: {values})", **options)


def config_from_args(args, presets):
    """The preset named by --preset, with every config flag the user gave laid over it."""
    preset = presets[args.preset]
    overrides = {field.name: getattr(args, field.name) for field in dataclasses.fields(preset)
                 if getattr(args, field.name, None) is not None}
    return dataclasses.replace(preset, **overrides)
