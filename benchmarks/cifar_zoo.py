"""The lecture's CNN table on this machine: every CIFAR-10 architecture at one training budget.

    python -m benchmarks.cifar_zoo --data_dir ../shared/data/cifar10_jpg.tar     # 7 x 5 minutes
    python -m benchmarks.cifar_zoo --data_dir ../cifar10_jpg --minutes 60 --archs resnet densenet
    python -m benchmarks.cifar_zoo --data_dir ../cifar10_jpg --minutes 0.1 --train_images 1000 \\
        --test_images 500 --out /tmp/zoo.png                                  # a smoke test

For each architecture, trained with the preset of its name (week2_cnn.cifar_models):
parameters; MFLOPs per image (2 x the multiply-accumulates of its Conv2D and
Dense layers, week2_cnn.model_cost); training images per second; and the test
accuracy after --minutes of training wall time. The learning-rate schedule of
each preset (warm-up, then triangular, cosine or constant decay) runs on the
wall clock instead of the step count (from the end of the first step, which
builds the graph), so every network finishes its schedule exactly when the
budget is spent, whatever its speed. Training uses all
training images (no validation split: nothing is chosen, the last weights are
scored), with the preset's augmentation; the test images are read once, at
the end, with the preset's test-time flip where it has one. The budget
includes building the training graph; images/s is measured after the first
three steps. A Markdown table is printed at the end and a PNG of accuracy
against MFLOPs per image is written to --out (a JSON of the rows beside it).

--data_dir is any layout week2_cnn.cifar_data reads, or a .tar of one (such as
../shared/data/cifar10_jpg.tar), unpacked into a temporary folder that is
removed at the end, with its decoded-image cache.

The lectures' ordering (deeper and denser networks are more accurate: AlexNet <
VGG < GoogLeNet < ResNet < DenseNet) holds at equal *epochs*. A few CPU minutes
buy the big networks a fraction of an epoch, so here the cheap ones win. On a
machine with a GPU the same script with a larger budget (--minutes 60 or more)
is the real comparison.
"""

import json
import os
import sys
import tarfile
import tempfile
import time

from common.argtypes import count, positive_float, seed_int
from common.cli import UsageError, make_parser, run_cli

ARCHS = ("alexnet", "vgg", "googlenet", "resnet", "densenet", "tutorial", "fast")
WARM_UP_STEPS = 3  # graph building and the first steps are left out of images/s


def load_data(data_dir, scratch):
    """cifar_data.Cifar from a folder, or from a .tar unpacked under `scratch`."""
    from week2_cnn.cifar_data import DEFAULT_CACHE_DIR, load_cifar10

    if data_dir and os.path.isfile(data_dir):
        if not tarfile.is_tarfile(data_dir):
            raise UsageError(f"--data_dir {data_dir} is a file but not a .tar archive")
        with tarfile.open(data_dir) as archive:
            archive.extractall(os.path.join(scratch, "data"), filter="data")
        return load_cifar10(os.path.join(scratch, "data"), os.path.join(scratch, "cache"))
    return load_cifar10(data_dir, DEFAULT_CACHE_DIR)


def subset(x, y, limit, seed):
    """`limit` rows of (x, y) in a seeded random order (all of them for None)."""
    import numpy as np

    if limit is None or limit >= len(x):
        return x, y
    rows = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return x[rows], y[rows]


def clock_schedule(config, resolution=10_000):
    """(schedule, position variable): the preset's schedule over the fraction of the
    budget spent; a callback sets position = fraction * resolution before each step."""
    import keras
    import tensorflow as tf

    from week2_cnn.cifar_training import WarmupSchedule

    inner = WarmupSchedule(config.learning_rate, resolution,
                           round(config.warmup_fraction * resolution), config.schedule)
    position = tf.Variable(0.0, trainable=False, dtype=tf.float32)

    class OnTheClock(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return inner(position)

        def get_config(self):
            return {}

    return OnTheClock(), position


def budget_callback(seconds, position, resolution=10_000):
    """Sets the schedule's position from the wall clock; stops training when time is up."""
    import keras

    class Budget(keras.callbacks.Callback):
        steps, measured_from, measured_steps, loss = 0, None, 0, None

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_begin(self, batch, logs=None):
            # The schedule runs over the time left after the first step (which builds
            # the graph: up to a minute for DenseNet here), so no network spends
            # its warm-up tracing.
            if self.steps:
                left = max(self.start + seconds - self.first, 1e-6)
                spent = (time.perf_counter() - self.first) / left
                position.assign(min(max(spent, 0.0), 1.0) * resolution)

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.loss = (logs or {}).get("loss")  # the running mean over the run
            now = time.perf_counter()
            if self.steps == 1:
                self.first = now
            if self.steps == WARM_UP_STEPS:
                self.measured_from = now
            elif self.steps > WARM_UP_STEPS:
                self.measured_steps, self.measured_seconds = (self.steps - WARM_UP_STEPS,
                                                              now - self.measured_from)
            if now - self.start >= seconds:
                self.model.stop_training = True

    return Budget()


def measure(arch, data, minutes, seed):
    """One row of the table: the preset `arch` trained for `minutes`, then tested."""
    import keras
    import numpy as np

    from week2_cnn.cifar_models import PRESETS, build_model, init_whitening
    from week2_cnn.cifar_training import compile_model, predict_probabilities, training_dataset
    from week2_cnn.model_cost import model_cost

    config = PRESETS[arch]
    keras.backend.clear_session()  # the previous architecture's graphs and memory
    keras.utils.set_random_seed(seed)
    model = build_model(config)
    init_whitening(model, data.x_train, config)
    cost = model_cost(model)
    schedule, position = clock_schedule(config)
    compile_model(model, config, steps_per_epoch=1, schedule=schedule)
    budget = budget_callback(60 * minutes, position)
    # More steps than the budget can hold: the callback ends the run.
    model.fit(training_dataset(data.x_train, data.y_train, config, 10, seed, 0),
              steps_per_epoch=10 ** 9, epochs=1, callbacks=[budget], verbose=0)
    train_seconds = time.perf_counter() - budget.start
    images = budget.steps * config.batch_size
    speed = (budget.measured_steps * config.batch_size / budget.measured_seconds
             if budget.measured_steps else None)  # a budget too short to measure
    probabilities = predict_probabilities(model, data.x_test, config.tta, config.tta_translate)
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data.y_test))
    return {"arch": arch, "params": cost["params"], "mflops": cost["mflops"],
            "images_per_second": speed, "train_seconds": train_seconds,
            "epochs": images / len(data.x_train), "test_accuracy": accuracy,
            "train_loss": None if budget.loss is None else float(budget.loss),
            "batch_size": config.batch_size}


def speed_text(row):
    speed = row["images_per_second"]
    return "n/a" if speed is None else f"{speed:.0f}"


def markdown_table(rows, minutes):
    lines = [f"| arch | parameters | MFLOPs/image | train images/s | epochs in {minutes:g} min "
             f"| test accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['arch']} | {r['params'] / 1e6:.2f}M | {r['mflops']:.0f} | "
                     f"{speed_text(r)} | {r['epochs']:.2f} | "
                     f"{100 * r['test_accuracy']:.1f}% |")
    return "\n".join(lines)


def plot(rows, minutes, path):
    """Test accuracy against MFLOPs per image, one labelled point per architecture."""
    from common.plots import new_figure, save_figure

    figure, axes = new_figure(6.4, 4.4)
    for r in rows:
        axes.scatter(r["mflops"], 100 * r["test_accuracy"], s=30)
        axes.annotate(f"{r['arch']} ({speed_text(r)} img/s)",
                      (r["mflops"], 100 * r["test_accuracy"]), textcoords="offset points",
                      xytext=(5, 4), fontsize=8)
    axes.set_xscale("log")
    # Plain numbers at 1-2-5 steps instead of matplotlib's overlapping 3x10^2 labels.
    from matplotlib.ticker import NullFormatter

    low, high = axes.get_xlim()
    ticks = [t * 10 ** e for e in range(0, 6) for t in (1, 2, 5) if low <= t * 10 ** e <= high]
    axes.set_xticks(ticks, [f"{t:g}" for t in ticks])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("MFLOPs per image (2 x multiply-accumulates), log scale")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(f"CIFAR-10 after {minutes:g} minutes of training on {os.cpu_count()} cores")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path)


def main(argv=None):
    """Run through common.cli.run_cli, which imports TensorFlow quietly first."""
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=None,
                        help="CIFAR-10: a folder in any layout cifar10 train reads, or a .tar "
                             "of one (unpacked into a temporary folder); default: tfds")
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS),
                        help="architectures to measure, each with the preset of its name")
    parser.add_argument("--minutes", type=positive_float, default=5.0,
                        help="training wall time per architecture")
    parser.add_argument("--train_images", type=count(50_000), default=None,
                        help="train on this many images (a random subset; default: all)")
    parser.add_argument("--test_images", type=count(10_000), default=None,
                        help="test on this many images (a random subset; default: all)")
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed")
    parser.add_argument("--out", default="benchmarks/cifar_zoo.png",
                        help="the PNG written (the rows go to the same name with .json)")
    args = parser.parse_args(argv)
    if not args.out.endswith(".png"):
        raise UsageError(f"--out {args.out} must end in .png")
    if args.minutes > 24 * 60:
        raise UsageError(f"--minutes {args.minutes:g} is more than a day per architecture")
    started, load = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cifar_zoo-") as scratch:
        data = load_data(args.data_dir, scratch)
    data.x_train, data.y_train = subset(data.x_train, data.y_train, args.train_images,
                                        args.seed)
    data.x_test, data.y_test = subset(data.x_test, data.y_test, args.test_images, args.seed)
    rows = []
    for arch in args.archs:
        rows.append(measure(arch, data, args.minutes, args.seed))
        print(json.dumps(rows[-1]), flush=True)
    plot(rows, args.minutes, args.out)
    record = {"started": started, "load_average_at_start": load,
              "load_average_at_end": os.getloadavg()[0], "cores": os.cpu_count(),
              "train_images": len(data.x_train), "test_images": len(data.x_test),
              "minutes": args.minutes, "seed": args.seed, "source": data.source, "rows": rows}
    with open(args.out[:-len(".png")] + ".json", "w") as f:
        json.dump(record, f, indent=2)
    print(f"\nCIFAR-10, {args.minutes:g} minutes of training each, {os.cpu_count()} cores, "
          f"started {started} (load average {load:.1f} at start, "
          f"{record['load_average_at_end']:.1f} at end); {len(data.x_train):,} training and "
          f"{len(data.x_test):,} test images; wrote {args.out}\n")
    print(markdown_table(rows, args.minutes))


if __name__ == "__main__":
    sys.exit(run_cli(main))
