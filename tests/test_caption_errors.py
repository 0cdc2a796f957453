"""Bad input to week5_caption.caption: one `error:` line, exit status 2, nothing written."""

import os

import numpy as np
import pytest
from PIL import Image

from common.cli import run_cli
from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, snapshot)
from tests.test_caption_data import write_flickr8k
from week5_caption import caption, caption_data


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(caption.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    return out


def train_args(out_dir, *extra):
    return ["train", "--preset", "test", "--out_dir", str(out_dir), "--verbose", "0", *extra]


def image_file(path, size=(32, 32)):
    Image.fromarray(np.full((*size[::-1], 3), 90, np.uint8)).save(path)
    return str(path)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p.write_bytes(b"this is not an image at all"), "is not a readable image"),
    (lambda p: Image.new("RGB", (1, 1)).save(p, format="PNG"), "at least"),
    (lambda p: Image.new("1", (9000, 9000)).save(p, format="PNG"), "more than the limit"),
    (lambda p: p.mkdir(), "image file"),
])
def test_an_image_that_is_not_one_or_is_too_small_or_huge(caption_run, tmp_path, capsys, make,
                                                          fragment):
    bad = tmp_path / "bad.png"
    make(bad)
    good = image_file(tmp_path / "good.png")
    before = snapshot(caption_run)
    out = fails(["predict", "--run_dir", caption_run, good, str(bad), "--out",
                 str(tmp_path / "maps") + "/"], capsys, fragment)
    assert "bad.png" in out or out == "" or "skipped" in out
    assert not (tmp_path / "maps").exists() and snapshot(caption_run) == before


@pytest.mark.parametrize("beam", ["0", "-1", "65", "1e9", "three"])
def test_an_absurd_beam_is_refused(caption_run, tmp_path, capsys, beam):
    image = image_file(tmp_path / "scene.png")
    fails(["predict", "--run_dir", caption_run, image, "--beam", beam], capsys, "--beam")
    fails(["evaluate", "--run_dir", caption_run, "--beam", beam], capsys, "--beam")


@pytest.mark.parametrize("flags, fragment", [
    (["--scenes", "0"], "--scenes"), (["--scenes", "1000000000"], "--scenes"),
    (["--image_size", "0"], "--image_size"), (["--epochs", "0"], "--epochs"),
    (["--batch_size", "0"], "--batch_size"), (["--max_length", "0"], "--max_length"),
    (["--cnn_blocks", "9"], "--cnn_blocks"), (["--arch", "lstm"], "--arch"),
    (["--encoder", "alexnet"], "--encoder"), (["--strategy", "tpu"], "--strategy"),
    (["--strategy", "multi_worker"], "TF_CONFIG"),
    (["--dataset", "coco_captions", "--data_dir", "."], "not both"),
])
def test_absurd_training_flags_write_nothing(tmp_path, capsys, flags, fragment):
    fails(train_args(tmp_path / "run", *flags), capsys, fragment)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("damage, fragment", [
    ("unknown", "has no captions for"), ("malformed", "is not 'IMAGE.jpg#N<TAB>caption'"),
    ("not_flickr", "is not a Flickr8k folder"),
])
def test_captions_naming_unknown_images_or_malformed_write_nothing(tmp_path, capsys, damage,
                                                                   fragment):
    root = write_flickr8k(tmp_path / "flickr")
    if damage == "unknown":
        (root / caption_data.FLICKR_SPLITS["train"]).write_text("1000_a.jpg\n4242_x.jpg\n")
    elif damage == "malformed":
        (root / caption_data.FLICKR_TOKENS).write_text("1000_a.jpg A dog without a tab\n")
    else:
        (root / caption_data.FLICKR_TOKENS).unlink()
    before = snapshot(tmp_path)
    fails(train_args(tmp_path / "run", "--data_dir", str(root)), capsys, fragment)
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()


def test_resume_across_archs_is_refused(caption_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(caption_run, run)
    before = snapshot(run)
    fails(train_args(run, "--scenes", "200", "--resume", "--arch", "show_tell"), capsys,
          "arch")
    assert snapshot(run) == before


def test_out_for_a_run_without_attention_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert run_cli(caption.main, train_args(run, "--arch", "show_tell", "--scenes", "64",
                                            "--epochs", "1")) is None
    capsys.readouterr()
    image = image_file(tmp_path / "scene.png")
    fails(["predict", "--run_dir", str(run), image, "--out", str(tmp_path / "maps")], capsys,
          "has none")
    assert not (tmp_path / "maps").exists()


def test_out_never_replaces_a_users_file(caption_run, tmp_path, capsys):
    image = image_file(tmp_path / "scene.png")
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"my own picture")
    fails(["predict", "--run_dir", caption_run, image, "--out", str(mine)], capsys,
          "not a PNG written by this project")
    assert mine.read_bytes() == b"my own picture"


def test_export_over_a_folder_this_project_did_not_write(caption_run, tmp_path, capsys,
                                                         monkeypatch):
    assert_export_keeps_what_it_did_not_write(caption.main, caption_run, tmp_path, capsys,
                                              monkeypatch)


def test_coco_offline_fails_at_once_with_one_line(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    import socket

    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    fails(train_args(tmp_path / "run", "--dataset", "coco_captions"), capsys,
          "coco_captions")
    assert not (tmp_path / "run").exists()
