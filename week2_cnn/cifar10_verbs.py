"""What `python -m week2_cnn.cifar10` does: train, evaluate, predict, export.

The command line and docstring live in week2_cnn/cifar10.py, which imports
this module only once TensorFlow has been imported quietly.

best.keras is chosen on a validation split held out from the training images
(--val_fraction); the test images are read only by `evaluate` (which `train`
runs once at the end).
"""

import os

from common import distributed, holdout, lifecycle
from common.classifier_servable import ClassifierServable
from common.images import load_query_images
from common.argtypes import input_path
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_scan_limit_flag,
                        add_training_flags, command_parser, deprecated)
from common.configs import (add_config_flags, config_from_args, config_from_dict, config_to_dict,
                            resumed_config, upgrade_keys)
from common.export import check_export_dir, save_litert, save_servable
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.model_size import check_fits
from common.runs import RunDir, load_keras_file
from common.training import Progress
from week2_cnn.cifar_data import DEFAULT_CACHE_DIR, load_cifar10
from week2_cnn.cifar_evaluation import (accuracy_report, format_report,
                                        save_report, top_classes)
from week2_cnn.cifar_models import (ARCH_DEFAULTS, PRESETS, RENAMED, CifarConfig, build_model,
                                    init_whitening)
from week2_cnn.cifar_training import (TrainingClock, compile_model, evaluation_dataset,
                                      predict_probabilities, training_dataset, tta_logits)
from week2_cnn.cifar_zoo_models import ARCH_FLAGS, architecture_problem
from week2_cnn.model_cost import estimated_size

KIND = "cifar10"
DEFAULT_PRESET = "fast"
# The learning-rate schedule spans the run's epochs (it is saved in every
# checkpoint), so only the data's location may differ when a run is resumed.
RESUMABLE_CHANGES = ("source",)


def train(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """Trains (or resumes) `config` on `data` (a cifar_data.Cifar); returns (model, report).

    best.keras is chosen on the validation split of the training images; the
    report is `evaluate` on the test images, once, at the end.
    """
    x_train, y_train, x_val, y_val = holdout.split_for_training(
        data.x_train, data.y_train, config.val_fraction, config.batch_size)
    num_classes = len(data.class_names)
    steps_per_epoch = len(x_train) // config.batch_size

    def build():
        model = build_model(config, num_classes)
        init_whitening(model, x_train, config)
        return compile_model(model, config, steps_per_epoch)

    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, settings={"source": data.source},
        may_change=RESUMABLE_CHANGES, renamed=RENAMED,
        metadata={"labels.json": list(data.class_names)},
        build_model=build, steps_per_epoch=steps_per_epoch,
        train_data=lambda first_epoch: training_dataset(x_train, y_train, config, num_classes,
                                                        seed, first_epoch),
        validation_data=(evaluation_dataset(x_val, y_val, num_classes) if len(x_val)
                         else None),
        progress=Progress(config.batch_size, "images", plot_keys=("accuracy", "val_accuracy"),
                          plot_ylabel="accuracy"),
        callbacks=lambda state: [TrainingClock(state["history"])],
        describe=lambda model: (f"{len(x_train):,} training and {len(x_val):,} validation "
                                f"images from {data.source}; {config.arch} model, "
                                f"{model.count_params():,} parameters"))
    model, _ = lifecycle.train(job)
    if not distributed.writes_run(strategy):
        return model, None  # a worker of a cluster other than the chief: the chief reports
    report = evaluate([out_dir], data)
    return model, report


def read_run(run_dir_path):
    """(config, class names) of a run; older runs' renamed keys are read as today's."""
    run_dir = RunDir(run_dir_path)
    config = config_from_dict(CifarConfig, run_dir.read_config(KIND), RENAMED)
    class_names = read_json_file(run_dir.read_path("labels.json"))
    if not (isinstance(class_names, list) and len(class_names) >= 2
            and all(isinstance(n, str) for n in class_names)):
        raise UsageError(f"{run_dir.file('labels.json')} is not a list of class names")
    return config, class_names


def checkpoint_file(run_dir_path, checkpoint="best"):
    """The .keras file `--checkpoint` names.

    best: best.keras when it was chosen on validation data. Runs made before
    the validation split chose their best.keras on the test set; for them the
    last finished epoch is used instead (what their reading verbs used then).
    """
    run_dir = RunDir(run_dir_path)
    run_dir.read_config(KIND)
    state = run_dir.read_state()
    if checkpoint == "best" and "best_key" not in state and os.path.exists(run_dir.best_path):
        print(f"note: {run_dir.path} predates the validation split (its best.keras was chosen "
              "on the test set); using its last checkpoint")
        checkpoint = "last"
    return run_dir.checkpoint_path(state, which=checkpoint)


def load_run(run_dir_path, checkpoint="best"):
    """(model, config dict, class names) of a trained run (the dict with today's key names)."""
    config, class_names = read_run(run_dir_path)
    saved = upgrade_keys(RunDir(run_dir_path).read_config(KIND), RENAMED)
    model = load_keras_file(checkpoint_file(run_dir_path, checkpoint))
    return model, {**saved, **config_to_dict(config)}, class_names


def evaluate(run_dirs, data, checkpoint="best", out_dir=None):
    """Test accuracy of one run, or of the average probabilities of several (an ensemble).

    Writes results.json and confusion_matrix.png into the run directory (one
    run) or `out_dir` (an ensemble); returns the report.
    """
    probabilities, names = 0.0, None
    for path in run_dirs:
        model, config, class_names = load_run(path, checkpoint)
        if names is not None and class_names != names:
            raise UsageError(f"{path} was trained on other classes than {run_dirs[0]}")
        if class_names != data.class_names:
            raise UsageError(f"{path} was trained on classes {class_names}, but the test data "
                             f"has {data.class_names}")
        names = class_names
        probabilities = probabilities + predict_probabilities(
            model, data.x_test, config["tta"], config["tta_translate"])
    report = accuracy_report(probabilities / len(run_dirs), data.y_test, names)
    target = out_dir or run_dirs[0]
    os.makedirs(target, exist_ok=True)
    title = (f"{os.path.basename(os.path.normpath(target))}: accuracy "
             f"{report['test_accuracy']:.4f}")
    save_report(report, lambda name: os.path.join(target, name), title,
                {"runs": list(run_dirs), "checkpoint": checkpoint, "source": data.source})
    print(format_report(report))
    print(f"wrote {os.path.join(target, 'results.json')} and confusion_matrix.png")
    return report


def predict(run_dir, paths, top=3, checkpoint="best", max_bytes=DEFAULT_MAX_BYTES):
    """[(path, [(class name, probability), ...top])] for image files of any size."""
    read_run(run_dir)  # a wrong directory fails before any image is read
    images, kept = load_query_images(paths, 32, 3, max_bytes)
    model, config, class_names = load_run(run_dir, checkpoint)
    probabilities = predict_probabilities(model, images, config["tta"], config["tta_translate"])
    return top_classes(paths, kept, probabilities, class_names, top)


def export(run_dir, export_dir, overwrite=False, checkpoint="best", fmt="saved_model"):
    """A SavedModel (or LiteRT serving_default.tflite): uint8 [N, 32, 32, 3] -> probabilities."""
    check_export_dir(export_dir, overwrite, run_dir)
    model, config, class_names = load_run(run_dir, checkpoint)
    tta, translate = config["tta"], config["tta_translate"]
    # Test-time augmentation costs a forward pass per view (tta_views: 2, or 6 with
    # airbench's translations); the export's single_view signature skips it.
    servable = ClassifierServable(
        model, class_names, (32, 32, 3),
        logits=(lambda net, x: tta_logits(net, x, tta, translate)) if tta else None)
    info = {"class_names": class_names, "config": config}
    if fmt == "litert":
        return save_litert({"serving_default": servable.probabilities_function()}, export_dir,
                           overwrite, run_dir, KIND, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def data_for_run(args, run_dir):
    """The test data for evaluate: --data_dir, else where the run was trained from."""
    if args.data_dir is None:
        source = RunDir(run_dir).read_config(KIND).get("source", "")
        if isinstance(source, str) and os.path.isdir(source):
            args.data_dir = source
    return load_cifar10(args.data_dir, args.cache_dir, args.max_files)


def add_data_flags(parser):
    parser.add_argument("--data_dir", type=input_path, help="local CIFAR-10: cifar-10-batches-py, "
                                           "cifar-10-batches-bin, or an image folder with "
                                           "train/<class>/*, test/<class>/* (default: tfds)")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR,
                        help="where decoded image folders are cached as .npz")
    add_scan_limit_flag(parser)


def build_parser():
    parser = command_parser("week2_cnn.cifar10")

    p = parser.verb("train", help="train (or --resume) a classifier")
    add_training_flags(p, "runs/cifar10", PRESETS, DEFAULT_PRESET)
    p.add_argument("--model", dest="model_preset", choices=list(PRESETS), default=None,
                   help="deprecated spelling of --preset (same meaning)")
    add_config_flags(p, CifarConfig, PRESETS)
    add_data_flags(p)

    p = parser.verb("evaluate", help="test accuracy, per class, confusion matrix")
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--run_dir", help="run directory written by train")
    runs.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                      help="average the predictions of several runs")
    add_checkpoint_flag(p)
    p.add_argument("--out_dir", default="runs/cifar10_ensemble",
                   help="where an ensemble's results.json and confusion_matrix.png go")
    add_data_flags(p)

    p = parser.verb("predict", help="top-3 classes of JPEG/PNG files of any size")
    add_run_flags(p)
    p.add_argument("images", nargs="+", help="image files")
    add_input_limit_flag(p)

    parser.export_verb(help="SavedModel (or .tflite): uint8 [N, 32, 32, 3] -> probabilities")
    return parser


def add_checkpoint_flag(parser):
    """common.cli.add_run_flags's --checkpoint, for `evaluate`, whose --run_dir is optional
    (--ensemble instead)."""
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="best: lowest validation loss (never chosen on test data); "
                             "last: the last finished epoch")


def resolve_preset(args):
    """--preset (or its deprecated --model spelling), --arch at its own size, then the flags.

    --arch X under a preset of another network takes X's ARCH_DEFAULTS (--arch
    densenet alone: DenseNet-BC-100 with the fast recipe); a resumed run keeps
    the sizes its config.json holds.
    """
    if args.model_preset is not None:
        deprecated("--model", "--preset")
        if args.preset not in (DEFAULT_PRESET, args.model_preset):
            raise UsageError(f"--model {args.model_preset} and --preset {args.preset} name "
                             "different presets; pass only --preset")
        args.preset = args.model_preset
    resumed = resumed_config(args.out_dir, args.resume, KIND, CifarConfig, RENAMED)
    config = config_from_args(args, PRESETS, arch_defaults=ARCH_DEFAULTS, resumed=resumed)
    # Checked before any data is read or run directory made: --depth 21 for resnet.
    problem = architecture_problem(config, [name for name in ARCH_FLAGS
                                            if getattr(args, name, None) is not None])
    if problem:
        raise UsageError(problem)
    return config


def next_steps(out_dir, data_dir):
    return lifecycle.next_commands("week2_cnn.cifar10", out_dir, [
        ("evaluate", lifecycle.shell_flag("--data_dir", data_dir)),
        ("predict", "YOUR_IMAGE.jpg"), ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = resolve_preset(args)
        check_fits(estimated_size(config), "--width, --depth, --growth_rate or --batch_size")
        data = load_cifar10(args.data_dir, args.cache_dir, args.max_files)
        train(config, args.out_dir, data, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir, args.data_dir))
    elif args.command == "evaluate":
        run_dirs = args.ensemble or [args.run_dir]
        for path in run_dirs:
            read_run(path)  # a wrong directory fails before loading data
        evaluate(run_dirs, data_for_run(args, run_dirs[0]), args.checkpoint,
                 args.out_dir if args.ensemble else None)
    elif args.command == "predict":
        for path, top in predict(args.run_dir, args.images, checkpoint=args.checkpoint,
                                 max_bytes=args.max_bytes):
            print(path + ": " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint,
                      args.format)
        if args.format == "litert":
            print(f"wrote {path}/serving_default.tflite: uint8 images [N, 32, 32, 3] -> "
                  "probabilities [N, classes]; class names in metadata.json")
        else:
            print(f"wrote {path}; serving_default: uint8 images [N, 32, 32, 3] -> "
                  "{'probabilities': [N, classes]}; labels and metadata: the class_names")
