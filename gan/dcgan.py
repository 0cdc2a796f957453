"""DCGAN (Radford et al. 2016) on MNIST, Fashion-MNIST or a folder of images.

    python -m gan.dcgan train --dataset mnist --data_dir ../shared/data/mnist --out_dir runs/dcgan
    python -m gan.dcgan train --dataset fashion_mnist \
        --data_dir /usr/share/datasets/fashion-mnist --out_dir runs/fashion
    python -m gan.dcgan train --image_dir my_faces/ --image_size 64 --out_dir runs/faces
    python -m gan.dcgan train --out_dir runs/dcgan --resume --epochs 30
    python -m gan.dcgan train --model fc_gan --out_dir runs/fc_gan    # the course's GAN
    python -m gan.dcgan generate --run_dir runs/dcgan --num 64 --out grid.png --seed 1
    python -m gan.dcgan interpolate --run_dir runs/dcgan --seed_a 1 --seed_b 2 --out row.png
    python -m gan.dcgan export --run_dir runs/dcgan --export_dir exports/dcgan

Expected results on MNIST after 20 epochs (2 CPU cores; commands and details
in benchmarks/RESULTS.md, measured by benchmarks/dcgan.py):

                           inception score   FID-MNIST (vs real test)
    real test images            9.66              0
    real train vs test          9.67              0.68
    DCGAN --preset default      6.55              33.38    25-35 s/epoch with the CPU free
    DCGAN --preset paper        7.63              12.56    about 90 s/epoch
    fc_gan (the course's)       2.69             189.67
"""

import dataclasses
import sys

from common.cli import (UsageError, add_config_flags, add_export_flags, add_training_flags,
                        config_from_args, make_parser, positive_float, positive_int,
                        quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.runs import RunDir  # noqa: E402
from common.training import fit_run, set_seed  # noqa: E402
from gan.adversarial import build_dcgan  # noqa: E402
from gan.data import (DATASETS, load_dataset, load_image_folder, resize_images,  # noqa: E402
                      training_batches)
from gan.grids import SampleGrid, make_grid, save_png  # noqa: E402
from gan.model import IMAGE_SIZES, MODELS, PRESETS  # noqa: E402
from gan.sampling import (GeneratorServable, generate_images, images_from_noise,  # noqa: E402
                          interpolation_noise, noise_for_seed)

KIND = "dcgan"
# Settings a resumed run may change; everything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "source")
GRID_SIZE = 64  # images in each epoch's sample grid


def train(config, out_dir, images, source="images", seed=0, resume=False, verbose=1):
    """Trains (or resumes) a GAN on uint8 images (N, size, size, channels).

    Returns (model, state). The run directory gets a sample grid per epoch in
    samples/, loss.png (D and G losses), history.csv, TensorBoard logs, a
    checkpoint of both networks and both optimizers, and progress.gif at the end.
    """
    square = images.ndim == 4 and images.shape[1] == images.shape[2]
    if not square or images.shape[1] not in IMAGE_SIZES:
        raise UsageError(f"images must be square, {IMAGE_SIZES} pixels; got {images.shape[1:]}")
    _, image_size, _, channels = images.shape
    run_dir = RunDir(out_dir)
    run_config = {"kind": KIND, **dataclasses.asdict(config), "image_size": int(image_size),
                  "channels": int(channels), "seed": seed, "source": source}
    # Checked before the run directory is touched: too few images is a usage error.
    training_batches(images, config.batch_size, seed, 0, 1)
    state = run_dir.begin(run_config, resume, may_change=RESUMABLE_CHANGES)
    set_seed(seed)
    if state["checkpoint"]:
        model = keras.saving.load_model(run_dir.checkpoint_path(state))
    else:
        model = build_dcgan(config, image_size, channels, seed)
    print(f"{len(images):,} training images {image_size}x{image_size}x{channels}; "
          f"G {model.generator.count_params():,} and D {model.discriminator.count_params():,} "
          f"parameters; run directory {out_dir}")
    data = training_batches(images, config.batch_size, seed, state["epoch"], config.epochs)
    grid = SampleGrid(run_dir.file("samples"), run_dir.file("progress.gif"),
                      noise_for_seed(GRID_SIZE, config.latent_dim, seed))
    fit_run(model, run_dir, state, data, len(images) // config.batch_size, config.epochs,
            items_per_step=config.batch_size, unit="images", plot_keys=("d_loss", "g_loss"),
            plot_ylabel="cross-entropy", verbose=verbose, extra_callbacks=[grid],
            loss_keys=("d_loss", "g_loss"))
    return model, state


def load_generator(run_dir_path):
    """The generator of a run's latest checkpoint."""
    return RunDir(run_dir_path).load_model(KIND, "last").generator


def load_training_images(args):
    """uint8 (N, size, size, channels) and a source label, from the train flags."""
    if args.image_dir:
        size = args.image_size or 64
        return load_image_folder(args.image_dir, size, args.channels), f"folder {args.image_dir}"
    images = load_dataset(args.dataset, args.data_dir)[0]
    return resize_images(images, args.image_size or 28), args.dataset


def export(generator, export_dir, overwrite=False):
    servable = GeneratorServable(generator)
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


# Flags that override one field of the preset's GANConfig.
CONFIG_FLAGS = {
    "model": (None, "dcgan (Radford et al.) or fc_gan (the course's fully connected GAN; "
                    "without --preset it takes the fc_gan preset)"),
    "latent_dim": (positive_int, "size of the noise vector z"),
    "generator_filters": (positive_int, "filters of G's last hidden layer (doubled towards "
                                        "the small end)"),
    "discriminator_filters": (positive_int, "filters of D's first layer (doubled per layer)"),
    "kernel_size": (positive_int, "convolution kernel size"),
    "hidden_units": (positive_int, "fc_gan: hidden units of G and D"),
    "batch_size": (positive_int, "images per batch"),
    "learning_rate": (positive_float, "Adam learning rate (both networks)"),
    "beta_1": (positive_float, "Adam beta_1 (the paper lowers it to 0.5 for stability)"),
}


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = parser.formatter_class

    p = commands.add_parser("train", help="train (or --resume) a GAN", formatter_class=formatter)
    p.add_argument("--dataset", choices=DATASETS, default="mnist",
                   help="built-in data set, used when no --image_dir is given")
    p.add_argument("--data_dir", help="folder with the official IDX files (.gz or not) or an "
                                      ".npz with x_train; default: Keras's download")
    p.add_argument("--image_dir", help="train on every image under this folder instead")
    p.add_argument("--image_size", type=int, choices=IMAGE_SIZES,
                   help="image side in pixels (default: 28 for MNIST-like data sets, 64 for "
                        "--image_dir)")
    p.add_argument("--channels", type=int, choices=(1, 3), default=3,
                   help="--image_dir only: 1 grayscale, 3 RGB")
    p.add_argument("--preset", choices=PRESETS, default="default",
                   help="model and training sizes; flags below override single values")
    add_config_flags(p, CONFIG_FLAGS, PRESETS, choices={"model": MODELS})
    add_training_flags(p, default_out_dir="runs/dcgan", strategy=False)

    p = commands.add_parser("generate", help="a grid of generated images as a PNG",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("--num", type=positive_int, default=64, help="number of images")
    p.add_argument("--out", default="generated.png", help="PNG file to write")
    p.add_argument("--seed", type=int, default=0, help="noise seed; the same seed gives the "
                                                       "same images")
    p.add_argument("--scale", type=positive_int, default=2, help="enlarge the PNG this much")

    p = commands.add_parser("interpolate", help="a row of images between two latent points",
                            formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("--seed_a", type=int, default=1, help="noise seed of the first point")
    p.add_argument("--seed_b", type=int, default=2, help="noise seed of the last point")
    p.add_argument("--steps", type=positive_int, default=10, help="images in the row")
    p.add_argument("--out", default="interpolation.png", help="PNG file to write")
    p.add_argument("--scale", type=positive_int, default=2, help="enlarge the PNG this much")

    p = commands.add_parser("export", help="a SavedModel with generate(count, seed) -> uint8 "
                                           "images", formatter_class=formatter)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    add_export_flags(p)
    return parser


def config_for(args):
    """The preset (fc_gan's when --model fc_gan comes without --preset) plus flag overrides."""
    if args.model == "fc_gan" and args.preset == "default":
        args.preset = "fc_gan"
    return config_from_args(args, PRESETS)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_for(args)
        images, source = load_training_images(args)
        train(config, args.out_dir, images, source, seed=args.seed, resume=args.resume,
              verbose=args.verbose)
    elif args.command == "generate":
        images = generate_images(load_generator(args.run_dir), args.num, args.seed)
        save_png(make_grid(images), args.out, args.scale)
        print(f"wrote {args.out} ({args.num} images, seed {args.seed})")
    elif args.command == "interpolate":
        generator = load_generator(args.run_dir)
        noise = interpolation_noise(generator.input_shape[-1], args.seed_a, args.seed_b,
                                    args.steps)
        save_png(make_grid(images_from_noise(generator, noise), columns=args.steps), args.out,
                 args.scale)
        print(f"wrote {args.out} ({args.steps} images from seed {args.seed_a} to "
              f"{args.seed_b})")
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
        path = export(load_generator(args.run_dir), args.export_dir, args.overwrite)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"g = tf.saved_model.load('{path}').signatures['generate']; "
              f"print(g(count=tf.constant(4), seed=tf.constant(0))['images'].shape)\"")


if __name__ == "__main__":
    sys.exit(run_cli(main))
