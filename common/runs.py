"""Run directories: where a training run keeps everything it produces.

    out_dir/
      config.json        the resolved configuration, with "kind" (which model)
      vocab.json         model-specific metadata (for example the vocabulary)
      state.json         finished epochs, history, best score, current checkpoint
      checkpoints/       epoch-NNNN.keras (latest finished epoch), interrupted.keras
      best.keras         the checkpoint with the lowest validation loss
      history.csv        one row per finished epoch
      *.png              plots
      logs/              TensorBoard

Every file is written to a temporary name and renamed into place, so a
process killed at any moment (even with SIGKILL) leaves the previous
checkpoint and state intact.
"""

import json
import os
import tempfile

from common.cli import UsageError


def atomic_write_text(path, text):
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def atomic_save_model(model, path):
    """model.save() to a temporary file, then rename over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def new_state():
    """The state.json of a run that has finished no epoch."""
    return {"epoch": 0, "history": [], "checkpoint": None}


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class RunDir:
    """Paths and metadata of one run directory."""

    def __init__(self, path):
        self.path = path
        self.config_path = os.path.join(path, "config.json")
        self.state_path = os.path.join(path, "state.json")
        self.checkpoint_dir = os.path.join(path, "checkpoints")
        self.best_path = os.path.join(path, "best.keras")
        self.history_path = os.path.join(path, "history.csv")
        self.log_dir = os.path.join(path, "logs")

    def file(self, name):
        return os.path.join(self.path, name)

    def has_run(self):
        return os.path.exists(self.config_path)

    def read_config(self, kind):
        """The saved config; UsageError if missing or written by another model."""
        if not self.has_run():
            raise UsageError(f"{self.path} is not a run directory (no config.json)")
        config = read_json(self.config_path)
        if config.get("kind") != kind:
            raise UsageError(
                f"{self.path} holds a {config.get('kind', 'unknown')!r} run, not a {kind!r} run")
        return config

    def read_state(self):
        """{'epoch': finished epochs, 'checkpoint': file, 'history': [...], ...} or None."""
        if not os.path.exists(self.state_path):
            return None
        return read_json(self.state_path)

    def checkpoint_path(self, state=None):
        """The checkpoint to resume or sample from (latest, else best)."""
        state = self.read_state() if state is None else state
        if state and state.get("checkpoint"):
            path = os.path.join(self.path, state["checkpoint"])
            if os.path.exists(path):
                return path
        if os.path.exists(self.best_path):
            return self.best_path
        raise UsageError(f"{self.path} has no checkpoint yet; train at least one epoch first")

    def load_model(self, kind, checkpoint="best"):
        """The model of a `kind` run: its best checkpoint ("best") or its latest ("last")."""
        import keras  # here, so that reading run metadata needs no TensorFlow

        self.read_config(kind)
        if checkpoint == "best" and os.path.exists(self.best_path):
            path = self.best_path
        else:
            path = self.checkpoint_path()
        return keras.saving.load_model(path, compile=False)

    def begin(self, config, resume, may_change=("epochs",)):
        """start(), then the state to continue from (a fresh one for a new run)."""
        self.start(config, resume, may_change)
        state = (self.read_state() if resume else None) or new_state()
        if state["epoch"] >= config["epochs"]:
            print(f"{self.path} has already trained {state['epoch']} of "
                  f"{config['epochs']} epochs")
        return state

    def start(self, config, resume, may_change=("epochs",)):
        """Creates a new run or checks that `resume` may continue this one.

        Never touches an existing run unless asked to resume it.
        """
        kind = config["kind"]
        if resume:
            saved = self.read_config(kind)
            # Everything that shapes the model or the data must match; only
            # `may_change` (for example the number of epochs) may differ.
            changed = sorted(k for k in config
                             if k not in may_change and saved.get(k) != config[k])
            if changed:
                details = ", ".join(f"{k}: {saved.get(k)!r} -> {config[k]!r}" for k in changed)
                raise UsageError(
                    f"--resume: {self.path} was trained with different settings ({details}); "
                    "drop those flags or use a new --out_dir")
            atomic_write_json(self.config_path, config)  # records e.g. a larger --epochs
            return
        if self.has_run():
            raise UsageError(
                f"{self.path} already holds a run; pass --resume to continue it "
                "or choose another --out_dir")
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        atomic_write_json(self.config_path, config)
