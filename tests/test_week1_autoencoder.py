"""week1_basics.autoencoder on a generated MNIST-like data set: the linear autoencoder
equals PCA, the stacked autoencoder's stages freeze the right layers, evaluate, export,
bad --labels."""

import dataclasses
import json
import os

import numpy as np
import pytest

from common.cli import run_cli
from tests.conftest import assert_one_line_error, call_cli
from tests.test_week1_mnist import digit_like, write_mnist_like
from week1_basics import autoencoder
from week1_basics.autoencoder_models import PRESETS

STACKED_LAYERS = ("encoder1", "decoder1", "encoder2", "decoder2", "classifier")


def run_ok(argv, capsys):
    assert run_cli(autoencoder.main, argv) is None
    return capsys.readouterr().out


def train_argv(data, run, *flags):
    return ["train", "--preset", "test", "--data_dir", str(data), "--out_dir", str(run),
            "--verbose", "0", *flags]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_mnist_like(tmp_path_factory.mktemp("data") / "mnist")


@pytest.fixture(scope="module")
def stacked(data_dir, tmp_path_factory):
    """The run directory of one `train --arch stacked --labels 40` through the CLI."""
    run = tmp_path_factory.mktemp("stacked") / "run"
    assert run_cli(autoencoder.main, train_argv(data_dir, run, "--arch", "stacked",
                                                "--labels", "40")) is None
    return str(run)


@pytest.fixture(scope="module")
def plain(data_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("plain") / "run"
    assert run_cli(autoencoder.main, train_argv(data_dir, run)) is None
    return str(run)


def stage_model(run, stage, which="best"):
    import keras

    folder = run if stage == "fine_tune" else os.path.join(run, stage)
    if which == "last":
        with open(os.path.join(folder, "state.json")) as f:
            path = os.path.join(folder, json.load(f)["checkpoint"])
    else:
        path = os.path.join(folder, "best.keras")
    return keras.saving.load_model(path)


def weights(model):
    return {layer.name: [w.numpy().copy() for w in layer.weights] for layer in model.layers
            if layer.name in STACKED_LAYERS}


def trainable(model):
    return {layer.name: layer.trainable for layer in model.layers
            if layer.name in STACKED_LAYERS}


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_linear_autoencoder_is_within_two_percent_of_pca(tmp_path):
    from week1_basics.autoencoder_verbs import train
    from week1_basics.mnist_data import Mnist

    (x_train, y_train), (x_test, y_test) = digit_like(400, 0), digit_like(100, 1)
    data = Mnist(x_train[..., None], y_train, x_test[..., None], y_test, [str(d) for d in
                                                                          range(10)],
                 "mnist", "generated")
    config = dataclasses.replace(PRESETS["linear"], code_size=6, batch_size=16, epochs=12,
                                 learning_rate=1e-2, val_fraction=0.0)
    _, report = train(config, str(tmp_path / "run"), data, verbose=0)
    # PCA by the test's own SVD: the best rank-6 reconstruction of the centred pixels.
    x = x_train.reshape(400, -1) / 255.0
    mean = x.mean(axis=0)
    basis = np.linalg.svd(x - mean, full_matrices=False)[2][:6]
    test = x_test.reshape(100, -1) / 255.0 - mean
    pca = np.mean((test - test @ basis.T @ basis) ** 2)
    assert report["pca_test_mse"] == pytest.approx(pca, rel=1e-6)
    assert report["test_mse"] <= 1.02 * pca, (report["test_mse"], pca)
    assert os.path.exists(tmp_path / "run" / "reconstructions.png")


def test_autoencoder_loss_falls_and_evaluate_writes_results(plain, capsys):
    with open(os.path.join(plain, "state.json")) as f:
        history = json.load(f)["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    os.remove(os.path.join(plain, "results.json"))
    out = run_ok(["evaluate", "--run_dir", plain], capsys)  # the data_dir saved in the run
    with open(os.path.join(plain, "results.json")) as f:
        results = json.load(f)
    assert "test_mse" in out and results["test_images"] == 60
    assert 0 < results["test_mse"] < 0.2 and "test_accuracy" not in results


def test_stacked_stages_freeze_and_unfreeze_the_right_layers(stacked):
    stage1 = stage_model(stacked, "pretrain1")
    stage2, stage2_last = stage_model(stacked, "pretrain2"), stage_model(stacked, "pretrain2",
                                                                         "last")
    stage3, stage3_last = stage_model(stacked, "classifier"), stage_model(stacked, "classifier",
                                                                          "last")
    final = stage_model(stacked, "fine_tune", "last")
    assert trainable(stage1) == {"encoder1": True, "decoder1": True}
    assert trainable(stage2) == {"encoder1": False, "encoder2": True, "decoder2": True}
    assert trainable(stage3) == {"encoder1": False, "encoder2": False, "classifier": True}
    assert trainable(final) == {"encoder1": True, "encoder2": True, "classifier": True}
    w1, w2, w2_last = weights(stage1), weights(stage2), weights(stage2_last)
    w3, w3_last, w4 = weights(stage3), weights(stage3_last), weights(final)
    # Stage 2 starts from stage 1's best encoder1 and never changes it ...
    assert same(w2["encoder1"], w1["encoder1"]) and same(w2_last["encoder1"], w1["encoder1"])
    # ... stage 3 keeps both encoders of stage 2's best and trains only the softmax ...
    for name in ("encoder1", "encoder2"):
        assert same(w3[name], w2[name]) and same(w3_last[name], w2[name])
    # ... and fine-tuning changes every layer it starts from (stage 3's best).
    for name in ("encoder1", "encoder2", "classifier"):
        assert not same(w4[name], w3[name]), name


def test_pretraining_stages_learn(stacked):
    for stage in ("pretrain1", "pretrain2"):
        with open(os.path.join(stacked, stage, "state.json")) as f:
            history = json.load(f)["history"]
        assert history[-1]["loss"] < history[0]["loss"], stage


def test_stacked_results_and_labels(stacked):
    with open(os.path.join(stacked, "results.json")) as f:
        results = json.load(f)
    assert 0 <= results["test_accuracy"] <= 1 and results["test_mse"] > 0
    assert results["labels"] == 40 and results["pretrain"] is True
    assert os.path.exists(os.path.join(stacked, "reconstructions.png"))


def test_no_pretrain_trains_only_the_network(data_dir, tmp_path, capsys):
    run = tmp_path / "scratch"
    run_ok(train_argv(data_dir, run, "--arch", "stacked", "--labels", "40", "--no-pretrain"),
           capsys)
    assert not any((run / stage).exists() for stage in ("pretrain1", "pretrain2",
                                                        "classifier"))
    with open(run / "results.json") as f:
        results = json.load(f)
    assert results["pretrain"] is False and results["test_mse"] is None
    assert trainable(stage_model(str(run), "fine_tune")) == {
        "encoder1": True, "encoder2": True, "classifier": True}


def test_resume_continues_the_stage_that_was_running(stacked, data_dir, tmp_path, capsys):
    import shutil

    from tests.conftest import snapshot

    # A run stopped after pretraining: the classifier stage and fine-tuning never began.
    run = tmp_path / "run"
    shutil.copytree(stacked, run)
    for name in os.listdir(run):  # all but the two pretraining stages' folders
        if name not in ("pretrain1", "pretrain2"):
            (shutil.rmtree if (run / name).is_dir() else os.remove)(run / name)
    def checkpoints(stage):  # the finished stage's weights (config.json gets provenance)
        return {k: v for k, v in snapshot(run / stage).items() if k.endswith(".keras")}

    pretrained = {stage: checkpoints(stage) for stage in ("pretrain1", "pretrain2")}
    argv = train_argv(data_dir, run, "--arch", "stacked", "--labels", "40")
    status, _, err = call_cli(autoencoder.main, argv, capsys)
    assert_one_line_error(status, err, "already holds a run; pass --resume")
    run_ok([*argv, "--resume"], capsys)
    assert {stage: checkpoints(stage) for stage in pretrained} == pretrained
    with open(run / "results.json") as f:
        assert json.load(f)["labels"] == 40
    status, _, err = call_cli(autoencoder.main, [*argv[:-2], "--labels", "41", "--resume"],
                              capsys)
    assert_one_line_error(status, err, "labels: 40 -> 41")
    status, _, err = call_cli(autoencoder.main, [*train_argv(data_dir, tmp_path / "none"),
                                                 "--arch", "stacked", "--resume"], capsys)
    assert_one_line_error(status, err, "holds no run of this stacked autoencoder")


def saved_outputs(export, signature, images):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(export))
    outputs = loaded.signatures[signature](images=tf.constant(images))
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy())
    return {key: value.numpy() for key, value in outputs.items()}, metadata


def test_export_gives_the_models_reconstructions(plain, tmp_path, capsys):
    images = digit_like(6, 4)[0][..., None]
    model = stage_model(plain, "fine_tune")
    expected = model.predict(images.astype(np.float32), verbose=0)
    run_ok(["export", "--run_dir", plain, "--export_dir", str(tmp_path / "e")], capsys)
    outputs, metadata = saved_outputs(tmp_path / "e", "serving_default", images)
    assert outputs["reconstructions"].dtype == np.uint8
    np.testing.assert_allclose(outputs["reconstructions"] / 255, np.clip(expected, 0, 1),
                               atol=0.5 / 255 + 1e-6)
    assert outputs["codes"].shape == (6, PRESETS["test"].code_size)
    assert metadata["kind"] == "autoencoder" and metadata["config"]["arch"] == "autoencoder"


def test_stacked_export_gives_probabilities_codes_and_reconstructions(stacked, tmp_path,
                                                                      capsys):
    images = digit_like(5, 4)[0][..., None]
    logits = stage_model(stacked, "fine_tune").predict(images.astype(np.float32), verbose=0)
    run_ok(["export", "--run_dir", stacked, "--export_dir", str(tmp_path / "e")], capsys)
    outputs, metadata = saved_outputs(tmp_path / "e", "serving_default", images)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(outputs["probabilities"], probabilities, atol=1e-5)
    reconstructed, _ = saved_outputs(tmp_path / "e", "reconstruct", images)
    assert reconstructed["reconstructions"].shape == (5, 28, 28, 1)
    assert metadata["class_names"] == [str(d) for d in range(10)]


@pytest.mark.parametrize("labels, fragment", [
    ("0", "argument --labels: must be in 1.."), ("-3", "argument --labels: must be in 1.."),
    ("241", "--labels 241: there are 240 training images"),
])
def test_bad_labels_is_one_error_line(data_dir, tmp_path, capsys, labels, fragment):
    run = tmp_path / "run"
    status, _, err = call_cli(autoencoder.main, train_argv(data_dir, run, "--arch", "stacked",
                                                           "--labels", labels), capsys)
    assert_one_line_error(status, err, fragment)
    assert fragment in err and not run.exists()


def test_labels_are_for_the_stacked_autoencoder(data_dir, tmp_path, capsys):
    status, _, err = call_cli(autoencoder.main, train_argv(data_dir, tmp_path / "r", "--labels",
                                                           "10"), capsys)
    assert_one_line_error(status, err, "--labels and --no-pretrain are for --arch stacked")


def test_importing_the_command_loads_no_tensorflow():
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    code = ("import sys, week1_basics.autoencoder; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]


@pytest.mark.slow
def test_linear_autoencoder_equals_pca_on_real_mnist(tmp_path, capsys):
    from tests.conftest import shared_data

    run_ok(["train", "--linear", "--data_dir", shared_data("mnist"), "--out_dir",
            str(tmp_path / "run"), "--verbose", "0"], capsys)
    with open(tmp_path / "run" / "results.json") as f:
        assert json.load(f)["mse_over_pca"] <= 1.02  # measured: 0.99999 (80 s)
