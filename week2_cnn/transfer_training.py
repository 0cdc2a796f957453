"""Transfer training: the head phase and the fine-tuning phase, each through the lifecycle.

Training has two phases, and each is one run of the shared lifecycle
(common.lifecycle.train), so both get checkpoints, best.keras, the NaN guard,
Ctrl-C saving, history.csv and --resume:

    <out_dir>/            the head phase (kind "transfer"): the new head on cached
                          bottlenecks, or base + head on distorted images with
                          --distort (the base frozen). Also labels.json (the class
                          names) and base.keras (the frozen base the head sits on).
    <out_dir>/fine_tune/  the fine-tuning phase (kind "transfer_fine_tune"), only with
                          --fine_tune_layers: base + head, the top layers unfrozen, a
                          run of its own started from the head phase's last epoch;
                          with --layer_lr_decay D each base block learns D times
                          slower than the one above it (transfer_layer_rates).

Two run directories rather than one run with a phase field: the phases train
different models (the head alone, then the whole classifier) with different
optimizers and epoch counts, and a run's state, checkpoints and best model
belong to one model, so a sub-run keeps every guarantee of the lifecycle
unchanged. --resume resumes each phase from its own state.json: a finished
head phase trains nothing more (its --epochs may be raised only until
fine-tuning has begun), a started fine-tuning continues, one not yet started
starts. At the end classifier.keras holds the servable classifier of the last
epoch. Reading verbs take --checkpoint: `last` is the last finished epoch of
the last phase; `best` the lowest validation loss of either phase (the images
of the validation split, never the test split).

Under --strategy multi_worker every worker computes the bottlenecks of every
image (each reads the whole data set and takes its share of each batch) and
keeps them in its own --bottleneck_dir, not the chief alone: the cache is a
per-machine folder outside the run, and a worker never waits for, or reads,
another machine's files. Workers sharing one folder (on one machine) are
safe, since each entry is written whole and atomically and both compute the same
features. On a non-chief worker both phases, base.keras and classifier.keras
live in a private copy of the run (common.distributed.run_folder); only the
chief evaluates the test split.
"""

import dataclasses
import os

import numpy as np

from common import distributed, lifecycle
from common.batching import shuffled_batches
from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, atomic_save_model, remove_if_exists
from common.model_size import check_fits
from common.folders import DEFAULT_MAX_FILES
from common.runs import RunDir, load_keras_file
from common.training import Progress, get_strategy, set_seed
from week2_cnn.transfer_data import (DEFAULT_BOTTLENECK_DIR, BottleneckCache, find_split_images,
                                     load_images)
from week2_cnn.transfer_layer_rates import depth_groups, layer_rate_multipliers
from week2_cnn.transfer_model import (Base, FineTuneConfig, as_classifier, base_key,
                                      build_classifier, build_head, compile_classifier,
                                      estimated_size, image_size_of, load_base,
                                      trainable_layer_count, unfreeze_top)

KIND, FINE_KIND, FINE_DIR = "transfer", "transfer_fine_tune", "fine_tune"


def train(config, image_dir, out_dir, base_name="inception_v3", weights="imagenet",
          bottleneck_dir=DEFAULT_BOTTLENECK_DIR, seed=0, verbose=1, resume=False,
          strategy="default", max_bytes=DEFAULT_MAX_BYTES, max_files=DEFAULT_MAX_FILES):
    """Head training, then optional fine-tuning (see the module docstring); returns the model.

    The model returned is the servable classifier of the last epoch, also
    saved as classifier.keras.
    """
    # On a worker of a cluster other than the chief, both phases, base.keras and
    # classifier.keras live in a private copy of the run (distributed.run_folder).
    with distributed.run_folder(out_dir, strategy, resume) as folder:
        return _train(config, image_dir, folder, base_name, weights, bottleneck_dir, seed,
                      verbose, resume, strategy, max_bytes, max_files)


def _train(config, image_dir, folder, base_name, weights, bottleneck_dir, seed, verbose,
           resume, strategy, max_bytes, max_files):
    out_dir = folder.path
    key = base_key(base_name, weights, seed)  # a missing --base file fails first
    splits, class_names = find_split_images(image_dir, config.validation_percentage,
                                            config.test_percentage, max_files)
    run_dir = RunDir(out_dir)
    saved_key = run_dir.read_config(KIND).get("bottleneck_key") if resume else None
    if saved_key and saved_key != key:
        if not os.path.exists(run_dir.file("base.keras")):
            raise UsageError(f"--resume: --base {base_name} is not the file {out_dir} was "
                             "trained with (it changed since)")
        key = saved_key  # base.keras is the base of that run, and these its bottlenecks
    common = dict(seed=seed, strategy=strategy, verbose=verbose, progress=_progress(1),
                  build_model=None, train_data=None, steps_per_epoch=0)
    head_job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, resume=resume, **common,
        settings={"base": base_name, "weights": weights, "bottleneck_key": key,
                  "image_dir": os.path.abspath(image_dir)},
        # bottleneck_key is checked above (runs made before it was saved lack it).
        may_change=("epochs", "image_dir", "bottleneck_key", "fine_tune_layers",
                    "fine_tune_epochs", "fine_tune_learning_rate", "layer_lr_decay"),
        metadata={"labels.json": class_names}, own_entries=("base.keras",))
    fine_dir = os.path.join(out_dir, FINE_DIR)
    fine_job = lifecycle.TrainJob(
        kind=FINE_KIND, config=FineTuneConfig.of(config), out_dir=fine_dir, **common,
        resume=resume and RunDir(fine_dir).has_run(), settings={"head_epochs": config.epochs})
    fine_started = RunDir(fine_dir).has_run()
    _check_can_start(run_dir, head_job,
                     fine_job if config.fine_tune_layers or fine_started else None)
    get_strategy(strategy)  # a bad --strategy or TF_CONFIG fails before any work

    base_file = run_dir.file("base.keras")
    if resume and os.path.exists(base_file):  # the very base of the first session
        base_model = load_base_file(run_dir)
        base = Base(base_model, image_size_of(base_model, base_file), key)
    else:
        set_seed(seed)  # `--weights none` draws the same base on every resume
        base = load_base(base_name, weights)
    check_fits(estimated_size(config, base.features.output.shape[-1], len(class_names),
                              base.features.count_params(), base.image_size),
               "--hidden_units or --batch_size")
    train_x, train_y, val = _phase_data(config, base, splits, key, bottleneck_dir, max_bytes)
    batch = min(config.batch_size, len(train_x))
    num_features, num_classes = base.features.output.shape[-1], len(class_names)
    head_job = dataclasses.replace(
        head_job, steps_per_epoch=len(train_x) // batch, validation_data=val,
        progress=_progress(batch),
        train_data=lambda first_epoch: shuffled_batches((train_x, train_y), batch, seed,
                                                        first_epoch),
        build_model=lambda: compile_classifier(
            build_classifier(_base_in_scope(run_dir),
                             build_head(num_features, num_classes, config), True)
            if config.distort else build_head(num_features, num_classes, config),
            config.learning_rate))
    new_files = _write_base(run_dir, base)
    try:
        model, state = folder.train(head_job)
    except BaseException:
        _discard_if_abandoned(run_dir, new_files)
        raise
    if config.fine_tune_layers:
        if not config.distort:  # the head phase trained on bottlenecks: decode now
            train_x, train_y = _decoded(splits["train"], base.image_size, max_bytes)
            val = _validation(_decoded(splits["validation"], base.image_size, max_bytes))
        head_path = run_dir.checkpoint_path(state, "last")
        fine_job = dataclasses.replace(
            fine_job, steps_per_epoch=len(train_x) // batch, validation_data=val,
            progress=_progress(batch),
            train_data=lambda first: shuffled_batches((train_x, train_y), batch, seed, first),
            build_model=lambda: _fine_tune_model(run_dir, head_path, config),
            describe=lambda m: _describe_fine_tuning(m, config))
        model, _ = folder.train(fine_job)
    classifier = as_classifier(model, lambda: load_base_file(run_dir))
    atomic_save_model(classifier, run_dir.file("classifier.keras"))
    return classifier


def _progress(batch):
    return Progress(batch, "images", plot_keys=("accuracy", "val_accuracy"),
                    plot_ylabel="accuracy")


def _describe_fine_tuning(model, config):
    text = (f"fine-tuning {trainable_layer_count(model.get_layer('base'))} base layers and "
            f"the head at learning rate {config.fine_tune_learning_rate}")
    if config.layer_lr_decay == 1.0:
        return text
    depths = len(depth_groups(model.get_layer("base")))
    return (f"{text}, each of the base's {depths} blocks at {config.layer_lr_decay} x the "
            "rate of the one above (--layer_lr_decay)")


def _check_can_start(run_dir, head_job, fine_job):
    """The lifecycle's checks for both phases, before any bottleneck is computed.

    A fine-tuning run that has begun fixes the head phase (head_epochs) and
    its own settings (layers, learning rate), so a resume cannot change them.
    """
    lifecycle.check_new_or_resumable(run_dir, head_job, lifecycle.run_config(head_job))
    if not head_job.resume and os.path.exists(run_dir.file("base.keras")):
        raise UsageError(f"{run_dir.path} holds a base.keras but no config.json; refusing to "
                         "start a new run over it (choose another --out_dir)")
    if fine_job is not None:
        fine = RunDir(fine_job.out_dir)
        lifecycle.check_new_or_resumable(fine, fine_job, lifecycle.run_config(fine_job))


def _phase_data(config, base, splits, key, bottleneck_dir, max_bytes):
    """(train x, train y, validation data) of the head phase: bottlenecks or decoded images."""
    if config.distort:  # distorted images differ every epoch: no cache
        train_x, train_y = _decoded(splits["train"], base.image_size, max_bytes)
        val = _decoded(splits["validation"], base.image_size, max_bytes)
    else:
        cache = BottleneckCache(bottleneck_dir, key, base.image_size,
                                lambda images: base.features.predict(
                                    images.astype(np.float32), batch_size=32, verbose=0),
                                base.features.output.shape[-1], max_bytes)
        train_x, train_y = cache.features(*splits["train"])
        val = cache.features(*splits["validation"])
        print(cache.summary())
    print(f"{len(train_x):,} training and {len(val[0]):,} validation images in "
          f"{len(set(train_y.tolist()))} classes; base {base.key}, {base.image_size}px")
    if not len(train_x):
        raise UsageError("no readable training images in --image_dir")
    return train_x, train_y, _validation(val)


def _validation(val):
    return (val[0], val[1]) if len(val[0]) else None


def _decoded(split, size, max_bytes):
    paths, labels = split
    images, kept, _ = load_images(paths, size, max_bytes, progress=len(paths) > 500)
    return images.astype(np.float32), labels[kept]


def _base_in_scope(run_dir):
    """base.keras loaded again, inside the strategy scope the lifecycle builds models in."""
    features = load_base_file(run_dir)
    features.trainable = False
    return Base(features, image_size_of(features, "base.keras"), "")


def _write_base(run_dir, base):
    """base.keras (if missing): what the head's features come from. Returns the files made."""
    made = [] if os.path.isdir(run_dir.path) else [run_dir.path]
    if os.path.exists(run_dir.file("base.keras")):
        return made
    os.makedirs(run_dir.path, exist_ok=True)
    atomic_save_model(base.features, run_dir.file("base.keras"))
    return made + [run_dir.file("base.keras")]


def _discard_if_abandoned(run_dir, new_files):
    """A new run the lifecycle removed after a failed start leaves no base.keras behind."""
    if run_dir.has_run():
        return
    for path in new_files[::-1]:
        if path == run_dir.path:
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
        else:
            remove_if_exists(path)


def load_base_file(run_dir):
    path = run_dir.resolve("base.keras", "base")
    if not os.path.exists(path):
        raise UsageError(f"{run_dir.path} has no base.keras (a run made before it was kept); "
                         "use --checkpoint last, or train it again")
    return load_keras_file(path)


def _fine_tune_model(run_dir, head_path, config):
    """Base + the head phase's last head, the top `fine_tune_layers` unfrozen, compiled."""
    head_model = load_keras_file(head_path)
    if config.distort:  # the head phase's model already holds base and head
        features, head = head_model.get_layer("base"), head_model.get_layer("head")
    else:
        features, head = load_base_file(run_dir), head_model
    base = Base(features, image_size_of(features, "base.keras"), "")
    classifier = build_classifier(base, head, distort=config.distort)
    unfreeze_top(base, config.fine_tune_layers)
    # With --layer_lr_decay a multiplier per trainable variable, computed once the
    # top layers are unfrozen (the optimizer keeps them in the checkpoint).
    multipliers = (None if config.layer_lr_decay == 1.0 else
                   layer_rate_multipliers(classifier, features, config.layer_lr_decay))
    return compile_classifier(classifier, config.fine_tune_learning_rate, multipliers)


