"""week2_cnn.transfer: hash split, bottleneck cache, head + fine-tuning, export, bad input."""

import io
import json
import os

import numpy as np
import pytest
from PIL import Image

from week2_cnn import transfer
from week2_cnn.cifar_models import PRESETS as CIFAR_PRESETS, build_model
from week2_cnn.transfer_data import find_split_images, split_of
from week2_cnn.transfer_model import PRESETS
from tests.conftest import cli_error_line, run_python

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (20, 40, 230)}


def make_photo_folder(root, per_class=12, size=(40, 30)):
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, size[::-1] + (3,)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{name}_{i}.png")
    return root


def save_small_base(folder):
    """A small untrained CIFAR-10 classifier saved as .keras: the offline --base.

    Seeded, so that its random weights (and the tests' accuracies) do not depend
    on which tests ran before.
    """
    import keras

    keras.utils.set_random_seed(0)
    path = folder / "base.keras"
    build_model(CIFAR_PRESETS["test"]).save(path)
    return str(path)


@pytest.fixture(scope="module")
def cifar_base(tmp_path_factory):
    return save_small_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cifar_base):
    root = tmp_path_factory.mktemp("transfer")
    photos = make_photo_folder(root / "photos")
    config = PRESETS["test"]
    report = transfer.train(config, str(photos), str(root / "run"), cifar_base, "none",
                            bottleneck_dir=str(root / "cache"), verbose=0)
    return root, report


def test_hash_split_is_stable_disjoint_and_ignores_nohash():
    names = [f"photo_{i}.jpg" for i in range(2000)]
    splits = [split_of(n, 10, 10) for n in names]
    assert splits == [split_of(n, 10, 10) for n in names]  # stable
    counts = {s: splits.count(s) for s in ("train", "validation", "test")}
    assert 140 < counts["validation"] < 260 and 140 < counts["test"] < 260
    assert {split_of(f"bob_nohash_{i}.jpg", 10, 10) for i in range(50)} == {
        split_of("bob", 10, 10)}
    # A larger validation share only moves files out of test/train, never the reverse.
    for name, before in zip(names, splits):
        if before == "validation":
            assert split_of(name, 20, 10) == "validation"


def test_split_of_a_folder_covers_every_file_once(tmp_path):
    photos = make_photo_folder(tmp_path / "photos", per_class=20)
    splits, class_names = find_split_images(str(photos), 20, 20)
    assert class_names == ["blue", "green", "red"]
    all_paths = [p for paths, _ in splits.values() for p in paths]
    assert len(all_paths) == len(set(all_paths)) == 60


def test_bottleneck_cache_is_hit_on_the_second_run(trained, cifar_base, capsys):
    root, first = trained
    assert first["test_accuracy"] >= 0.0 and os.path.exists(root / "run" / "results.json")
    report = transfer.train(PRESETS["test"], str(root / "photos"), str(root / "run2"),
                            cifar_base, "none", bottleneck_dir=str(root / "cache"), verbose=0)
    out = capsys.readouterr().out
    assert "bottlenecks: 0 computed" in out and "from the cache" in out
    assert report["test_images"] == first["test_images"]


def test_head_learns_colours_on_features_of_an_untrained_net(tmp_path, cifar_base):
    # 60 photos a colour leave 25 for the test split: at 30 a colour the test
    # had 12 images and two of them decided between pass and fail.
    photos = make_photo_folder(tmp_path / "photos", per_class=60)
    config = PRESETS["test"].__class__(epochs=30, batch_size=16, learning_rate=0.01)
    report = transfer.train(config, str(photos), str(tmp_path / "run"), cifar_base, "none",
                            bottleneck_dir=None, verbose=0)
    assert report["test_images"] >= 20
    assert report["test_accuracy"] > 0.8  # chance is 1/3; measured 1.0


def test_fine_tuning_and_distortions_change_the_base(tmp_path, cifar_base):
    import keras

    photos = make_photo_folder(tmp_path / "photos")
    config = PRESETS["test"].__class__(epochs=1, batch_size=8, distort=True,
                                       fine_tune_layers=2, fine_tune_epochs=1,
                                       fine_tune_learning_rate=0.01)
    transfer.train(config, str(photos), str(tmp_path / "run"), cifar_base, "none",
                   bottleneck_dir=None, verbose=0)
    classifier = keras.saving.load_model(tmp_path / "run" / "classifier.keras")
    original = keras.saving.load_model(cifar_base)
    # (was fine_tune_history.json; the fine-tuning phase is a run of its own now)
    assert os.path.exists(tmp_path / "run" / "fine_tune" / "history.csv")
    # The base is the CIFAR net minus its logits layer: the same weights, in order,
    # until fine-tuning moved the top ones and left the lower ones alone.
    changed = [not np.allclose(a, b) for a, b in zip(
        classifier.get_layer("base").get_weights(), original.get_weights())]
    assert any(changed[-4:]) and not any(changed[:4])


def test_predict_and_saved_model_round_trip(trained, tmp_path):
    root, _ = trained
    run_dir = str(root / "run")
    image = Image.new("RGB", (32, 32), COLOURS["green"])
    image.save(tmp_path / "green.png")
    top = transfer.predict(run_dir, [str(tmp_path / "green.png")])[0][1]
    assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]  # 3 classes: top-3 of 5
    export_dir = transfer.export(run_dir, str(tmp_path / "export"))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    (tmp_path / "green.bin").write_bytes(buffer.getvalue())
    script = (
        "import json, tensorflow as tf\n"
        f"m = tf.saved_model.load({export_dir!r})\n"
        "out = m.signatures['serving_default'](image_bytes=tf.constant(\n"
        "    [open('green.bin', 'rb').read()]))\n"
        "print(json.dumps({'label': out['labels'].numpy()[0].decode(),\n"
        "                  'scores': out['scores'].numpy()[0].tolist()}))\n")
    result = run_python(script, tmp_path, with_project=False)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    expected = dict(top)
    names = json.load(open(root / "run" / "labels.json"))
    np.testing.assert_allclose(served["scores"], [expected[n] for n in names], atol=1e-5)
    assert served["label"] == top[0][0]


def test_inception_v3_builds_at_its_real_input_size():
    from week2_cnn.transfer_model import load_base

    base = load_base("inception_v3", "none")
    assert base.image_size == 299 and base.key == "inception_v3-none"
    features = base.features(np.zeros((1, 299, 299, 3), np.float32))
    assert features.shape == (1, 2048)


def run_command(argv, capsys):
    return cli_error_line(transfer.main, argv, capsys)


def test_bad_inputs(tmp_path, capsys, trained, cifar_base):
    (tmp_path / "one" / "cats").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "one" / "cats" / "a.png")
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("x")
    train = ["train", "--base", cifar_base, "--weights", "none", "--preset", "test",
             "--out_dir", str(tmp_path / "run"), "--image_dir"]
    assert "single class" in run_command(train + [str(tmp_path / "one")], capsys)
    assert "no images" in run_command(train + [str(tmp_path / "empty")], capsys)
    assert "not found" in run_command(train + [str(tmp_path / "nowhere")], capsys)
    assert "unknown --base" in run_command(
        ["train", "--image_dir", str(tmp_path / "one"), "--base", "resnet50"], capsys)
    run_dir = str(trained[0] / "run")
    assert "not found" in run_command(["predict", "--run_dir", run_dir, "missing.jpg"], capsys)
    assert "not a run directory" in run_command(["evaluate", "--run_dir", str(tmp_path)], capsys)
    assert not (tmp_path / "run").exists()


def test_corrupt_files_are_skipped_and_counted(tmp_path, cifar_base, capsys):
    photos = make_photo_folder(tmp_path / "photos")
    (photos / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (photos / "red" / "notes.jpg").write_text("not an image")
    transfer.train(PRESETS["test"].__class__(epochs=1, validation_percentage=0,
                                             test_percentage=0),
                   str(photos), str(tmp_path / "run"), cifar_base, "none",
                   bottleneck_dir=str(tmp_path / "cache"), verbose=0)
    assert "2 unreadable image files skipped" in capsys.readouterr().out
