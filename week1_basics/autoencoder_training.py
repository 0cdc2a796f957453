"""Training of the autoencoders: one lifecycle run, or one per stage of the stacked one.

`--arch autoencoder` is one run of common.lifecycle.train in --out_dir. The
stacked autoencoder trains in stages, each a run of the lifecycle of its own
(checkpoints, best.keras, history.csv, NaN guard, Ctrl-C saving, --resume):

    <out_dir>/pretrain1/    encoder1 + decoder1 on every training image
    <out_dir>/pretrain2/    encoder2 + decoder2 on encoder1's codes (encoder1 frozen)
    <out_dir>/classifier/   the softmax on encoder2's codes, on the labelled images
                            (both encoders frozen)
    <out_dir>/              fine-tuning of encoder1 + encoder2 + softmax on the
                            labelled images: the run `evaluate` and `export` read

With --no-pretrain only <out_dir> is trained: the same network from random
weights, at --learning_rate. Each stage starts from the best checkpoint
(lowest validation loss) of the one before. Sub-runs rather than one run with
a stage field, as in week2_cnn/transfer_training.py: each stage trains a
different model with its own epochs, and a run's state and checkpoints belong
to one model. On --resume a stage whose successor has begun trains no more;
the others continue (or start) where they stopped.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from common import distributed, holdout, lifecycle
from common.batching import shuffled_batches
from common.cli import UsageError
from common.runs import RunDir, load_keras_file
from common.training import Progress
from week1_basics.autoencoder_models import (STAGES, build_autoencoder, compile_stage,
                                             epoch_learning_rate, layers_of, stacked_layers,
                                             stage_model)

KIND, STAGE_KIND = "autoencoder", "autoencoder_stage"


@dataclasses.dataclass
class StageJob(lifecycle.TrainJob):
    """A TrainJob whose epoch count is its stage's, not config.epochs (the lifecycle reads
    `job.epochs`); config.json keeps the whole config, so a resume checks every setting."""

    stage_epochs: int = 1

    @property
    def epochs(self):
        return self.stage_epochs


def schedule(config, learning_rate, epochs):
    """The callbacks of a stage: its learning rate set at every epoch's start from the epoch
    number alone, so a resumed stage continues the schedule where it stopped."""
    return lambda state: [keras.callbacks.LearningRateScheduler(
        lambda epoch, _: epoch_learning_rate(config.schedule, learning_rate, epoch, epochs))]


def batches(x, targets, batch_size, steps_per_epoch, seed, first_epoch):
    """Endless (float32 images 0..255, targets) batches; epoch e is shuffled by (seed, e).

    `targets` None: the images themselves scaled to [0, 1] (a reconstruction
    target). An epoch of `steps_per_epoch` batches passes over the images as
    often as it needs (a few labelled images then make a whole epoch), each
    pass in an order of its own (common.batching).
    """
    def model_inputs(batch):
        images = tf.cast(batch[0] if targets is not None else batch, tf.float32)
        return images, (images / 255 if targets is None else batch[1])

    return shuffled_batches(x if targets is None else (x, targets), batch_size, seed,
                            first_epoch, steps_per_epoch, transform=model_inputs)


def evaluation_data(x, targets, batch_size=1000):
    """Validation batches (float32 images, targets), or None when nothing is held out."""
    if not len(x):
        return None
    x = x.astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(
        (x, x / 255 if targets is None else targets)).batch(batch_size)


def splits(config, data, seed):
    """(x_train, y_train, x_val, y_val, labelled indices into x_train) of the run.

    The labelled images are `config.labels` of the training images (after the
    validation split), the same number of every class where possible, chosen
    by the seed; None means all.
    """
    x_train, y_train, x_val, y_val = holdout.split_for_training(
        data.x_train, data.y_train, config.val_fraction, config.batch_size)
    if config.labels is None:
        return x_train, y_train, x_val, y_val, np.arange(len(x_train))
    if not 0 < config.labels <= len(x_train):
        raise UsageError(f"--labels {config.labels}: there are {len(x_train):,} training "
                         f"images (after holding out {len(x_val):,} for validation); pass "
                         f"1..{len(x_train):,}, or leave it out for all")
    rng = np.random.default_rng(seed)
    # Round-robin over the classes, each in a seeded random order: balanced labels.
    per_class = [rng.permutation(np.flatnonzero(y_train == k)) for k in np.unique(y_train)]
    order = [members[i] for i in range(max(map(len, per_class)))
             for members in per_class if i < len(members)]
    return x_train, y_train, x_val, y_val, np.sort(np.array(order[:config.labels]))


def train_autoencoder(config, out_dir, data, seed=0, resume=False, strategy="default",
                      verbose=1):
    """One lifecycle run of the (linear or not) autoencoder; returns the model."""
    x_train, _, x_val, _, _ = splits(config, data, seed)
    steps = len(x_train) // config.batch_size
    job = StageJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, stage_epochs=config.epochs,
        settings={"source": data.source, "dataset": data.dataset},
        build_model=lambda: compile_stage(build_autoencoder(config)[0], "autoencoder",
                                          config.learning_rate),
        steps_per_epoch=steps,
        train_data=lambda first: batches(x_train, None, config.batch_size, steps, seed, first),
        validation_data=evaluation_data(x_val, None),
        progress=Progress(config.batch_size, "images"),
        callbacks=schedule(config, config.learning_rate, config.epochs),
        describe=lambda model: (f"{len(x_train):,} training and {len(x_val):,} validation "
                                f"images from {data.source}; "
                                f"{'linear ' if config.linear else ''}autoencoder, code "
                                f"{config.code_size}, {model.count_params():,} parameters"))
    return lifecycle.train(job)[0]


# The stages that train in a folder of their own inside --out_dir; fine-tuning
# trains in --out_dir itself, so a new run's --out_dir may already hold these.
STAGE_FOLDERS = tuple(stage for stage in STAGES if stage != "fine_tune")


def stage_dir(out_dir, stage):
    return out_dir if stage == "fine_tune" else os.path.join(out_dir, stage)


def train_stacked(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """The stages of the module docstring, each through common.lifecycle.train.

    On a worker of a cluster other than the chief every stage is trained in a
    private copy of the run (distributed.run_folder), where the next stage
    finds the best checkpoint of the one before, as the chief does in --out_dir.
    """
    with distributed.run_folder(out_dir, strategy, resume) as folder:
        return _train_stacked(config, folder, data, seed, resume, strategy, verbose)


def _train_stacked(config, folder, data, seed, resume, strategy, verbose):
    out_dir = folder.path
    x_train, y_train, x_val, y_val, labelled = splits(config, data, seed)
    x_labelled, y_labelled = x_train[labelled], y_train[labelled]
    stages = STAGES if config.pretrain else ("fine_tune",)
    if resume and not any(RunDir(stage_dir(out_dir, stage)).has_run() for stage in stages):
        raise UsageError(f"--resume: {out_dir} holds no run of this stacked autoencoder (no "
                         "config.json in it or in its stage folders); train without --resume")
    jobs = {stage: _stage_job(stage, config, out_dir, data, seed, strategy, verbose,
                              resume and RunDir(stage_dir(out_dir, stage)).has_run())
            for stage in stages}
    # Every stage's run directory is checked before the first one trains.
    for stage, job in jobs.items():
        lifecycle.check_new_or_resumable(RunDir(job.out_dir), job, lifecycle.run_config(job))
    unlabelled_batch = config.batch_size
    labelled_batch = min(config.batch_size, len(x_labelled))
    labelled_steps = max(len(x_labelled) // labelled_batch, config.min_steps_per_epoch)
    model = None
    for number, stage in enumerate(stages):
        later = stages[number + 1:]
        if later and RunDir(stage_dir(out_dir, later[0])).has_run():
            continue  # its successor has begun: this stage is finished
        previous = stage_dir(out_dir, stages[number - 1]) if number else None
        if stage == "pretrain1":
            x, targets, batch = x_train, None, unlabelled_batch
            steps = len(x_train) // unlabelled_batch
            validation = evaluation_data(x_val, None)
        elif stage == "pretrain2":
            # encoder1's codes of every image, the target of encoder2 + decoder2.
            encoder1 = layers_of(best_model(previous))["encoder1"]
            x, batch, steps = x_train, unlabelled_batch, len(x_train) // unlabelled_batch
            targets = _codes(encoder1, x_train)
            validation = evaluation_data(x_val, _codes(encoder1, x_val))
        else:
            x, targets, batch, steps = x_labelled, y_labelled, labelled_batch, labelled_steps
            validation = evaluation_data(x_val, y_val)
        job = dataclasses.replace(
            jobs[stage], steps_per_epoch=steps, validation_data=validation,
            progress=_progress(stage, batch),
            train_data=lambda first, x=x, t=targets, b=batch, s=steps: batches(
                x, t, b, s, seed, first),
            build_model=lambda stage=stage, previous=previous: _build_stage(
                stage, config, previous),
            callbacks=schedule(config, _learning_rate(stage, config, previous),
                               jobs[stage].epochs),
            describe=lambda m, stage=stage, x=x: (
                f"stage {stage}: {len(x):,} training images, "
                f"{sum(int(np.prod(w.shape)) for w in m.trainable_weights):,} of "
                f"{m.count_params():,} parameters trainable"))
        model = folder.train(job)[0]
    return model


def _stage_job(stage, config, out_dir, data, seed, strategy, verbose, resume):
    final = stage == "fine_tune"
    return StageJob(
        kind=KIND if final else STAGE_KIND, config=config, out_dir=stage_dir(out_dir, stage),
        seed=seed, resume=resume, strategy=strategy, verbose=verbose,
        stage_epochs=config.fine_tune_epochs if final else config.epochs,
        settings={"source": data.source, "dataset": data.dataset, "stage": stage},
        may_change=("epochs", "fine_tune_epochs", "source"),
        own_entries=STAGE_FOLDERS if final else (),
        build_model=None, train_data=None, steps_per_epoch=0, progress=_progress(stage, 1))


def _progress(stage, batch):
    if stage.startswith("pretrain"):
        return Progress(batch, "images")
    return Progress(batch, "images", plot_keys=("accuracy", "val_accuracy"),
                    plot_ylabel="accuracy")


def best_model(run_path):
    """The best checkpoint of a stage of the stacked autoencoder."""
    run_dir = RunDir(run_path)
    run_dir.read_config(STAGE_KIND)
    return load_keras_file(run_dir.checkpoint_path(which="best"))


def _codes(encoder1, x):
    """encoder1's codes (batch, hidden_units) of uint8 images."""
    pixels = x.reshape(len(x), -1).astype(np.float32) / 255
    return np.concatenate([encoder1(pixels[i:i + 4096]).numpy()
                           for i in range(0, len(x), 4096)]) if len(x) else pixels[:, :0]


def _build_stage(stage, config, previous):
    """The stage's compiled model: new layers, or those of the previous stage's best model."""
    parts = stacked_layers(config)
    if previous is not None:
        parts.update(layers_of(best_model(previous)))
    return compile_stage(stage_model(stage, parts, config), stage,
                         _learning_rate(stage, config, previous))


def _learning_rate(stage, config, previous):
    if stage == "fine_tune" and previous is not None:
        return config.fine_tune_learning_rate
    return config.learning_rate  # pretraining, or the whole network from scratch
