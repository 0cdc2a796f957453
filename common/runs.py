"""Run directories: where a training run keeps everything it produces.

    out_dir/
      config.json        the resolved configuration, "kind" (which command) and provenance
      vocab.json ...     metadata of the kind (a vocabulary, class names)
      state.json         finished epochs, history, best score, current checkpoint
      checkpoints/       epoch-NNNN.keras (latest finished epoch), interrupted.keras
      best.keras         the checkpoint with the lowest validation loss
      history.csv        one row per finished epoch
      *.png              plots
      logs/              TensorBoard
      .lock              held by the process training into it

Nothing here is lost: files are replaced atomically (common.files); a
resume never starts over when checkpoints exist; a path read from state.json
must resolve inside the directory; two processes cannot train into one
directory at once; and the only files ever removed are this project's own
staging files and superseded checkpoints, recognised by their names.
"""

import contextlib
import json
import os
import re
import socket
import stat

from common.argtypes import EPOCHS_MAX
from common.cli import UsageError
from common.folders import check_not_system
from common.files import (atomic_write_json, check_regular_file, contains, inside,
                          process_alive, read_json_file, remove_if_exists,
                          remove_own_staging_files)

EPOCH_CHECKPOINT = re.compile(r"epoch-\d{4,}\.keras")
INTERRUPTED = "interrupted.keras"
LOCK_NAME = ".lock"


def new_state():
    """The state.json of a run that has finished no epoch."""
    return {"epoch": 0, "history": [], "checkpoint": None}


def read_json(path):
    """A JSON file (UsageError naming it when it is missing, not a file or corrupt)."""
    return read_json_file(path)


class RunDir:
    """Paths and metadata of one run directory."""

    def __init__(self, path):
        if not path or not str(path).strip():
            raise UsageError("the run directory path is empty")
        self.path = str(path)
        self.config_path = os.path.join(self.path, "config.json")
        self.state_path = os.path.join(self.path, "state.json")
        self.checkpoint_dir = os.path.join(self.path, "checkpoints")
        self.best_path = os.path.join(self.path, "best.keras")
        self.history_path = os.path.join(self.path, "history.csv")
        self.log_dir = os.path.join(self.path, "logs")
        self.lock_path = os.path.join(self.path, LOCK_NAME)

    def file(self, name):
        """Where to write `name` in the run (a written file replaces a link, never follows it)."""
        return os.path.join(self.path, name)

    def read_path(self, name):
        """Where to read `name` from: confined to the run, so a link outside is refused."""
        return self.resolve(name, what="file")

    def _own_checkpoint_dir(self):
        """Whether checkpoints/ is a real folder of this run (not a link to elsewhere)."""
        if not os.path.lexists(self.checkpoint_dir):
            return False
        if os.path.islink(self.checkpoint_dir):
            raise UsageError(f"{self.checkpoint_dir} is a link, so it points outside the run "
                             "directory or elsewhere in it; refusing to read or remove "
                             "anything there")
        if not os.path.isdir(self.checkpoint_dir):
            raise UsageError(f"{self.checkpoint_dir} is a file, not the run's checkpoints "
                             "folder; move it aside and --resume again")
        return True

    def has_run(self):
        return os.path.exists(self.config_path)

    def read_config(self, kind):
        """The saved config dict; UsageError if missing, corrupt or of another command."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise UsageError(f"{self.path} is a file, not a run directory")
        if not self.has_run():
            raise UsageError(f"{self.path} is not a run directory (no config.json)")
        config = read_json(self.read_path("config.json"))
        if not isinstance(config, dict):
            raise UsageError(f"{self.config_path} is not a config written by this project")
        if config.get("kind") != kind:
            raise UsageError(
                f"{self.path} holds a {config.get('kind', 'unknown')!r} run, not a {kind!r} "
                "run; use the command that trained it")
        return config

    def read_run_config(self, kind, config_class, renamed=None):
        """The run's config as `config_class`, checked (see configs.config_from_dict)."""
        from common.configs import config_from_dict

        return config_from_dict(config_class, self.read_config(kind), renamed,
                                where=self.config_path)

    def checkpoints_present(self):
        """The checkpoint files in this directory (relative paths)."""
        found = ["best.keras"] if os.path.lexists(self.best_path) else []
        if self._own_checkpoint_dir():
            found += sorted(f"checkpoints/{name}" for name in os.listdir(self.checkpoint_dir)
                            if name.endswith(".keras"))
        return found

    def read_state(self):
        """The state of this run, checked; a fresh one if it never finished an epoch.

        A missing or unreadable state.json beside existing checkpoints is an
        error, never a fresh start: a fresh start would overwrite best.keras
        with a worse model and cut history.csv. A state.json that parses but
        holds the wrong types, or a path outside the run, is an error too,
        raised before anything in the run is touched.
        """
        checkpoints = self.checkpoints_present()
        problem, state = None, None
        if not os.path.lexists(self.state_path):
            problem = "has no state.json"
        else:
            path = self.read_path("state.json")  # a link outside the run is refused
            try:
                state = read_json(path)
            except UsageError:
                problem = "has a corrupt state.json"
            if problem is None and not (isinstance(state, dict)
                                        and isinstance(state.get("epoch"), int)):
                problem = "has a state.json this project did not write"
        if problem is None:
            state.setdefault("history", [])
            state.setdefault("checkpoint", None)
            self._check_state(state)
            return state
        if not checkpoints:
            return new_state()
        raise UsageError(f"{self.path} {problem} but holds checkpoints "
                         f"({', '.join(checkpoints)}); it cannot be resumed safely. Copy the "
                         "checkpoints elsewhere and start a new --out_dir")

    def _check_state(self, state):
        """UsageError naming state.json unless it is whole: this project's types and ranges.

        Checked before anything in the run is written, so that an edited or
        damaged state.json can never make a resume train (and replace
        best.keras, remove checkpoints) and then fail.
        """
        def wrong(what):
            return UsageError(f"{self.state_path}: {what}; the file was edited or is not "
                              "this project's. Restore it or start a new --out_dir")

        def whole(value):
            return isinstance(value, int) and not isinstance(value, bool)

        epoch, history = state["epoch"], state["history"]
        if not whole(epoch) or not 0 <= epoch <= EPOCHS_MAX:
            raise wrong(f"epoch {epoch!r} is not a count of epochs")
        if not isinstance(history, list) or len(history) != epoch:
            raise wrong(f"history does not list the {epoch} finished epochs")
        for number, row in enumerate(history, 1):
            if not (isinstance(row, dict) and whole(row.get("epoch"))
                    and row["epoch"] == number):
                raise wrong(f"history entry {number} is not epoch {number}")
            if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
                       for value in row.values()):
                raise wrong(f"history entry {number} holds a value that is not a number")
        if epoch and not isinstance(state["checkpoint"], str):
            raise wrong(f"no checkpoint is named for the {epoch} finished epochs")
        interrupted = state.get("interrupted")
        if interrupted is not None and not (
                isinstance(interrupted, dict) and whole(interrupted.get("after_epoch"))
                and 0 <= interrupted["after_epoch"] <= epoch):
            raise wrong("interrupted is not {path, after_epoch} of a finished epoch")
        best = state.get("best_score")
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
            raise wrong(f"best_score {best!r} is not a number")
        best_epoch = state.get("best_epoch")
        if best_epoch is not None and not (whole(best_epoch) and 1 <= best_epoch <= epoch):
            raise wrong(f"best_epoch {best_epoch!r} is not one of the finished epochs")
        try:
            if state["checkpoint"] is not None:
                self.resolve(state["checkpoint"])
            if interrupted is not None:
                self.resolve(interrupted.get("path"), "interrupted checkpoint")
        except UsageError as error:
            raise UsageError(f"{self.state_path}: {error}") from None

    def resolve(self, relative, what="checkpoint"):
        """A path stored in this run's files, confined to the run directory."""
        return inside(self.path, relative, what)

    def checkpoint_path(self, state=None, which="last"):
        """The checkpoint to resume or read: last finished epoch, or the best one."""
        state = self.read_state() if state is None else state
        best = self.resolve("best.keras") if os.path.lexists(self.best_path) else None
        if which == "best" and best:
            return best
        if state.get("checkpoint"):
            path = self.resolve(state["checkpoint"])
            if os.path.exists(path):
                return path
        if best:
            return best
        raise UsageError(f"{self.path} has no checkpoint yet; train at least one epoch first")

    def resume_path(self, state):
        """Where --resume continues from: the Ctrl-C weights if newer, else the last epoch."""
        interrupted = state.get("interrupted")
        if interrupted and interrupted.get("after_epoch") == state["epoch"]:
            path = self.resolve(interrupted.get("path"))
            if os.path.exists(path):
                return path
        return self.checkpoint_path(state) if state["epoch"] else None

    def load_model(self, kind, checkpoint="best", compile=False):
        """The model of a `kind` run: its best checkpoint ("best") or its latest ("last")."""
        self.read_config(kind)
        return load_keras_file(self.checkpoint_path(which=checkpoint), compile=compile)

    def write_config(self, config):
        atomic_write_json(self.config_path, config)

    def write_state(self, state):
        atomic_write_json(self.state_path, state)

    @contextlib.contextmanager
    def lock(self):
        """Exclusive ownership of this run directory while training into it."""
        os.makedirs(self.path, exist_ok=True)
        take_lock(self.lock_path)
        try:
            yield self
        finally:
            release_lock(self.lock_path)

    def remove_superseded(self, state):
        """Removes this project's own leftovers: staging files and old checkpoints.

        Only files whose names this project gives them, and only those the
        state no longer refers to.
        """
        remove_own_staging_files(self.path)
        if not self._own_checkpoint_dir():
            return
        remove_own_staging_files(self.checkpoint_dir)
        keep = {state.get("checkpoint"), (state.get("interrupted") or {}).get("path")}
        for name in os.listdir(self.checkpoint_dir):
            relative = f"checkpoints/{name}"
            ours = EPOCH_CHECKPOINT.fullmatch(name) or name == INTERRUPTED
            if ours and relative not in keep and state.get("epoch"):
                remove_if_exists(os.path.join(self.checkpoint_dir, name))


def load_keras_file(path, compile=False):
    """keras.saving.load_model, with one clear error for a truncated or corrupt file."""
    import zipfile

    import keras  # here, so that reading run metadata needs no TensorFlow

    check_whole_archive(path)
    try:
        return keras.saving.load_model(path, compile=compile)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as error:
        if isinstance(error, zipfile.BadZipFile) or not zipfile.is_zipfile(path):
            raise UsageError(f"{path} is truncated or corrupt (not a .keras archive); "
                             "use another --checkpoint or retrain") from None
        raise UsageError(f"{path} cannot be loaded as this project's model: "
                         f"{' '.join(str(error).split())[:200]}") from None


def check_whole_archive(path):
    """UsageError unless `path` is a regular file and a zip whose every entry passes its CRC.

    A .keras file is a zip; one damaged inside would fail half-way through
    loading (or load wrong weights), so every entry is read and checked first.
    """
    import zipfile

    check_regular_file(path, "checkpoint")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        damaged = "its directory"
    if damaged is not None:
        raise UsageError(f"{path} is truncated or corrupt ({damaged} fails its check); use "
                         "another --checkpoint or retrain")


def take_lock(lock_path):
    """Creates `lock_path` exclusively, with this process's pid; breaks a stale lock."""
    owner = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(lock_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock_path)
            stale = (holder is not None and holder.get("host") == owner["host"]
                     and isinstance(holder.get("pid"), int) and not process_alive(holder["pid"]))
            if stale:
                remove_if_exists(lock_path)
                continue
            who = (f"process {holder.get('pid')} on {holder.get('host')}" if holder
                   else "another process")
            raise UsageError(f"{os.path.dirname(lock_path)} is in use by {who} (it holds "
                             f"{lock_path}); wait for it to finish, or delete that file if "
                             "no such process is running") from None
        with os.fdopen(fd, "w") as f:
            json.dump(owner, f)
        return
    raise UsageError(f"could not take the lock {lock_path}")


def release_lock(lock_path):
    holder = _lock_holder(lock_path)
    if holder and holder.get("pid") == os.getpid():
        remove_if_exists(lock_path)


def _lock_holder(lock_path):
    """The {pid, host} in a lock file, or None (never opens a FIFO or device: it could block)."""
    try:
        if not stat.S_ISREG(os.lstat(lock_path).st_mode):
            return None
        with open(lock_path, encoding="utf-8") as f:
            holder = json.load(f)
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


def _folders_never_a_run():
    """Folders a run must never be made in: the file system's root, the home folder, the
    working folder, and every folder above them (realpaths)."""
    folders = {os.path.realpath(os.sep), os.path.realpath(os.path.expanduser("~")),
               os.path.realpath(os.getcwd())}
    for folder in list(folders):
        while folder != os.path.dirname(folder):
            folder = os.path.dirname(folder)
            folders.add(folder)
    return folders


def _is_own_lock(path):
    """Whether `path` is a regular file holding a lock this project wrote ({pid, host})."""
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    holder = _lock_holder(path)
    return holder is not None and set(holder) == {"pid", "host"}


def check_new_run_folder(path, own_entries=()):
    """UsageError unless a new run may be made in `path`; reads, never writes.

    A new run is made only where nothing of the user's can be touched: a
    folder that does not exist yet, or an empty one (following a link to
    where it leads). The file system's root, the home folder and the working
    folder (and any folder above them) are refused even when empty. The only
    entries tolerated are this project's own: a lock left by a killed run,
    and `own_entries`, the names the command itself put there in this
    session or an earlier one (the stage folders of a staged run, say).
    """
    real = os.path.realpath(path)
    shown = path if real == os.path.abspath(path) else f"{path} (a link to {real})"
    if os.path.lexists(path) and real in _folders_never_a_run():
        raise UsageError(f"--out_dir {shown} is the root, home or working folder (or above "
                         "it); a run needs a folder of its own: name a new one, such as "
                         "runs/NAME")
    check_not_system(path, "--out_dir")
    if not os.path.lexists(path):
        return
    if not os.path.isdir(real):
        raise UsageError(f"--out_dir {shown} is a file, not a directory")
    try:
        names = os.listdir(real)
    except OSError as error:
        raise UsageError(f"cannot read --out_dir {shown}: {error.strerror}") from None
    foreign = sorted(name for name in names if name not in own_entries
                     and not (name == LOCK_NAME and _is_own_lock(os.path.join(real, name))))
    if foreign:
        listed = ", ".join(repr(name) for name in foreign[:5])
        more = f" and {len(foreign) - 5:,} more" if len(foreign) > 5 else ""
        raise UsageError(f"--out_dir {shown} already holds files that are not a run of this "
                         f"command ({listed}{more}); train writes only into a new or empty "
                         "folder: choose another --out_dir (or pass --resume for a run of "
                         "this command)")


def check_no_stray_run_files(run_dir):
    """UsageError if a folder without config.json holds checkpoints or a state.json."""
    if not run_dir.has_run() and (run_dir.checkpoints_present()
                                  or os.path.lexists(run_dir.state_path)):
        raise UsageError(f"{run_dir.path} holds checkpoints or state.json but no "
                         "config.json; refusing to start a new run over them")


def check_new_run_folder_early(path, own_entries=()):
    """check_new_run_folder at start-up, unless `path` holds a config.json: whether that is
    a run of this command (then `train` says to pass --resume) is the lifecycle's to tell."""
    run_dir = RunDir(path)
    if not run_dir.has_run():
        check_no_stray_run_files(run_dir)
        check_new_run_folder(path, own_entries)


def check_outside_run(path, run_dir, what="--export_dir"):
    """Reading verbs write nothing into a run directory (nor over one)."""
    if contains(run_dir, path) or contains(path, run_dir):
        raise UsageError(f"{what} {path} is or contains the run directory {run_dir}, or lies "
                         "inside it; choose a folder outside the run directory")
