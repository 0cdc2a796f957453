"""Training-loop helpers: seeding, tf.distribute, and the checkpoint callbacks.

`fit_run` wraps `model.fit` so that every assignment gets the same behaviour:
a checkpoint after every epoch (and the best one by validation loss), a
history CSV and plot, TensorBoard logs, a clear error if the loss becomes
NaN, and on Ctrl-C a saved checkpoint before exiting.
"""

import csv
import io
import math
import os
import sys
import time

import keras
import tensorflow as tf

from common.cli import UsageError
from common.plots import plot_history
from common.runs import atomic_save_model, atomic_write_json, atomic_write_text


def set_seed(seed):
    """Seeds Python, NumPy and TensorFlow (weights, dropout, shuffles)."""
    keras.utils.set_random_seed(seed)


def get_strategy(name):
    """The tf.distribute strategy for --strategy.

    default       the current device (one CPU or GPU)
    mirrored      synchronous data parallelism over every local GPU, or over
                  every logical CPU device when there is no GPU
    multi_worker  synchronous data parallelism across machines; the cluster
                  comes from the TF_CONFIG environment variable
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
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


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: checkpoint, best model, state.json, history.csv, plot.

    `derived_metrics(logs) -> dict` adds numbers computed from Keras's logs
    (bits per character, perplexity). `items_per_step` converts steps/second
    into the throughput unit of the task (characters or words per second).
    """

    def __init__(self, run_dir, state, items_per_step, unit, nan_guard,
                 derived_metrics=None, plot_keys=("loss", "val_loss"), plot_ylabel="loss"):
        super().__init__()
        self.run_dir = run_dir
        self.state = state
        self.items_per_step = items_per_step
        self.unit = unit
        self.nan_guard = nan_guard
        self.derived_metrics = derived_metrics or (lambda logs: {})
        self.plot_keys = list(plot_keys)
        self.plot_ylabel = plot_ylabel
        self._epoch_start = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_guard.diverged_at is not None:
            return  # never overwrite good checkpoints with NaN weights
        seconds = time.perf_counter() - self._epoch_start
        row = {"epoch": epoch + 1}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        row.update(self.derived_metrics(row))
        row[f"{self.unit}_per_second"] = self._steps * self.items_per_step / seconds
        row["seconds"] = seconds
        self.save(row)

    def save(self, row, interrupted=False):
        os.makedirs(self.run_dir.checkpoint_dir, exist_ok=True)
        name = "interrupted.keras" if interrupted else f"epoch-{row['epoch']:04d}.keras"
        path = os.path.join(self.run_dir.checkpoint_dir, name)
        atomic_save_model(self.model, path)
        state = self.state
        is_best = False
        if not interrupted:
            state["history"].append(row)
            state["epoch"] = row["epoch"]
            score = row.get("val_loss", row.get("loss"))
            if score is not None and score < state.get("best_score", math.inf):
                state["best_score"], state["best_epoch"] = score, row["epoch"]
                atomic_save_model(self.model, self.run_dir.best_path)
                is_best = True
        previous = state.get("checkpoint")
        state["checkpoint"] = os.path.relpath(path, self.run_dir.path)
        atomic_write_json(self.run_dir.state_path, state)
        if previous and previous != state["checkpoint"]:
            stale = os.path.join(self.run_dir.path, previous)
            if os.path.exists(stale):
                os.remove(stale)
        if not interrupted:
            write_history_csv(state["history"], self.run_dir.history_path)
            plot_history(state["history"], self.run_dir.file("loss.png"),
                         self.plot_keys, self.plot_ylabel)
            print(format_epoch(row, self.unit) + (" (best)" if is_best else ""), flush=True)


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


def fit_run(model, run_dir, state, train_data, steps_per_epoch, epochs, items_per_step,
            unit, validation_data=None, derived_metrics=None, plot_keys=("loss", "val_loss"),
            plot_ylabel="loss", verbose=1, extra_callbacks=(), loss_keys=("loss",)):
    """model.fit from state["epoch"] to `epochs` with the run-directory callbacks.

    Returns the updated state. Raises UsageError if a loss in `loss_keys`
    becomes NaN.
    """
    nan_guard = StopOnNaN(loss_keys)
    checkpoint = EpochCheckpoint(run_dir, state, items_per_step, unit, nan_guard,
                                 derived_metrics, plot_keys, plot_ylabel)
    # Extra callbacks (a learning-rate schedule, say) run before the checkpoint
    # so that what they add to the epoch's logs is recorded in the history.
    callbacks = [nan_guard, *extra_callbacks, checkpoint,
                 keras.callbacks.TensorBoard(run_dir.log_dir, write_graph=False)]
    initial_epoch = state["epoch"]
    try:
        model.fit(train_data, epochs=epochs, initial_epoch=initial_epoch,
                  steps_per_epoch=steps_per_epoch, validation_data=validation_data,
                  callbacks=callbacks, verbose=verbose, shuffle=False)
    except KeyboardInterrupt:
        # Keep the partial epoch's weights; --resume redoes that epoch from them.
        checkpoint.save({"epoch": state["epoch"] + 1}, interrupted=True)
        print(f"\ninterrupted during epoch {state['epoch'] + 1}; weights saved to "
              f"{state['checkpoint']}; continue with --resume", file=sys.stderr)
        sys.exit(130)
    if nan_guard.diverged_at is not None:
        epoch, batch = nan_guard.diverged_at
        kept = f"; the last good checkpoint is {state['checkpoint']}" if state["checkpoint"] else ""
        raise UsageError(
            f"the loss became NaN in epoch {epoch}, batch {batch}: training diverged; "
            f"try a lower --learning_rate or --grad_clip{kept}")
    return state
