"""Offline proof that transfer learning works: CIFAR-10 classes 0-4 -> classes 5-9.

    python -m benchmarks.transfer_split_cifar --data_dir ../cifar10_jpg --out_dir runs/split

1. Pretrain the `fast` CIFAR-10 net on all 25,000 training images of classes 0-4
   (airplane, automobile, bird, cat, deer).
2. Transfer, the lecture's three ways, on 100 training images per class of
   classes 5-9 (dog, frog, horse, ship, truck):
   - head: freeze the pretrained net and train only a new softmax head on its
     features;
   - fine-tune: start from all the pretrained weights with a new 5-way logits
     layer and train everything, at a tenth of the scratch learning rate;
   - layer-wise: fine-tune, but each depth of the net below the logits learns
     at --layer_lr_decay times the rate of the one above (the logits at
     fine-tune's rate; week2_cnn/transfer_layer_rates.py: for `fast` each conv
     with its batch norm is a depth, 6 trainable ones).
3. Scratch: the same architecture trained from random weights on those same
   500 images, with the same recipe and augmentation as fine-tune.
All are scored on all 5,000 test images of classes 5-9, and each method's wall
and CPU minutes are reported (the machine is shared: CPU minutes / 2 cores is
what it would take alone). Results: RESULTS.md.
"""

import dataclasses
import json
import os
import sys
import time

from common.argtypes import count, positive_float, seed_int
from common.cli import make_parser, run_cli


def subset(data, classes, per_class=None, seed=0):
    """The images of `classes` relabelled 0..k-1; optionally `per_class` training images."""
    import numpy as np

    from week2_cnn.cifar_data import Cifar

    rng = np.random.default_rng(seed)
    train_rows = []
    for c in classes:
        rows = np.flatnonzero(data.y_train == c)
        train_rows.append(rng.choice(rows, per_class, replace=False) if per_class else rows)
    train_rows = np.sort(np.concatenate(train_rows))
    test_rows = np.flatnonzero(np.isin(data.y_test, classes))
    relabel = {c: i for i, c in enumerate(classes)}
    return Cifar(data.x_train[train_rows], np.vectorize(relabel.get)(data.y_train[train_rows]),
                 data.x_test[test_rows], np.vectorize(relabel.get)(data.y_test[test_rows]),
                 [data.class_names[c] for c in classes], data.source)


def head_accuracy(base_path, target, epochs, seed):
    """Trains a softmax head on the frozen base's features; test accuracy."""
    import keras
    import numpy as np

    from week2_cnn.transfer_model import TransferConfig, build_head, load_base

    keras.utils.set_random_seed(seed)
    base = load_base(base_path)
    features = [base.features.predict(x.astype(np.float32), batch_size=500, verbose=0)
                for x in (target.x_train, target.x_test)]
    # Features of the mirror images too: the head sees the same augmentation as scratch.
    mirrored = base.features.predict(target.x_train[:, :, ::-1].astype(np.float32),
                                     batch_size=500, verbose=0)
    head = build_head(features[0].shape[1], len(target.class_names), TransferConfig())
    head.compile(keras.optimizers.Adam(1e-3),
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=["accuracy"])
    head.fit(np.concatenate([features[0], mirrored]), np.tile(target.y_train, 2),
             batch_size=50, epochs=epochs, verbose=0)
    return float(head.evaluate(features[1], target.y_test, verbose=0)[1])


def fine_tune_accuracy(base_path, target, config, seed, layer_lr_decay=1.0):
    """Trains all layers from the pretrained weights (new logits layer); test accuracy.

    The network is rebuilt for the target's classes and every layer but the
    logits takes the pretrained layer's weights (same architecture, so the
    layers pair up in order, the whitening filters included). With
    layer_lr_decay < 1 the optimizer (SGD, the same schedule) is the
    layer-wise one of week2_cnn.transfer, the logits layer being the head.
    """
    import keras
    import numpy as np

    from week2_cnn.cifar_models import build_model
    from week2_cnn.cifar_training import compile_model, predict_probabilities, training_dataset
    from week2_cnn.transfer_layer_rates import layer_rate_multipliers, with_layer_rates

    keras.utils.set_random_seed(seed)
    pretrained = keras.saving.load_model(base_path, compile=False)
    model = build_model(config, len(target.class_names))
    for new, old in zip(model.layers, pretrained.layers):
        if new.name != "logits":
            new.set_weights(old.get_weights())
    steps = len(target.x_train) // config.batch_size
    compile_model(model, config, steps)
    if layer_lr_decay != 1.0:
        base = keras.Model(model.inputs, model.get_layer("logits").input)  # shares the layers
        model.compile(optimizer=with_layer_rates(model.optimizer, layer_rate_multipliers(
                          model, base, layer_lr_decay)),
                      loss=model.loss, metrics=[keras.metrics.CategoricalAccuracy("accuracy")])
    model.fit(training_dataset(target.x_train, target.y_train, config,
                               len(target.class_names), seed, 0),
              steps_per_epoch=steps, epochs=config.epochs, verbose=0)
    probabilities = predict_probabilities(model, target.x_test, config.tta, config.tta_translate)
    return float(np.mean(probabilities.argmax(axis=1) == target.y_test))


def main(argv=None):
    from common.files import atomic_write_json
    from common.runs import RunDir, read_json
    from week2_cnn import cifar10
    from week2_cnn.cifar_data import load_cifar10
    from week2_cnn.cifar_models import PRESETS
    from week2_cnn.transfer_model import layer_lr_decay

    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=None, help="local CIFAR-10 (default: tfds)")
    parser.add_argument("--out_dir", default="runs/transfer_split", help="run directories")
    parser.add_argument("--width", type=count(1024), default=32, help="width of the fast net")
    parser.add_argument("--pretrain_epochs", type=count(1000), default=8,
                        help="epochs on classes 0-4")
    parser.add_argument("--scratch_epochs", type=count(1000), default=40,
                        help="epochs on the 500 images for the from-scratch baseline")
    parser.add_argument("--fine_tune_lr_factor", type=positive_float, default=0.1,
                        help="fine-tuning's peak learning rate as a fraction of scratch's")
    parser.add_argument("--layer_lr_decay", type=layer_lr_decay, default=0.7,
                        help="layer-wise: each depth's rate as a fraction of the one above")
    parser.add_argument("--per_class", type=count(5000), default=100,
                        help="target images per class")
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed")
    args = parser.parse_args(argv)
    data = load_cifar10(args.data_dir)
    source, target = subset(data, range(5)), subset(data, range(5, 10), args.per_class,
                                                    args.seed)
    fast = dataclasses.replace(PRESETS["fast"], width=args.width)
    pretrain_dir = os.path.join(args.out_dir, "pretrain")
    clock = Stopwatch()
    if not os.path.exists(os.path.join(pretrain_dir, "results.json")):
        # All 25,000 images, as the recorded runs (made before --val_fraction existed).
        cifar10.train(dataclasses.replace(fast, epochs=args.pretrain_epochs, val_fraction=0.0),
                      pretrain_dir, source, seed=args.seed, verbose=2,
                      resume=os.path.exists(os.path.join(pretrain_dir, "config.json")))
    minutes = {"pretrain (this call; 0 when reused)": clock.lap()}
    base_path = RunDir(pretrain_dir).checkpoint_path()
    accuracy = {"head": head_accuracy(base_path, target, epochs=100, seed=args.seed)}
    minutes["head"] = clock.lap()
    # Scratch trains on all 500 images, as fine-tune and head do (no validation hold-out).
    scratch = dataclasses.replace(fast, epochs=args.scratch_epochs, batch_size=100,
                                  val_fraction=0.0)
    tuned = dataclasses.replace(
        scratch, learning_rate=scratch.learning_rate * args.fine_tune_lr_factor)
    for method, decay in (("fine_tune", 1.0), ("layer_wise", args.layer_lr_decay)):
        accuracy[method] = fine_tune_accuracy(base_path, target, tuned, args.seed, decay)
        minutes[method] = clock.lap()
    scratch_dir = os.path.join(args.out_dir, f"scratch-{args.seed}")
    # A finished scratch run is reused (resumed to its end) when the benchmark is rerun.
    _, report = cifar10.train(scratch, scratch_dir, target, seed=args.seed, verbose=0,
                              resume=RunDir(scratch_dir).has_run())
    accuracy["scratch"] = report["test_accuracy"]
    minutes["scratch (0 when reused)"] = clock.lap()
    results = {**{f"{m}_accuracy": a for m, a in accuracy.items()},
               **{f"{m}_gain_points": 100 * (a - accuracy["scratch"])
                  for m, a in accuracy.items() if m != "scratch"},
               "minutes_wall_and_cpu": minutes,
               "pretrain_test_accuracy_classes_0_4": read_json(
                   os.path.join(pretrain_dir, "results.json"))["test_accuracy"],
               **vars(args)}
    print(json.dumps(results, indent=2))
    atomic_write_json(os.path.join(args.out_dir, "results.json"), results)
    print("| method | test accuracy, classes 5-9 | wall minutes | CPU minutes |\n|---|---|---|---|")
    for method, a in accuracy.items():
        wall, cpu = next(v for k, v in minutes.items() if k.split()[0] == method)
        print(f"| {method} | {100 * a:.2f}% | {wall:.1f} | {cpu:.1f} |")


class Stopwatch:
    """(wall, CPU) minutes since the last lap; CPU counts every thread of this process."""

    def __init__(self):
        self.last = (time.monotonic(), time.process_time())

    def lap(self):
        now = (time.monotonic(), time.process_time())
        spent = [round((b - a) / 60, 2) for a, b in zip(self.last, now)]
        self.last = now
        return spent


if __name__ == "__main__":
    sys.exit(run_cli(main))
