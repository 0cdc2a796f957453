"""What `python -m gan.dcgan` does: train, evaluate, generate, interpolate, export.

The command line and docstring live in gan/dcgan.py, which imports this
module only once TensorFlow has been imported quietly.

A GAN has no validation loss, so no epoch can be called "best" on held-out
data: `--checkpoint best` and `--checkpoint last` both read the last finished
epoch (the flag is there so that every command reads runs the same way).
"""

import math

from common import distributed, lifecycle
from common.cli import (UsageError, add_run_flags,
                        add_training_flags, command_parser, deprecated)
from common.configs import add_config_flags, config_from_args, upgrade_keys
from common.model_size import check_fits
from common.outputs import check_out_file
from common.runs import RunDir
from common.training import Progress
from gan.adversarial import build_dcgan
from gan.data import (load_dataset, load_image_folder, resize_images,
                      training_batches)
from gan.generative_flags import add_reading_verbs, add_training_data_flags
from gan.reading_verbs import run_reading_verb
from gan.grids import SampleGrid
from gan.losses import LOSSES
from gan.metrics import score_generator
from gan.model import ARCHS, IMAGE_SIZES, PRESETS, RENAMED, GANConfig, estimated_size
from gan.sampling import export_generator, noise_for_seed

KIND = "dcgan"
GRID_SIZE = 64  # images in each epoch's sample grid


def train(config, out_dir, images, source="images", seed=0, resume=False, verbose=1,
          strategy="default"):
    """Trains (or resumes) a GAN on uint8 images (N, size, size, channels).

    Returns (model, state). The run directory gets a sample grid per epoch in
    samples/, loss.png (D and G losses), history.csv, TensorBoard logs, a
    checkpoint of both networks and both optimizers, and progress.gif at the end.
    """
    square = images.ndim == 4 and images.shape[1] == images.shape[2]
    if not square or images.shape[1] not in IMAGE_SIZES:
        raise UsageError(f"images must be square, {IMAGE_SIZES} pixels; got {images.shape[1:]}")
    _, size, _, channels = images.shape
    check_fits(estimated_size(config, size, channels),
               "--generator_filters, --discriminator_filters, --hidden_units, --latent_dim or "
               "--batch_size")
    # Checked before the run directory is touched: too few images is a usage error.
    training_batches(images, config.batch_size, seed, 0)
    run_dir = RunDir(out_dir)
    grid_noise = noise_for_seed(GRID_SIZE, config.latent_dim, seed)
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, renamed=RENAMED,
        settings={"image_size": int(size), "channels": int(channels), "source": source},
        build_model=lambda: build_dcgan(config, size, channels, seed),
        train_data=lambda first_epoch: training_batches(images, config.batch_size, seed,
                                                        first_epoch),
        steps_per_epoch=len(images) // config.batch_size,
        progress=Progress(config.batch_size, "images", plot_keys=("d_loss", "g_loss"),
                          plot_ylabel=LOSSES[config.loss].ylabel,
                          loss_keys=("d_loss", "g_loss")),
        # Only the process that writes the run draws its grids (the other workers of
        # a cluster would write them into their own --out_dir).
        callbacks=lambda state: ([SampleGrid(run_dir.file("samples"),
                                             run_dir.file("progress.gif"), grid_noise)]
                                 if distributed.writes_run(strategy) else []),
        describe=lambda model: (f"{len(images):,} training images {size}x{size}x{channels}; "
                                f"G {model.generator.count_params():,} and D "
                                f"{model.discriminator.count_params():,} parameters; "
                                + describe_loss(config)))
    return lifecycle.train(job)


def describe_loss(config):
    """The loss, for the line train prints once at the start."""
    text = f"loss {config.loss}"
    if LOSSES[config.loss].layer_norm_critic:
        text += (": the critic uses layer normalization instead of batch norm (the gradient "
                 "penalty is per image)" if config.arch == "dcgan" else
                 ": the fc_gan critic has no batch norm (the gradient penalty is per image)")
    return text


def load_generator(run_dir_path, checkpoint="best"):
    """The generator of a run's last finished epoch (best == last for a GAN; see above)."""
    if checkpoint not in ("best", "last"):
        raise UsageError(f"--checkpoint {checkpoint!r}: choose best or last")
    return RunDir(run_dir_path).load_model(KIND, "last").generator


def load_training_images(args):
    """uint8 (N, size, size, channels) and a source label, from the train flags."""
    if args.image_dir:
        size = args.image_size or 64
        return (load_image_folder(args.image_dir, size, args.channels, args.max_files),
                f"folder {args.image_dir}")
    images = load_dataset(args.dataset, args.data_dir, args.max_bytes, args.max_files)[0]
    return resize_images(images, args.image_size or 28), args.dataset


def evaluate(run_dir_path, data, dataset, num=10_000, seed=0, checkpoint="best",
             classifier_path=None, classifier_epochs=3, verbose=0):
    """FID-MNIST and the classifier inception score of `num` generated images.

    `data` is (x_train, y_train, x_test, y_test) of `dataset`: the scoring
    classifier learns the training split; the Fréchet distance is measured
    against the test split. Writes results.json into the run directory.
    """
    run_dir = RunDir(run_dir_path)
    run_dir.read_config(KIND)
    if classifier_path:
        check_out_file(classifier_path, "--classifier", read_runs=[run_dir.path],
                       existing="read")
    generator = load_generator(run_dir_path, checkpoint)
    score = score_generator(generator, data, num, seed, classifier_path, classifier_epochs,
                            verbose)
    results = {"fid": score["fid"], "inception_score": score["inception_score"],
               "class_counts": score["class_counts"], "num": num, "seed": seed,
               "checkpoint": "last", "dataset": dataset, **score["reference"]}
    if not all(math.isfinite(results[k]) for k in ("fid", "inception_score")):
        raise UsageError(f"the scores are not finite ({results['fid']}, "
                         f"{results['inception_score']}); the generator's output is unusable")
    path = lifecycle.write_results(run_dir.file("results.json"), results)
    print(f"FID-{dataset} {results['fid']:.2f}, inception score "
          f"{results['inception_score']:.2f} ({num:,} images, seed {seed}); wrote {path}")
    return results


def export(generator, export_dir, overwrite=False, run_dir=None, fmt="saved_model",
           config=None):
    """A SavedModel with generate(count, seed) and decode(z), or decode.tflite for LiteRT."""
    return export_generator(generator, KIND, export_dir, overwrite, run_dir, fmt,
                            {"config": config or {}, "pixels": "uint8, 0 (black) to 255"})


def add_reading_flags(parser):
    """--run_dir and --checkpoint, spelled as in every command, with what they mean here."""
    add_run_flags(parser, checkpoint=False)
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="a GAN has no validation loss to choose a best epoch by, so "
                             "best and last both read the last finished epoch")


def build_parser():
    parser = command_parser("gan.dcgan")

    p = parser.verb("train", help="train (or --resume) a GAN")
    add_training_data_flags(p, channels_default=3)
    add_config_flags(p, GANConfig, PRESETS)
    p.add_argument("--model", choices=ARCHS,
                   help="deprecated spelling of --arch; fc_gan without --preset also takes "
                        "the fc_gan preset, as it always did")
    add_training_flags(p, "runs/dcgan", PRESETS, "default")
    add_reading_verbs(parser, add_reading_flags,
                      evaluate_help="FID-MNIST and inception score of generated images; "
                                    "results.json",
                      generate_help="a grid of generated images as a PNG")
    return parser


def config_for(args):
    """The preset (fc_gan's when the old --model fc_gan comes without --preset) plus flags."""
    if getattr(args, "model", None):
        deprecated("--model", "--arch (with --preset fc_gan for the course's settings)")
        if args.arch and args.arch != args.model:
            raise UsageError(f"--model {args.model} and --arch {args.arch} disagree; "
                             "pass only --arch")
        if args.model == "fc_gan" and args.preset == "default":
            args.preset = "fc_gan"
        args.arch = args.model
    return config_from_args(args, PRESETS)


def next_steps(args):
    evaluate = ([] if args.image_dir else
                [("evaluate", f"{lifecycle.shell_flag('--data_dir', args.data_dir)} --num 10000")])
    return lifecycle.next_commands("gan.dcgan", args.out_dir, [
        *evaluate, ("generate", "--num 64 --out {name}.png --seed 1"),
        ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_for(args)
        images, source = load_training_images(args)
        train(config, args.out_dir, images, source, seed=args.seed, resume=args.resume,
              verbose=args.verbose, strategy=args.strategy)
        lifecycle.print_next_steps(args.out_dir, next_steps(args))
    else:
        run_reading_verb(
            args, KIND, load_generator, evaluate,
            export=lambda args, config: export(
                load_generator(args.run_dir, args.checkpoint), args.export_dir,
                args.overwrite, args.run_dir, args.format, config),
            read_config=lambda path: upgrade_keys(RunDir(path).read_config(KIND), RENAMED))
