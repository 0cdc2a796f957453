"""CIFAR-10 classifiers (week 2): train, evaluate, predict and export.

    python -m week2_cnn.cifar10 train --model fast --out_dir runs/fast   # tfds cifar10
    python -m week2_cnn.cifar10 train --model fast --data_dir ../cifar10_jpg --out_dir runs/fast
    python -m week2_cnn.cifar10 train --model vgg --no-augment --dropout_rate 0 --out_dir runs/v
    python -m week2_cnn.cifar10 train --out_dir runs/fast --resume      # after an interruption
    python -m week2_cnn.cifar10 evaluate --run_dir runs/fast
    python -m week2_cnn.cifar10 evaluate --ensemble runs/fast runs/fast2 --out_dir runs/ens
    python -m week2_cnn.cifar10 predict --run_dir runs/fast cat.jpg ship.png
    python -m week2_cnn.cifar10 export --run_dir runs/fast --export_dir exports/cifar10

--data_dir takes cifar-10-batches-py, cifar-10-batches-bin or an image folder
(train/<class>/*, test/<class>/*). Expected results (2 CPU cores; commands and
the time-to-accuracy curves in benchmarks/RESULTS.md): see the CIFAR-10 rows
of README.md's results table.
"""

import dataclasses
import os
import sys

from common.cli import (UsageError, add_config_flags, add_export_flags, add_training_flags,
                        config_from_args, fraction, make_parser, non_negative_float,
                        non_negative_int, positive_float, positive_int, quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.runs import RunDir, atomic_write_json, read_json  # noqa: E402
from common.training import fit_run, get_strategy, set_seed  # noqa: E402
from week2_cnn.cifar_data import DEFAULT_CACHE_DIR, load_cifar10  # noqa: E402
from week2_cnn.cifar_evaluation import (ClassifierServable, accuracy_report,  # noqa: E402
                                        format_report, load_query_images, save_report,
                                        top_classes)
from week2_cnn.cifar_models import ARCHITECTURES, PRESETS, build_model, init_whitening  # noqa
from week2_cnn.cifar_training import (compile_model, evaluation_dataset,  # noqa: E402
                                      predict_probabilities, training_dataset, TrainingClock)

KIND = "cifar10"
# The learning-rate schedule spans the run's epochs, so only the data's
# location may differ when a run is resumed.
RESUMABLE_CHANGES = ("source",)


def train(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """Trains (or resumes) `config` on `data` (a cifar_data.Cifar); returns (model, report).

    Every epoch is scored on the test set (val_accuracy in history.csv): that is
    the time-to-accuracy curve; the run's own checkpoints are never chosen by it.
    """
    run_dir = RunDir(out_dir)
    labels_path = run_dir.file("labels.json")
    if resume and os.path.exists(labels_path) and read_json(labels_path) != data.class_names:
        raise UsageError(f"--resume: {out_dir} was trained on other classes "
                         f"({read_json(labels_path)}); use the same data or a new --out_dir")
    if len(data.x_train) < config.batch_size:
        raise UsageError(f"{len(data.x_train)} training images are fewer than one batch "
                         f"(--batch_size {config.batch_size})")
    run_config = {"kind": KIND, **dataclasses.asdict(config), "seed": seed,
                  "source": data.source}
    state = run_dir.begin(run_config, resume, may_change=RESUMABLE_CHANGES)
    atomic_write_json(labels_path, data.class_names)
    set_seed(seed)
    num_classes = len(data.class_names)
    steps_per_epoch = len(data.x_train) // config.batch_size
    with get_strategy(strategy).scope():
        if state["checkpoint"]:
            model = keras.saving.load_model(run_dir.checkpoint_path(state))
        else:
            model = build_model(config, num_classes)
            init_whitening(model, data.x_train[:5000])
            compile_model(model, config, steps_per_epoch)
    print(f"{len(data.x_train):,} training and {len(data.x_test):,} test images from "
          f"{data.source}; {config.architecture} model, {model.count_params():,} parameters; "
          f"run directory {out_dir}")
    train_data = training_dataset(data.x_train, data.y_train, config, num_classes, seed,
                                  state["epoch"])
    test_data = evaluation_dataset(data.x_test, data.y_test, num_classes)
    fit_run(model, run_dir, state, train_data, steps_per_epoch, config.epochs,
            items_per_step=config.batch_size, unit="images", validation_data=test_data,
            plot_keys=("accuracy", "val_accuracy"), plot_ylabel="accuracy", verbose=verbose,
            extra_callbacks=[TrainingClock(state["history"])])
    report = evaluate([out_dir], data, checkpoint="last")
    return model, report


def load_run(run_dir_path, checkpoint="last"):
    """(model, config dict, class names) of a trained run."""
    run_dir = RunDir(run_dir_path)
    model = run_dir.load_model(KIND, checkpoint)
    return model, run_dir.read_config(KIND), read_json(run_dir.file("labels.json"))


def evaluate(run_dirs, data, checkpoint="last", out_dir=None):
    """Scores one run, or the average probabilities of several (an ensemble).

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
        probabilities = probabilities + predict_probabilities(model, data.x_test, config["tta"])
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


def predict(run_dir, paths, top=3, checkpoint="last"):
    """[(path, [(class name, probability), ...top])] for image files of any size."""
    model, config, class_names = load_run(run_dir, checkpoint)
    images, kept = load_query_images(paths, 32)
    probabilities = predict_probabilities(model, images, config["tta"])
    return top_classes(paths, kept, probabilities, class_names, top)


def export(run_dir, export_dir, overwrite=False, checkpoint="last"):
    model, config, class_names = load_run(run_dir, checkpoint)
    servable = ClassifierServable(model, class_names, config["tta"])
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


def data_for_run(args, run_dir):
    """The test data for evaluate: --data_dir, else where the run was trained from."""
    if args.data_dir is None:
        source = RunDir(run_dir).read_config(KIND).get("source", "")
        if os.path.isdir(source):
            args.data_dir = source
    return load_cifar10(args.data_dir, args.cache_dir)


CONFIG_FLAGS = {
    "width": (positive_int, "channels of the first conv layer; later layers scale it"),
    "batch_size": (positive_int, "images per training step"),
    "optimizer": (None, "sgd (Nesterov momentum 0.9) or adam"),
    "learning_rate": (positive_float, "peak learning rate"),
    "schedule": (None, "learning rate after the warm-up: triangular (linear to 0), cosine, "
                       "constant"),
    "warmup_fraction": (fraction, "fraction of all steps spent rising linearly to the peak"),
    "l2": (non_negative_float, "L2 weight decay on conv and dense kernels; 0: off"),
    "dropout_rate": (fraction, "dropout before the classifier (and between dense layers)"),
    "batch_norm": (bool, "batch normalisation after every convolution"),
    "augment": (bool, "random horizontal flips and translations of the training images"),
    "translate": (non_negative_int, "largest random shift in pixels when augmenting"),
    "label_smoothing": (fraction, "weight moved from the true label to all classes"),
    "tta": (bool, "test-time augmentation: average the image's and its mirror's predictions"),
    "activation": (None, "activation after every convolution"),
}
CHOICES = {"optimizer": ["sgd", "adam"], "schedule": ["triangular", "cosine", "constant"],
           "activation": ["relu", "gelu", "elu", "swish"]}


def add_data_flags(parser):
    parser.add_argument("--data_dir", help="local CIFAR-10: cifar-10-batches-py, "
                                           "cifar-10-batches-bin, or an image folder with "
                                           "train/<class>/*, test/<class>/* (default: tfds)")
    parser.add_argument("--cache_dir", default=DEFAULT_CACHE_DIR,
                        help="where decoded image folders are cached as .npz")


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = parser.formatter_class

    p = commands.add_parser("train", help="train (or --resume) a classifier",
                            formatter_class=formatter)
    p.add_argument("--model", dest="preset", choices=PRESETS, default="fast",
                   help=f"preset: architecture ({', '.join(ARCHITECTURES)}) with its default "
                        "schedule; fast_long is the 2-hour recipe, test a tiny one for tests")
    add_config_flags(p, CONFIG_FLAGS, PRESETS, CHOICES)
    add_data_flags(p)
    add_training_flags(p, default_out_dir="runs/cifar10")

    checkpoint_help = "last: the last finished epoch; best: lowest test loss (optimistic)"
    p = commands.add_parser("evaluate", help="test accuracy, per class, confusion matrix",
                            formatter_class=formatter)
    runs = p.add_mutually_exclusive_group(required=True)
    runs.add_argument("--run_dir", help="run directory written by train")
    runs.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                      help="average the predictions of several runs")
    p.add_argument("--out_dir", default="runs/cifar10_ensemble",
                   help="where an ensemble's results.json and confusion_matrix.png go")
    p.add_argument("--checkpoint", choices=["last", "best"], default="last", help=checkpoint_help)
    add_data_flags(p)

    p = commands.add_parser("predict", help="top-3 classes of JPEG/PNG files of any size",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("images", nargs="+", help="image files")
    p.add_argument("--checkpoint", choices=["last", "best"], default="last", help=checkpoint_help)

    p = commands.add_parser("export", help="SavedModel: uint8 [N, 32, 32, 3] -> probabilities",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    add_export_flags(p)
    p.add_argument("--checkpoint", choices=["last", "best"], default="last", help=checkpoint_help)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        data = load_cifar10(args.data_dir, args.cache_dir)
        train(config, args.out_dir, data, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
    elif args.command == "evaluate":
        run_dirs = args.ensemble or [args.run_dir]
        for path in run_dirs:
            RunDir(path).read_config(KIND)  # a wrong directory fails before loading data
        evaluate(run_dirs, data_for_run(args, run_dirs[0]), args.checkpoint,
                 args.out_dir if args.ensemble else None)
    elif args.command == "predict":
        for path, top in predict(args.run_dir, args.images, checkpoint=args.checkpoint):
            print(path + ": " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; serving_default: uint8 images [N, 32, 32, 3] -> "
              "{'probabilities': [N, classes]}; labels: the class names")


if __name__ == "__main__":
    sys.exit(run_cli(main))
