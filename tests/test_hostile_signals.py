"""Hostile moments, in real processes: Ctrl-C, SIGTERM, a second trainer, stderr at the fd level.

Common code under attack: common.cli.run_cli / quiet_tensorflow (nothing before the error
line, Ctrl-C or SIGTERM during start-up), common.training.fit_run (Ctrl-C and SIGTERM keep
the last finished epoch beside interrupted.keras), common.runs lock (a second process gets
the holder's pid).

Every child that is sent a signal starts with SIGINT and SIGTERM at their defaults
(`start_trainer`), so that these tests also pass when pytest runs as a background job
(`python -m pytest &`), which ignores SIGINT and would pass that on to its children.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT, make_corpus
from tests.test_hostile_common import (RUN_FLAGS, assert_one_error_line, cli_env, start_cli,
                                       tree_hash)

SIGNALS = {signal.SIGINT: ("Ctrl-C", 130), signal.SIGTERM: ("SIGTERM", 143)}


def default_signal_dispositions():
    """Runs in the child before exec: an ignored signal would stay ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_trainer(argv, cwd, home, stdout=subprocess.PIPE):
    """`python -m week3_rnn.char_rnn ARGV` (like start_cli), ready to be sent a signal."""
    return subprocess.Popen([sys.executable, "-m", "week3_rnn.char_rnn", *map(str, argv)],
                            cwd=str(cwd), env=cli_env(home), stdout=stdout,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signal_dispositions)


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


def interrupt_at(world, delay, out_dir, signal_number):
    process = start_trainer(["train", "--text", world.text, "--out_dir", out_dir, *RUN_FLAGS,
                             "--epochs", "100000"], world.cwd, world.home)
    time.sleep(delay)
    process.send_signal(signal_number)
    return finish(process)


def check_start_up_interrupt(world, delay, signal_number=signal.SIGINT):
    out_dir = world.root / f"run-{delay}"
    status, out, err = interrupt_at(world, delay, out_dir, signal_number)
    if "Traceback" in err and REPO_ROOT not in err:
        # Python's own start-up (site, runpy) was hit, before any code of this project ran.
        pytest.skip(f"the signal came during the interpreter's start-up: {err.splitlines()[0]}")
    assert "Traceback" not in err, err
    if status == -signal_number:  # before run_cli's (or Python's) handler: killed quietly
        assert err == "", err
    else:
        name, expected_status = SIGNALS[signal_number]
        assert status == expected_status, (status, err)
        lines = err.strip("\n").splitlines()
        assert len(lines) == 1 and f"interrupted ({name})" in lines[0], err
    if out_dir.exists():  # only a run that can be resumed is left behind
        names = os.listdir(out_dir)
        assert "config.json" in names and ("state.json" in names), names
        with open(out_dir / "state.json") as f:
            state = json.load(f)
        assert state["epoch"] >= 1 or "interrupted" in state, state
    world.assert_intact()


def test_ctrl_c_during_start_up_prints_no_traceback(world):
    check_start_up_interrupt(world, 1.0)


def test_sigterm_during_start_up_prints_no_traceback(world):
    check_start_up_interrupt(world, 1.0, signal.SIGTERM)


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", SIGNALS, ids=lambda number: signal.Signals(number).name)
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.4, 2.0, 3.5, 5.0, 7.0])
def test_ctrl_c_at_many_moments_of_start_up(world, delay, signal_number):
    check_start_up_interrupt(world, delay, signal_number)


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


@pytest.fixture(scope="module", params=[
    pytest.param(signal.SIGTERM, id="SIGTERM"),
    pytest.param(signal.SIGINT, id="Ctrl-C", marks=pytest.mark.slow)])
def interrupted_run(request, tmp_path_factory):
    """A run sent SIGTERM or SIGINT during its second epoch or later.

    (signal, status, err, run, text, its state.json then); SIGTERM runs in the default
    tier, Ctrl-C (the same path in fit_run, another exception) in the slow one.
    """
    root = tmp_path_factory.mktemp("interrupted")
    run = root / "run"
    text = big_corpus(root)
    process = start_trainer(["train", "--text", text, "--out_dir", run, "--preset", "test",
                             "--epochs", "100000", "--verbose", "0"], root, root)
    wait_for_epoch(run / "state.json", 1, process)
    time.sleep(0.5)  # into the second epoch (about 1 s each on an idle machine)
    process.send_signal(request.param)
    status, _, err = finish(process)
    with open(run / "state.json") as f:
        state = json.load(f)
    return request.param, status, err, run, text, state


def test_an_interrupt_keeps_the_last_epoch_beside_interrupted_keras_and_resume_continues(
        interrupted_run, capfd, world):
    signal_number, status, err, run, text, state = interrupted_run
    assert status == SIGNALS[signal_number][1] and "Traceback" not in err, err
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


def test_an_interrupt_during_training_prints_one_error_line(interrupted_run):
    signal_number, status, err, _, _, state = interrupted_run
    name, expected_status = SIGNALS[signal_number]
    assert status == expected_status
    epoch = state["epoch"]
    assert_one_error_line(err, f"interrupted ({name}) during epoch {epoch + 1}; its weights "
                               "so far are in ")


@pytest.mark.slow
def test_a_second_process_gets_the_lock_holders_pid(world, capfd):
    run = world.root / "run"
    text = big_corpus(world.root)
    first = start_trainer(["train", "--text", text, "--out_dir", run, "--preset", "test",
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


# In-process: run_cli's handler, and a second SIGTERM while the partial epoch is saved.

def test_run_cli_turns_sigterm_into_one_line_and_status_143_then_restores_the_handler(capsys):
    from common.cli import run_cli

    before = signal.getsignal(signal.SIGTERM)

    def main(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # the handler raises Terminated long before this ends

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [])
    assert exit_info.value.code == 143
    assert_one_error_line(capsys.readouterr().err, "interrupted (SIGTERM)")
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_second_sigterm_during_the_save_of_the_partial_epoch_waits_for_it(tmp_path, capsys,
                                                                             monkeypatch):
    import keras
    import numpy as np
    import tensorflow as tf

    from common import training
    from common.cli import run_cli
    from common.runs import INTERRUPTED, RunDir, new_state

    def save_with_a_second_sigterm(model, path):
        if os.path.basename(path) == INTERRUPTED:
            os.kill(os.getpid(), signal.SIGTERM)  # before the save begins: it must wait
        real_save(model, path)

    real_save = training.atomic_save_model
    monkeypatch.setattr(training, "atomic_save_model", save_with_a_second_sigterm)
    epochs_begun = []
    sigterm_in_epoch_2 = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: epochs_begun.append(epoch),
        on_train_batch_end=lambda batch, logs: (len(epochs_begun) == 2 and batch == 2
                                                and os.kill(os.getpid(), signal.SIGTERM)))
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8).repeat()
    run_dir, state = RunDir(str(tmp_path / "run")), new_state()

    def main(argv):
        training.fit_run(model, run_dir, state, data, 8, 100, training.Progress(8, "examples"),
                         verbose=0, extra_callbacks=[sigterm_in_epoch_2])

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, [])
    assert exit_info.value.code == 143
    assert_one_error_line(capsys.readouterr().err, "interrupted (SIGTERM) during epoch 2")
    with open(tmp_path / "run" / "state.json") as f:
        saved = json.load(f)
    assert saved["epoch"] == 1 and saved["interrupted"]["after_epoch"] == 1
    assert sorted(os.listdir(tmp_path / "run" / "checkpoints")) == ["epoch-0001.keras",
                                                                   INTERRUPTED]
    reloaded = keras.saving.load_model(tmp_path / "run" / "checkpoints" / INTERRUPTED)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
