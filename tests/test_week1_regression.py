"""week1_basics.regression: gradient descent reaches the closed form, the run directory and
its files, the .keras and SavedModel round trips, bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli
from week1_basics import regression
from week1_basics.regression_model import (PRESETS, closed_form, least_squares, loss_of,
                                           make_data, newton_logistic)


def run_ok(argv, capsys):
    """stdout of a CLI call that must succeed (run_cli returns instead of exiting)."""
    from common.cli import run_cli

    assert run_cli(regression.main, argv) is None
    return capsys.readouterr().out


def config_for(arch):
    import dataclasses

    return dataclasses.replace(PRESETS["test"], arch=arch)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{arch: (run_dir, model, results)} of one test-preset run per problem."""
    from week1_basics.regression_verbs import train

    runs = {}
    for arch in ("least_squares", "logistic"):
        run_dir = str(tmp_path_factory.mktemp(arch) / "run")
        model, results = train(config_for(arch), run_dir, seed=3, verbose=0)
        runs[arch] = (run_dir, model, results)
    return runs


@pytest.mark.parametrize("arch", ["least_squares", "logistic"])
def test_gradient_descent_reaches_the_closed_form(trained, arch):
    run_dir, model, results = trained[arch]
    config = config_for(arch)
    x, y = make_data(config, seed=3)
    exact_w, exact_b = closed_form(config, x, y)
    kernel, bias = model.get_layer("linear").get_weights()
    np.testing.assert_allclose(kernel[:, 0], exact_w, atol=1e-3)
    assert abs(bias[0] - exact_b) < 1e-3
    assert results["max_abs_difference"] < 1e-3
    assert results["loss"] == pytest.approx(results["closed_form_loss"], abs=1e-6)
    with open(os.path.join(run_dir, "results.json")) as f:
        saved = json.load(f)
    assert saved["closed_form"]["weights"] == pytest.approx(exact_w.tolist())
    assert os.path.getsize(os.path.join(run_dir, "fit.png")) > 1000


def test_least_squares_closed_form_is_numpy_polyfit():
    x, y = make_data(PRESETS["least_squares"], seed=5)
    w, b = least_squares(x, y)
    slope, intercept = np.polyfit(x[:, 0], y[:, 0], 1)
    assert (w[0], b) == pytest.approx((slope, intercept), abs=1e-9)
    assert (w[0], b) == pytest.approx((2.0, 1.0), abs=0.2)  # the true line, up to noise


@pytest.mark.parametrize("l2", [0.0, 1e-2])
def test_newton_solution_is_the_minimum(l2):
    config = PRESETS["logistic"]
    x, y = make_data(config, seed=7)
    w, b = newton_logistic(x, y, l2)
    best = loss_of(config.__class__("logistic", l2=l2), w, b, x, y)
    rng = np.random.default_rng(0)
    for _ in range(20):  # every nearby point is worse
        dw, db = rng.normal(0, 1e-3, 2), rng.normal(0, 1e-3)
        assert loss_of(config.__class__("logistic", l2=l2), w + dw, b + db, x, y) > best


def test_separable_clouds_without_l2_are_refused(tmp_path, capsys):
    status, _, err = call_cli(regression.main, [
        "train", "--arch", "logistic", "--noise", "0.05", "--l2", "0", "--num_points", "20",
        "--out_dir", str(tmp_path / "run"), "--verbose", "0"], capsys)
    assert_one_line_error(status, err, "separable")
    assert not (tmp_path / "run").exists()


def test_keras_file_reloads_with_the_same_outputs(trained):
    from common.runs import load_keras_file

    run_dir, model, _ = trained["logistic"]
    points = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    reloaded = load_keras_file(os.path.join(run_dir, "best.keras"))
    np.testing.assert_allclose(reloaded.predict(points, verbose=0),
                               model.predict(points, verbose=0), atol=1e-6)


@pytest.mark.parametrize("arch, key", [("least_squares", "y"), ("logistic", "probabilities")])
def test_export_serves_the_fitted_model(trained, tmp_path, capsys, arch, key):
    import tensorflow as tf

    run_dir, model, _ = trained[arch]
    run_ok(["export", "--run_dir", run_dir, "--export_dir", str(tmp_path / "e")], capsys)
    dims = 1 if arch == "least_squares" else 2
    x = np.linspace(-2, 2, 6 * dims, dtype=np.float32).reshape(6, dims)
    served = tf.saved_model.load(str(tmp_path / "e")).signatures["serving_default"](
        x=tf.constant(x))[key].numpy()
    expected = model.predict(x, verbose=0)
    if arch == "logistic":
        p = 1 / (1 + np.exp(-expected))
        expected = np.hstack([1 - p, p])
        np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_cli_train_evaluate_and_resume(tmp_path, capsys):
    run = str(tmp_path / "run")
    argv = ["train", "--preset", "test", "--epochs", "1", "--out_dir", run, "--verbose", "0"]
    out = run_ok(argv, capsys)
    assert "largest difference" in out
    assert "python -m week1_basics.regression evaluate --run_dir" in out
    run_ok([*argv[:4], "2", *argv[5:], "--resume"], capsys)
    with open(os.path.join(run, "state.json")) as f:
        assert json.load(f)["epoch"] == 2
    os.remove(os.path.join(run, "results.json"))
    run_ok(["evaluate", "--run_dir", run], capsys)
    with open(os.path.join(run, "results.json")) as f:
        results = json.load(f)
    assert results["max_abs_difference"] < 1e-3
    assert {"learned", "closed_form", "provenance", "seed"} <= set(results)


def test_resume_with_other_settings_or_no_run(tmp_path, capsys, trained):
    run_dir = trained["least_squares"][0]
    status, _, err = call_cli(regression.main, [
        "train", "--preset", "test", "--arch", "logistic", "--out_dir", run_dir, "--resume",
        "--verbose", "0"], capsys)
    assert_one_line_error(status, err, "different settings")
    status, _, err = call_cli(regression.main, ["evaluate", "--run_dir",
                                                str(tmp_path / "nothing")], capsys)
    assert_one_line_error(status, err, "not a run directory")


def test_importing_the_command_loads_no_tensorflow():
    code = ("import sys, week1_basics.regression; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]
