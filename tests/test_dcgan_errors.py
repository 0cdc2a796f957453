"""DCGAN bad input: one line `error: ...`, exit status 2, earlier results kept."""

import json

import numpy as np
import pytest
from PIL import Image

from common.cli import run_cli
from gan import dcgan
from tests.conftest import assert_one_line_error, call_cli
from tests.test_dcgan import make_images


def run_command(argv, capsys):
    """Runs the CLI in-process; returns (exit status, stdout, stderr)."""
    return call_cli(dcgan.main, argv, capsys)


def write_pngs(folder, count, size=40, mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(make_images(count, 32, 3, seed=2)):
        Image.fromarray(image).resize((size, size)).convert(mode).save(folder / f"{i:03d}.png")


def folder_args(image_dir, out_dir, *extra):
    return ["train", "--image_dir", str(image_dir), "--image_size", "32", "--preset", "test",
            "--out_dir", str(out_dir), "--verbose", "0", *extra]


def test_image_folder_with_fewer_images_than_one_batch(tmp_path, capsys):
    write_pngs(tmp_path / "images", 5)
    status, _, stderr = run_command(folder_args(tmp_path / "images", tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "fewer than one batch")
    assert not (tmp_path / "run" / "config.json").exists()


def test_corrupt_images_are_skipped_and_counted(tmp_path, capsys):
    images = tmp_path / "images"
    write_pngs(images / "gray", 10, mode="L")  # grayscale and odd-sized: converted
    write_pngs(images / "rgba", 10, mode="RGBA")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (images / "empty.jpg").write_bytes(b"")
    run_cli(dcgan.main, folder_args(images, tmp_path / "run", "--epochs", "1"))
    out = capsys.readouterr().out
    assert "skipped 2 of 22 files" in out
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert state["epoch"] == 1 and (config["image_size"], config["channels"]) == (32, 3)


def test_folder_of_only_corrupt_files(tmp_path, capsys):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"junk")
    status, _, stderr = run_command(folder_args(tmp_path / "images", tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "none of the 1 files")


def test_missing_image_folder(tmp_path, capsys):
    status, _, stderr = run_command(folder_args(tmp_path / "nowhere", tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "not found")


def test_resume_with_another_image_size(trained_gan, tmp_path, capsys):
    run_dir = trained_gan[0]
    before = open(f"{run_dir}/state.json").read()
    write_pngs(tmp_path / "images", 20)
    status, _, stderr = run_command(folder_args(tmp_path / "images", run_dir, "--resume",
                                                "--channels", "1"), capsys)
    assert_one_line_error(status, stderr, "image_size: 28 -> 32")
    assert open(f"{run_dir}/state.json").read() == before


def test_existing_run_is_never_overwritten(trained_gan, tmp_path, capsys):
    write_pngs(tmp_path / "images", 20)
    status, _, stderr = run_command(folder_args(tmp_path / "images", trained_gan[0]), capsys)
    assert_one_line_error(status, stderr, "already holds a run")


@pytest.mark.parametrize("count", ["-3", "0", "many"])
def test_generate_needs_a_positive_count(trained_gan, tmp_path, capsys, count):
    status, _, stderr = run_command(["generate", "--run_dir", trained_gan[0], "--num", count,
                                     "--out", str(tmp_path / "grid.png")], capsys)
    assert_one_line_error(status, stderr, "--num")
    assert not (tmp_path / "grid.png").exists()


def test_generate_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    status, _, stderr = run_command(["generate", "--run_dir", str(tmp_path)], capsys)
    assert_one_line_error(status, stderr, "not a run directory")


def test_export_refuses_an_existing_directory(trained_gan, tmp_path, capsys):
    (tmp_path / "export").mkdir()
    status, _, stderr = run_command(["export", "--run_dir", trained_gan[0], "--export_dir",
                                     str(tmp_path / "export")], capsys)
    assert_one_line_error(status, stderr, "--overwrite")


def test_missing_data_dir(tmp_path, capsys):
    status, _, stderr = run_command(["train", "--data_dir", str(tmp_path / "none"),
                                     "--out_dir", str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "--data_dir")


def test_data_dir_without_mnist_files(tmp_path, capsys):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    status, _, stderr = run_command(["train", "--data_dir", str(tmp_path),
                                     "--out_dir", str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "neither train-images")
