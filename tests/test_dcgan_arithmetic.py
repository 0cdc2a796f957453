"""`arithmetic`: a - b + c of averaged latent vectors, its PNG, class means, bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan import dcgan, vae
from gan.data import resize_images
from gan.metrics import classifier_for, features_and_probabilities
from gan.sampling import generate_images, images_from_noise, noise_for_seed
from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli, snapshot
from tests.test_dcgan import make_images
from tests.test_dcgan_verbs import mnist_like, write_idx

TILE, PADDING = 28, 2


def seed_mean(seeds, latent_dim=None):
    return np.mean([noise_for_seed(1, latent_dim, s).numpy()[0] for s in seeds], axis=0)


def mean_column(png):
    """The four tiles of the right-hand column, top to bottom: mean a, b, c and a - b + c.

    The sheet ends with that column and that row, each followed by 2 pixels of padding.
    """
    picture = np.asarray(Image.open(png))
    bottom, right = picture.shape[0] - PADDING, picture.shape[1] - PADDING
    return [picture[bottom - TILE - (3 - row) * (TILE + PADDING):
                    bottom - (3 - row) * (TILE + PADDING), right - TILE:right]
            for row in range(4)]


def decoded(generator, vector):
    return images_from_noise(generator, vector[None].astype(np.float32))[0, ..., 0]


@pytest.mark.parametrize("which", ["dcgan", "vae"])
def test_result_is_the_decoded_hand_computed_vector(trained_gan, trained_vae,
                                                    tmp_path, which):
    run_dir, model = trained_gan if which == "dcgan" else trained_vae
    command = dcgan if which == "dcgan" else vae
    generator = model.generator
    dim = generator.input_shape[-1]
    before = snapshot(run_dir)
    out = tmp_path / "sum.png"
    argv = ["arithmetic", "--run_dir", run_dir, "--a", "1", "2", "--b", "3", "--c", "4", "5",
            "6", "--out", str(out), "--scale", "1"]
    command.main(argv)
    a, b, c = seed_mean([1, 2], dim), seed_mean([3], dim), seed_mean([4, 5, 6], dim)
    tiles = mean_column(out)
    for tile, vector in zip(tiles, (a, b, c, a - b + c)):
        np.testing.assert_array_equal(tile, decoded(generator, vector))
    # A group of one seed is that seed's image, as `generate --num 1 --seed 3` makes it.
    np.testing.assert_array_equal(tiles[1], generate_images(generator, 1, 3)[0, ..., 0])
    assert not np.array_equal(tiles[3], tiles[0])
    first = out.read_bytes()
    command.main(argv)  # our own PNG may be replaced: the same bytes again
    assert out.read_bytes() == first
    assert snapshot(run_dir) == before


def test_class_means_average_the_confident_points(trained_gan, tmp_path):
    run_dir, model = trained_gan
    generator = model.generator
    data = mnist_like(tmp_path / "mnist")
    classifier_path = tmp_path / "scorer.keras"
    x_train, y_train = make_images(120, seed=0), np.arange(120) % 10
    x_test, y_test = make_images(40, seed=1), np.arange(40) % 10
    classifier, _ = classifier_for(x_train, y_train, resize_images(x_test, 28), y_test,
                                   str(classifier_path), epochs=1, verbose=0)
    # The pool arithmetic draws: 200 points of seed 7; the class and threshold are chosen
    # from the classifier's own view, so at least half the points are kept.
    pool = noise_for_seed(200, 100, 7).numpy()
    _, probabilities = features_and_probabilities(classifier, images_from_noise(generator, pool))
    label = int(probabilities.sum(axis=0).argmax())
    threshold = float(np.median(probabilities[:, label]))
    kept = pool[probabilities[:, label] >= threshold]
    assert 100 <= len(kept) < 200
    out = tmp_path / "class.png"
    dcgan.main(["arithmetic", "--run_dir", run_dir, "--a", f"class:{label}", "--b", "3",
                "--c", "4", "--dataset", "mnist", "--data_dir", str(data),
                "--classifier", str(classifier_path),
                "--class_samples", "200", "--seed", "7", "--confidence", repr(threshold),
                "--out", str(out), "--scale", "1"])
    tiles = mean_column(out)
    expected = kept.mean(axis=0) - seed_mean([3], 100) + seed_mean([4], 100)
    np.testing.assert_array_equal(tiles[0], decoded(generator, kept.mean(axis=0)))
    np.testing.assert_array_equal(tiles[3], decoded(generator, expected))


def arithmetic_error(trained_gan, tmp_path, capsys, argv, fragment, run_dir=None):
    run_dir = run_dir or trained_gan[0]
    before = snapshot(run_dir)
    full = ["arithmetic", "--run_dir", str(run_dir), *argv]
    if "--out" not in argv:
        full += ["--out", str(tmp_path / "out.png")]
    status, _, stderr = call_cli(dcgan.main, full, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert snapshot(run_dir) == before
    assert not (tmp_path / "out.png").exists()


GROUPS = ["--a", "1", "--b", "2", "--c", "3"]


@pytest.mark.parametrize("argv, fragment", [
    (["--a", "--b", "2", "--c", "3"], "--a: expected at least one argument"),
    (["--a", "1", "--b", "2"], "required: --c"),
    (["--a", "-1", "--b", "2", "--c", "3"], "--a"),
    (["--a", "1", "--b", str(2 ** 31), "--c", "3"], "--b"),
    (["--a", "class:11", "--b", "2", "--c", "3"], "class:11: unknown class"),
    (["--a", "class:x", "--b", "2", "--c", "3"], "class:x: unknown class"),
    (["--a", "class:7", "--b", "2", "--c", "3"], "--a class:7 needs --data_dir"),
    (["--a", "1", "class:7", "--b", "2", "--c", "3", "--data_dir", "x"], "not a mix"),
    (["--a", *["1"] * 257, "--b", "2", "--c", "3"], "at most 256"),
    ([*GROUPS, "--confidence", "0"], "--confidence"),
])
def test_bad_groups_are_one_error_line(trained_gan, tmp_path, capsys, argv,
                                       fragment):
    arithmetic_error(trained_gan, tmp_path, capsys, argv, fragment)


def test_bad_runs_and_out_paths(trained_gan, tmp_path, capsys):
    arithmetic_error(trained_gan, tmp_path, capsys, GROUPS, "not a run directory",
                     run_dir=tmp_path / "no_run")
    (tmp_path / "folder").mkdir()
    (tmp_path / "a_file").write_text("keep me\n")
    for out, fragment in ((tmp_path / "folder", "directory"),
                          (tmp_path / "a_file" / "x.png", "is not a folder"),
                          (tmp_path / "missing" / "x.png", "does not exist"),
                          (tmp_path / "a_file", "not a PNG written by this project"),
                          (os.path.join(trained_gan[0], "x.png"), "run directory")):
        arithmetic_error(trained_gan, tmp_path, capsys, [*GROUPS, "--out", str(out)], fragment)
    assert (tmp_path / "a_file").read_text() == "keep me\n"
    assert os.listdir(tmp_path / "folder") == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_an_unwritable_out_folder(trained_gan, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        arithmetic_error(trained_gan, tmp_path, capsys,
                         [*GROUPS, "--out", str(locked / "x.png")], "not writable")
    finally:
        locked.chmod(0o700)


def test_a_class_missing_from_the_data_or_without_a_confident_point(
        trained_gan, tmp_path, capsys):
    data = mnist_like(tmp_path / "mnist", train=30)
    arithmetic_error(trained_gan, tmp_path, capsys,
                     ["--a", "class:2", "--b", "1", "--c", "3", "--dataset", "mnist",
                      "--data_dir", str(data),
                      "--classifier_epochs", "1", "--class_samples", "8", "--confidence", "1"],
                     "none of 8 generated images")
    write_idx(data / "train-labels-idx1-ubyte", np.arange(30) % 3)  # classes 0, 1, 2 only
    arithmetic_error(trained_gan, tmp_path, capsys,
                     ["--a", "class:7", "--b", "1", "--c", "3", "--dataset", "mnist", "--data_dir",
                      str(data)],
                     "class 7: no training image")


def test_the_real_command_refuses_an_empty_group(trained_gan, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gan.dcgan", "arithmetic", "--run_dir", trained_gan[0], "--a",
         "--b", "1", "--c", "2", "--out", str(tmp_path / "x.png")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--a" in lines[0], lines
    assert not (tmp_path / "x.png").exists()
