"""week2_cnn.transfer train: both phases through the lifecycle, --resume of each, --checkpoint."""

import dataclasses
import json
import os

import pytest

from tests.conftest import call_cli, snapshot
from tests.test_transfer import make_photo_folder, save_small_base
from week2_cnn import transfer
from week2_cnn.transfer_model import PRESETS


def train_argv(photos, out_dir, base, *extra):
    return ["train", "--image_dir", str(photos), "--out_dir", str(out_dir), "--base", base,
            "--weights", "none", "--preset", "test", "--bottleneck_dir", "", "--verbose", "0",
            *extra]


def state(run_dir):
    with open(os.path.join(run_dir, "state.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def cifar_base(tmp_path_factory):
    return save_small_base(tmp_path_factory.mktemp("base"))


@pytest.fixture(scope="module")
def two_phase(tmp_path_factory, cifar_base):
    """A run with a head phase (3 epochs) and a fine-tuning phase (1 epoch), via the CLI."""
    root = tmp_path_factory.mktemp("two_phase")
    photos = make_photo_folder(root / "photos")
    run = root / "run"
    transfer.main(train_argv(photos, run, cifar_base, "--fine_tune_layers", "2"))
    return photos, run


def test_both_phases_are_lifecycle_runs(two_phase, capsys):
    _, run = two_phase
    head, fine = state(run), state(run / "fine_tune")
    assert head["epoch"] == 3 and fine["epoch"] == 1
    assert len(head["history"]) == 3 and len(fine["history"]) == 1
    for folder, kind in ((run, "transfer"), (run / "fine_tune", "transfer_fine_tune")):
        config = json.loads((folder / "config.json").read_text())
        assert config["kind"] == kind and "provenance" in config
        assert (folder / "best.keras").exists() and (folder / "history.csv").exists()
    assert (run / "base.keras").exists() and (run / "classifier.keras").exists()
    assert json.loads((run / "fine_tune" / "config.json").read_text())["head_epochs"] == 3


def test_train_ends_with_the_next_commands(tmp_path, cifar_base, capsys):
    photos = make_photo_folder(tmp_path / "photos", per_class=6)
    transfer.main(train_argv(photos, tmp_path / "run", cifar_base, "--epochs", "1"))
    out = capsys.readouterr().out.rstrip().splitlines()
    assert out[-5:-3] == [f"run directory: {tmp_path / 'run'}", "next:"]
    assert [line.split()[:4] for line in out[-3:]] == [
        ["python", "-m", "week2_cnn.transfer", verb] for verb in ("evaluate", "predict", "export")]


def test_resume_continues_the_fine_tuning_phase(tmp_path, two_phase, cifar_base, capsys):
    import shutil

    photos, run = two_phase
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    head_before = snapshot(copy)["checkpoints/epoch-0003.keras"]
    transfer.main(train_argv(photos, copy, cifar_base, "--fine_tune_layers", "2", "--resume",
                             "--fine_tune_epochs", "2"))
    assert state(copy)["epoch"] == 3 and state(copy / "fine_tune")["epoch"] == 2
    assert snapshot(copy)["checkpoints/epoch-0003.keras"] == head_before
    assert "already trained 3 of 3 epochs" in capsys.readouterr().out
    # The resumed fine-tuning kept the lower base layers frozen and moved the top ones.
    import keras
    import numpy as np

    tuned = keras.saving.load_model(copy / "fine_tune" / "checkpoints" / "epoch-0002.keras")
    base = keras.saving.load_model(copy / "base.keras")
    changed = [not np.allclose(a, b) for a, b in zip(tuned.get_layer("base").get_weights(),
                                                      base.get_weights())]
    assert any(changed[-4:]) and not any(changed[:4])


def test_resume_a_head_run_then_start_fine_tuning(tmp_path, cifar_base):
    photos = make_photo_folder(tmp_path / "photos", per_class=6)
    run = tmp_path / "run"
    transfer.main(train_argv(photos, run, cifar_base, "--epochs", "1"))
    assert state(run)["epoch"] == 1 and not (run / "fine_tune").exists()
    transfer.main(train_argv(photos, run, cifar_base, "--epochs", "2", "--resume",
                             "--fine_tune_layers", "1"))
    assert state(run)["epoch"] == 2 and state(run / "fine_tune")["epoch"] == 1


def test_a_begun_fine_tuning_fixes_the_head_and_its_layers(tmp_path, two_phase, capsys,
                                                             cifar_base):
    photos, run = two_phase
    before = snapshot(run)
    for extra, fragment in ((["--epochs", "4", "--fine_tune_layers", "2"], "head_epochs"),
                            (["--fine_tune_layers", "3"], "layers: 2 -> 3"),
                            ([], "layers: 2 -> 0")):
        status, out, err = call_cli(transfer.main, train_argv(photos, run, cifar_base,
                                                              "--resume", *extra), capsys)
        assert status == 2 and fragment in err and len(err.strip().splitlines()) == 1, err
        assert out == ""
    assert snapshot(run) == before


def test_resume_of_runs_whose_config_lacks_a_field(tmp_path, two_phase, cifar_base):
    import shutil

    photos, run = two_phase
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for folder, field in ((copy, "dropout_rate"), (copy / "fine_tune", "distort")):
        config = json.loads((folder / "config.json").read_text())
        del config[field]  # as written before the field existed; it takes its default
        (folder / "config.json").write_text(json.dumps(config))
    transfer.main(train_argv(photos, copy, cifar_base, "--fine_tune_layers", "2", "--resume",
                             "--fine_tune_epochs", "2"))
    assert state(copy / "fine_tune")["epoch"] == 2


def test_checkpoint_best_is_chosen_on_validation_over_both_phases(two_phase):
    from common.runs import RunDir
    from week2_cnn.transfer_verbs import checkpoint_path

    _, run = two_phase
    head, fine = state(run), state(run / "fine_tune")
    assert head["best_key"] == fine["best_key"] == "val_loss"
    expected = run / ("fine_tune" if fine["best_score"] < head["best_score"] else "") / "best.keras"
    assert checkpoint_path(RunDir(str(run)), "best") == os.path.normpath(str(expected))
    assert checkpoint_path(RunDir(str(run)), "last").endswith(
        os.path.join("fine_tune", "checkpoints", "epoch-0001.keras"))


def test_evaluate_best_and_last_write_results(tmp_path, two_phase, capsys):
    import shutil

    _, run = two_phase
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for which in ("best", "last"):
        transfer.main(["evaluate", "--run_dir", str(copy), "--checkpoint", which])
        results = json.loads((copy / "results.json").read_text())
        assert results["checkpoint"] == which and results["split"] == "test"
        assert 0 <= results["test_accuracy"] <= 1 and "provenance" in results
    assert "test accuracy" in capsys.readouterr().out


def test_a_new_run_that_fails_in_its_first_epoch_leaves_nothing(tmp_path, cifar_base,
                                                                capsys):
    photos = make_photo_folder(tmp_path / "photos", per_class=6)
    status, _, err = call_cli(transfer.main, train_argv(
        photos, tmp_path / "run", cifar_base, "--learning_rate", "1e38", "--epochs", "1",
        "--hidden_units", "64"), capsys)
    assert status == 2 and "NaN" in err, err
    assert not (tmp_path / "run").exists()


def test_python_api_keeps_its_signature(tmp_path, cifar_base):
    photos = make_photo_folder(tmp_path / "photos", per_class=6)
    config = dataclasses.replace(PRESETS["test"], epochs=1)
    report = transfer.train(config, str(photos), str(tmp_path / "run"), cifar_base, "none",
                            bottleneck_dir=None, seed=3, verbose=0)
    assert report["test_images"] >= 0 and report["checkpoint"] == "best"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 3


# Both phases under --strategy mirrored, with --distort and fine-tuning: one run in
# tests/test_transfer_layer_rates_cli.py, whose --layer_lr_decay changes only the
# fine-tuning optimizer's class (its head phase is the plain Adam run this file trained).


def test_a_run_made_before_the_port_resumes_and_reads(tmp_path, cifar_base, capsys):
    photos = make_photo_folder(tmp_path / "photos", per_class=6)
    run = tmp_path / "run"
    transfer.main(train_argv(photos, run, cifar_base, "--epochs", "1"))
    config = json.loads((run / "config.json").read_text())
    for key in ("bottleneck_key", "provenance"):  # what older runs did not save
        del config[key]
    (run / "config.json").write_text(json.dumps(config))
    (run / "base.keras").unlink()
    transfer.main(["evaluate", "--run_dir", str(run)])
    assert "using its classifier.keras" in capsys.readouterr().out
    transfer.main(train_argv(photos, run, cifar_base, "--epochs", "2", "--resume"))
    assert state(run)["epoch"] == 2 and (run / "base.keras").exists()
