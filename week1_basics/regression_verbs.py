"""What `python -m week1_basics.regression` does: train, evaluate, export.

The command line and docstring live in week1_basics/regression.py, which
imports this module only once TensorFlow has been imported quietly.

The toy data is generated from the run's --seed, so `evaluate` rebuilds
exactly the points the model was trained on and compares the learned weights
with the exact minimiser of the same loss.
"""


import numpy as np
import tensorflow as tf

from common import distributed, lifecycle
from common.cli import (UsageError, add_run_flags, add_training_flags,
                        command_parser)
from common.configs import add_config_flags, config_from_args, config_to_dict
from common.export import check_export_dir, save_servable
from common.plots import new_figure, save_figure
from common.runs import RunDir, load_keras_file
from common.training import Progress
from week1_basics.regression_model import (CLASS_NAMES, PRESETS, TRUE_LINE, RegressionConfig,
                                           build_model, closed_form, input_dims, loss_of,
                                           make_data, weights_of)

KIND = "regression"
PLOT_NAME = "fit.png"


def train(config, out_dir, seed=0, resume=False, strategy="default", verbose=1):
    """Gradient descent on the toy data of `seed`; returns (model, results of evaluate)."""
    x, y = make_data(config, seed)
    try:
        closed_form(config, x, y)  # a problem with no finite minimum fails before any file
    except ValueError as error:
        raise UsageError(str(error)) from None
    full_batch = tf.data.Dataset.from_tensors((x, y)).repeat()  # every step sees all points
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, build_model=lambda: build_model(config),
        train_data=lambda first_epoch: full_batch, steps_per_epoch=config.steps_per_epoch,
        progress=Progress(config.num_points, "points"),
        describe=lambda model: (f"{config.arch}: {config.num_points} points (seed {seed}), "
                                f"{model.count_params()} parameters"))
    model, _ = lifecycle.train(job)
    if not distributed.writes_run(strategy):
        return model, None  # a worker of a cluster other than the chief: the chief reports
    return model, evaluate(out_dir)


def read_run(run_dir_path):
    """(config, seed) of a regression run, checked."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, RegressionConfig)
    seed = run_dir.read_config(KIND).get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"{run_dir.config_path}: seed {seed!r} is not a seed; the file was "
                         "edited or is damaged")
    return config, seed


def load_run(run_dir_path, checkpoint="best"):
    """(model, config, seed) of a trained run."""
    config, seed = read_run(run_dir_path)
    run_dir = RunDir(run_dir_path)
    return load_keras_file(run_dir.checkpoint_path(which=checkpoint)), config, seed


def compare(config, model, x, y):
    """The learned weights beside the closed form's, with both losses."""
    w, b = weights_of(model)
    exact_w, exact_b = closed_form(config, x, y)
    results = {
        "arch": config.arch, "num_points": int(len(x)),
        "learned": {"weights": w.tolist(), "bias": b},
        "closed_form": {"weights": exact_w.tolist(), "bias": exact_b,
                        "method": ("numpy.linalg.lstsq" if config.arch == "least_squares"
                                   else "Newton's method (IRLS)")},
        "max_abs_difference": float(np.max(np.abs(np.append(w - exact_w, b - exact_b)))),
        "loss": loss_of(config, w, b, x, y),
        "closed_form_loss": loss_of(config, exact_w, exact_b, x, y),
    }
    if config.arch == "logistic":
        predicted = (x @ w + b > 0).astype(np.float32)
        results["accuracy"] = float(np.mean(predicted == y[:, 0]))
    return results


def evaluate(run_dir_path, checkpoint="best"):
    """results.json and fit.png in the run directory; returns the results."""
    model, config, seed = load_run(run_dir_path, checkpoint)
    x, y = make_data(config, seed)
    results = {**compare(config, model, x, y), "seed": seed, "checkpoint": checkpoint}
    run_dir = RunDir(run_dir_path)
    plot_fit(config, x, y, results, run_dir.file(PLOT_NAME))
    path = lifecycle.write_results(run_dir.file("results.json"), results)
    print(f"{config.arch}: learned w {np.round(results['learned']['weights'], 4).tolist()} "
          f"b {results['learned']['bias']:.4f}; closed form w "
          f"{np.round(results['closed_form']['weights'], 4).tolist()} b "
          f"{results['closed_form']['bias']:.4f}; largest difference "
          f"{results['max_abs_difference']:.2e}; wrote {path} and {PLOT_NAME}")
    return results


def plot_fit(config, x, y, results, path):
    """The points with the learned line (or decision boundary) and the closed form's."""
    fig, ax = new_figure(5.5, 4.5)
    lines = [("learned (gradient descent)", results["learned"], "-"),
             (results["closed_form"]["method"], results["closed_form"], "--")]
    if config.arch == "least_squares":
        ax.scatter(x[:, 0], y[:, 0], s=12, alpha=0.6, label="data")
        grid = np.linspace(x.min(), x.max(), 2)
        for label, fit, style in lines:
            ax.plot(grid, fit["weights"][0] * grid + fit["bias"], style, label=label)
        ax.plot(grid, TRUE_LINE[0] * grid + TRUE_LINE[1], ":", color="gray",
                label=f"true line y = {TRUE_LINE[0]:g} x + {TRUE_LINE[1]:g}")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    else:
        for label in (0, 1):
            member = y[:, 0] == label
            ax.scatter(x[member, 0], x[member, 1], s=12, alpha=0.6, label=f"class {label}")
        grid = np.linspace(x[:, 0].min(), x[:, 0].max(), 2)
        for label, fit, style in lines:  # w1 x1 + w2 x2 + b = 0, where p = 0.5
            w1, w2 = fit["weights"]
            if abs(w2) > 1e-12:
                ax.plot(grid, -(w1 * grid + fit["bias"]) / w2, style, label=label)
        ax.set_ylim(x[:, 1].min() - 0.5, x[:, 1].max() + 0.5)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    ax.set_title(f"{config.arch}: largest weight difference "
                 f"{results['max_abs_difference']:.1e}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


class RegressionServable(tf.Module):
    """float32 x [N, dims] -> least_squares {"y": [N, 1]}; logistic {"probabilities": [N, 2]}."""

    def __init__(self, model, config):
        super().__init__()
        self.model = model
        self.logistic = config.arch == "logistic"
        spec = tf.TensorSpec([None, input_dims(config)], tf.float32, name="x")
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, x):
        out = self.model(x, training=False)                         # (N, 1)
        if not self.logistic:
            return {"y": out}
        p = tf.sigmoid(out)
        return {"probabilities": tf.concat([1.0 - p, p], axis=1)}  # (N, 2): classes 0, 1


def export(run_dir, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel whose serving_default computes the fitted model."""
    check_export_dir(export_dir, overwrite, run_dir)
    model, config, _ = load_run(run_dir, checkpoint)
    servable = RegressionServable(model, config)
    info = {"config": config_to_dict(config)}
    if servable.logistic:
        info["class_names"] = CLASS_NAMES
    return save_servable(servable, export_dir, {"serving_default": servable.serve}, overwrite,
                         run_dir, KIND, info)


def build_parser():
    parser = command_parser("week1_basics.regression")

    p = parser.verb("train", help="gradient descent on a toy problem (or --resume)",
                    description="--preset defaults to the one named after --arch "
                                "(least_squares without either)")
    add_training_flags(p, "runs/regression", PRESETS, None)
    add_config_flags(p, RegressionConfig, PRESETS)

    p = parser.verb("evaluate", help=f"compare with the closed form: results.json, {PLOT_NAME}")
    add_run_flags(p, checkpoint_help="best: lowest training loss (there is no validation "
                                     "data); last: the last finished epoch")

    parser.export_verb(help="SavedModel: float32 x -> y or probabilities",
                       formats=("saved_model",))
    return parser


def resolve_config(args):
    """The preset named by --preset, else by --arch, else least_squares; flags laid over it."""
    return config_from_args(args, PRESETS, args.preset or args.arch or "least_squares")


def next_steps(out_dir):
    return lifecycle.next_commands("week1_basics.regression", out_dir, [
        ("evaluate", ""), ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        train(resolve_config(args), args.out_dir, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir))
    elif args.command == "evaluate":
        evaluate(args.run_dir, args.checkpoint)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; serving_default: float32 x [N, dims] -> y [N, 1] "
              "(least_squares) or probabilities [N, 2] (logistic)")
