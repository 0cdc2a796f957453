"""The command-line grammar the generative commands share (gan.dcgan, gan.vae).

Both train on the same data (MNIST-like data sets or a folder of images) and
both read a run the same way: evaluate (FID-MNIST, inception score), generate
a PNG grid, interpolate between two noise seeds, export generate/decode. Only
the help texts and the meaning of --checkpoint differ, so they are arguments.
"""

from common.argtypes import count, input_path, seed_int
from common.cli import add_export_flags
from common.mnist_data import add_data_flags
from gan.arithmetic import MAX_GROUP, confidence, latent_member
from gan.model import IMAGE_SIZES

MAX_NUM = 1_024  # images in one generated grid
MAX_SCALE = 4  # PNG enlargement (1,024 64x64 images at 4x: 8,456 pixels square)
MAX_STEPS = 100  # images in one interpolation row
MAX_EVALUATE_NUM = 50_000  # generated images scored by evaluate
MAX_CLASS_SAMPLES = 50_000  # latent points classified for a class:K mean


def add_training_data_flags(parser, channels_default):
    """The data flags of `train`: a data set, or --image_dir with its size and channels."""
    add_data_flags(parser, dataset_help="built-in data set, used when no --image_dir is given")
    parser.add_argument("--image_dir", type=input_path,
                        help="train on every image under this folder instead")
    parser.add_argument("--image_size", type=int, choices=IMAGE_SIZES,
                        help="image side in pixels (default: 28 for MNIST-like data sets, 64 "
                             "for --image_dir)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=channels_default,
                        help="--image_dir only: 1 grayscale, 3 RGB")


def add_out_flags(parser, default):
    parser.add_argument("--out", default=default,
                        help="PNG file to write (an existing file only if this project wrote it)")
    parser.add_argument("--scale", type=count(MAX_SCALE), default=2,
                        help="enlarge the PNG this much")


def add_reading_verbs(parser, add_reading_flags, evaluate_help, generate_help):
    """evaluate, generate, interpolate and export, each with `add_reading_flags`."""
    p = parser.verb("evaluate", help=evaluate_help)
    add_reading_flags(p)
    add_data_flags(p, dataset_default=None)
    p.add_argument("--num", type=count(MAX_EVALUATE_NUM), default=10_000,
                   help="generated images to score (at least 2)")
    p.add_argument("--seed", type=seed_int, default=0, help="noise seed of the scored images")
    p.add_argument("--classifier", type=input_path,
                   help="a .keras scoring classifier: read if it exists, else "
                        "trained and saved there (default: trained each time)")
    p.add_argument("--classifier_epochs", type=count(100), default=3,
                   help="epochs to train the scoring classifier on the training split")

    p = parser.verb("generate", help=generate_help)
    add_reading_flags(p)
    p.add_argument("--num", type=count(MAX_NUM), default=64, help="number of images")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="noise seed; the same seed gives the same images")
    add_out_flags(p, "generated.png")

    p = parser.verb("interpolate", help="a row of images between two latent points")
    add_reading_flags(p)
    p.add_argument("--seed_a", type=seed_int, default=1, help="noise seed of the first point")
    p.add_argument("--seed_b", type=seed_int, default=2, help="noise seed of the last point")
    p.add_argument("--steps", type=count(MAX_STEPS), default=10, help="images in the row")
    add_out_flags(p, "interpolation.png")

    add_arithmetic_verb(parser, add_reading_flags)

    p = parser.verb("export", help="a SavedModel with generate(count, seed) and decode(z) -> "
                                   "uint8 images (litert: decode.tflite)")
    add_reading_flags(p)
    add_export_flags(p)


def add_arithmetic_verb(parser, add_reading_flags):
    """`arithmetic`: decode mean(a) - mean(b) + mean(c) (gan.arithmetic)."""
    p = parser.verb("arithmetic", help="latent vector arithmetic: the image of mean(a) - "
                                       "mean(b) + mean(c), with each group's images, as a PNG")
    add_reading_flags(p)
    for name, role in (("a", "the starting point"), ("b", "subtracted"), ("c", "added")):
        p.add_argument(f"--{name}", nargs="+", required=True, type=latent_member,
                       metavar="SEED", help=f"group {name} ({role}): noise seeds (up to "
                                            f"{MAX_GROUP}), or one class:K (needs --data_dir)")
    add_out_flags(p, "arithmetic.png")
    add_data_flags(p, dataset_default=None)
    p.add_argument("--class_samples", type=count(MAX_CLASS_SAMPLES), default=2_000,
                   help="class:K: latent points drawn (with --seed) and classified")
    p.add_argument("--confidence", type=confidence, default=0.9,
                   help="class:K: keep the points whose image is class K with at least this "
                        "probability")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="class:K: noise seed of the --class_samples points")
    p.add_argument("--classifier", type=input_path,
                   help="class:K: a .keras scoring classifier, read if it exists, else trained "
                        "and saved there (default: trained each time)")
    p.add_argument("--classifier_epochs", type=count(100), default=3,
                   help="class:K: epochs to train the scoring classifier")
