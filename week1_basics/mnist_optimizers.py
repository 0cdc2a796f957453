"""compare-optimizers: the lecture's four update rules on one model, one PNG of loss curves.

Every optimizer starts from the same initial weights and sees the same
batches in the same order, at the constant learning rate it usually gets
(mnist_models.DEFAULT_LEARNING_RATES), so the curves differ only by the
update rule. Short runs: a point is the mean training loss over a few
dozen steps, about 20 points per epoch.
"""

import dataclasses

import keras

from common.argtypes import count, seed_int
from common.cli import UsageError
from common.outputs import check_out_file
from common.plots import new_figure, save_figure
from common.training import set_seed
from week1_basics.mnist_data import split_validation, training_dataset
from week1_basics.mnist_models import (ARCHS, DEFAULT_LEARNING_RATES, OPTIMIZERS, PRESETS,
                                       build_model, make_optimizer)

POINTS_PER_EPOCH = 20


def add_flags(parser):
    parser.add_argument("--arch", choices=ARCHS, default="dnn",
                        help="the model (its preset's sizes); dnn, the lecture's sigmoid "
                             "network, shows the differences best")
    parser.add_argument("--epochs", type=count(1000), default=1, help="epochs per optimizer")
    parser.add_argument("--batch_size", type=count(65_536), default=None,
                        help="images per step (default: the arch's preset)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="the initial weights and data order (the same for all four)")
    parser.add_argument("--out", default="optimizers.png",
                        help="PNG file to write (an existing file only if this project "
                             "wrote it)")
    parser.add_argument("--verbose", type=int, choices=[0, 1, 2], default=0,
                        help="Keras fit verbosity")


def compare(config, data, epochs, seed=0, verbose=0):
    """{optimizer: (steps, mean training losses)}, from the same start on the same batches."""
    x, y, _, _ = split_validation(data.x_train, data.y_train, config.val_fraction)
    if len(x) < config.batch_size:
        raise UsageError(f"{len(x)} training images are fewer than one batch "
                         f"(--batch_size {config.batch_size})")
    steps_per_epoch = len(x) // config.batch_size
    chunk = max(1, steps_per_epoch // POINTS_PER_EPOCH)   # steps per plotted point
    points = epochs * steps_per_epoch // chunk
    set_seed(seed)
    initial = build_model(config).get_weights()
    curves = {}
    for name in OPTIMIZERS:
        set_seed(seed)  # the same dropout masks too
        model = build_model(config)
        model.set_weights(initial)
        model.compile(optimizer=make_optimizer(name, DEFAULT_LEARNING_RATES[name],
                                               config.momentum),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        batches = training_dataset(x, y, config.batch_size, seed, 0)
        history = model.fit(batches, epochs=points, steps_per_epoch=chunk, verbose=verbose)
        losses = history.history["loss"]
        curves[name] = ([chunk * (i + 1) for i in range(len(losses))], losses)
        print(f"{name:9s} lr {DEFAULT_LEARNING_RATES[name]:g}: loss {losses[0]:.4f} -> "
              f"{losses[-1]:.4f} after {chunk * len(losses):,} steps", flush=True)
    return curves


def plot_curves(curves, title, path):
    """One PNG (marked as this project's) of every optimizer's loss per step."""
    fig, ax = new_figure(6.4, 4.2)
    for name, (steps, losses) in curves.items():
        ax.plot(steps, losses, label=f"{name} (lr {DEFAULT_LEARNING_RATES[name]:g})")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, mark=True)


def run(args, data):
    """The verb: the arch's preset at --batch_size, four short runs, one PNG."""
    check_out_file(args.out)
    config = PRESETS[args.arch]
    if args.batch_size:
        config = dataclasses.replace(config, batch_size=args.batch_size)
    curves = compare(config, data, args.epochs, args.seed, args.verbose)
    plot_curves(curves, f"{args.arch} on {data.dataset}, batch {config.batch_size}, "
                        f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}", args.out)
    print(f"wrote {args.out}")
    return curves
