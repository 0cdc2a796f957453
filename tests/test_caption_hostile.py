"""Hostile input to week5_caption.caption found after it was built, each in the real CLI
(in-process run_cli): one `error:` line and exit status 2, nothing written, nothing read
outside the folders named."""

import shutil

import pytest

from common.cli import run_cli
from tests.conftest import assert_one_line_error, call_cli, snapshot
from tests.test_caption_data import write_flickr8k
from tests.test_caption_errors import image_file, train_args
from week5_caption import caption, caption_data


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(caption.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    return out


@pytest.mark.parametrize("name", ["../../../../../../etc/passwd", "/etc/passwd", "..",
                                  "sub\\..\\..\\x.jpg"])
def test_a_split_naming_a_file_outside_the_images_folder_is_refused(tmp_path, capsys, name):
    """The escaping name trained before: /etc/passwd was read (then skipped as no image)."""
    root = write_flickr8k(tmp_path / "flickr")
    with open(root / caption_data.FLICKR_TOKENS, "a") as tokens:
        tokens.write(f"{name}#0\ta caption of a file outside\n")
    (root / caption_data.FLICKR_SPLITS["train"]).write_text(f"1000_a.jpg\n{name}\n")
    before = snapshot(tmp_path)
    fails(train_args(tmp_path / "run", "--data_dir", str(root)), capsys, "not a file name")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make", [lambda p: p.mkdir(), "fifo"])
def test_a_captions_file_that_is_a_folder_or_fifo_is_named_as_such(tmp_path, capsys, make):
    """It said 'it has no Flickr8k.token.txt' of a folder that has one."""
    import os

    root = write_flickr8k(tmp_path / "flickr")
    tokens = root / caption_data.FLICKR_TOKENS
    tokens.unlink()
    os.mkfifo(tokens) if make == "fifo" else make(tokens)
    fails(train_args(tmp_path / "run", "--data_dir", str(root)), capsys,
          "Flickr8k.token.txt is not a regular file")
    assert not (tmp_path / "run").exists()


def test_predict_refuses_an_undecodable_file_among_good_ones_without_a_note(caption_run,
                                                                            tmp_path, capsys):
    """common.images printed 'skipped 1 of 2 files' on stdout before the error; the captions
    are printed one a line without their file names, so a skipped file is refused."""
    good = image_file(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_text("a text file renamed .jpg")
    out = fails(["predict", "--run_dir", caption_run, good, str(bad)], capsys,
                "bad.jpg is not a readable image")
    assert out == ""


def test_a_flickr8k_run_refuses_changed_or_moved_data_at_evaluate_and_resume(tmp_path,
                                                                            capsys):
    """evaluate re-read the recorded folder's test part whatever it held now, and --resume
    took changed training captions of the same count; both are refused, by a digest."""
    root = write_flickr8k(tmp_path / "flickr")
    run = tmp_path / "run"
    assert run_cli(caption.main, train_args(run, "--data_dir", str(root), "--epochs", "1")
                   ) is None
    tokens = root / caption_data.FLICKR_TOKENS
    original = tokens.read_text()
    tokens.write_text(original.replace("number 3 runs 0", "number 3 sits 0"))  # a test caption
    before = snapshot(run)
    fails(["evaluate", "--run_dir", str(run)], capsys, "has changed since it was trained")
    assert snapshot(run) == before
    assert run_cli(caption.main, ["evaluate", "--run_dir", str(run), "--data_dir", str(root)]
                   ) is None  # the data as it is now, asked for
    capsys.readouterr()
    tokens.write_text(original.replace("number 0 runs 0", "number 0 sits 0"))  # a train one
    before = snapshot(run)
    fails(train_args(run, "--data_dir", str(root), "--epochs", "2", "--resume"), capsys,
          "digests")
    assert snapshot(run) == before
    config = run / "config.json"
    saved = config.read_text()
    config.write_text(saved.replace('"digests"', '"no_digests"'))
    fails(["evaluate", "--run_dir", str(run)], capsys, "records no digest")
    config.write_text(saved)
    shutil.move(root, tmp_path / "moved")
    fails(["evaluate", "--run_dir", str(run)], capsys, "from its config.json")
    assert snapshot(run) == before


def test_captioning_takes_at_most_the_training_batch_at_once(caption_run):
    """predict and evaluate ran 128 images at once whatever the run's size: a 256-pixel run
    with a wide CNN that check_fits accepted at --batch_size 1 would be killed for memory."""
    import numpy as np

    from week5_caption.caption_verbs import load_run

    servable, config = load_run(caption_run)[:2]
    images = np.zeros((config.batch_size + 3, config.image_size, config.image_size, 3),
                      np.uint8)
    batches = servable.run(images, 1)
    assert [len(batch["captions"]) for batch in batches] == [config.batch_size, 3]


@pytest.mark.parametrize("field, value", [("encoder", "resnet50"), ("units", 64)])
def test_an_edited_model_field_in_config_json_is_refused(caption_run, tmp_path, capsys, field,
                                                        value):
    """An edited encoder was downloaded (offline: 'Downloading data from ...' on stdout, then
    its error) and an edited --units was silently ignored; the checkpoint's own config
    decides."""
    import json

    run = tmp_path / "run"
    shutil.copytree(caption_run, run)
    saved = json.loads((run / "config.json").read_text())
    saved[field] = value
    (run / "config.json").write_text(json.dumps(saved))
    image = image_file(tmp_path / "scene.png")
    before = snapshot(run)
    out = fails(["predict", "--run_dir", str(run), image], capsys, f"gives {field}")
    assert out == "" and snapshot(run) == before


def test_predict_refuses_more_images_than_memory_holds(caption_run, tmp_path, capsys,
                                                       monkeypatch):
    """Every image is decoded at the run's size before captioning: 100,000 files of a
    256-pixel run (20 GiB) were allocated at once, killed for memory instead of refused."""
    from week5_caption import caption_evaluate

    monkeypatch.setattr(caption_evaluate, "available_bytes", lambda: 10_000)
    image = image_file(tmp_path / "scene.png")
    assert fails(["predict", "--run_dir", caption_run, image, image], capsys,
                 "more than half of the memory") == ""


def test_the_command_export_prints_runs_as_printed(caption_run, tmp_path, capsys):
    """It printed tf.zeros([1, S, S, 3]) with a placeholder S: a NameError when pasted."""
    assert run_cli(caption.main, ["export", "--run_dir", caption_run, "--export_dir",
                                  str(tmp_path / "export")]) is None
    code = capsys.readouterr().out.split('python -c "', 1)[1].rsplit('"', 1)[0]
    exec(code, {})
    assert capsys.readouterr().out.startswith("tf.Tensor([b'")
