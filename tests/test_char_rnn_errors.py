"""Every bad input gets one line `error: ...`, exit status 2, and loses nothing."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from common.cli import run_cli
from week3_rnn import char_rnn
from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli


def run_command(argv, capsys):
    """Runs the CLI in-process; returns (exit status, stderr)."""
    status, _, stderr = call_cli(char_rnn.main, argv, capsys)
    return status, stderr


def train_args(text, out_dir, *extra):
    return ["train", "--text", str(text), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", *extra]


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    (b"", "is empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"caf\xe9 au lait", "not valid UTF-8"),
    (b"too short", "shorter than one training sequence"),
])
def test_bad_text_files(tmp_path, capsys, content, fragment):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    status, stderr = run_command(train_args(path, tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, fragment)
    assert not (tmp_path / "run" / "config.json").exists()


def test_validation_tail_shorter_than_a_sequence(tmp_path, capsys, corpus):
    path = tmp_path / "input.txt"
    path.write_text(corpus[:300], encoding="utf-8")
    status, stderr = run_command(train_args(path, tmp_path / "run", "--val_fraction", "0.05"),
                                 capsys)
    assert_one_line_error(status, stderr, "validation tail")


def test_existing_run_is_never_overwritten(trained_run, corpus_file, capsys):
    run_dir = trained_run[0]
    before = open(os.path.join(run_dir, "state.json")).read()
    status, stderr = run_command(train_args(corpus_file, run_dir), capsys)
    assert_one_line_error(status, stderr, "already holds a run")
    assert open(os.path.join(run_dir, "state.json")).read() == before


def test_resume_with_another_vocabulary(trained_run, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text("completely different words! " * 40, encoding="utf-8")
    # The run's own settings (conftest's trained_run), so only the text differs.
    status, stderr = run_command(train_args(other, trained_run[0], "--resume", "--seed", "1",
                                            "--val_fraction", "0.2", "--epochs", "2"), capsys)
    assert_one_line_error(status, stderr, "vocabulary differs")


def test_resume_with_another_model(trained_run, corpus_file, capsys):
    status, stderr = run_command(
        train_args(corpus_file, trained_run[0], "--resume", "--units", "64"), capsys)
    assert_one_line_error(status, stderr, "units: 32 -> 64")


def test_resume_on_a_run_of_another_kind(tmp_path, corpus_file, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"kind": "ptb"}))
    status, stderr = run_command(train_args(corpus_file, tmp_path / "run", "--resume"), capsys)
    assert_one_line_error(status, stderr, "holds a 'ptb' run")


def test_prime_outside_the_vocabulary_names_the_characters(trained_run, capsys):
    status, stderr = run_command(
        ["sample", "--run_dir", trained_run[0], "--prime", "the Ωmega"], capsys)
    assert_one_line_error(status, stderr, "'Ω'")


@pytest.mark.parametrize("flag, value", [("--length", "0"), ("--length", "-5"),
                                         ("--temperature", "0"), ("--temperature", "-1"),
                                         ("--temperature", "nan")])
def test_non_positive_length_or_temperature(trained_run, capsys, flag, value):
    status, stderr = run_command(["sample", "--run_dir", trained_run[0], flag, value], capsys)
    assert_one_line_error(status, stderr, flag)


def test_export_refuses_an_existing_directory(trained_run, tmp_path, capsys):
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("earlier work")
    status, stderr = run_command(
        ["export", "--run_dir", trained_run[0], "--export_dir", str(target)], capsys)
    assert_one_line_error(status, stderr, "--overwrite")
    assert (target / "keep.txt").read_text() == "earlier work"
    # --overwrite replaces only an earlier export of this project, never a user's folder.
    status, stderr = run_command(["export", "--run_dir", trained_run[0], "--export_dir",
                                  str(target), "--overwrite"], capsys)
    assert_one_line_error(status, stderr, "not an export written by this project")
    assert (target / "keep.txt").read_text() == "earlier work"
    ours = tmp_path / "ours"
    for _ in range(2):  # the second run replaces the first export
        run_cli(char_rnn.main, ["export", "--run_dir", trained_run[0], "--export_dir",
                                str(ours), "--overwrite"])
    assert (ours / "saved_model.pb").exists() and (ours / "tfcourse_export.json").exists()


def test_sample_from_a_folder_that_is_not_a_run(tmp_path, capsys):
    status, stderr = run_command(["sample", "--run_dir", str(tmp_path)], capsys)
    assert_one_line_error(status, stderr, "not a run directory")


def test_nan_loss_stops_with_an_error_and_keeps_no_bad_checkpoint(tmp_path, capsys,
                                                                  corpus_file):
    status, stderr = run_command(
        train_args(corpus_file, tmp_path / "run", "--learning_rate", "1e38",
                   "--grad_clip", "0"), capsys)
    assert_one_line_error(status, stderr, "NaN")
    assert not (tmp_path / "run" / "best.keras").exists()


def test_sigkill_leaves_the_last_checkpoint_usable(tmp_path, corpus_file):
    """Kill -9 mid-training; the run still samples and resumes to the end."""
    out_dir = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-m", "week3_rnn.char_rnn"]
    process = subprocess.Popen(
        command + train_args(corpus_file, out_dir, "--epochs", "200"), cwd=REPO_ROOT,
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    state_path = out_dir / "state.json"
    while time.time() < deadline and not (
            state_path.exists() and json.loads(state_path.read_text())["epoch"] >= 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    state = json.loads(state_path.read_text())
    assert 2 <= state["epoch"] < 200
    assert (out_dir / state["checkpoint"]).exists()
    finish = subprocess.run(
        command + train_args(corpus_file, out_dir, "--epochs", str(state["epoch"] + 1),
                             "--resume"),
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert finish.returncode == 0, finish.stderr[-2000:]
    assert json.loads(state_path.read_text())["epoch"] == state["epoch"] + 1
