"""week2_cnn.cifar10 end to end on small generated data: train, resume, evaluate, predict, export."""

import dataclasses
import json
import os

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError
from week2_cnn import cifar10
from week2_cnn.cifar_data import CLASS_NAMES, Cifar
from week2_cnn.cifar_models import PRESETS
from week2_cnn.cifar_training import predict_probabilities
from tests.conftest import cli_error_line, run_python

# Each class has its own colour, so even the test preset learns it in two epochs.
COLOURS = np.random.default_rng(42).integers(0, 256, (10, 3))


def colour_images(labels, seed):
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 10, (len(labels), 32, 32, 3))
    return np.clip(COLOURS[labels][:, None, None, :] + noise, 0, 255).astype(np.uint8)


def colour_data(n_train=640, n_test=200):
    y_train, y_test = np.arange(n_train) % 10, np.arange(n_test) % 10
    return Cifar(colour_images(y_train, 1), y_train, colour_images(y_test, 2), y_test,
                 list(CLASS_NAMES), "generated")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run_dir, data, report) of a test-preset run, trained once for this module."""
    run_dir = str(tmp_path_factory.mktemp("cifar") / "run")
    data = colour_data()
    config = dataclasses.replace(PRESETS["test"], epochs=4)
    _, report = cifar10.train(config, run_dir, data, seed=3, verbose=0)
    return run_dir, data, report


def test_training_learns_and_writes_the_run(trained):
    run_dir, _, report = trained
    history = json.load(open(os.path.join(run_dir, "state.json")))["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert history[3]["loss"] < history[0]["loss"]
    assert history[1]["elapsed_seconds"] > history[0]["elapsed_seconds"] > 0
    assert report["test_accuracy"] > 0.35  # chance is 0.1; four tiny epochs reach ~0.5
    saved = json.load(open(os.path.join(run_dir, "results.json")))
    assert saved["test_accuracy"] == report["test_accuracy"]
    assert sum(map(sum, saved["confusion_matrix"])) == 200
    for name in ("confusion_matrix.png", "loss.png", "history.csv", "labels.json",
                 "best.keras", "checkpoints/epoch-0004.keras"):
        assert os.path.exists(os.path.join(run_dir, name)), name


def test_report_matches_per_class_counts(trained):
    run_dir, data, report = trained
    matrix = np.array(report["confusion_matrix"])
    per_class = [report["per_class_accuracy"][name] for name in CLASS_NAMES]
    np.testing.assert_allclose(per_class, matrix.diagonal() / 20)
    assert report["test_accuracy"] == pytest.approx(matrix.trace() / 200)


def test_keras_checkpoint_round_trip(trained):
    run_dir, data, _ = trained
    model, config, names = cifar10.load_run(run_dir)
    assert names == list(CLASS_NAMES) and config["tta"]
    first = predict_probabilities(model, data.x_test[:8], tta=True)
    again = predict_probabilities(cifar10.load_run(run_dir)[0], data.x_test[:8], tta=True)
    np.testing.assert_allclose(first, again, atol=1e-6)
    np.testing.assert_allclose(first.sum(axis=1), 1.0, atol=1e-5)


def test_resume_continues_from_the_checkpoint(tmp_path):
    import keras

    run_dir = str(tmp_path / "run")
    data = colour_data()
    # 2 epochs of 18 steps: 576 training images once 64 are held out for validation.
    config = PRESETS["test"]
    cifar10.train(config, run_dir, data, seed=3, verbose=0)
    # Pretend the run stopped after epoch 1 with the latest weights on disk.
    state_path = os.path.join(run_dir, "state.json")
    state = json.load(open(state_path))
    state.update(epoch=1, history=state["history"][:1],
                 best_epoch=min(state.get("best_epoch", 1), 1))  # consistent, as checked
    json.dump(state, open(state_path, "w"))
    cifar10.train(config, run_dir, data, seed=3, resume=True, verbose=0)
    history = json.load(open(state_path))["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    model = keras.saving.load_model(os.path.join(run_dir, "checkpoints", "epoch-0002.keras"))
    # The optimizer state came from the checkpoint: 2 epochs, then 1 more.
    assert int(model.optimizer.iterations) == 3 * 18


def test_ensemble_of_one_run_twice_equals_the_run(trained, tmp_path):
    run_dir, data, report = trained
    ensemble = cifar10.evaluate([run_dir, run_dir], data, out_dir=str(tmp_path / "ens"))
    assert ensemble["test_accuracy"] == report["test_accuracy"]
    assert os.path.exists(tmp_path / "ens" / "confusion_matrix.png")


def test_predict_top3_on_images_of_any_size(trained, tmp_path):
    run_dir = trained[0]
    colour = tuple(int(c) for c in COLOURS[0])
    # Lossless PNGs for the two flat-colour images, so resizing gives the same
    # pixels; a grayscale JPEG for the format and channel conversion.
    Image.new("RGB", (97, 61), colour).save(tmp_path / "big.png")
    Image.new("RGBA", (8, 8), colour + (255,)).save(tmp_path / "small.png")
    Image.new("L", (40, 40), 128).save(tmp_path / "gray.jpg")
    results = cifar10.predict(run_dir, [str(tmp_path / n) for n in
                                        ("big.png", "small.png", "gray.jpg")])
    assert [os.path.basename(path) for path, _ in results] == ["big.png", "small.png",
                                                              "gray.jpg"]
    for _, top in results:
        assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
    # The same colour as a large RGB image and a tiny RGBA one: the same answer.
    big, small = results[0][1], results[1][1]
    assert [name for name, _ in big] == [name for name, _ in small]
    np.testing.assert_allclose([p for _, p in big], [p for _, p in small], atol=1e-4)


def test_saved_model_serves_alone_with_equal_outputs(trained, tmp_path):
    run_dir, data, _ = trained
    export_dir = cifar10.export(run_dir, str(tmp_path / "export"))
    model, config, _ = cifar10.load_run(run_dir)
    expected = predict_probabilities(model, data.x_test[:5], config["tta"])
    np.save(tmp_path / "images.npy", data.x_test[:5])
    script = (
        "import numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({export_dir!r})\n"
        "p = m.signatures['serving_default'](images=tf.constant(np.load('images.npy')))\n"
        "np.save('served.npy', p['probabilities'].numpy())\n"
        "print(m.signatures['labels']()['class_names'].numpy()[0].decode())\n")
    result = run_python(script, tmp_path, with_project=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("airplane")
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), expected, atol=1e-5)


def run_command(argv, capsys):
    return cli_error_line(cifar10.main, argv, capsys)


def test_bad_inputs_get_one_line_and_lose_nothing(trained, tmp_path, capsys):
    run_dir = trained[0]
    before = open(os.path.join(run_dir, "state.json")).read()
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "readme.txt").write_text("no CIFAR here")
    train = ["train", "--preset", "test", "--verbose", "0"]
    assert "matches no known CIFAR-10 layout" in run_command(
        train + ["--data_dir", str(tmp_path / "odd"), "--out_dir", str(tmp_path / "r")], capsys)
    assert not (tmp_path / "r").exists()
    assert "image file not found" in run_command(
        ["predict", "--run_dir", run_dir, str(tmp_path / "missing.jpg")], capsys)
    (tmp_path / "notes.jpg").write_text("not an image")
    assert "none of the 1 files is a readable image" in run_command(
        ["predict", "--run_dir", run_dir, str(tmp_path / "notes.jpg")], capsys)
    assert "not a run directory" in run_command(
        ["evaluate", "--run_dir", str(tmp_path)], capsys)
    (tmp_path / "export").mkdir()
    assert "already exists" in run_command(
        ["export", "--run_dir", run_dir, "--export_dir", str(tmp_path / "export")], capsys)
    assert open(os.path.join(run_dir, "state.json")).read() == before


def test_existing_run_and_changed_resume_are_refused(trained, capsys):
    run_dir, data, _ = trained
    with pytest.raises(UsageError, match="already holds a run"):
        cifar10.train(PRESETS["test"], run_dir, data, verbose=0)
    changed = dataclasses.replace(PRESETS["test"], epochs=4, width=8)
    with pytest.raises(UsageError, match="width: 4 -> 8"):
        cifar10.train(changed, run_dir, data, resume=True, verbose=0)
