"""`week2_cnn.transfer train --layer_lr_decay`: the flag, its fine-tuning run, --resume."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli, snapshot
from tests.test_transfer import make_photo_folder, save_small_base
from week2_cnn import transfer


def train_argv(photos, out_dir, base, *extra):
    return ["train", "--image_dir", str(photos), "--out_dir", str(out_dir), "--base", base,
            "--weights", "none", "--preset", "test", "--bottleneck_dir", "", "--verbose", "0",
            "--fine_tune_layers", "3", *extra]


def fine_tune_optimizer(run, epoch):
    import keras

    path = run / "fine_tune" / "checkpoints" / f"epoch-{epoch:04d}.keras"
    return keras.saving.load_model(path).optimizer  # compiled: the optimizer as saved


def fine_tune_state(run):
    return json.loads((run / "fine_tune" / "state.json").read_text())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(photos, base, run): head 3 epochs, then fine-tuning 1 epoch at --layer_lr_decay 0.5."""
    root = tmp_path_factory.mktemp("layer_rates")
    photos = make_photo_folder(root / "photos", per_class=6)
    base = save_small_base(root)
    transfer.main(train_argv(photos, root / "run", base, "--layer_lr_decay", "0.5"))
    return photos, base, root / "run"


@pytest.mark.parametrize("value", ["0", "-0.5", "1.5", "nan", "inf", "abc"])
def test_a_decay_outside_0_to_1_is_one_error_line(setup, tmp_path, capsys, value):
    photos, base, _ = setup
    status, out, err = call_cli(transfer.main, train_argv(
        photos, tmp_path / "run", base, "--layer_lr_decay", value), capsys)
    assert_one_line_error(status, err, "--layer_lr_decay")
    assert out == "" and not (tmp_path / "run").exists()


def test_the_real_command_refuses_a_decay_of_zero(setup, tmp_path):
    photos, base, _ = setup
    result = subprocess.run(
        [sys.executable, "-m", "week2_cnn.transfer",
         *train_argv(photos, tmp_path / "run", base, "--layer_lr_decay", "0")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3"))
    assert_one_line_error(result.returncode, result.stderr, "must be in (0, 1]")
    assert not (tmp_path / "run").exists()


def test_fine_tuning_uses_the_decay_per_block_of_the_cifar_base(setup):
    _, _, run = setup
    config = json.loads((run / "fine_tune" / "config.json").read_text())
    assert config["layer_lr_decay"] == 0.5
    optimizer = fine_tune_optimizer(run, 1)
    assert type(optimizer).__name__ == "LayerRateAdam"
    # --fine_tune_layers 3 of the `fast` base: the batch norm after the pool of the
    # last conv group (its conv's depth, 2), the last conv and its batch norm (depth
    # 1); the head's kernel and bias (depth 0). Only the norms' betas train (no scale).
    assert optimizer.lr_multipliers == (0.25, 0.5, 0.5, 1.0, 1.0)


def test_resume_keeps_the_decay_and_refuses_to_change_it(setup, tmp_path, capsys):
    photos, base, run = setup
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    steps = int(fine_tune_optimizer(copy, 1).iterations)  # of one fine-tuning epoch
    assert steps > 0
    before = snapshot(copy)
    for extra, change in ((["--layer_lr_decay", "0.25"], "layer_lr_decay: 0.5 -> 0.25"),
                          ([], "layer_lr_decay: 0.5 -> 1.0")):
        status, out, err = call_cli(transfer.main, train_argv(
            photos, copy, base, "--resume", "--fine_tune_epochs", "2", *extra), capsys)
        assert_one_line_error(status, err, change)
    assert snapshot(copy) == before
    transfer.main(train_argv(photos, copy, base, "--resume", "--fine_tune_epochs", "2",
                             "--layer_lr_decay", "0.5"))
    assert fine_tune_state(copy)["epoch"] == 2
    optimizer = fine_tune_optimizer(copy, 2)
    assert optimizer.lr_multipliers == (0.25, 0.5, 0.5, 1.0, 1.0)
    assert int(optimizer.iterations) == 2 * steps  # continued, not started again


def test_default_is_plain_adam_and_runs_saved_before_the_flag_resume(setup, tmp_path):
    photos, base, _ = setup
    run = tmp_path / "run"
    transfer.main(train_argv(photos, run, base, "--epochs", "1"))
    assert type(fine_tune_optimizer(run, 1)).__name__ == "Adam"  # today's fine-tuning
    for folder in (run, run / "fine_tune"):  # as written before --layer_lr_decay existed
        config = json.loads((folder / "config.json").read_text())
        del config["layer_lr_decay"]
        (folder / "config.json").write_text(json.dumps(config))
    transfer.main(train_argv(photos, run, base, "--epochs", "1", "--resume",
                             "--fine_tune_epochs", "2"))
    assert fine_tune_state(run)["epoch"] == 2
    assert type(fine_tune_optimizer(run, 2)).__name__ == "Adam"


def test_mirrored_strategy_with_distortions_fine_tuning_and_the_decay(setup, tmp_path):
    """Both phases of a run under MirroredStrategy: the head on plain Adam, fine-tuning on
    LayerRateAdam (the one mirrored transfer run of the suite)."""
    photos, base, _ = setup
    run = tmp_path / "run"
    transfer.main(train_argv(photos, run, base, "--strategy", "mirrored", "--epochs", "1",
                             "--distort", "--layer_lr_decay", "0.5"))
    head = json.loads((run / "state.json").read_text())
    assert head["epoch"] == 1 and fine_tune_state(run)["epoch"] == 1
    assert json.loads((run / "config.json").read_text())["distort"] is True
    assert fine_tune_optimizer(run, 1).lr_multipliers == (0.25, 0.5, 0.5, 1.0, 1.0)
