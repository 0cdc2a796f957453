"""What `python -m week2_cnn.transfer` does: train, evaluate, predict, export.

The command line and docstring live in week2_cnn/transfer.py, which imports
this module only once TensorFlow has been imported quietly. Training (two
phases, each a run of common.lifecycle) is in week2_cnn/transfer_training.py;
`--checkpoint best|last` is resolved over both phases here (checkpoint_path).
"""

import os

import keras
import numpy as np

from common import distributed, lifecycle
from common.argtypes import count, input_path
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_scan_limit_flag,
                        add_training_flags, command_parser)
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_litert, save_servable
from common.files import DEFAULT_MAX_BYTES, check_regular_file, read_json_file
from common.folders import DEFAULT_MAX_FILES
from common.runs import RunDir, load_keras_file
from week2_cnn.transfer_data import DEFAULT_BOTTLENECK_DIR, find_split_images, load_images
from week2_cnn.transfer_model import PRESETS, TransferConfig, as_classifier
from week2_cnn.cifar_evaluation import accuracy_report, format_report, save_report, top_classes
from week2_cnn.transfer_servable import TransferServable
from week2_cnn import transfer_training
from week2_cnn.transfer_training import FINE_DIR, FINE_KIND, KIND, load_base_file

__all__ = ["train", "evaluate", "predict", "export", "load_classifier", "checkpoint_path",
           "main"]
MAX_TOP, MAX_FILES = 1_000, 100_000


def train(config, image_dir, out_dir, base_name="inception_v3", weights="imagenet",
          bottleneck_dir=DEFAULT_BOTTLENECK_DIR, seed=0, verbose=1, resume=False,
          strategy="default", max_bytes=DEFAULT_MAX_BYTES, max_files=DEFAULT_MAX_FILES):
    """Trains (or resumes) both phases, then scores the test split; returns evaluate's report."""
    transfer_training.train(config, image_dir, out_dir, base_name, weights, bottleneck_dir,
                            seed, verbose, resume, strategy, max_bytes, max_files)
    if not distributed.writes_run(strategy):
        return None  # a worker of a cluster other than the chief: the chief reports
    return evaluate(out_dir, max_bytes=max_bytes, max_files=max_files)


def checkpoint_path(run_dir, which="best"):
    """The checkpoint `--checkpoint best|last` names, over both phases."""
    phases = [run_dir]
    fine_path = run_dir.resolve(FINE_DIR, "fine-tuning run")
    if os.path.isfile(os.path.join(fine_path, "config.json")):
        fine = RunDir(fine_path)
        fine.read_config(FINE_KIND)
        phases.append(fine)
    trained = [(phase, phase.read_state()) for phase in phases]
    trained = [(phase, state) for phase, state in trained if state["epoch"]]
    if not trained:
        raise UsageError(f"{run_dir.path} has no checkpoint yet; train at least one epoch")
    phase, state = trained[-1]
    if which == "best":
        scored = [(s.get("best_score"), i) for i, (p, s) in enumerate(trained)
                  if s.get("best_key") == "val_loss" and os.path.exists(p.best_path)]
        if len(scored) == len(trained):  # comparable: each phase chose on validation loss
            phase, state = trained[min(scored)[1]]
    return phase.checkpoint_path(state, which)


def load_classifier(run_dir_path, checkpoint="best"):
    """(classifier images 0..255 -> logits, class names) of a transfer run."""
    run_dir = RunDir(run_dir_path)
    run_dir.read_config(KIND)
    class_names = read_json_file(run_dir.resolve("labels.json", "class names"))
    legacy = run_dir.file("classifier.keras")
    if not os.path.lexists(run_dir.file("base.keras")) and os.path.lexists(legacy):
        legacy = run_dir.read_path("classifier.keras")
        print(f"note: {run_dir.path} was trained before best and last checkpoints were kept "
              "apart; using its classifier.keras")
        return load_keras_file(legacy), class_names
    model = load_keras_file(checkpoint_path(run_dir, checkpoint))
    return as_classifier(model, lambda: load_base_file(run_dir)), class_names


def _probabilities(model, images):
    logits = model.predict(images.astype(np.float32), batch_size=32, verbose=0)
    return keras.ops.convert_to_numpy(keras.ops.softmax(logits))


def evaluate(run_dir_path, print_misclassified=False, checkpoint="best",
             max_bytes=DEFAULT_MAX_BYTES, max_files=DEFAULT_MAX_FILES):
    """Test-split accuracy, per class, confusion matrix; results.json and confusion_matrix.png."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_config(KIND)
    model, class_names = load_classifier(run_dir_path, checkpoint)
    splits, names = find_split_images(config["image_dir"], config["validation_percentage"],
                                      config["test_percentage"], max_files)
    if names != class_names:
        raise UsageError(f"{config['image_dir']} now has classes {names}, the run has "
                         f"{class_names}")
    split = "test" if len(splits["test"][0]) else "train"
    if split == "train":
        print("note: the test split is empty (--test_percentage 0); scoring the training images")
    paths, labels = splits[split]
    images, kept, _ = load_images(paths, model.inputs[0].shape[1], max_bytes,
                                  progress=len(paths) > 500)
    if not len(images):
        raise UsageError(f"none of the {len(paths)} {split} images is readable")
    probabilities = _probabilities(model, images)
    report = {**accuracy_report(probabilities, labels[kept], class_names),
              "split": split, "checkpoint": checkpoint}
    save_report(report, run_dir.file, f"transfer: {split} accuracy {report['test_accuracy']:.4f}")
    print(format_report(report))
    if print_misclassified:
        for index, row in zip(kept, probabilities):
            if np.argmax(row) != labels[index]:
                print(f"misclassified: {paths[index]} is {class_names[labels[index]]}, "
                      f"predicted {class_names[int(np.argmax(row))]}")
    return report


def predict(run_dir_path, paths, top=5, checkpoint="best", max_bytes=DEFAULT_MAX_BYTES):
    """[(path, [(class name, probability), ...])] for each readable image file."""
    for path in paths:
        check_regular_file(path, "image file")
    model, class_names = load_classifier(run_dir_path, checkpoint)
    images, kept, skipped = load_images(paths, model.inputs[0].shape[1], max_bytes)
    if not len(images):
        raise UsageError(f"none of the {len(paths)} files is a readable image")
    if skipped:
        print(f"skipped {len(skipped)} files that are not readable images (first: "
              f"{skipped[0]})")
    return top_classes(paths, kept, _probabilities(model, images), class_names, top)


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best", fmt="saved_model"):
    """A SavedModel (or LiteRT pixels.tflite) of the classifier; returns the folder."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    config = RunDir(run_dir_path).read_config(KIND)
    model, class_names = load_classifier(run_dir_path, checkpoint)
    servable = TransferServable(model, class_names)
    info = {"class_names": class_names, "config": config, "image_size": servable.size,
            "checkpoint": checkpoint}
    if fmt == "litert":
        return save_litert({"pixels": servable.pixels.get_concrete_function()}, export_dir,
                           overwrite, run_dir_path, KIND, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir=run_dir_path, kind=KIND, info=info)


def build_parser():
    parser = command_parser("week2_cnn.transfer")
    p = parser.verb("train", help="retrain (or --resume) on a folder of labelled "
                    "images")
    p.add_argument("--image_dir", type=input_path,
                   required=True, help="one sub-folder of images per label")
    p.add_argument("--base", default="inception_v3",
                   help="inception_v3, or a .keras classifier (e.g. from week2_cnn.cifar10)")
    p.add_argument("--weights", default="imagenet",
                   help="for inception_v3: imagenet (downloaded once), none, or a file")
    p.add_argument("--bottleneck_dir", default=DEFAULT_BOTTLENECK_DIR,
                   help="cache of base-network features, shared by all runs ('': no cache)")
    add_config_flags(p, TransferConfig, PRESETS)
    add_training_flags(p, "runs/transfer", PRESETS, "default")
    add_input_limit_flag(p)
    add_scan_limit_flag(p)
    p = parser.verb("evaluate", help="test-split accuracy; results.json")
    add_run_flags(p)
    p.add_argument("--print_misclassified", action="store_true",
                   help="list the test images the model gets wrong")
    add_input_limit_flag(p)
    add_scan_limit_flag(p)
    p = parser.verb("predict", help="top classes of image files")
    add_run_flags(p)
    p.add_argument("images", nargs="+", help=f"JPEG/PNG/GIF/BMP files (at most {MAX_FILES:,})")
    p.add_argument("--top", type=count(MAX_TOP), default=5, help="classes shown per image")
    add_input_limit_flag(p)
    parser.export_verb(help="SavedModel: image bytes or uint8 pixels -> probabilities "
                            "(or pixels.tflite)")
    return parser


def next_steps(out_dir):
    return lifecycle.next_commands("week2_cnn.transfer", out_dir, [
        ("evaluate", "--print_misclassified"), ("predict", "YOUR_PHOTO.jpg"),
        ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        train(config_from_args(args, PRESETS), args.image_dir, args.out_dir, args.base,
              args.weights, args.bottleneck_dir, args.seed, args.verbose, args.resume,
              args.strategy, args.max_bytes, args.max_files)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir))
    elif args.command == "evaluate":
        evaluate(args.run_dir, args.print_misclassified, args.checkpoint, args.max_bytes,
                 args.max_files)
    elif args.command == "predict":
        if len(args.images) > MAX_FILES:
            raise UsageError(f"{len(args.images):,} image files; at most {MAX_FILES:,} a call")
        for path, top in predict(args.run_dir, args.images, args.top, args.checkpoint,
                                 args.max_bytes):
            print(path + ": " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint,
                      args.format)
        what = ("pixels.tflite: uint8 [N, H, W, 3] -> probabilities" if args.format == "litert"
                else "serving_default(image_bytes), pixels(images) -> probabilities")
        print(f"wrote {path} ({what})")
