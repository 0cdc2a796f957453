"""DCGAN against the course's fully connected GAN on MNIST: inception score and FID-MNIST.

Trains both with `gan.dcgan.train` for the same number of epochs (resuming
runs already in --out_dir, so an interrupted benchmark continues), draws
--samples images from each, and scores them with gan.metrics's classifier
(trained once on the real training set and cached in --out_dir). The
reference set for every Fréchet distance is the real test set.

    python -m benchmarks.dcgan --data_dir ../shared/data/mnist     # ~45 min on 2 cores
    python -m benchmarks.dcgan --data_dir ../shared/data/mnist --models dcgan \
        --losses minimax non_saturating lsgan wgan_gp hinge --epochs 10   # one row per loss

Rows: real test images (the ceiling of the inception score), 10,000 real
training images against the test set (the floor of the distance), and one
row per GAN and --loss (gan.losses), all trained with seed 0 and scored on
the same noise seed. Targets (issue 6): DCGAN inception score >= 9.0 and
FID at most half the fc_gan's.
"""

import argparse
import dataclasses
import os

from common.cli import quiet_tensorflow
from common.provenance import REPO_ROOT

# gan.losses imports TensorFlow; its names are spelled here for --help.
LOSS_NAMES = ("minimax", "non_saturating", "lsgan", "wgan_gp", "hinge")


def run_name(model, preset, loss):
    """The run's folder name; the paper's loss keeps the names runs had before --loss."""
    name = model if preset in ("default", "fc_gan") else f"{model}-{preset}"
    return name if loss == "non_saturating" else f"{name}-{loss}"


def train_or_resume(name, config, out_dir, images, verbose):
    """A finished (or resumed to the end) run of `config`; returns (generator, minutes)."""
    import numpy as np

    from common.runs import RunDir
    from gan import dcgan_verbs

    run_dir = os.path.join(out_dir, f"{name}-{config.epochs}epochs")
    resume = RunDir(run_dir).has_run()
    model, state = dcgan_verbs.train(config, run_dir, images, "mnist", seed=0, resume=resume,
                                     verbose=verbose)
    seconds = [row["seconds"] for row in state["history"]]
    print(f"{name}: {len(seconds)} epochs, median {np.median(seconds):.0f} s/epoch, "
          f"fastest {min(seconds):.0f} s")
    return model.generator, sum(seconds) / 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=os.path.join(REPO_ROOT, "..", "shared", "data",
                                                           "mnist"),
                        help="MNIST IDX files or .npz (default: ../shared/data/mnist)")
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_dcgan"),
                        help="where the runs and the cached classifier are kept")
    parser.add_argument("--epochs", type=int, default=20, help="epochs for both GANs")
    parser.add_argument("--samples", type=int, default=10000, help="images scored per GAN")
    parser.add_argument("--preset", default="default", choices=["default", "paper"],
                        help="the DCGAN's preset (gan.model.PRESETS); fc_gan has its own")
    parser.add_argument("--models", nargs="+", default=["dcgan", "fc_gan"],
                        choices=["dcgan", "fc_gan"], help="which GANs to train and score")
    parser.add_argument("--losses", nargs="+", default=["non_saturating"],
                        choices=LOSS_NAMES, help="train and score each GAN with each of "
                                                 "these adversarial losses")
    parser.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2],
                        help="Keras fit verbosity")
    args = parser.parse_args()
    quiet_tensorflow()
    import numpy as np

    from gan.data import load_dataset
    from gan.metrics import QualityScorer, classifier_for
    from gan.model import PRESETS
    from gan.sampling import generate_images

    x_train, y_train, x_test, y_test = load_dataset("mnist", args.data_dir)
    os.makedirs(args.out_dir, exist_ok=True)
    classifier, accuracy = classifier_for(x_train, y_train, x_test, y_test,
                                          os.path.join(args.out_dir, "classifier.keras"),
                                          verbose=args.verbose)
    print(f"scoring classifier: test accuracy {accuracy:.4f}")
    scorer = QualityScorer(classifier, x_test)
    subset = np.random.default_rng(0).choice(len(x_train), len(x_test), replace=False)
    rows = [("real test images (ceiling)", scorer.score(x_test), None),
            ("10,000 real training images vs test (floor)", scorer.score(x_train[subset]), None)]
    fids = {}
    for name in args.models:
        for loss in args.losses:
            preset = args.preset if name == "dcgan" else "fc_gan"
            config = dataclasses.replace(PRESETS[preset], epochs=args.epochs, loss=loss)
            generator, minutes = train_or_resume(run_name(name, preset, loss), config,
                                                 args.out_dir, x_train, args.verbose)
            score = scorer.score(generate_images(generator, args.samples, seed=12345))
            rows.append((f"{name} ({preset}), loss {loss}, {args.epochs} epochs, "
                         f"{args.samples:,} samples", score, minutes))
            fids[name, loss] = score["fid"]
            print(f"{name} {loss} samples per predicted digit 0-9: {score['class_counts']}")

    print("\n| images | inception score | FID-MNIST (vs test) | training minutes |")
    print("|---|---|---|---|")
    for label, score, minutes in rows:
        time = "" if minutes is None else f"{minutes:.1f}"
        print(f"| {label} | {score['inception_score']:.2f} | {score['fid']:.2f} | {time} |")
    paper = ("dcgan", "non_saturating"), ("fc_gan", "non_saturating")
    if all(key in fids for key in paper):
        print(f"\nDCGAN FID / fc_gan FID = {fids[paper[0]] / fids[paper[1]]:.3f} "
              "(target <= 0.5)")


if __name__ == "__main__":
    main()
