"""The one run lifecycle every `train` goes through.

    job = TrainJob(kind="char_rnn", config=config, out_dir=..., build_model=...,
                   train_data=lambda first_epoch: ..., steps_per_epoch=...,
                   progress=Progress(...), metadata={"vocab.json": vocab.to_json()})
    model, state = lifecycle.train(job)

`train` does, in this order and nowhere else:
 1. checks the run directory: a new run never lands on an existing one; a
    resumed run must have been made by the same command with the same
    settings (only `may_change`, such as --epochs, may differ; a field added to
    the config since takes its default) and the same metadata (vocabulary,
    class names);
 2. takes the directory's lock, so a second process gets a clear error;
 3. reads and checks state.json, seeds, enters the tf.distribute strategy,
    and builds the model or loads the checkpoint to continue from;
 4. only then writes config.json (with provenance) and the metadata files,
    atomically, and removes this project's own leftovers;
 5. runs `fit` with the run-directory callbacks (common.training.fit_run).
A new run that fails before its first finished epoch (bad data found late, a
NaN in epoch 1) removes the files it made, so no half-made run is left.
"""

import contextlib
import dataclasses
import json
import os
import shlex
import shutil
from typing import Any, Callable

from common import distributed
from common.cli import UsageError
from common.configs import changed_settings, config_to_dict, field_defaults, upgrade_keys
from common.files import atomic_write_json, read_json_file, remove_if_exists
from common.outputs import write_json
from common.provenance import provenance
from common.runs import (LOCK_NAME, RunDir, check_new_run_folder, check_no_stray_run_files,
                         load_keras_file, new_state)
from common.training import Progress, fit_run, get_strategy, set_seed

# How a metadata file is named in messages.
METADATA_NAMES = {"vocab.json": "vocabulary", "labels.json": "class names"}


@dataclasses.dataclass
class TrainJob:
    """Everything a week hands the lifecycle: its config, model builder and data."""

    kind: str                                # the command: "char_rnn", "cifar10", ...
    config: Any                              # the week's frozen dataclass
    out_dir: str
    build_model: Callable[[], Any]           # a new compiled keras.Model (in the strategy scope)
    train_data: Callable[[int], Any]         # first epoch -> the training dataset
    steps_per_epoch: int
    progress: Progress
    seed: int = 0
    resume: bool = False
    strategy: str = "default"
    settings: dict = dataclasses.field(default_factory=dict)   # saved beside the config
    may_change: tuple = ("epochs", "source")  # what --resume may change
    renamed: dict = dataclasses.field(default_factory=dict)    # old config key -> new
    # Names the command itself writes into --out_dir before a new run starts
    # (stage folders, a frozen base): the only entries a new run's folder may hold.
    own_entries: tuple = ()
    metadata: dict = dataclasses.field(default_factory=dict)   # file name -> JSON value
    validation_data: Any = None
    callbacks: Callable[[dict], list] = lambda state: []       # state -> extra callbacks
    describe: Callable[[Any], str] = lambda model: f"{model.count_params():,} parameters"
    verbose: int = 1

    @property
    def epochs(self):
        return self.config.epochs


def run_config(job):
    """The dict saved as config.json."""
    return {"kind": job.kind, **config_to_dict(job.config), "seed": job.seed,
            **json.loads(json.dumps(job.settings))}


def check_new_or_resumable(run_dir, job, config):
    """UsageError if this job may not start (or resume) in `run_dir`; writes nothing."""
    if os.path.exists(run_dir.path) and not os.path.isdir(run_dir.path):
        raise UsageError(f"--out_dir {run_dir.path} is a file, not a directory")
    if not job.resume:
        if _is_run_of(run_dir, job.kind):
            raise UsageError(f"{run_dir.path} already holds a run; pass --resume to continue "
                             "it or choose another --out_dir")
        check_no_stray_run_files(run_dir)
        check_new_run_folder(run_dir.path, job.own_entries)
        return
    saved = upgrade_keys(run_dir.read_config(job.kind), job.renamed)
    # Settings first: a changed data flag (--task, --dataset) is named, not reported as
    # the vocabulary it changes.
    defaults = {**field_defaults(type(job.config)), "seed": 0}
    changed = changed_settings(saved, config, defaults, (*job.may_change, "provenance"))
    if changed:
        details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in changed)
        raise UsageError(f"--resume: {run_dir.path} was trained with different settings "
                         f"({details}); drop those flags or use a new --out_dir")
    for name, value in job.metadata.items():
        if (os.path.lexists(run_dir.file(name))
                and read_json_file(run_dir.read_path(name)) != json.loads(json.dumps(value))):
            what = METADATA_NAMES.get(name, name)
            raise UsageError(f"--resume: this data's {what} differs from the one "
                             f"{run_dir.path} was trained with; use the same data or a new "
                             "--out_dir")
    run_dir.read_state()  # a corrupt state beside checkpoints fails here


def _is_run_of(run_dir, kind):
    """Whether `run_dir` holds a config.json this project wrote for a `kind` run."""
    try:
        return run_dir.has_run() and run_dir.read_config(kind) is not None
    except UsageError:
        return False


def train(job):
    """Trains (or resumes) `job`; returns (model, state). See the module docstring."""
    run_dir = RunDir(job.out_dir)
    config = run_config(job)
    strategy = get_strategy(job.strategy)  # a bad TF_CONFIG fails before anything is written
    # In a multi-worker run only the chief writes the run directory; another
    # worker reads it only to resume (a shared or copied folder) and writes
    # its copies of the files to a scratch folder (common.distributed).
    chief = job.strategy != "multi_worker" or distributed.is_chief()
    if chief or job.resume:
        check_new_or_resumable(run_dir, job, config)
    created = _NewRunFiles(run_dir, job) if chief and not job.resume else None
    with (run_dir.lock() if chief else _scratch_run_dir()) as writer:
        state = None
        try:
            # Everything that can refuse the run is checked (and the model
            # loaded) before the first file is written, so a failed resume
            # leaves the run exactly as it was.
            state = run_dir.read_state() if chief or job.resume else new_state()
            if job.strategy == "multi_worker":  # before the first variable is broadcast
                distributed.check_same_settings(strategy, _shared_settings(job, config))
            set_seed(job.seed)
            with strategy.scope():
                resume_from = run_dir.resume_path(state)
                model = (load_keras_file(resume_from, compile=True) if resume_from
                         else job.build_model())
            writer.write_config({**config, "provenance": provenance()})
            for name, value in job.metadata.items():
                atomic_write_json(writer.file(name), value)
            writer.remove_superseded(state)
            if state["epoch"] >= job.epochs:
                print(f"{run_dir.path} has already trained {state['epoch']} of {job.epochs} "
                      "epochs; raise --epochs to train more")
            print(f"{job.describe(model)}; run directory {run_dir.path}", flush=True)
            fit_run(model, writer, state, job.train_data(state["epoch"]),
                    job.steps_per_epoch, job.epochs, job.progress,
                    validation_data=job.validation_data, verbose=job.verbose,
                    extra_callbacks=job.callbacks(state), strategy=strategy)
        except (Exception, KeyboardInterrupt):
            # A Ctrl-C in epoch 1 keeps the run: its partial epoch is interrupted.keras.
            if created is not None and (state is None or (state["epoch"] == 0
                                                          and "interrupted" not in state)):
                created.discard()
            raise
    return model, state


def _shared_settings(job, config):
    """What every worker of a cluster must agree on: model, data and training settings."""
    differ = set(job.may_change) - {"epochs"}  # file paths may differ between machines
    # job.epochs too: a run's epochs may come from more than --epochs (memn2n's --tries).
    return {"config": {k: v for k, v in config.items() if k not in differ},
            "metadata": job.metadata, "steps_per_epoch": job.steps_per_epoch,
            "epochs": job.epochs}


@contextlib.contextmanager
def _scratch_run_dir():
    """A non-chief worker's run directory (common.distributed.worker_scratch)."""
    with distributed.worker_scratch() as path:
        yield RunDir(path)


class _NewRunFiles:
    """What a new run creates, so that a failure before its first epoch removes just that."""

    def __init__(self, run_dir, job):
        self.run_dir = run_dir
        # The folders RunDir.lock's makedirs will create: the run folder and
        # any missing parents, outermost last.
        self.new_folders = []
        folder = os.path.abspath(run_dir.path)
        while not os.path.lexists(folder) and folder != os.path.dirname(folder):
            self.new_folders.append(folder)
            folder = os.path.dirname(folder)
        names = ["config.json", "state.json", "history.csv", "loss.png", "best.keras",
                 *job.metadata]
        self.files = [run_dir.file(n) for n in names if not os.path.exists(run_dir.file(n))]
        self.folders = [p for p in (run_dir.log_dir, run_dir.checkpoint_dir)
                        if not os.path.exists(p)]

    def discard(self):
        for path in self.files:
            remove_if_exists(path)
        for folder in self.folders:
            if os.path.isdir(folder) and not os.path.exists(
                    os.path.join(folder, "interrupted.keras")):
                shutil.rmtree(folder, ignore_errors=True)
        if self.new_folders and set(os.listdir(self.run_dir.path)) <= {LOCK_NAME}:
            remove_if_exists(self.run_dir.lock_path)
            for folder in self.new_folders:  # only while empty: never another's files
                try:
                    os.rmdir(folder)
                except OSError:
                    break


def write_results(path, results):
    """results.json (with provenance), through common.outputs; returns its path."""
    return write_json(path, {**results, "provenance": provenance()})


def next_commands(command_module, out_dir, verbs):
    """The commands `train` suggests: `python -m MODULE VERB --run_dir OUT_DIR FLAGS`.

    `verbs` is [(verb, flags)]; `{name}` in flags becomes the run folder's name
    (for export folders and output files). Values in flags must already be
    quoted for the shell (shlex.quote, or `shell_flag`).
    """
    run = shlex.quote(out_dir)
    name = shlex.quote(os.path.basename(os.path.normpath(out_dir)) or "run")
    return [" ".join(part for part in (f"python -m {command_module} {verb} --run_dir {run}",
                                       flags.replace("{name}", name).strip()) if part)
            for verb, flags in verbs]


def shell_flag(flag, value):
    """`--flag 'value'` quoted for the shell, or "" when there is no value."""
    return f"{flag} {shlex.quote(str(value))}" if value else ""


def print_next_steps(run_dir_path, commands):
    """The last thing `train` prints: where the run is and what to run next."""
    print(f"\nrun directory: {run_dir_path}\nnext:")
    for command in commands:
        print(f"  {command}")
