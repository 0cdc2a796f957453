"""week1_basics.mnist on a generated MNIST-like data set: every model learns, the optimizers
follow the lecture's update rules, evaluate/predict/export, round trips, bad input."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common.cli import run_cli
from tests.conftest import (REPO_ROOT, assert_one_line_error, call_cli, run_on_two_cpus,
                            run_python, shared_data)
from tests.test_dcgan_verbs import write_idx
from week1_basics import mnist
from week1_basics.mnist_models import PRESETS, build_model, compile_model, make_optimizer


def digit_like(count, seed):
    """uint8 (count, 28, 28) images and labels: class k is a bright bar at one of 10 places."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.integers(0, 60, (count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, column = divmod(int(label), 5)
        top, left = 4 + 10 * row + rng.integers(-1, 2), 1 + 5 * column + rng.integers(0, 2)
        image[top:top + 8, left:left + 4] = 255
    return images, labels


def write_mnist_like(folder, train=300, test=60, npz=False):
    """A tiny MNIST in IDX files (train images gzipped), or in one .npz."""
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = digit_like(train, 0), digit_like(test, 1)
    if npz:
        np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test,
                 y_test=y_test)
        return folder
    write_idx(folder / "train-images-idx3-ubyte.gz", x_train)
    write_idx(folder / "train-labels-idx1-ubyte", y_train)
    write_idx(folder / "t10k-images-idx3-ubyte", x_test)
    write_idx(folder / "t10k-labels-idx1-ubyte", y_test)
    return folder


def run_ok(argv, capsys):
    assert run_cli(mnist.main, argv) is None
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data_dir, run_dir) of one `train --preset test --arch lenet5` through the CLI."""
    root = tmp_path_factory.mktemp("mnist")
    data, run = write_mnist_like(root / "data"), str(root / "run")
    assert run_cli(mnist.main, ["train", "--preset", "test", "--arch", "lenet5", "--data_dir",
                                str(data), "--out_dir", run, "--verbose", "0"]) is None
    return str(data), run


@pytest.mark.parametrize("preset, arch", [("test", "softmax"), ("test", "dnn"), ("test", "mlp"),
                                          ("test", "lenet5"), ("dnn_toy", "dnn")])
def test_each_model_has_ten_outputs_and_its_loss_falls(preset, arch):
    # Adam at 3e-2 moves the tiny dense models quickly; LeNet-5 needs a tenth of it.
    config = dataclasses.replace(PRESETS[preset], arch=arch,
                                 learning_rate=3e-3 if arch == "lenet5" else 3e-2)
    x, y = digit_like(160, 0)
    x = x[..., None].astype(np.float32)
    model = compile_model(build_model(config), config)
    assert model.predict(x[:5], verbose=0).shape == (5, 10)
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, batch_size=16, epochs=4, verbose=0)
    assert model.evaluate(x, y, verbose=0)[0] < 0.95 * before


def test_dnn_toy_is_the_notes_drawing():
    model = build_model(PRESETS["dnn_toy"])
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [layer.kernel.shape for layer in dense] == [(25, 3), (3, 3), (3, 10)]
    assert all(layer.activation.__name__ == "sigmoid" for layer in dense[:2])


def test_lenet5_has_the_lecture_shapes():
    model = build_model(PRESETS["lenet5"])
    shapes = {name: model.get_layer(name).output.shape[1:] for name in
              ("c1", "s2", "c3", "s4", "c5", "f6")}
    assert shapes == {"c1": (28, 28, 6), "s2": (14, 14, 6), "c3": (10, 10, 16),
                      "s4": (5, 5, 16), "c5": (1, 1, 120), "f6": (84,)}


def lecture_steps(name, w, gradient, lr, mu, steps=2):
    """The lecture's update rules by hand, in float64: the parameters after each step."""
    w, v, m, s, out = np.array(w, np.float64), 0.0, 0.0, 0.0, []
    for t in range(1, steps + 1):
        if name == "sgd":
            w = w - lr * gradient(w)
        elif name == "momentum":
            v = mu * v - lr * gradient(w)
            w = w + v
        elif name == "nesterov":  # gradient at the look-ahead point w + mu v
            v = mu * v - lr * gradient(w + mu * v)
            w = w + v
        else:
            g = gradient(w)
            m, s = 0.9 * m + 0.1 * g, 0.999 * s + 0.001 * g * g
            w = w - lr * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-7)
        out.append(w + (mu * v if name == "nesterov" else 0.0))  # Keras keeps w + mu v
    return out


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam"])
def test_optimizer_updates_equal_the_lecture_formulas(name):
    import keras

    # f(w) = (w1^2 + 3 w2^2) / 2, so the gradient is (w1, 3 w2).
    def gradient(w):
        return np.array([1.0, 3.0]) * w

    lr, mu = 0.1, 0.9
    expected = lecture_steps(name, [1.0, -2.0], gradient, lr, mu)
    w = keras.Variable(np.array([1.0, -2.0], np.float32))
    optimizer = make_optimizer(name, lr, mu)
    for step in expected:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(
            gradient(w.numpy()).astype(np.float32)), w)])
        np.testing.assert_allclose(w.numpy(), step, rtol=1e-5, atol=1e-6)
    if name == "sgd":
        assert expected[0] == pytest.approx([0.9, -1.4])  # w - lr g, written out


def test_train_then_evaluate_writes_results(trained, capsys):
    data, run = trained
    with open(os.path.join(run, "results.json")) as f:
        assert 0 <= json.load(f)["test_accuracy"] <= 1
    os.remove(os.path.join(run, "results.json"))
    out = run_ok(["evaluate", "--run_dir", run], capsys)  # the data_dir saved in the run
    with open(os.path.join(run, "results.json")) as f:
        results = json.load(f)
    assert "test accuracy" in out and results["test_images"] == 60
    assert len(results["confusion_matrix"]) == 10 and sum(map(sum,
                                                              results["confusion_matrix"])) == 60
    with open(os.path.join(run, "state.json")) as f:
        assert json.load(f)["best_key"] == "val_loss"  # chosen on validation, not test


def test_keras_file_and_savedmodel_give_the_same_probabilities(trained, tmp_path, capsys):
    import keras

    from week1_basics.mnist_verbs import load_run

    _, run = trained
    model, _, class_names = load_run(run)
    images = digit_like(8, 2)[0][..., None]
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model(images.astype(np.float32))))
    reloaded = keras.saving.load_model(os.path.join(run, "best.keras"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras.ops.softmax(
        reloaded(images.astype(np.float32)))), expected, atol=1e-6)
    export = tmp_path / "export"
    run_ok(["export", "--run_dir", run, "--export_dir", str(export)], capsys)
    np.save(tmp_path / "images.npy", images)
    # A fresh interpreter without this project: the export stands alone.
    script = ("import json, numpy as np, tensorflow as tf; m = tf.saved_model.load('export'); "
              "p = m.signatures['serving_default'](images=tf.constant(np.load('images.npy')));"
              "print(json.dumps(p['probabilities'].numpy().tolist())); "
              "print(json.loads(m.signatures['metadata']()['json'].numpy())['class_names'])")
    result = run_python(script, tmp_path, with_project=False)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    np.testing.assert_allclose(np.array(json.loads(lines[0])), expected, atol=1e-5)
    assert lines[1] == str(class_names)


def test_litert_export_matches_the_model(trained, tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    from week1_basics.mnist_verbs import load_run

    model = load_run(trained[1])[0]
    images = digit_like(4, 5)[0][..., None]
    logits = model.predict(images.astype(np.float32), verbose=0)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    run_ok(["export", "--run_dir", trained[1], "--export_dir", str(tmp_path / "t"),
            "--format", "litert"], capsys)
    runner = Interpreter(model_path=str(tmp_path / "t" / "serving_default.tflite")
                         ).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(images=images)["probabilities"], expected, atol=1e-4)


def test_predict_any_image_file(trained, tmp_path, capsys):
    from PIL import Image

    _, run = trained
    image = digit_like(1, 3)[0][0]
    Image.fromarray(255 - image).resize((56, 70)).convert("RGB").save(tmp_path / "scan.jpg")
    out = run_ok(["predict", "--run_dir", run, str(tmp_path / "scan.jpg")], capsys)
    assert out.startswith(f"{tmp_path / 'scan.jpg'}: ") and out.count(",") == 2


@pytest.mark.parametrize("make, fragment", [
    (lambda path: None, "not found"),
    (lambda path: path.write_text("not an image"), "none of the 1 files is a readable image"),
])
def test_predict_on_a_missing_or_non_image_file(trained, tmp_path, capsys, make, fragment):
    path = tmp_path / "digit.png"
    make(path)
    status, _, err = call_cli(mnist.main, ["predict", "--run_dir", trained[1], str(path)],
                              capsys)
    assert_one_line_error(status, err, fragment)


def test_data_dir_without_mnist_files(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    status, _, err = call_cli(mnist.main, ["train", "--data_dir", str(tmp_path / "empty"),
                                           "--out_dir", str(tmp_path / "run")], capsys)
    assert_one_line_error(status, err, "neither train-images-idx3-ubyte")
    assert not (tmp_path / "run").exists()


def test_resume_of_another_commands_run(trained, tmp_path, capsys):
    from week1_basics import regression

    data, run = trained
    other = str(tmp_path / "line")
    assert run_cli(regression.main, ["train", "--preset", "test", "--epochs", "1",
                                     "--out_dir", other, "--verbose", "0"]) is None
    status, _, err = call_cli(mnist.main, ["train", "--preset", "test", "--data_dir", data,
                                           "--out_dir", other, "--resume"], capsys)
    assert_one_line_error(status, err, "holds a 'regression' run, not a 'mnist' run")
    status, _, err = call_cli(regression.main, ["train", "--out_dir", run, "--resume"], capsys)
    assert_one_line_error(status, err, "holds a 'mnist' run, not a 'regression' run")


def test_a_run_from_before_steps_per_execution_resumes_as_it_was_made(trained, tmp_path,
                                                                     capsys):
    """Its config.json has no steps_per_execution: it ran one step per call and epochs of
    every whole batch (15 here, where 10 a call would cut them to 10), and keeps doing so."""
    import keras

    data, _ = trained
    run = tmp_path / "old"
    train = ["train", "--preset", "test", "--data_dir", data, "--out_dir", str(run),
             "--verbose", "0"]
    assert run_cli(mnist.main, [*train, "--epochs", "1", "--steps_per_execution", "1"]) is None
    config = json.loads((run / "config.json").read_text())
    del config["steps_per_execution"]
    (run / "config.json").write_text(json.dumps(config))
    status, _, err = call_cli(mnist.main, [*train, "--epochs", "2", "--resume",
                                           "--steps_per_execution", "10"], capsys)
    assert_one_line_error(status, err, "steps_per_execution: 1 -> 10")
    assert run_cli(mnist.main, [*train, "--epochs", "2", "--resume"]) is None
    state = json.loads((run / "state.json").read_text())
    model = keras.models.load_model(run / state["checkpoint"])
    assert int(model.optimizer.iterations.numpy()) == 2 * 15


def test_arch_picks_its_recipe_and_optimizer_its_rate():
    from week1_basics.mnist_verbs import build_parser, resolve_config

    def config(*argv):
        return resolve_config(build_parser().parse_args(["train", *argv]))

    assert config() == PRESETS["lenet5"]
    assert config("--arch", "mlp") == PRESETS["mlp"]
    assert config("--preset", "test", "--arch", "lenet5").epochs == PRESETS["test"].epochs
    assert config("--optimizer", "sgd").learning_rate == 0.1
    assert config("--optimizer", "sgd", "--learning_rate", "0.3").learning_rate == 0.3


def test_compare_optimizers_writes_one_marked_png(tmp_path, capsys):
    from PIL import Image

    data = write_mnist_like(tmp_path / "data", npz=True)
    out = tmp_path / "curves.png"
    argv = ["compare-optimizers", "--arch", "softmax", "--data_dir", str(data), "--batch_size",
            "8", "--out", str(out)]
    printed = run_ok(argv, capsys)
    assert [line.split()[0] for line in printed.splitlines()[:4]] == [
        "sgd", "momentum", "nesterov", "adam"]
    with Image.open(out) as image:
        assert image.info["Software"] == "tfcourse"
    (tmp_path / "notes.png").write_text("someone else's file")
    status, _, err = call_cli(mnist.main, [*argv[:-1], str(tmp_path / "notes.png")], capsys)
    assert_one_line_error(status, err, "not a PNG written by this project")


def test_importing_the_command_loads_no_tensorflow():
    code = ("import sys, week1_basics.mnist; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("epochs, target", [(1, 0.97), (None, 0.9905)])
def test_lenet5_default_recipe_on_real_mnist(tmp_path, capsys, epochs, target):
    import time

    data, start = shared_data("mnist"), time.perf_counter()
    run_ok(["train", "--data_dir", data, "--out_dir", str(tmp_path / "run"), "--verbose", "0",
            *(["--epochs", str(epochs)] if epochs else [])], capsys)
    with open(tmp_path / "run" / "results.json") as f:
        assert json.load(f)["test_accuracy"] >= target
    assert time.perf_counter() - start < 600  # the whole command within 10 minutes


MIRRORED = r"""
import json, sys
from common.cli import run_cli
from week1_basics import mnist
status = run_cli(mnist.main, ["train", "--preset", "test", "--data_dir", DATA, "--out_dir", RUN,
                              "--strategy", "mirrored", "--steps_per_execution", "2",
                              "--verbose", "0"])
print(json.dumps(status))
"""


def test_two_replicas_train_with_one_step_per_call(tmp_path):
    """Keras 3.15's multi-step loop fails on two replicas (keras-team/keras#19246): under
    such a strategy fit_run runs one step per call, and the run trains its epochs."""
    data = write_mnist_like(tmp_path / "data", train=80, test=20, npz=True)
    lines = run_on_two_cpus(MIRRORED, DATA=str(data), RUN=str(tmp_path / "run"))
    assert lines[-1] == "null"
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["epoch"] == PRESETS["test"].epochs
