"""What `python -m week1_basics.mnist` does: train, evaluate, predict, export,
compare-optimizers.

The command line and docstring live in week1_basics/mnist.py, which imports
this module only once TensorFlow has been imported quietly.

best.keras is chosen on a validation split held out from the training images
(--val_fraction); the test images are read only by `evaluate` (which `train`
runs once at the end when the data has a test split).
"""

import dataclasses

import keras
import numpy as np

from common import distributed, holdout, lifecycle
from common.classifier_servable import ClassifierServable
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_training_flags,
                        command_parser)
from common.configs import add_config_flags, config_from_args, config_to_dict, resumed_config
from common.export import check_export_dir, save_litert, save_servable
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.mnist_data import add_data_flags
from common.model_size import check_fits
from common.runs import RunDir, load_keras_file
from common.training import Progress, whole_executions
from week1_basics import mnist_optimizers
from week1_basics.mnist_data import (data_for_run, evaluation_dataset, load_mnist,
                                     load_query_images, predict_probabilities,
                                     training_dataset)
from week1_basics.mnist_models import (ARCH_DEFAULTS, DEFAULT_LEARNING_RATES, IMAGE_SIZE,
                                       PRESETS, MnistConfig, build_model, compile_model,
                                       epoch_learning_rate, estimated_size)

KIND = "mnist"
DEFAULT_PRESET = "lenet5"


def train(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """Trains (or resumes) `config` on `data` (a mnist_data.Mnist); returns (model, report).

    The report is `evaluate` on the test images, once, at the end (None when
    the data has no test split).
    """
    x_train, y_train, x_val, y_val = holdout.split_for_training(
        data.x_train, data.y_train, config.val_fraction, config.batch_size)
    per_call, steps = whole_executions(len(x_train) // config.batch_size,
                                       config.steps_per_execution)
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={"source": data.source, "dataset": data.dataset},
        metadata={"labels.json": list(data.class_names)},
        build_model=lambda: compile_model(build_model(config), config, per_call),
        steps_per_epoch=steps,
        train_data=lambda first_epoch: training_dataset(x_train, y_train, config.batch_size,
                                                        seed, first_epoch, steps),
        validation_data=evaluation_dataset(x_val, y_val) if len(x_val) else None,
        progress=Progress(config.batch_size, "images"),
        # Set at every epoch's start from the epoch number alone, so a resumed
        # run continues the schedule where it stopped.
        callbacks=lambda state: [keras.callbacks.LearningRateScheduler(
            lambda epoch, _: epoch_learning_rate(config, epoch))],
        describe=lambda model: (f"{len(x_train):,} training and {len(x_val):,} validation "
                                f"images from {data.source}; {config.arch}, "
                                f"{model.count_params():,} parameters, {config.optimizer} "
                                f"at {config.learning_rate:g}"))
    model, _ = lifecycle.train(job)
    if not distributed.writes_run(strategy):
        return model, None  # a worker of a cluster other than the chief: the chief reports
    if data.x_test is None:
        print(f"note: {data.source} has no test split; evaluate later with a --data_dir "
              "that has one")
        return model, None
    return model, evaluate(out_dir, data)


def read_run(run_dir_path):
    """(config, class names, saved config dict) of an mnist run, checked."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, MnistConfig)
    class_names = read_json_file(run_dir.read_path("labels.json"))
    if not (isinstance(class_names, list) and len(class_names) == 10
            and all(isinstance(name, str) for name in class_names)):
        raise UsageError(f"{run_dir.file('labels.json')} is not a list of 10 class names; "
                         "the file was edited or is damaged")
    return config, class_names, run_dir.read_config(KIND)


def load_run(run_dir_path, checkpoint="best"):
    """(model, config, class names) of a trained run."""
    config, class_names, _ = read_run(run_dir_path)
    path = RunDir(run_dir_path).checkpoint_path(which=checkpoint)
    return load_keras_file(path), config, class_names


def accuracy_report(probabilities, labels, class_names):
    """Test accuracy and loss, accuracy per class, confusion matrix (rows: true class)."""
    predicted = np.argmax(probabilities, axis=1)
    matrix = np.zeros((len(class_names),) * 2, dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    chosen = probabilities[np.arange(len(labels)), labels]
    return {"test_accuracy": float(np.mean(predicted == labels)),
            "test_loss": float(-np.mean(np.log(np.maximum(chosen, 1e-12)))),
            "test_images": int(len(labels)),
            "per_class_accuracy": {n: float(a) for n, a in zip(class_names, per_class)},
            "confusion_matrix": matrix.tolist()}


def evaluate(run_dir_path, data, checkpoint="best"):
    """Test accuracy of a run; writes results.json into the run directory, returns it."""
    model, config, class_names = load_run(run_dir_path, checkpoint)
    if data.x_test is None:
        raise UsageError(f"{data.source} has no test split (t10k-images-idx3-ubyte[.gz] or "
                         "x_test in the .npz); pass a --data_dir that has one")
    if class_names != data.class_names:
        raise UsageError(f"{run_dir_path} was trained on classes {class_names}, but the test "
                         f"data has {data.class_names}; pass the run's --dataset")
    report = accuracy_report(predict_probabilities(model, data.x_test), data.y_test,
                             class_names)
    path = lifecycle.write_results(
        RunDir(run_dir_path).file("results.json"),
        {**report, "arch": config.arch, "checkpoint": checkpoint, "source": data.source})
    print(f"test accuracy {report['test_accuracy']:.4f} (loss {report['test_loss']:.4f}) on "
          f"{report['test_images']:,} images; wrote {path}")
    return report


def predict(run_dir, paths, top=3, checkpoint="best", invert="auto",
            max_bytes=DEFAULT_MAX_BYTES):
    """[(path, [(class name, probability), ...top])] for image files of any size."""
    read_run(run_dir)  # a wrong directory fails before any image is read
    images, kept = load_query_images(paths, invert, max_bytes)
    model, _, class_names = load_run(run_dir, checkpoint)
    probabilities = predict_probabilities(model, images)
    return [(paths[i], [(class_names[k], float(row[k])) for k in np.argsort(row)[::-1][:top]])
            for i, row in zip(kept, probabilities)]


def export(run_dir, export_dir, overwrite=False, checkpoint="best", fmt="saved_model"):
    """A SavedModel (or LiteRT serving_default.tflite): uint8 [N, 28, 28, 1] -> probabilities."""
    check_export_dir(export_dir, overwrite, run_dir)
    model, config, class_names = load_run(run_dir, checkpoint)
    servable = ClassifierServable(model, class_names, (IMAGE_SIZE, IMAGE_SIZE, 1))
    info = {"class_names": class_names, "config": config_to_dict(config)}
    if fmt == "litert":
        return save_litert({"serving_default": servable.probabilities_function()}, export_dir,
                           overwrite, run_dir, KIND, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def build_parser():
    parser = command_parser("week1_basics.mnist")

    p = parser.verb("train", help="train (or --resume) a classifier",
                    description=f"--preset defaults to the one named after --arch "
                                f"({DEFAULT_PRESET} without either): each architecture's "
                                "best recipe")
    add_training_flags(p, "runs/mnist", PRESETS, None)
    add_config_flags(p, MnistConfig, PRESETS)
    add_data_flags(p)

    p = parser.verb("evaluate", help="test accuracy, per class, confusion matrix "
                                     "(results.json)")
    add_run_flags(p)
    add_data_flags(p, dataset_default=None)

    p = parser.verb("predict", help="top-3 classes of image files (any size; made gray)")
    add_run_flags(p)
    p.add_argument("images", nargs="+", help="image files (JPEG, PNG, BMP, GIF)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="MNIST digits are light on dark: auto inverts images whose border "
                        "is mostly light")
    add_input_limit_flag(p)

    parser.export_verb(help="SavedModel (or .tflite): uint8 [N, 28, 28, 1] -> probabilities")

    p = parser.verb("compare-optimizers", help="one PNG of the training loss of sgd, "
                                               "momentum, nesterov and adam on the same model "
                                               "and data")
    mnist_optimizers.add_flags(p)
    add_data_flags(p)
    return parser


def resolve_config(args):
    """The preset named by --preset, else by --arch, else lenet5; flags laid over it.

    --arch under a preset made for another network (--preset test --arch mlp)
    sizes the network as its own preset does (models.ARCH_DEFAULTS); a resumed
    run keeps the sizes its config.json holds. A new --optimizer without
    --learning_rate takes that optimizer's usual rate
    (models.DEFAULT_LEARNING_RATES), not the rate the preset tuned for another.
    """
    name = args.preset or args.arch or DEFAULT_PRESET
    resumed = resumed_config(args.out_dir, args.resume, KIND, MnistConfig)
    config = config_from_args(args, PRESETS, name, ARCH_DEFAULTS, resumed)
    if (args.learning_rate is None and args.optimizer is not None
            and args.optimizer != PRESETS[name].optimizer):
        config = dataclasses.replace(config,
                                     learning_rate=DEFAULT_LEARNING_RATES[args.optimizer])
    return config


def next_steps(out_dir, data_dir):
    return lifecycle.next_commands("week1_basics.mnist", out_dir, [
        ("evaluate", lifecycle.shell_flag("--data_dir", data_dir)),
        ("predict", "YOUR_DIGIT.png"), ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = resolve_config(args)
        check_fits(estimated_size(config), "--hidden_units, --num_layers or --batch_size")
        data = load_mnist(args.dataset, args.data_dir, args.max_bytes, args.max_files)
        train(config, args.out_dir, data, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir, args.data_dir))
    elif args.command == "evaluate":
        read_run(args.run_dir)  # a wrong directory fails before the data is read
        evaluate(args.run_dir, data_for_run(args, args.run_dir, KIND), args.checkpoint)
    elif args.command == "predict":
        for path, top in predict(args.run_dir, args.images, checkpoint=args.checkpoint,
                                 invert=args.invert, max_bytes=args.max_bytes):
            print(path + ": " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint,
                      args.format)
        where = (f"{path}/serving_default.tflite" if args.format == "litert" else path)
        print(f"wrote {where}: uint8 images [N, 28, 28, 1] -> probabilities [N, 10]; "
              "class names in its metadata")
    elif args.command == "compare-optimizers":
        data = load_mnist(args.dataset, args.data_dir, args.max_bytes, args.max_files)
        mnist_optimizers.run(args, data)
