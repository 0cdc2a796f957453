"""Hostile moments, in real processes: Ctrl-C, a second trainer, stderr at the fd level.

Common code under attack: common.cli.run_cli / quiet_tensorflow (nothing before the error
line, Ctrl-C during start-up), common.training.fit_run (Ctrl-C keeps the last finished
epoch beside interrupted.keras), common.runs lock (a second process gets the holder's pid).
"""

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import REPO_ROOT, make_corpus
from tests.test_hostile_common import (RUN_FLAGS, assert_one_error_line, earlier_run,  # noqa: F401
                                       start_cli, tree_hash, world)


def finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.mark.parametrize("case", ["export-dir-empty", pytest.param(
    "corrupt-best-keras", marks=pytest.mark.slow)])
def test_one_error_line_at_the_fd_level_in_a_fresh_interpreter(world, case):
    """No TensorFlow or absl line may precede the error, TF_CPP_MIN_LOG_LEVEL unset."""
    if case == "export-dir-empty":
        argv = ["export", "--run_dir", world.run, "--export_dir", ""]
        run = world.run
    else:
        run = world.copy_run()
        with open(os.path.join(run, "best.keras"), "r+b") as f:
            f.truncate(1000)
        argv = ["generate", "--run_dir", run, "--length", "5"]
    before = tree_hash(run)
    status, out, err = finish(start_cli(argv, world.cwd, world.home))
    assert status == 2 and out == "", (status, out, err)
    assert_one_error_line(err, "--export_dir" if case == "export-dir-empty" else "best.keras")
    assert tree_hash(run) == before
    world.assert_intact()


def interrupt_at(world, delay, out_dir):
    process = start_cli(["train", "--text", world.text, "--out_dir", out_dir, *RUN_FLAGS,
                         "--epochs", "100000"], world.cwd, world.home)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    return finish(process)


def check_start_up_interrupt(world, delay):
    out_dir = world.root / f"run-{delay}"
    status, out, err = interrupt_at(world, delay, out_dir)
    if "Traceback" in err and REPO_ROOT not in err:
        # Python's own start-up (site, runpy) was hit, before any code of this project ran.
        pytest.skip(f"the signal came during the interpreter's start-up: {err.splitlines()[0]}")
    assert "Traceback" not in err, err
    if status == -signal.SIGINT:  # before Python's own handler: killed quietly by the signal
        assert err == "", err
    else:
        assert status == 130, (status, err)
        lines = err.strip("\n").splitlines()
        assert len(lines) == 1 and "interrupted" in lines[0], err
    if out_dir.exists():  # only a run that can be resumed is left behind
        names = os.listdir(out_dir)
        assert "config.json" in names and ("state.json" in names), names
        with open(out_dir / "state.json") as f:
            state = json.load(f)
        assert state["epoch"] >= 1 or "interrupted" in state, state
    world.assert_intact()


def test_ctrl_c_during_start_up_prints_no_traceback(world):
    check_start_up_interrupt(world, 1.0)


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.4, 2.0, 3.5, 5.0, 7.0])
def test_ctrl_c_at_many_moments_of_start_up(world, delay):
    check_start_up_interrupt(world, delay)


def big_corpus(folder):
    path = folder / "big.txt"
    path.write_text(make_corpus(600), encoding="utf-8")  # about 1 s per epoch here
    return path


def wait_for_epoch(state_path, epoch, process, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with open(state_path) as f:
                if json.load(f)["epoch"] >= epoch:
                    return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail(f"no epoch {epoch} after {timeout} s")


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory):
    """A run interrupted with SIGINT during its second epoch or later: (status, err, run)."""
    root = tmp_path_factory.mktemp("interrupted")
    run = root / "run"
    text = big_corpus(root)
    process = start_cli(["train", "--text", text, "--out_dir", run, "--preset", "test",
                         "--epochs", "100000", "--verbose", "0"], root, root)
    wait_for_epoch(run / "state.json", 1, process)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    status, _, err = finish(process)
    return status, err, run, text


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_epoch_beside_interrupted_keras_and_resume_continues(
        interrupted_run, capfd, world):
    status, err, run, text = interrupted_run
    assert status == 130 and "Traceback" not in err, err
    with open(run / "state.json") as f:
        state = json.load(f)
    epoch = state["epoch"]
    assert epoch >= 1 and state["interrupted"] == {"path": "checkpoints/interrupted.keras",
                                                   "after_epoch": epoch}
    assert sorted(os.listdir(run / "checkpoints")) == [f"epoch-{epoch:04d}.keras",
                                                      "interrupted.keras"]
    assert len((run / "history.csv").read_text().splitlines()) == 1 + epoch
    assert not (run / ".lock").exists()
    world.succeeds(["train", "--text", text, "--out_dir", run, "--preset", "test", "--resume",
                    "--epochs", str(epoch + 1), "--verbose", "0"], capfd)
    with open(run / "state.json") as f:
        state = json.load(f)
    assert state["epoch"] == epoch + 1 and "interrupted" not in state
    assert os.listdir(run / "checkpoints") == [f"epoch-{epoch + 1:04d}.keras"]


@pytest.mark.slow
def test_ctrl_c_during_training_prints_one_error_line(interrupted_run):
    status, err, _, _ = interrupted_run
    assert status == 130
    assert_one_error_line(err, "interrupted")


@pytest.mark.slow
def test_a_second_process_gets_the_lock_holders_pid(world, capfd):
    run = world.root / "run"
    text = big_corpus(world.root)
    first = start_cli(["train", "--text", text, "--out_dir", run, "--preset", "test",
                       "--epochs", "100000", "--verbose", "0"], world.cwd, world.home,
                      stdout=subprocess.DEVNULL)
    try:
        wait_for_epoch(run / "state.json", 1, first)
        resume = ["train", "--text", text, "--out_dir", run, "--preset", "test", "--verbose",
                  "0"]
        world.fails(resume + ["--resume"], capfd, f"in use by process {first.pid}")
        world.fails(resume, capfd, "already holds a run")
        with open(run / "state.json") as f:
            epoch = json.load(f)["epoch"]
        wait_for_epoch(run / "state.json", epoch + 1, first)  # the first one goes on
    finally:
        first.send_signal(signal.SIGINT)
        status, _, err = finish(first)
    assert status == 130 and "Traceback" not in err, err
    assert not (run / ".lock").exists()
