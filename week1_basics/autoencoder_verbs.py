"""What `python -m week1_basics.autoencoder` does: train, evaluate, export.

The command line and docstring live in week1_basics/autoencoder.py, which
imports this module only once TensorFlow has been imported quietly. Training
(one run, or the stacked autoencoder's stages) is week1_basics/autoencoder_training.py.
"""


import numpy as np

from common import distributed, holdout, lifecycle
from common.cli import (UsageError, add_run_flags, add_training_flags,
                        command_parser)
from common.configs import add_config_flags, config_from_args, config_to_dict, resumed_config
from common.export import check_export_dir, save_servable
from common.mnist_data import CLASS_NAMES, add_data_flags
from common.model_size import check_fits
from common.plots import new_figure, save_figure
from common.runs import RunDir, load_keras_file
from week1_basics import autoencoder_training as training
from week1_basics.autoencoder_models import (ARCH_DEFAULTS, PRESETS, STAGES,
                                             AutoencoderConfig, estimated_size, layers_of,
                                             stacked_reconstruction)
from week1_basics.autoencoder_servable import AutoencoderServable
from week1_basics.mnist_data import data_for_run, load_mnist

KIND = training.KIND
GRID_NAME = "reconstructions.png"


def check_config(config):
    """UsageError for settings that do not go together, or for a model too big to train here."""
    if config.arch == "stacked":
        if config.linear:
            raise UsageError("--linear is for --arch autoencoder; the stacked autoencoder's "
                             "encoders have activations")
        if config.hidden_units == 0:
            raise UsageError("--arch stacked needs --hidden_units of at least 1 (encoder 1)")
    elif config.labels is not None or not config.pretrain:
        raise UsageError("--labels and --no-pretrain are for --arch stacked; --arch "
                         "autoencoder trains on every image without labels")
    check_fits(estimated_size(config), "--hidden_units, --code_size or --batch_size")


def train(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """Trains (or resumes) the config's autoencoder; returns (model, report).

    The report is `evaluate` on the test images, once, at the end (None when
    the data has no test split).
    """
    check_config(config)
    trainer = training.train_stacked if config.arch == "stacked" else training.train_autoencoder
    model = trainer(config, out_dir, data, seed=seed, resume=resume, strategy=strategy,
                    verbose=verbose)
    if not distributed.writes_run(strategy):
        return model, None  # a worker of a cluster other than the chief: the chief reports
    if data.x_test is None:
        print(f"note: {data.source} has no test split; evaluate later with a --data_dir "
              "that has one")
        return model, None
    return model, evaluate(out_dir, data)


def read_run(run_dir_path):
    config = RunDir(run_dir_path).read_run_config(KIND, AutoencoderConfig)
    if config.labels is not None and not isinstance(config.labels, int):
        raise UsageError(f"{RunDir(run_dir_path).config_path}: labels {config.labels!r} is "
                         "not a whole number; the file was edited or is damaged")
    return config


def load_models(run_dir_path, checkpoint="best"):
    """(config, models) of a run. models: "model" (what the run trained), "reconstruct"
    (images -> reconstructions, None for a stacked run without pretraining),
    "encoder" (images -> the codes of "reconstruct"), "codes" (the trained model's codes)."""
    config = read_run(run_dir_path)
    model = load_keras_file(RunDir(run_dir_path).checkpoint_path(which=checkpoint))
    if config.arch == "autoencoder":
        return config, {"model": model, "reconstruct": model,
                        "codes": _submodel(model, "code")}
    found = {"model": model, "reconstruct": None, "encoder": None,
             "codes": _submodel(model, "encoder2")}
    if config.pretrain:
        # The pretrained stacked autoencoder: decoder1 from stage 1, the rest from stage 2
        # (fine-tuning changes the encoders, so their codes no longer fit the decoders).
        pretrained = [training.best_model(training.stage_dir(run_dir_path, stage))
                      for stage in ("pretrain1", "pretrain2")]
        found["reconstruct"], found["encoder"] = stacked_reconstruction(layers_of(*pretrained))
    return config, found


def _submodel(model, layer_name):
    import keras

    return keras.Model(model.input, model.get_layer(layer_name).output)


def reconstruction_mse(reconstruct, images):
    """Mean squared error per pixel (pixels in [0, 1]) of uint8 images [N, 28, 28, 1]."""
    output = reconstruct.predict(images.astype(np.float32), batch_size=1000, verbose=0)
    return float(np.mean((images.astype(np.float32) / 255 - output) ** 2)), output


def pca_mse(train_images, test_images, components):
    """PCA's test reconstruction MSE with `components` principal components (NumPy SVD)."""
    x = train_images.reshape(len(train_images), -1).astype(np.float64) / 255
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    basis = vt[:components]                                        # (components, 784)
    test = test_images.reshape(len(test_images), -1).astype(np.float64) / 255 - mean
    return float(np.mean((test - test @ basis.T @ basis) ** 2))


def write_grid(originals, reconstructions, path, columns=10):
    """A PNG: originals (top row) over their reconstructions (bottom row)."""
    n = min(columns, len(originals))
    figure, axes = new_figure(n * 0.8, 1.8)
    top = np.concatenate(list(originals[:n, ..., 0].astype(np.float32) / 255), axis=1)
    bottom = np.concatenate(list(np.clip(reconstructions[:n, ..., 0], 0, 1)), axis=1)
    axes.imshow(np.concatenate([top, bottom], axis=0), cmap="gray", vmin=0, vmax=1)
    axes.set_axis_off()
    axes.set_title("originals (top) and reconstructions", fontsize=8)
    save_figure(figure, path)
    return path


def evaluate(run_dir_path, data, checkpoint="best"):
    """Test reconstruction MSE (and accuracy of the stacked classifier); writes results.json
    and the grid PNG into the run directory, returns the results."""
    config, models = load_models(run_dir_path, checkpoint)
    if data.x_test is None:
        raise UsageError(f"{data.source} has no test split (t10k-images-idx3-ubyte[.gz] or "
                         "x_test in the .npz); pass a --data_dir that has one")
    run_dir = RunDir(run_dir_path)
    report = {"arch": config.arch, "checkpoint": checkpoint, "source": data.source,
              "test_images": int(len(data.x_test)), "test_mse": None}
    if models["reconstruct"] is not None:
        report["test_mse"], output = reconstruction_mse(models["reconstruct"], data.x_test)
        write_grid(data.x_test, output, run_dir.file(GRID_NAME))
    if config.arch == "stacked":
        logits = models["model"].predict(data.x_test.astype(np.float32), batch_size=1000,
                                         verbose=0)
        report.update(test_accuracy=float(np.mean(np.argmax(logits, axis=1) == data.y_test)),
                      labels=config.labels, pretrain=config.pretrain)
    if config.linear:
        x_train = holdout.split_validation(data.x_train, data.y_train, config.val_fraction)[0]
        report["pca_test_mse"] = pca_mse(x_train, data.x_test, config.code_size)
        report["mse_over_pca"] = report["test_mse"] / report["pca_test_mse"]
    path = lifecycle.write_results(run_dir.file("results.json"), report)
    shown = {key: report[key] for key in ("test_mse", "pca_test_mse", "test_accuracy")
             if report.get(key) is not None}
    print(", ".join(f"{key} {value:.4f}" for key, value in shown.items())
          + f" on {report['test_images']:,} test images; wrote {path}")
    return report


def export(run_dir, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel: uint8 [N, 28, 28, 1] -> reconstructions and codes (or probabilities)."""
    check_export_dir(export_dir, overwrite, run_dir)
    config, models = load_models(run_dir, checkpoint)
    if config.arch == "autoencoder":
        servable = AutoencoderServable(models["model"], models["codes"])
    else:
        servable = AutoencoderServable(models["reconstruct"], models["encoder"],
                                       models["model"], models["codes"])
    info = {"config": config_to_dict(config)}
    if config.arch == "stacked":
        dataset = RunDir(run_dir).read_config(KIND).get("dataset")
        info["class_names"] = CLASS_NAMES.get(dataset, CLASS_NAMES["mnist"])
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def build_parser():
    parser = command_parser("week1_basics.autoencoder")
    p = parser.verb("train", help="train (or --resume) an autoencoder",
                    description="--preset defaults to the one named after --arch "
                                "(autoencoder without either; linear with --linear)")
    add_training_flags(p, "runs/autoencoder", PRESETS, None)
    p.set_defaults(own_entries=training.STAGE_FOLDERS)
    add_config_flags(p, AutoencoderConfig, PRESETS)
    add_data_flags(p)

    p = parser.verb("evaluate", help="test reconstruction MSE (stacked: and test accuracy); "
                                     "results.json and reconstructions.png")
    add_run_flags(p)
    add_data_flags(p, dataset_default=None)

    parser.export_verb(help="SavedModel: uint8 [N, 28, 28, 1] -> reconstructions and codes "
                            "(stacked: probabilities and codes, and reconstruct)",
                       formats=("saved_model",))
    return parser


def resolve_config(args):
    """The preset named by --preset, else by --arch (linear with --linear), flags over it.

    --arch under a preset made for the other network (--preset linear --arch
    stacked) sizes it as its own preset does (models.ARCH_DEFAULTS); a resumed
    run keeps the sizes its config.json (or its first stage's) holds.
    """
    name = args.preset or ("linear" if args.linear and args.arch in (None, "autoencoder")
                           else args.arch) or "autoencoder"
    return config_from_args(args, PRESETS, name, ARCH_DEFAULTS, resumed_run(args))


def resumed_run(args):
    """The config of the run --resume continues: the run's, else its first stage's (stacked)."""
    folders = [(args.out_dir, KIND)] + [(training.stage_dir(args.out_dir, stage),
                                         training.STAGE_KIND) for stage in STAGES[:-1]]
    for folder, kind in folders:
        config = resumed_config(folder, args.resume, kind, AutoencoderConfig)
        if config is not None:
            return config
    return None


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = resolve_config(args)
        check_config(config)  # before the data is read
        data = load_mnist(args.dataset, args.data_dir, args.max_bytes, args.max_files)
        train(config, args.out_dir, data, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week1_basics.autoencoder", args.out_dir,
            [("evaluate", lifecycle.shell_flag("--data_dir", args.data_dir)),
             ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        read_run(args.run_dir)  # a wrong directory fails before the data is read
        evaluate(args.run_dir, data_for_run(args, args.run_dir, KIND), args.checkpoint)
    else:
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"exported {args.run_dir} to {path}")
