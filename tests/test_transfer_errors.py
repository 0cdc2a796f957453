"""week2_cnn.transfer: every bad input a user can give ends in one `error:` line, nothing lost."""

import json
import os
import shutil

import pytest
from PIL import Image

from tests.conftest import assert_one_line_error, call_cli
from tests.test_transfer import make_photo_folder, save_small_base
from tests.test_transfer_lifecycle import snapshot
from week2_cnn import transfer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(root, photos, base, run): one finished head-only run of the test preset."""
    root = tmp_path_factory.mktemp("errors")
    photos = make_photo_folder(root / "photos", per_class=6)
    base = save_small_base(root)
    transfer.main(["train", "--image_dir", str(photos), "--out_dir", str(root / "run"),
                   "--base", base, "--preset", "test", "--epochs", "1",
                   "--bottleneck_dir", "", "--verbose", "0"])
    return root, photos, base, root / "run"


def fails(argv, capsys, fragment=""):
    status, out, err = call_cli(transfer.main, argv, capsys)
    assert_one_line_error(status, err, fragment)
    return out


def train_argv(photos, out_dir, *extra):
    return ["train", "--image_dir", str(photos), "--out_dir", str(out_dir), "--preset", "test",
            "--weights", "none", "--bottleneck_dir", "", "--verbose", "0", *extra]


def wrong_bases(folder):
    """{file: what the error says} for .keras files that are not a classifier to build on."""
    import keras

    def save(name, inputs, outputs):
        keras.Model(inputs, outputs).save(folder / name)
        return str(folder / name)

    images = keras.Input((32, 32, 3))
    features = keras.Input((16,))
    (folder / "dir.keras").mkdir()
    (folder / "corrupt.keras").write_bytes(b"PK\x03\x04 not really a zip archive")
    return {
        save("no_logits.keras", images, keras.layers.Dense(3)(keras.layers.Flatten()(images))):
            "no layer named 'logits'",
        save("conv_logits.keras", images, keras.layers.Conv2D(3, 3, name="logits")(images)):
            "not (batch, features)",
        save("head.keras", features, keras.layers.Dense(3, name="logits")(features)):
            "not square RGB images",
        str(folder / "corrupt.keras"): "truncated or corrupt",
        str(folder / "dir.keras"): "directory",
        str(folder / "missing.keras"): "not found",
    }


def test_a_base_of_the_wrong_kind_is_one_error_line(setup, tmp_path, capsys):
    _, photos, _, _ = setup
    for base, fragment in wrong_bases(tmp_path).items():
        assert fails(train_argv(photos, tmp_path / "run", "--base", base), capsys,
                     fragment) == ""
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags", [
    ["--validation_percentage", "150"], ["--validation_percentage", "nan"],
    ["--test_percentage", "-1"], ["--fine_tune_layers", "-2"], ["--batch_size", "0"],
    ["--hidden_units", "1000000000"], ["--seed", "-1"], ["--epochs", "0"],
    ["--strategy", "parameter_server"], ["--preset", "huge"]])
def test_meaningless_flag_values_are_refused(setup, tmp_path, capsys, flags):
    _, photos, base, _ = setup
    fails(train_argv(photos, tmp_path / "run", "--base", base, *flags), capsys)
    assert not (tmp_path / "run").exists()


def test_multi_worker_without_tf_config_writes_nothing(setup, tmp_path, capsys, monkeypatch):
    _, photos, base, _ = setup
    monkeypatch.delenv("TF_CONFIG", raising=False)
    fails(train_argv(photos, tmp_path / "run", "--base", base, "--strategy", "multi_worker"),
          capsys, "TF_CONFIG")
    assert not (tmp_path / "run").exists()


def test_a_run_is_never_started_over_nor_resumed_from_nothing(setup, tmp_path, capsys):
    _, photos, base, run = setup
    before = snapshot(run)
    fails(train_argv(photos, run, "--base", base), capsys, "already holds a run")
    fails(train_argv(photos, tmp_path / "nothing", "--base", base, "--resume"), capsys,
          "not a run directory")
    other = make_photo_folder(tmp_path / "other", per_class=3)
    os.rename(other / "red", other / "yellow")
    # The run's own flags (setup's), so that only the classes differ.
    fails(["train", "--image_dir", str(other), "--out_dir", str(run), "--base", base,
           "--preset", "test", "--epochs", "1", "--bottleneck_dir", "", "--verbose", "0",
           "--resume"], capsys, "class names")
    fails(train_argv(photos, run, "--base", base, "--resume", "--hidden_units", "8"), capsys,
          "hidden_units: 0 -> 8")
    assert snapshot(run) == before and not (tmp_path / "nothing").exists()


def test_predict_refuses_missing_fifo_and_unreadable_files(setup, tmp_path, capsys):
    _, _, _, run = setup
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "big.png")
    predict = ["predict", "--run_dir", str(run)]
    fails(predict + [str(tmp_path / "missing.jpg")], capsys, "not found")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.jpg")
        fails(predict + [str(tmp_path / "fifo.jpg")], capsys, "FIFO")
    fails(predict + [str(tmp_path / "notes.jpg"), str(tmp_path / "broken.jpg")], capsys,
          "none of the 2 files")
    fails(predict + ["--max_bytes", "10", str(tmp_path / "big.png")], capsys, "none of the 1")
    fails(predict + ["--top", "0", str(tmp_path / "big.png")], capsys)


def test_a_broken_jpeg_prints_nothing_but_the_error(setup, tmp_path, capfd):
    """libjpeg writes to file descriptor 2 itself; that line must not precede the error."""
    from common.cli import run_cli

    _, _, _, run = setup
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(SystemExit):
        run_cli(transfer.main, ["predict", "--run_dir", str(run), str(tmp_path / "broken.jpg")])
    assert_one_line_error(2, capfd.readouterr().err, "none of the 1 files")


def test_load_images_skips_a_fifo_without_blocking(tmp_path):
    from week2_cnn.transfer_data import load_images

    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(tmp_path / "fifo.jpg")
    Image.new("RGB", (9, 7), (1, 2, 3)).save(tmp_path / "ok.png")
    images, kept, skipped = load_images([str(tmp_path / "fifo.jpg"), str(tmp_path / "ok.png")],
                                        8)
    assert images.shape == (1, 8, 8, 3) and kept.tolist() == [1] and len(skipped) == 1


def test_reading_verbs_write_nothing_into_the_run(setup, tmp_path, capsys):
    _, _, _, run = setup
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "red.png")
    before = snapshot(run)
    transfer.main(["predict", "--run_dir", str(run), str(tmp_path / "red.png")])
    transfer.main(["export", "--run_dir", str(run), "--export_dir", str(tmp_path / "export")])
    assert snapshot(run) == before


def damaged_copy(run, tmp_path, name, change):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    change(copy / name)
    return copy


def test_damaged_run_directories_are_one_error_line(setup, tmp_path, capsys):
    _, _, _, run = setup
    cases = [
        ("best.keras", lambda p: p.write_bytes(p.read_bytes()[:100]), "best", "best.keras"),
        ("labels.json", lambda p: p.write_text("[\"blue\", "), "best", "labels.json"),
        ("state.json", lambda p: p.write_text(json.dumps(
            {**json.loads(p.read_text()), "checkpoint": "../victim.keras"})), "last",
         "outside the run directory"),
        ("config.json", lambda p: p.write_text(json.dumps({"kind": "cifar10"})), "best",
         "'cifar10' run"),
        ("base.keras", lambda p: p.unlink(), "last", None),  # then classifier.keras is used
    ]
    for index, (name, change, which, fragment) in enumerate(cases):
        copy = damaged_copy(run, tmp_path / str(index), name, change)
        argv = ["evaluate", "--run_dir", str(copy), "--checkpoint", which]
        if fragment is None:
            transfer.main(argv)
            assert "classifier.keras" in capsys.readouterr().out
        else:
            fails(argv, capsys, fragment)
    fails(["evaluate", "--run_dir", str(tmp_path)], capsys, "not a run directory")


def test_the_fine_tuning_sub_run_is_not_a_transfer_run(tmp_path, capsys):
    (tmp_path / "fine_tune").mkdir()
    (tmp_path / "fine_tune" / "config.json").write_text(json.dumps(
        {"kind": "transfer_fine_tune"}))
    fails(["evaluate", "--run_dir", str(tmp_path / "fine_tune")], capsys, "transfer_fine_tune")


def test_a_new_run_never_lands_on_a_stray_base(setup, tmp_path, capsys):
    _, photos, base, _ = setup
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "base.keras").write_bytes(b"someone's file")
    fails(train_argv(photos, tmp_path / "run", "--base", base), capsys, "base.keras")
    assert (tmp_path / "run" / "base.keras").read_bytes() == b"someone's file"
