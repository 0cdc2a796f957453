"""Command-line plumbing shared by every assignment.

Every command module has `main(argv=None)`; `run_cli(main)` wraps it so that
mistakes a user can fix (a missing file, a bad flag value, an incompatible run
directory, an unwritable folder, Ctrl-C during start-up) print one line,
`error: ...`, and exit with status 2 (130 for Ctrl-C, 143 for SIGTERM) instead
of a traceback. TensorFlow is imported (quietly) by `run_cli`, before `main`
runs, so that no TensorFlow log line can appear before that one line.
"""

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings

from common.argtypes import EPOCHS_MAX, count, positive_int, seed_int


class UsageError(ValueError):
    """An input problem the user can act on; the message says what and how."""

    exit_status = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler, `docker stop`, `kill`), raised in the main thread by run_cli.

    A KeyboardInterrupt, so that every path that handles Ctrl-C (fit_run's
    save of the partial epoch, a new run's clean-up, the lock's release)
    handles SIGTERM the same way; only the message and exit status differ.
    """


class Interrupted(UsageError):
    """Ctrl-C or SIGTERM that the program handled (saved what it could).

    `Interrupted(cause, details)` reads "interrupted (Ctrl-C) <details>" and
    exits with 130, or "interrupted (SIGTERM) <details>" and 143 when `cause`
    is a Terminated: the statuses a shell reports for a process those
    signals killed.
    """

    def __init__(self, cause, details):
        name, self.exit_status = interrupt_name_and_status(cause)
        super().__init__(f"interrupted ({name}) {details}")


def interrupt_name_and_status(interrupt):
    """("SIGTERM", 143) for a Terminated, ("Ctrl-C", 130) for any other KeyboardInterrupt."""
    return ("SIGTERM", 143) if isinstance(interrupt, Terminated) else ("Ctrl-C", 130)


def run_cli(main, argv=None):
    """Runs `main(argv)`: one `error: ...` line and exit 2 for every problem a user causes.

    While it runs, SIGTERM is handled like Ctrl-C (raised as `Terminated`).
    Deprecation notes are printed after a command succeeds, so that a failing
    one still prints nothing but its `error:` line.
    """
    _notes.clear()
    with sigterm_raises_terminated():
        try:
            quiet_tensorflow()
            status = main(argv)
            for note in _notes:
                print(note, file=sys.stderr)
            return status
        except UsageError as error:
            fail(str(error), error.exit_status)
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (Terminated)
            name, status = interrupt_name_and_status(interrupt)
            fail(f"interrupted ({name}); finished epochs and earlier files are kept", status)
        except MemoryError:
            fail("out of memory; use smaller sizes (--batch_size, --num, --length)")
        except OSError as error:
            # Unwritable, read-only or full folders, a path that is not a directory.
            where = f": {error.filename}" if error.filename else ""
            fail(f"{error.strerror or error}{where}")


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises_terminated():
    """Inside the block SIGTERM raises `Terminated`; the previous handler comes back after.

    Python handles signals in the main thread only, so elsewhere nothing
    changes; a SIGTERM the parent chose to ignore stays ignored, as Python
    leaves an ignored SIGINT alone.
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) == signal.SIG_IGN):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        # None: a handler set outside Python, which cannot be put back; the default is.
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def interrupts_held(deliver=True):
    """Ctrl-C and SIGTERM wait until the block is done, so that its files stay consistent.

    Each file is staged and renamed anyway; this keeps a group of them (a
    checkpoint and the state.json that names it) together. The first signal
    that came is delivered after the block as if it came then, under the
    handler in place before; `deliver=False` drops it, for a block that is
    already the answer to an interrupt. Main thread only, like all handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []

    def hold(signum, frame):
        pending.append(signum)

    previous = {number: signal.signal(number, hold) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if pending and deliver:
            signal.raise_signal(pending[0])  # runs the restored handler here, at once


def light_command(verbs_module):
    """(main, __getattr__) for a command module whose verbs live in `verbs_module`.

    A command module stays light: importing it imports no TensorFlow (run_cli
    imports it quietly first), and `from week3_rnn.char_rnn import train`
    still works because the module's __getattr__ reads the verbs module.

        main, __getattr__ = light_command("week3_rnn.char_rnn_verbs")
    """
    import importlib

    def main(argv=None):
        return importlib.import_module(verbs_module).main(argv)

    def __getattr__(name):
        return getattr(importlib.import_module(verbs_module), name)

    return main, __getattr__


def fail(message, status=2):
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(status)


_notes = []  # deprecation notes of the command being run, printed when it succeeds


def deprecated(old, new):
    """Notes (once) that a spelling still works but has a new name."""
    note = f"note: {old} is deprecated; use {new} (same meaning)"
    if note not in _notes:
        _notes.append(note)


def quiet_tensorflow():
    """Imports TensorFlow without its C++ start-up chatter.

    TF_CPP_MIN_LOG_LEVEL hides most of it, but the CUDA probe of the PyPI
    wheel logs through absl before that setting is read, so the import runs
    with the process's stderr (file descriptor 2) pointed at /dev/null.
    Python exceptions are unaffected: they are printed after it is restored.
    Called by `run_cli`, never at import.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", module="keras")
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


class ErrorExitParser(argparse.ArgumentParser):
    """argparse already exits with 2 on bad flags; this keeps its message one line."""

    def error(self, message):
        self.exit(2, f"error: {' '.join(message.split())} (see --help)\n")

    def parse_known_args(self, args=None, namespace=None):
        parsed, rest = super().parse_known_args(args, namespace)
        self._check_utf8_values(parsed)
        return parsed, rest

    def _check_utf8_values(self, parsed):
        """UsageError for a value holding bytes that are not UTF-8 (a path, a text).

        Python hands such bytes over as lone surrogates ('\\udcff'); TensorFlow
        takes paths and strings as UTF-8 only and fails deep inside with a
        traceback, so they are refused here, naming the flag and the bytes.
        """
        names = {action.dest: (action.option_strings or [action.metavar or action.dest])[0]
                 for action in self._actions}
        for dest, value in vars(parsed).items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if not isinstance(item, str):
                    continue
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise UsageError(f"{names.get(dest, dest)} {os.fsencode(item)!r} holds "
                                     "bytes that are not UTF-8, which TensorFlow cannot read "
                                     "or write; rename it (or pass its text as UTF-8)") from None


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where there is none to show."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def make_parser(description, **kwargs):
    return ErrorExitParser(description=description, formatter_class=HelpFormatter, **kwargs)


class CommandParser(ErrorExitParser):
    """The parser of a command: `python -m package.command VERB --flags`."""

    def parse_args(self, args=None, namespace=None):
        """The flags; `--strategy multi_worker` starts the cluster here, before any other
        TensorFlow operation (collective ops are configured once, at start-up)."""
        parsed = super().parse_args(args, namespace)
        if getattr(parsed, "strategy", None) == "multi_worker":
            from common import distributed

            distributed.check_tf_config()
            distributed.start(parsed.worker_timeout)
        elif parsed.command == "train" and not getattr(parsed, "resume", True):
            # A folder that cannot take a new run is refused before any data is read
            # (or downloaded); common.lifecycle checks it again, with the run's kind.
            from common.runs import check_new_run_folder_early

            check_new_run_folder_early(parsed.out_dir, parsed.own_entries)
        return parsed

    def verb(self, name, **kwargs):
        """Adds verb `name` (help=, aliases=) and returns its parser."""
        if not hasattr(self, "_verbs"):
            self._verbs = self.add_subparsers(dest="command", required=True)
        return self._verbs.add_parser(name, formatter_class=HelpFormatter, **kwargs)

    def export_verb(self, help, formats=("saved_model", "litert")):
        """`export --run_dir R --checkpoint best|last --export_dir D --overwrite --format F`."""
        p = self.verb("export", help=help)
        add_run_flags(p)
        add_export_flags(p, formats)
        return p


def command_parser(command_module):
    """A CommandParser described by the first paragraph of the command module's docstring."""
    import importlib

    doc = importlib.import_module(command_module).__doc__
    # prog: the way the command is run (argparse would say "vqa.py", which runs nothing).
    parser = CommandParser(prog=f"python -m {command_module}", description=doc.split("\n\n")[0],
                           formatter_class=HelpFormatter)
    parser.command_module = command_module
    return parser


STRATEGIES = ("default", "mirrored", "multi_worker")


def add_training_flags(parser, default_out_dir, presets, default_preset, strategy=True):
    """Flags every `train` shares, spelled the same everywhere.

    `strategy=False` still offers --strategy but only `default`, for models
    that train on one device only (one that carries its RNN state between
    batches, say), so the grammar stays the same.
    """
    parser.add_argument("--preset", choices=list(presets), default=default_preset,
                        help="model and training sizes; the flags below override single values")
    parser.add_argument("--out_dir", default=default_out_dir,
                        help="run directory: config.json, checkpoints, history.csv, plots, "
                             "TensorBoard logs")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out_dir from its last finished epoch")
    parser.add_argument("--epochs", type=count(EPOCHS_MAX), default=None,
                        help="total number of epochs (default: the preset's); may be raised "
                             "on --resume")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="random seed for weights, data order and dropout")
    parser.add_argument("--strategy", choices=STRATEGIES if strategy else ("default",),
                        default="default",
                        help="tf.distribute strategy: one device, all local devices "
                             "(MirroredStrategy), or several machines set up by TF_CONFIG"
                             if strategy else "this trainer runs on one device only")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1,
                        help="Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch")
    parser.set_defaults(own_entries=())
    if strategy:
        parser.add_argument("--worker_timeout", type=count(86_400), default=120,
                            help="--strategy multi_worker: seconds to wait for every worker "
                                 "of TF_CONFIG to come up")


def add_run_flags(parser, checkpoint=True,
                  checkpoint_help="best: lowest validation loss (never chosen on test data); "
                                  "last: the last finished epoch"):
    """--run_dir and --checkpoint best|last, the same on every reading verb."""
    parser.add_argument("--run_dir", required=True, help="run directory written by train")
    if checkpoint:
        parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                            help=checkpoint_help)


def add_export_flags(parser, formats=("saved_model", "litert")):
    """--export_dir, --overwrite and --format, the same for every command's `export`."""
    parser.add_argument("--export_dir", required=True,
                        help="folder to write the export into (must not exist, or be an "
                             "earlier export of this project with --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --export_dir if it holds an earlier export of this "
                             "project (never anything else)")
    described = {"saved_model": "saved_model: a TensorFlow SavedModel",
                 "litert": "litert: .tflite files for LiteRT (TensorFlow Lite)"}
    parser.add_argument("--format", choices=formats, default="saved_model",
                        help="; ".join(described[f] for f in formats))  # only those offered


def add_input_limit_flag(parser):
    from common.files import DEFAULT_MAX_BYTES

    parser.add_argument("--max_bytes", type=positive_int, default=DEFAULT_MAX_BYTES,
                        help="refuse input files larger than this many bytes")


def add_scan_limit_flag(parser):
    """--max_files: the bound of every folder scan (--image_dir, --data_dir; common.folders)."""
    from common.folders import DEFAULT_MAX_FILES, MAX_FILES_LIMIT

    parser.add_argument("--max_files", type=count(MAX_FILES_LIMIT), default=DEFAULT_MAX_FILES,
                        help="stop with an error when a scan of an input folder visits more "
                             "than this many files and folders (so at most this many images "
                             f"are read); at most {MAX_FILES_LIMIT:,}")
