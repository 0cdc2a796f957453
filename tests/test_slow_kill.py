"""SIGKILL at random moments of char-RNN training and export (issue 13's slow check).

At least 20 kills -9, at moments drawn from a seeded generator (the schedule is
reproducible; what each kill hits depends on the machine's speed): Python start-up, the
quiet TensorFlow import, the lock, the clean-up of a crash's leftovers, model building,
an epoch, the atomic writes of a checkpoint and state.json, the SavedModel's staging and
its swap. After every kill:

- state.json and config.json parse, and no finished epoch is lost: the state has at least
  every epoch that a killed trainer printed (it prints an epoch only once it is saved), and
  its checkpoint and best.keras exist;
- the next start always works (a stale lock, staging files are taken care of);
- the earlier export is never corrupt: tf.saved_model.load reloads it (or the copy that a
  kill between the two renames left aside, which the next export puts back) and its
  generate_seeded signature answers.

At the end the run resumes to its last epoch with every epoch in its history exactly once.
"""

import json
import math
import os
import random
import signal
import time

import pytest

from tests.conftest import make_corpus
from tests.test_hostile_common import start_cli

SCHEDULE_SEED = 13
TRAIN_KILLS, EXPORT_KILLS = 13, 9
MAX_ATTEMPTS = 40  # launches that finished before their kill do not count


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def printed_epochs(log_path):
    """Epoch numbers a trainer printed ("epoch 3, loss ..."), each printed after it was saved."""
    with open(log_path, encoding="utf-8") as f:
        return [int(line.split(",")[0].split()[1]) for line in f if line.startswith("epoch ")]


def launch_and_kill(argv, root, delay, log_path):
    """Starts the command, SIGKILLs it after `delay` s; True if the kill hit it while running."""
    with open(log_path, "w") as log:
        process = start_cli(argv, root, root / "home", stdout=log, stderr=log)
        deadline = time.time() + delay
        while time.time() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is not None:
            assert process.returncode == 0, open(log_path).read()[-3000:]
            return False
        process.send_signal(signal.SIGKILL)
        process.wait()
    return True


def check_run(run, lost_nothing_below):
    """The invariants of a run directory after a kill; returns the finished epochs."""
    if not (run / "config.json").exists():
        assert lost_nothing_below == 0
        return 0
    config = read_json(run / "config.json")
    assert config["kind"] == "char_rnn"
    if not (run / "state.json").exists():
        assert lost_nothing_below == 0 and not (run / "best.keras").exists()
        return 0
    state = read_json(run / "state.json")
    epoch = state["epoch"]
    assert epoch >= lost_nothing_below, f"epoch {lost_nothing_below} was printed, state has {epoch}"
    assert [row["epoch"] for row in state["history"]] == list(range(1, epoch + 1))
    if epoch:
        assert (run / state["checkpoint"]).is_file() and (run / "best.keras").is_file()
    return epoch


def check_export(path):
    """Reloads an export and calls a signature; returns its generated text."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy().decode())
    assert metadata["kind"] == "char_rnn"
    text = loaded.signatures["generate_seeded"](
        prime=tf.constant("t"), length=tf.constant(8, tf.int32),
        temperature=tf.constant(1.0), seed=tf.constant(7, tf.int32))["text"].numpy().decode()
    assert len(text) == 9
    return text


def export_or_aside(exports):
    """The export folder, or (after a kill between the swap's renames) the copy left aside."""
    target = exports / "char"
    if target.exists():
        return target
    aside = [exports / n for n in os.listdir(exports) if n.startswith(".old-") and
             n.endswith("-char")]
    assert len(aside) == 1, f"the earlier export is gone: {os.listdir(exports)}"
    return aside[0]


def tree_state(path):
    return {name: os.stat(os.path.join(path, name)).st_mtime_ns for name in os.listdir(path)}


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_at_most_the_epoch_in_progress(tmp_path):
    rng = random.Random(SCHEDULE_SEED)
    (tmp_path / "home").mkdir()
    text = tmp_path / "corpus.txt"
    text.write_text(make_corpus(300), encoding="utf-8")  # a fraction of a second per epoch
    run, exports = tmp_path / "run", tmp_path / "exports"
    export_argv = ["export", "--run_dir", run, "--export_dir", exports / "char", "--overwrite"]
    high_water = 0  # the highest epoch any killed trainer printed (or state held)
    kills = {"train": 0, "export": 0}
    export_seconds = None
    plan = ["train"] * TRAIN_KILLS + ["export"] * EXPORT_KILLS
    rng.shuffle(plan)
    plan = ["train", "train", *plan]  # there is something to export from the third launch on
    attempts = 0
    while plan:
        attempts += 1
        assert attempts <= MAX_ATTEMPTS, f"only {kills} kills hit a running process"
        what = plan[0]
        log = tmp_path / f"launch-{attempts:02d}.log"
        if what == "train":
            argv = ["train", "--text", text, "--out_dir", run, "--preset", "test",
                    "--epochs", "100000", "--verbose", "0"]
            if (run / "config.json").exists():
                argv.append("--resume")
            killed = launch_and_kill(argv, tmp_path, rng.uniform(0.2, 16.0), log)
            high_water = max([high_water, *printed_epochs(log)])
            high_water = max(high_water, check_run(run, high_water))
            if exports.exists():  # training never touches an export
                assert tree_state(export_or_aside(exports)) == before_training
        else:
            if export_seconds is None:  # the earlier export, made once without a kill
                if check_run(run, high_water) == 0:
                    plan.insert(0, "train")
                    continue
                started = time.time()
                assert not launch_and_kill(export_argv, tmp_path, 600, log)
                export_seconds = time.time() - started
                check_export(exports / "char")
            killed = launch_and_kill(export_argv, tmp_path,
                                     rng.uniform(0.1, 1.1 * export_seconds), log)
            check_export(export_or_aside(exports))
            check_run(run, high_water)  # export wrote nothing into the run
        if exports.exists():
            before_training = tree_state(export_or_aside(exports))
        if killed:
            kills[what] += 1
            plan.pop(0)
    assert sum(kills.values()) >= 20 and kills["export"] >= 5, kills
    print(f"\n{kills['train']} kills during training and {kills['export']} during export, "
          f"{attempts} launches; the run had {high_water} epochs")

    # The run always resumes, and finishes with every epoch exactly once.
    epoch = check_run(run, high_water)
    target = epoch + 2
    with open(tmp_path / "final.log", "w") as log:
        finish = start_cli(["train", "--text", text, "--out_dir", run, "--preset", "test",
                            "--epochs", str(target), "--verbose", "0", "--resume"],
                           tmp_path, tmp_path / "home", stdout=log, stderr=log)
        assert finish.wait(timeout=600) == 0, (tmp_path / "final.log").read_text()[-3000:]
    state = read_json(run / "state.json")
    assert state["epoch"] == target and check_run(run, target) == target
    assert all(math.isfinite(row["loss"]) for row in state["history"])
    assert len((run / "history.csv").read_text().splitlines()) == 1 + target
    assert os.listdir(run / "checkpoints") == [f"epoch-{target:04d}.keras"]
    assert not [n for n in os.listdir(run) if n.startswith((".tmp-", ".lock"))]
    # A last export puts back or replaces whatever a kill left, and cleans its staging.
    assert not launch_and_kill(export_argv, tmp_path, 600, tmp_path / "final-export.log")
    check_export(exports / "char")
    left = [n for n in os.listdir(exports) if n != "char"]
    # A kill after the staging folder was made but before its marker was written leaves an
    # empty folder that no later export can tell is its own; nothing else may be left.
    assert all(n.startswith(".tmp-") and not os.listdir(exports / n) for n in left), left
