"""Transfer learning (week 2): retrain Inception v3, or a CIFAR-10 net, on your own photos.

    python -m week2_cnn.transfer train --image_dir flower_photos --out_dir runs/flowers
    python -m week2_cnn.transfer train --image_dir photos --base runs/fast/best.keras \
        --out_dir runs/photos                          # offline: a week2_cnn.cifar10 model
    python -m week2_cnn.transfer train --image_dir photos --fine_tune_layers 20 ...
    python -m week2_cnn.transfer evaluate --run_dir runs/flowers --print_misclassified
    python -m week2_cnn.transfer predict --run_dir runs/flowers rose.jpg
    python -m week2_cnn.transfer export --run_dir runs/flowers --export_dir exports/flowers

--image_dir holds one sub-folder of images per label. Files are split into
train / validation / test by a hash of their names (retrain.py's rule, `_nohash_`
kept); bottlenecks are cached under --bottleneck_dir and reused by later runs.
The lecture's three ways to transfer: --fine_tune_layers 0 freezes the base and
trains only the new head; N > 0 then trains the top N layers too, at the lower
--fine_tune_learning_rate (per-layer learning rates, in two steps); -1 trains the
whole network. With ImageNet weights (internet needed once), flower_photos
retrains to the original's 90-95% test accuracy.
"""

import dataclasses
import os
import sys

from common.cli import (UsageError, add_config_flags, add_export_flags, config_from_args, fraction,
                        make_parser, positive_float, positive_int, quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.images import load_images  # noqa: E402
from common.runs import RunDir, atomic_save_model, atomic_write_json, read_json  # noqa: E402
from common.training import fit_run, set_seed  # noqa: E402
from week2_cnn.cifar_evaluation import (accuracy_report, format_report,  # noqa: E402
                                        load_query_images, save_report, top_classes)
from week2_cnn.transfer_data import (DEFAULT_BOTTLENECK_DIR, BottleneckCache,  # noqa: E402
                                     find_split_images)
from week2_cnn.transfer_model import (PRESETS, build_classifier, build_head,  # noqa: E402
                                      check_base_name, load_base, unfreeze_top)
from week2_cnn.transfer_servable import ImageBytesServable  # noqa: E402

KIND = "transfer"


def _compile(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


def _decoded(paths, labels, size):
    images, kept, _ = load_images(paths, size, 3, progress=len(paths) > 500)
    return images.astype(np.float32), labels[kept]


def train(config, image_dir, out_dir, base_name="inception_v3", weights="imagenet",
          bottleneck_dir=DEFAULT_BOTTLENECK_DIR, seed=0, verbose=1):
    """Head training on cached bottlenecks (or distorted images), then optional fine-tuning."""
    check_base_name(base_name)
    splits, class_names = find_split_images(image_dir, config.validation_percentage,
                                            config.test_percentage)
    run_dir = RunDir(out_dir)
    run_config = {"kind": KIND, **dataclasses.asdict(config), "base": base_name,
                  "weights": weights, "image_dir": os.path.abspath(image_dir), "seed": seed}
    state = run_dir.begin(run_config, resume=False)
    atomic_write_json(run_dir.file("labels.json"), class_names)
    set_seed(seed)
    base = load_base(base_name, weights)
    print(", ".join(f"{len(splits[s][0]):,} {s}" for s in splits) + f" images in "
          f"{len(class_names)} classes; base {base.key}, {base.image_size}px")
    head = build_head(base.features.output.shape[-1], len(class_names), config)
    if config.distort:  # distorted images differ every epoch: no cache
        model = build_classifier(base, head, distort=True)
        train_x, train_y = _decoded(*splits["train"], base.image_size)
        val = _decoded(*splits["validation"], base.image_size)
    else:
        cache = BottleneckCache(bottleneck_dir, base.key, base.image_size,
                                lambda images: base.features.predict(
                                    images.astype(np.float32), batch_size=32, verbose=0))
        model = head
        train_x, train_y = cache.features(*splits["train"])
        val = cache.features(*splits["validation"])
        print(cache.summary())
    if not len(train_x):
        raise UsageError(f"no readable training images in {image_dir}")
    _compile(model, config.learning_rate)
    batch = min(config.batch_size, len(train_x))
    train_data = _batches(train_x, train_y, batch, seed)
    fit_run(model, run_dir, state, train_data, len(train_x) // batch, config.epochs,
            items_per_step=batch, unit="images",
            validation_data=(val[0], val[1]) if len(val[0]) else None,
            plot_keys=("accuracy", "val_accuracy"), plot_ylabel="accuracy", verbose=verbose)
    classifier = build_classifier(base, head)
    if config.fine_tune_layers:
        trainable = unfreeze_top(base, config.fine_tune_layers)
        print(f"fine-tuning {trainable} base layers and the head at learning rate "
              f"{config.fine_tune_learning_rate}")
        if config.distort:
            classifier = build_classifier(base, head, distort=True)
        else:
            train_x, train_y = _decoded(*splits["train"], base.image_size)
            val = _decoded(*splits["validation"], base.image_size)
        _compile(classifier, config.fine_tune_learning_rate)
        history = classifier.fit(train_x, train_y, batch_size=batch,
                                 epochs=config.fine_tune_epochs, verbose=verbose,
                                 validation_data=val if len(val[0]) else None)
        atomic_write_json(run_dir.file("fine_tune_history.json"), history.history)
        classifier = build_classifier(base, head)  # without the distortion layers
    atomic_save_model(classifier, run_dir.file("classifier.keras"))
    return evaluate(out_dir)


def _batches(x, y, batch_size, seed):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
    return data.repeat().batch(batch_size, drop_remainder=True).prefetch(2)


def load_run(run_dir_path):
    """(classifier, config, class names) of a finished transfer run."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_config(KIND)
    path = run_dir.file("classifier.keras")
    if not os.path.exists(path):
        raise UsageError(f"{run_dir_path} has no classifier.keras; its training did not finish")
    return keras.saving.load_model(path, compile=False), config, read_json(
        run_dir.file("labels.json"))


def evaluate(run_dir_path, print_misclassified=False):
    """Test-split accuracy, per class, confusion matrix; optionally the wrong files."""
    model, config, class_names = load_run(run_dir_path)
    splits, names = find_split_images(config["image_dir"], config["validation_percentage"],
                                      config["test_percentage"])
    if names != class_names:
        raise UsageError(f"{config['image_dir']} now has classes {names}, the run has "
                         f"{class_names}")
    paths, labels = splits["test"] if len(splits["test"][0]) else splits["train"]
    size = model.inputs[0].shape[1]
    images, kept, _ = load_images(paths, size, 3, progress=len(paths) > 500)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(
        model.predict(images.astype(np.float32), batch_size=32, verbose=0)))
    report = accuracy_report(probabilities, labels[kept], class_names)
    save_report(report, lambda name: os.path.join(run_dir_path, name),
                f"transfer: test accuracy {report['test_accuracy']:.4f}")
    print(format_report(report))
    if print_misclassified:
        for index, row in zip(kept, probabilities):
            if np.argmax(row) != labels[index]:
                print(f"misclassified: {paths[index]} is {class_names[labels[index]]}, "
                      f"predicted {class_names[int(np.argmax(row))]}")
    return report


def predict(run_dir_path, paths, top=5):
    model, _, class_names = load_run(run_dir_path)
    images, kept = load_query_images(paths, model.inputs[0].shape[1])
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(
        model.predict(images.astype(np.float32), verbose=0)))
    return top_classes(paths, kept, probabilities, class_names, top)


def export(run_dir_path, export_dir, overwrite=False):
    model, _, class_names = load_run(run_dir_path)
    servable = ImageBytesServable(model, class_names)
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


CONFIG_FLAGS = {
    "hidden_units": (int, "units of a hidden layer in the head; 0: none (retrain.py)"),
    "dropout_rate": (fraction, "dropout before the head's output layer"),
    "learning_rate": (positive_float, "Adam learning rate of the head"),
    "epochs": (positive_int, "epochs of head training"),
    "batch_size": (positive_int, "images per step"),
    "distort": (bool, "random flips, crops, scaling, brightness (bypasses the cache)"),
    "fine_tune_layers": (int, "after the head: also train the base's top N layers; 0: off; "
                              "-1: the whole network"),
    "fine_tune_epochs": (positive_int, "epochs of fine-tuning"),
    "fine_tune_learning_rate": (positive_float, "Adam learning rate while fine-tuning"),
    "validation_percentage": (float, "percent of the images used for validation"),
    "test_percentage": (float, "percent of the images used for the test"),
}


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = parser.formatter_class
    p = commands.add_parser("train", help="retrain on a folder of labelled images",
                            formatter_class=formatter)
    p.add_argument("--image_dir", required=True, help="one sub-folder of images per label")
    p.add_argument("--base", default="inception_v3",
                   help="inception_v3, or a .keras classifier (e.g. from week2_cnn.cifar10)")
    p.add_argument("--weights", default="imagenet",
                   help="for inception_v3: imagenet (downloaded once), none, or a file")
    p.add_argument("--bottleneck_dir", default=DEFAULT_BOTTLENECK_DIR,
                   help="cache of base-network features, shared by all runs")
    p.add_argument("--preset", choices=PRESETS, default="default", help="training sizes")
    add_config_flags(p, CONFIG_FLAGS, PRESETS)
    p.add_argument("--out_dir", default="runs/transfer", help="run directory")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--verbose", type=int, choices=[0, 1, 2], default=2, help="Keras verbosity")
    p = commands.add_parser("evaluate", help="test-split accuracy", formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("--print_misclassified", action="store_true",
                   help="list the test images the model gets wrong")
    p = commands.add_parser("predict", help="top-5 labels of image files",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("images", nargs="+", help="JPEG/PNG files")
    p = commands.add_parser("export", help="SavedModel: encoded image bytes -> labels, scores",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    add_export_flags(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        train(config_from_args(args, PRESETS), args.image_dir, args.out_dir, args.base,
              args.weights, args.bottleneck_dir, args.seed, args.verbose)
    elif args.command == "evaluate":
        evaluate(args.run_dir, args.print_misclassified)
    elif args.command == "predict":
        for path, top in predict(args.run_dir, args.images):
            print(path + ": " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
        print(f"wrote {export(args.run_dir, args.export_dir, args.overwrite)}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
