"""Training-loop helpers: seeding, tf.distribute, and the run-directory callbacks.

`fit_run` wraps `model.fit` so that every assignment gets the same behaviour:
a checkpoint after every epoch (and the best one by validation loss), a
history CSV and plot, TensorBoard logs, a clear error if the loss becomes
NaN, and on Ctrl-C or SIGTERM a saved checkpoint before exiting. Keras's own
`TerminateOnNaN`, `ModelCheckpoint`, `CSVLogger` and `BackupAndRestore` are
not used for these because they lack guarantees the project promises: their
files are not written atomically (a kill mid-write corrupts them), CSVLogger
appends (a resumed run repeats rows), BackupAndRestore deletes its backup when
`fit` ends (so `--epochs` cannot be raised later), and none records which epoch
the NaN came from or keeps the best model by validation loss across resumes.
`TensorBoard` and `LearningRateScheduler` are Keras's own.
"""

import csv
import io
import math
import os
import time

import keras
import tensorflow as tf

from common import distributed
from common.cli import Interrupted, UsageError, interrupts_held
from common.files import atomic_save_model, atomic_write_text
from common.plots import plot_history
from common.runs import INTERRUPTED


def set_seed(seed):
    """Seeds Python, NumPy and TensorFlow (weights, dropout, shuffles)."""
    keras.utils.set_random_seed(seed)


def get_strategy(name):
    """The tf.distribute strategy for --strategy.

    default       the current device (one CPU or GPU)
    mirrored      synchronous data parallelism over every local GPU, or over
                  every logical CPU device when there is no GPU
    multi_worker  synchronous data parallelism across machines; the cluster
                  comes from the TF_CONFIG environment variable (common.distributed)
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return distributed.start()  # usually started already, when the flags were read
    raise UsageError(f"unknown --strategy {name!r}; choose default, mirrored or multi_worker")


def decayed_learning_rate(base, decay, decay_after, epoch):
    """base * decay ** max(epoch + 1 - decay_after, 0) for a 0-based epoch.

    The Zaremba et al. / TF PTB tutorial schedule: constant for `decay_after`
    epochs, then multiplied by `decay` every epoch.
    """
    return base * decay ** max(epoch + 1 - decay_after, 0)


def epoch_decay_callback(base, decay, decay_after):
    """Sets the optimizer's learning rate at the start of every epoch (resume-safe)."""
    return keras.callbacks.LearningRateScheduler(
        lambda epoch, _: decayed_learning_rate(base, decay, decay_after, epoch))


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where.

    Keras's TerminateOnNaN stops too, but does not say in which epoch and
    batch, and the checkpoint callback must know not to save NaN weights.
    `keys` names the losses to watch (a GAN has "d_loss" and "g_loss").
    """

    def __init__(self, keys=("loss",)):
        super().__init__()
        self.keys = keys
        self.epoch = 0
        self.diverged_at = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for key in self.keys:
            loss = (logs or {}).get(key)
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged_at = (self.epoch + 1, batch + 1)
                self.model.stop_training = True


class Progress:
    """What a job reports per epoch: throughput unit, derived numbers, plot.

    `derived_metrics(row) -> dict` adds numbers computed from Keras's logs
    (bits per character, perplexity). `items_per_step` converts steps per
    second into the task's unit (characters, words, images per second).
    """

    def __init__(self, items_per_step, unit, derived_metrics=None,
                 plot_keys=("loss", "val_loss"), plot_ylabel="loss", loss_keys=("loss",),
                 best_key=None):
        self.items_per_step = items_per_step
        self.unit = unit
        self.derived_metrics = derived_metrics or (lambda row: {})
        self.plot_keys = list(plot_keys)
        self.plot_ylabel = plot_ylabel
        self.loss_keys = loss_keys
        self.best_key = best_key  # lower is better; default val_loss, else loss


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the checkpoint, the best model and state.json, atomically.

    The epoch's row then goes to history.csv and loss.png (`EpochReport`).
    Nothing is saved once the loss has turned NaN.
    """

    def __init__(self, run_dir, state, progress, nan_guard):
        super().__init__()
        self.run_dir, self.state, self.progress, self.nan_guard = (run_dir, state, progress,
                                                                   nan_guard)
        self._epoch_start, self._steps = None, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_guard.diverged_at is not None:
            return  # never overwrite good checkpoints with NaN weights
        seconds = time.perf_counter() - self._epoch_start
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        row.update(self.progress.derived_metrics(row))
        row[f"{self.progress.unit}_per_second"] = (self._steps * self.progress.items_per_step
                                                   / seconds)
        row["seconds"] = seconds
        # A Ctrl-C or SIGTERM waits for the epoch's files, so that state.json
        # never names an epoch whose checkpoint was not written.
        with interrupts_held():
            is_best = self.save_epoch(row)
            report_epoch(self.run_dir, self.state, self.progress, row, is_best)

    def save_epoch(self, row):
        """Checkpoint, best model, state; then the superseded checkpoint goes. True if best."""
        state, run_dir = self.state, self.run_dir
        path = os.path.join(run_dir.checkpoint_dir, f"epoch-{row['epoch']:04d}.keras")
        os.makedirs(run_dir.checkpoint_dir, exist_ok=True)
        atomic_save_model(self.model, path)
        state["history"].append(row)
        state["epoch"] = row["epoch"]
        key = self.progress.best_key or ("val_loss" if "val_loss" in row else "loss")
        score = row.get(key)
        is_best = score is not None and score < state.get("best_score", math.inf)
        if is_best:
            atomic_save_model(self.model, run_dir.best_path)
            state["best_score"], state["best_epoch"], state["best_key"] = (score, row["epoch"],
                                                                           key)
        state["checkpoint"] = f"checkpoints/{os.path.basename(path)}"
        state.pop("interrupted", None)
        run_dir.write_state(state)
        run_dir.remove_superseded(state)
        return is_best

    def save_interrupted(self):
        """Ctrl-C or SIGTERM: the partial epoch's weights beside (never instead of) the last
        epoch's."""
        os.makedirs(self.run_dir.checkpoint_dir, exist_ok=True)
        atomic_save_model(self.model, os.path.join(self.run_dir.checkpoint_dir, INTERRUPTED))
        self.state["interrupted"] = {"path": f"checkpoints/{INTERRUPTED}",
                                     "after_epoch": self.state["epoch"]}
        self.run_dir.write_state(self.state)


def report_epoch(run_dir, state, progress, row, is_best):
    """history.csv, loss.png and one printed line for a finished epoch."""
    write_history_csv(state["history"], run_dir.history_path)
    plot_history(state["history"], run_dir.file("loss.png"), progress.plot_keys,
                 progress.plot_ylabel)
    print(format_epoch(row, progress.unit) + (" (best)" if is_best else ""), flush=True)


def format_epoch(row, unit):
    parts = [f"epoch {row['epoch']}"]
    for key, value in row.items():
        if key in ("epoch", "seconds") or key.endswith("_per_second"):
            continue
        parts.append(f"{key} {value:.4f}")
    parts.append(f"{row[f'{unit}_per_second']:,.0f} {unit}/s")
    parts.append(f"{row['seconds']:.0f}s")
    return ", ".join(parts)


def write_history_csv(history, path):
    keys = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buffer.getvalue())


def whole_executions(steps_per_epoch, steps_per_execution):
    """(steps per execution, steps per epoch): an epoch of whole executions.

    Keras runs `steps_per_execution` training steps in one graph call (less
    Python between small steps) and never stops inside a call at an epoch's
    end: in Keras 3.15, 105 steps at 10 a call ran 110. An epoch of 421 steps
    would then eat into the next epoch's batches, and a resumed run would no
    longer see the batches an uninterrupted one does. So the epoch is cut to a
    whole number of calls (at most steps_per_execution - 1 batches fewer; each
    epoch's shuffle leaves out different items), and data of fewer steps than
    one call runs them all in one.
    """
    per_call = max(1, min(steps_per_execution, steps_per_epoch))
    return per_call, steps_per_epoch - steps_per_epoch % per_call


def fit_run(model, run_dir, state, train_data, steps_per_epoch, epochs, progress,
            validation_data=None, verbose=1, extra_callbacks=(), strategy=None):
    """model.fit from state["epoch"] to `epochs` with the run-directory callbacks.

    Returns the updated state. Raises UsageError if a loss in
    `progress.loss_keys` becomes NaN. Ctrl-C or SIGTERM (run_cli raises it as a
    KeyboardInterrupt) saves the partial epoch's weights
    (checkpoints/interrupted.keras, which --resume continues from) and keeps
    the last finished epoch's checkpoint. Under MultiWorkerMirroredStrategy,
    where Keras's fit cannot run, common.distributed drives the same callbacks.
    """
    nan_guard = StopOnNaN(progress.loss_keys)
    checkpoint = EpochCheckpoint(run_dir, state, progress, nan_guard)
    # Extra callbacks (a learning-rate schedule, say) run before the checkpoint
    # so that what they add to the epoch's logs is recorded in the history.
    callbacks = [nan_guard, *extra_callbacks, checkpoint,
                 keras.callbacks.TensorBoard(run_dir.log_dir, write_graph=False)]
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
        # Keras 3.15's multi-step loop fails in the optimizer's cross-replica
        # update with two or more replicas (keras-team/keras#19246); this also
        # covers a checkpoint compiled without a strategy and resumed with one.
        model.steps_per_execution = 1
    try:
        if multi_worker:
            distributed.distributed_fit(model, strategy, train_data, steps_per_epoch, epochs,
                                        state["epoch"], callbacks, validation_data, verbose)
        else:
            model.fit(train_data, epochs=epochs, initial_epoch=state["epoch"],
                      steps_per_epoch=steps_per_epoch, validation_data=validation_data,
                      callbacks=callbacks, verbose=verbose, shuffle=False)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError) as error:
        if not multi_worker:
            raise
        raise distributed.worker_failure(error) from None
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (common.cli.Terminated)
        with interrupts_held(deliver=False):  # a second signal asks for what this does
            checkpoint.save_interrupted()
        print(flush=True)  # ends Keras's progress bar line on stdout
        raise Interrupted(interrupt, f"during epoch {state['epoch'] + 1}; its weights so far "
                          f"are in {run_dir.file('checkpoints/' + INTERRUPTED)} and the last "
                          "finished epoch's checkpoint is kept; continue with --resume") from None
    if nan_guard.diverged_at is not None:
        epoch, batch = nan_guard.diverged_at
        kept = f"; the last good checkpoint is {state['checkpoint']}" if state["checkpoint"] else ""
        raise UsageError(
            f"the loss became NaN in epoch {epoch}, batch {batch}: training diverged; "
            f"try a lower --learning_rate or --grad_clip{kept}")
    return state
