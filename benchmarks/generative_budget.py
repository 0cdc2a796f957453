"""The VAE, the DCGAN and the course's fc_gan after the same training budget.

Issue 11's comparison: each model trains from scratch on MNIST until the
budget is spent (checked after every batch), then 10,000 samples from its
prior are scored with gan.metrics's classifier: inception score and
FID-MNIST against the test set. The VAE also gets its test -ELBO.

    python -m benchmarks.generative_budget --data_dir ../shared/data/mnist --minutes 5

`--clock wall` (the default) counts wall-clock seconds: the fair budget on an
idle machine. On a machine shared with other jobs the models would get
different shares of it, so `--clock cpu` counts the process's CPU seconds
divided by the cores TensorFlow uses (2 here): on an idle machine the two
clocks read about the same, under load the CPU clock gives every model the
same amount of computation.

The models are the commands' own (`gan.adversarial.build_dcgan`,
`gan.vae_model.build_vae`, their presets and data pipelines), trained with
`fit` outside a run directory: this measures the models, not the lifecycle.
"""

import argparse
import dataclasses
import os
import time

from common.cli import quiet_tensorflow
from common.provenance import REPO_ROOT

MODELS = ("vae", "dcgan", "fc_gan")
MANY_EPOCHS = 1000  # more than any budget here can use; the budget stops fit


def make_clock(kind):
    """A function returning seconds on the chosen clock."""
    if kind == "wall":
        return time.perf_counter
    cores = os.cpu_count() or 1
    return lambda: time.process_time() / cores


def budget_callback(seconds, clock):
    """A Keras callback that stops fit once `seconds` have passed on `clock`."""
    import keras

    class StopAfter(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = clock()
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if clock() - self.start >= seconds:
                self.model.stop_training = True  # Keras 3 checks it after each batch

    return StopAfter()


def build_and_data(name, images, seed):
    """(model, dataset, steps_per_epoch, batch_size, generator) for one model name."""
    from gan.adversarial import build_dcgan
    from gan.data import training_batches
    from gan.model import PRESETS as GAN_PRESETS
    from gan.vae_model import PRESETS as VAE_PRESETS
    from gan.vae_model import build_vae
    from gan.vae_verbs import vae_batches

    if name == "vae":
        config = dataclasses.replace(VAE_PRESETS["default"], epochs=MANY_EPOCHS)
        model = build_vae(config, images.shape[1:], seed)
        data = vae_batches(images, config, seed, 0)
        return model, data, len(images) // config.batch_size, config.batch_size, model.generator
    preset = "default" if name == "dcgan" else "fc_gan"
    config = dataclasses.replace(GAN_PRESETS[preset], epochs=MANY_EPOCHS)
    model = build_dcgan(config, images.shape[1], images.shape[3], seed)
    data = training_batches(images, config.batch_size, seed, 0)
    return model, data, len(images) // config.batch_size, config.batch_size, model.generator


def train_for(name, images, seconds, clock, seed, verbose):
    """Trains one model from scratch for the budget; returns (model, generator, facts)."""
    model, data, steps_per_epoch, batch_size, generator = build_and_data(name, images, seed)
    stop = budget_callback(seconds, clock)
    wall = time.perf_counter()
    model.fit(data, epochs=MANY_EPOCHS, steps_per_epoch=steps_per_epoch, callbacks=[stop],
              verbose=verbose)
    wall = time.perf_counter() - wall
    facts = {"steps": stop.steps, "epochs": stop.steps / steps_per_epoch,
             "wall_minutes": wall / 60, "images_per_second": stop.steps * batch_size / wall}
    return model, generator, facts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=os.path.join(REPO_ROOT, "..", "shared", "data",
                                                           "mnist"),
                        help="MNIST IDX files or .npz (default: ../shared/data/mnist)")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="training budget of every model, in minutes on --clock")
    parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                        help="wall: wall-clock time (idle machine); cpu: process CPU time "
                             "divided by the cores (a machine shared with other jobs)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS,
                        help="which models to train and score")
    parser.add_argument("--samples", type=int, default=10000, help="images scored per model")
    parser.add_argument("--classifier", default=os.path.join(REPO_ROOT, "runs",
                                                             "bench_generative",
                                                             "classifier.keras"),
                        help="scoring classifier, trained once and cached here")
    parser.add_argument("--seed", type=int, default=0, help="training seed of every model")
    parser.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2],
                        help="Keras fit verbosity")
    args = parser.parse_args()
    quiet_tensorflow()
    import keras

    from gan.data import load_dataset
    from gan.metrics import QualityScorer, classifier_for
    from gan.sampling import generate_images
    from gan.vae_model import negative_elbo

    x_train, y_train, x_test, y_test = load_dataset("mnist", args.data_dir)
    os.makedirs(os.path.dirname(args.classifier), exist_ok=True)
    classifier, accuracy = classifier_for(x_train, y_train, x_test, y_test, args.classifier,
                                          verbose=args.verbose)
    print(f"scoring classifier: test accuracy {accuracy:.4f}")
    scorer = QualityScorer(classifier, x_test)
    clock = make_clock(args.clock)
    rows = []
    for name in args.models:
        keras.utils.set_random_seed(args.seed)
        model, generator, facts = train_for(name, x_train, args.minutes * 60, clock,
                                            args.seed, args.verbose)
        score = scorer.score(generate_images(generator, args.samples, seed=12345))
        elbo = negative_elbo(model, x_test)["negative_elbo"] if name == "vae" else None
        rows.append((name, facts, score, elbo))
        print(f"{name}: {facts}, IS {score['inception_score']:.2f}, FID {score['fid']:.2f}, "
              f"digits {score['class_counts']}")

    print(f"\nbudget {args.minutes:g} minutes on the {args.clock} clock, "
          f"{args.samples:,} samples per model, seed {args.seed}\n")
    print("| model | epochs in the budget | wall minutes | images/s | test -ELBO | "
          "inception score | FID-MNIST |")
    print("|---|---|---|---|---|---|---|")
    for name, facts, score, elbo in rows:
        elbo_text = "–" if elbo is None else f"{elbo:.2f}"
        print(f"| {name} | {facts['epochs']:.1f} | {facts['wall_minutes']:.1f} | "
              f"{facts['images_per_second']:,.0f} | {elbo_text} | "
              f"{score['inception_score']:.2f} | {score['fid']:.2f} |")


if __name__ == "__main__":
    main()
