"""SIGKILL at random moments of the other commands' training and export (shared lifecycle).

tests/test_slow_kill.py kills the char-RNN 22 times; every command trains and exports
through the same common.lifecycle and common.export, and this file checks that on the
other five commands that take part: a few kills -9 of `train` and of `export` each, at
seeded random moments. After every kill state.json parses and holds every epoch it
claims, the next start always works, an earlier export still reloads; at the end the
run resumes and finishes with every epoch exactly once.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import make_corpus
from tests.test_hostile_common import cli_env

KILLS_PER_COMMAND = 4  # 3 during training, 1 during export


def data_for(command, root):
    """The training flags of `command`, on small data it makes in `root`."""
    if command == "week2_cnn.cifar10":
        from tests.test_cifar_cli import colour_layout

        return ["--data_dir", colour_layout(root / "cifar-10-batches-py", per_class=40)]
    if command == "gan.dcgan":
        from tests.test_dcgan_verbs import mnist_like

        return ["--data_dir", mnist_like(root / "mnist", train=512, test=16)]
    if command == "week1_basics.mnist":
        from tests.test_dcgan_verbs import mnist_like

        return ["--data_dir", mnist_like(root / "mnist", train=512, test=16)]
    if command == "week3_rnn.ptb":
        from tests.test_ptb import write_corpus

        return ["--data_dir", write_corpus(root / "ptb")]
    text = root / "corpus.txt"
    text.write_text(make_corpus(400), encoding="utf-8")
    return ["--text", text]


def start(command, argv, root):
    return subprocess.Popen([sys.executable, "-m", command, *map(str, argv)], cwd=root,
                            env=cli_env(root / "home"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def launch(command, argv, root, delay=None):
    """Runs `python -m command argv`; SIGKILLs it after `delay` s. True if the kill hit."""
    process = start(command, argv, root)
    try:
        _, err = process.communicate(timeout=delay if delay is not None else 600)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.communicate()
        return True
    assert process.returncode == 0, err[-2000:]
    return False


def train_until(command, argv, root, run, epoch):
    """Trains until the run has finished `epoch` epochs, then SIGKILLs the trainer."""
    process = start(command, argv, root)
    deadline = time.monotonic() + 600
    try:
        while finished_epochs(run) < epoch:
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate()


def finished_epochs(run):
    """The run's finished epochs after a kill, with the invariants checked."""
    try:
        with open(run / "state.json") as f:
            state = json.load(f)
    except FileNotFoundError:
        return 0
    epochs = [row["epoch"] for row in state["history"]]
    assert epochs == list(range(1, state["epoch"] + 1))
    if state["epoch"]:
        assert (run / state["checkpoint"]).is_file()
    if "best_epoch" in state:  # a GAN has no validation loss and keeps no best.keras
        assert (run / "best.keras").is_file()
    return state["epoch"]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["week2_cnn.cifar10", "gan.dcgan", "week3_rnn.ptb",
                                     "word2vec.skipgram", "week1_basics.mnist"])
def test_kills_lose_at_most_the_epoch_in_progress(tmp_path, command):
    import tensorflow as tf

    rng = random.Random(sum(command.encode()))  # the same schedule in every process
    (tmp_path / "home").mkdir()
    run, export = tmp_path / "run", tmp_path / "exports" / "model"
    # --epochs stays the same throughout: CIFAR-10's schedule spans its epochs, so a
    # resume may not change it; the trainer is always killed, never left to finish.
    train = ["train", *data_for(command, tmp_path), "--out_dir", run, "--preset", "test",
             "--verbose", "0", "--epochs", "1000"]
    train_until(command, train, tmp_path, run, 1)
    assert not launch(command, ["export", "--run_dir", run, "--export_dir", export], tmp_path)
    kills, seen = 0, finished_epochs(run)
    for attempt in range(12):
        if kills == KILLS_PER_COMMAND:
            break
        if kills < KILLS_PER_COMMAND - 1:
            kills += launch(command, [*train, "--resume"], tmp_path, rng.uniform(2.0, 20.0))
            epochs = finished_epochs(run)
            assert epochs >= seen  # no finished epoch was lost
            seen = epochs
        else:
            argv = ["export", "--run_dir", run, "--export_dir", export, "--overwrite"]
            kills += launch(command, argv, tmp_path, rng.uniform(0.5, 8.0))
        aside = [p for p in export.parent.iterdir() if p.name.startswith(".old-")]
        tf.saved_model.load(str(export if export.exists() else aside[0]))  # still whole
    assert kills == KILLS_PER_COMMAND, f"only {kills} kills hit a running process"
    # The run always resumes and goes on from its last finished epoch.
    train_until(command, [*train, "--resume"], tmp_path, run, seen + 1)
    assert finished_epochs(run) >= seen + 1
    with open(run / "state.json") as f:
        checkpoint = json.load(f)["checkpoint"]
    left = [f"checkpoints/{n}" for n in os.listdir(run / "checkpoints")]
    # Only the state's checkpoint, and staging files of the last kill (the next start
    # removes those), are left: superseded checkpoints were removed.
    assert [n for n in left if not n.startswith("checkpoints/.tmp-")] == [checkpoint]
