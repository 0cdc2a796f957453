"""What `python -m gan.vae` does: train, evaluate, generate, interpolate, export.

The command line and docstring live in gan/vae.py. The VAE shares the
DCGAN's data flags, sample grids, progress GIF, FID/IS scorer and export
contract: its `generator` (z -> the decoder's mean in [-1, 1]) is read
exactly as a DCGAN's generator is.

No validation split is held out (the test split is never used to choose a
checkpoint), so `--checkpoint best` reads the epoch with the lowest training
loss (-ELBO), and `last` the last finished epoch.
"""

import math

from common import distributed, lifecycle
from common.batching import shuffled_batches
from common.cli import (UsageError, add_run_flags, add_training_flags,
                        command_parser)
from common.configs import add_config_flags, config_from_args
from common.mnist_data import CLASS_NAMES
from common.model_size import check_fits
from common.outputs import check_out_file
from common.runs import RunDir
from common.training import Progress
from gan.data import load_dataset, load_image_folder, resize_images
from gan.generative_flags import add_reading_verbs, add_training_data_flags
from gan.reading_verbs import run_reading_verb
from gan.grids import SampleGrid
from gan.latent_maps import LatentMaps
from gan.metrics import score_generator
from gan.sampling import export_generator, noise_for_seed
from gan.vae_model import (PRESETS, VAEConfig, build_vae, estimated_size, negative_elbo,
                           to_model_input)

KIND = "vae"
GRID_SIZE = 64  # images in each epoch's sample grid
CHECKPOINT_HELP = ("best: lowest training loss (-ELBO; no validation split is held out); "
                   "last: the last finished epoch")


def vae_batches(images, config, seed, first_epoch):
    """Endless batches of model inputs ({0, 1} or [0, 1]) from epoch first_epoch on."""
    return shuffled_batches(images, config.batch_size, seed, first_epoch,
                            transform=lambda x: to_model_input(x, config.likelihood))


def train(config, out_dir, images, source="images", seed=0, resume=False, verbose=1,
          strategy="default", labelled=None):
    """Trains (or resumes) a VAE on uint8 images (N, H, W, C); returns (model, state).

    The run directory gets a sample grid per epoch in samples/ (decoded prior
    samples), progress.gif, loss.png (-ELBO, reconstruction, KL), history.csv,
    TensorBoard logs and checkpoints. With a 2-D code it also gets manifold.png
    (decoded grid of z) and, when `labelled` = (uint8 images, labels, class
    names) is given, latent_codes.png (their codes mu, coloured by class).
    """
    if images.ndim != 4 or not len(images):
        raise UsageError(f"expected uint8 images (N, H, W, C); got shape {images.shape}")
    if len(images) < config.batch_size:
        raise UsageError(f"{len(images)} training images are fewer than one batch "
                         f"({config.batch_size}); add images or lower --batch_size")
    image_shape = [int(d) for d in images.shape[1:]]
    check_fits(estimated_size(config, image_shape),
               "--hidden_units, --num_layers, --latent_dim or --batch_size")
    with distributed.run_folder(out_dir, strategy, resume) as folder:
        return _train(config, folder, images, image_shape, source, seed, resume, verbose,
                      strategy, labelled)


def _train(config, folder, images, image_shape, source, seed, resume, verbose, strategy,
           labelled):
    """The lifecycle run, its sample grids and latent maps, in `folder` (distributed.RunFolder)."""
    out_dir = folder.path
    run_dir = RunDir(out_dir)
    grid_noise = noise_for_seed(GRID_SIZE, config.latent_dim, seed)

    def callbacks(state):
        found = [SampleGrid(run_dir.file("samples"), run_dir.file("progress.gif"), grid_noise)]
        if config.latent_dim == 2:
            found.append(LatentMaps(run_dir.file("manifold.png"),
                                    run_dir.file("latent_codes.png"), labelled))
        return found

    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={"image_shape": image_shape, "source": source},
        build_model=lambda: build_vae(config, image_shape, seed),
        train_data=lambda first_epoch: vae_batches(images, config, seed, first_epoch),
        steps_per_epoch=len(images) // config.batch_size,
        progress=Progress(config.batch_size, "images",
                          plot_keys=("loss", "reconstruction", "kl"),
                          plot_ylabel="nats per image"),
        callbacks=callbacks,
        describe=lambda model: (f"{len(images):,} training images "
                                f"{'x'.join(map(str, image_shape))}; encoder "
                                f"{model.encoder.count_params():,} and decoder "
                                f"{model.decoder.count_params():,} parameters"))
    return folder.train(job)


def load_vae(run_dir_path, checkpoint="best"):
    """The VAE of a run: its best (lowest training loss) or last finished epoch."""
    if checkpoint not in ("best", "last"):
        raise UsageError(f"--checkpoint {checkpoint!r}: choose best or last")
    return RunDir(run_dir_path).load_model(KIND, checkpoint)


def evaluate(run_dir_path, data, dataset, num=10_000, seed=0, checkpoint="best",
             classifier_path=None, classifier_epochs=3, verbose=0):
    """Test -ELBO (nats per image), FID-MNIST and inception score; writes results.json.

    `data` is (x_train, y_train, x_test, y_test) of `dataset`: the -ELBO is
    taken on the test images (binarized at 0.5 for a Bernoulli decoder), the
    scores of `num` images decoded from prior samples as `dcgan evaluate` does.
    """
    run_dir = RunDir(run_dir_path)
    run_dir.read_config(KIND)
    if classifier_path:
        check_out_file(classifier_path, "--classifier", read_runs=[run_dir.path],
                       existing="read")
    model = load_vae(run_dir_path, checkpoint)
    x_test = data[2]
    if x_test is None or len(x_test) == 0:
        raise UsageError("evaluate needs the test images (the IDX files t10k-*, or an .npz "
                         "with x_test)")
    size, _, channels = model.image_shape
    if x_test.shape[3] != channels:
        raise UsageError(f"this run models {channels}-channel images; {dataset} has "
                         f"{x_test.shape[3]}-channel ones")
    elbo = negative_elbo(model, resize_images(x_test, size))
    score = score_generator(model.generator, data, num, seed, classifier_path,
                            classifier_epochs, verbose)
    results = {**elbo, "likelihood": model.settings.likelihood,
               "test_images": f"{len(x_test):,} test images"
                              + (", binarized at 0.5" if model.settings.likelihood ==
                                 "bernoulli" else ", pixels / 255"),
               "fid": score["fid"], "inception_score": score["inception_score"],
               "class_counts": score["class_counts"], "num": num, "seed": seed,
               "checkpoint": checkpoint, "dataset": dataset, **score["reference"]}
    if not all(math.isfinite(results[k]) for k in ("negative_elbo", "fid", "inception_score")):
        raise UsageError(f"the results are not finite (-ELBO {results['negative_elbo']}, FID "
                         f"{results['fid']}); the model's output is unusable")
    path = lifecycle.write_results(run_dir.file("results.json"), results)
    print(f"test -ELBO {results['negative_elbo']:.2f} nats per image (reconstruction "
          f"{results['reconstruction']:.2f}, KL {results['kl']:.2f}); FID-{dataset} "
          f"{results['fid']:.2f}, inception score {results['inception_score']:.2f} "
          f"({num:,} images, seed {seed}); wrote {path}")
    return results


def export(model, export_dir, overwrite=False, run_dir=None, fmt="saved_model", config=None):
    """A SavedModel with generate(count, seed) and decode(z), or decode.tflite for LiteRT."""
    return export_generator(model.generator, KIND, export_dir, overwrite, run_dir, fmt, {
        "config": config or {}, "likelihood": model.settings.likelihood,
        "pixels": "uint8, the decoder's mean x 255 (0 black, 255 white)"})


def add_reading_flags(parser):
    add_run_flags(parser, checkpoint_help=CHECKPOINT_HELP)


def build_parser():
    parser = command_parser("gan.vae")

    p = parser.verb("train", help="train (or --resume) a VAE")
    add_training_data_flags(p, channels_default=1)
    add_config_flags(p, VAEConfig, PRESETS)
    add_training_flags(p, "runs/vae", PRESETS, "default")
    add_reading_verbs(parser, add_reading_flags,
                      evaluate_help="test -ELBO, FID-MNIST and inception score; results.json",
                      generate_help="a grid of images decoded from prior samples, as a PNG")
    return parser


def load_training_data(args):
    """(uint8 train images, source, labelled test images or None) from the train flags."""
    if args.image_dir:
        images = load_image_folder(args.image_dir, args.image_size or 64, args.channels,
                                   args.max_files)
        return images, f"folder {args.image_dir}", None
    x_train, _, x_test, y_test = load_dataset(args.dataset, args.data_dir, args.max_bytes,
                                              args.max_files)
    size = args.image_size or 28
    labelled = None
    if x_test is not None and y_test is not None:
        labelled = (resize_images(x_test, size), y_test, CLASS_NAMES[args.dataset])
    return resize_images(x_train, size), args.dataset, labelled


def next_steps(args):
    evaluate = ([] if args.image_dir else
                [("evaluate", f"{lifecycle.shell_flag('--data_dir', args.data_dir)} --num 10000")])
    return lifecycle.next_commands("gan.vae", args.out_dir, [
        *evaluate, ("generate", "--num 64 --out {name}.png --seed 1"),
        ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        images, source, labelled = load_training_data(args)
        train(config, args.out_dir, images, source, seed=args.seed, resume=args.resume,
              verbose=args.verbose, strategy=args.strategy, labelled=labelled)
        lifecycle.print_next_steps(args.out_dir, next_steps(args))
    else:
        run_reading_verb(
            args, KIND, lambda path, checkpoint: load_vae(path, checkpoint).generator, evaluate,
            export=lambda args, config: export(
                load_vae(args.run_dir, args.checkpoint), args.export_dir, args.overwrite,
                args.run_dir, args.format, config))
