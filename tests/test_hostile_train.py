"""Hostile `train`: where a new run may not start, a failed start, locks, a crash's leftovers.

Common code under attack: common.lifecycle (check_new_or_resumable, train, _NewRunFiles),
common.runs (lock, remove_superseded), common.files (remove_own_staging_files),
common.training.get_strategy, common.configs (resume of a config lacking a field).
"""

import json
import os
import shutil
import socket

import pytest

from tests.test_hostile_common import RUN_FLAGS, dead_pid, tree_hash


def train_args(world, out_dir, *extra):
    return ["train", "--text", world.text, "--out_dir", out_dir, *RUN_FLAGS, *extra]


def stray(world, what):
    """A folder holding a run, or only some of a run's files (no config.json)."""
    path = world.root / "stray"
    if what == "a-run":
        return world.copy_run("stray")
    path.mkdir()
    if what == "config-json-garbage":
        (path / "config.json").write_bytes(b"\x00garbage")
    elif what == "state-json-only":
        shutil.copy(os.path.join(world.run, "state.json"), path)
    elif what == "best-keras-only":
        shutil.copy(os.path.join(world.run, "best.keras"), path)
    else:  # a checkpoints/ folder with an epoch or a Ctrl-C checkpoint
        (path / "checkpoints").mkdir()
        name = "interrupted.keras" if what == "interrupted-only" else "epoch-0001.keras"
        shutil.copy(os.path.join(world.run, "best.keras"), path / "checkpoints" / name)
    return path


@pytest.mark.parametrize("what, fragment", [
    ("a-run", "already holds a run"), ("config-json-garbage", "not a run of this command"),
    ("state-json-only", "no config.json"), ("best-keras-only", "no config.json"),
    ("epoch-checkpoint-only", "no config.json"), ("interrupted-only", "no config.json")])
def test_a_new_run_never_lands_on_a_run_or_stray_checkpoints(world, capfd, what, fragment):
    path = stray(world, what)
    before = tree_hash(path)
    world.fails(train_args(world, path), capfd, fragment)
    assert tree_hash(path) == before


@pytest.mark.parametrize("where, fragment", [
    ("a-file", "is a file"), ("under-a-file", ""), ("unwritable-parent", ""),
    ("unwritable-folder", ""), ("empty", "empty"), ("blank", "empty")])
def test_an_out_dir_that_cannot_hold_a_run(world, capfd, where, fragment, unwritable_dir):
    out_dir = {"a-file": world.root / "canary.txt",
               "under-a-file": world.root / "canary.txt" / "run",
               "unwritable-parent": os.path.join(unwritable_dir, "tfcourse-hostile-run"),
               "unwritable-folder": unwritable_dir, "empty": "", "blank": "  "}[where]
    before = sorted(os.listdir(world.root)), sorted(os.listdir(unwritable_dir))
    world.fails(train_args(world, out_dir), capfd, fragment)
    assert (sorted(os.listdir(world.root)), sorted(os.listdir(unwritable_dir))) == before


def test_resume_of_nothing_creates_nothing(world, capfd):
    world.fails(train_args(world, world.root / "never", "--resume"), capfd,
                "not a run directory")
    assert not (world.root / "never").exists()


NAN = ("--learning_rate", "1e38", "--grad_clip", "0")


def short_text(world):
    path = world.root / "short.txt"
    path.write_text("too short", encoding="utf-8")
    return ["--text", path]


@pytest.mark.parametrize("failure", ["nan-in-epoch-1", "text-too-short"])
@pytest.mark.parametrize("where", ["new-folder", "an-empty-folder"])
def test_a_failed_new_run_leaves_no_half_made_run(world, capfd, failure, where):
    out_dir = world.root / "run"
    if where == "an-empty-folder":
        out_dir.mkdir()
    extra = NAN if failure == "nan-in-epoch-1" else short_text(world)
    world.fails(train_args(world, out_dir, *extra), capfd,
                "NaN" if failure == "nan-in-epoch-1" else "shorter than", quiet=False)
    if where == "new-folder":
        assert not out_dir.exists()
    else:
        assert os.listdir(out_dir) == []  # the folder was there before: it stays


def test_a_failed_new_run_leaves_no_parent_folders(world, capfd):
    world.fails(train_args(world, world.root / "new" / "deeper" / "run", *NAN), capfd, "NaN",
                quiet=False)
    assert not (world.root / "new").exists()


def write_lock(run, pid, host=None):
    with open(os.path.join(run, ".lock"), "w") as f:
        json.dump({"pid": pid, "host": host or socket.gethostname()}, f)


@pytest.mark.parametrize("holder", ["live-pid", "dead-pid-other-host", "garbage"])
def test_a_run_in_use_is_refused_with_the_holder(world, capfd, live_pid, holder):
    run = world.copy_run()
    if holder == "garbage":
        with open(os.path.join(run, ".lock"), "wb") as f:
            f.write(b"\x00")
        fragment = "in use by another process"
    elif holder == "live-pid":
        write_lock(run, live_pid)
        fragment = f"in use by process {live_pid} on {socket.gethostname()}"
    else:
        pid = dead_pid()
        write_lock(run, pid, "some-other-host")
        fragment = f"in use by process {pid} on some-other-host"
    before = tree_hash(run)
    world.fails(train_args(world, run, "--resume", "--epochs", "3"), capfd, fragment)
    assert tree_hash(run) == before


def test_a_start_after_a_crash_cleans_only_its_own_leftovers(world, capfd, live_pid):
    """Stale lock broken; .tmp-<dead pid>-* files and a superseded checkpoint removed; the rest kept."""
    run = world.copy_run()
    dead = dead_pid()
    write_lock(run, dead)
    removed = [f".tmp-{dead}-state.json", f"checkpoints/.tmp-{dead}-epoch-0003.keras",
               "checkpoints/epoch-0001.keras"]
    kept = [f".tmp-{live_pid}-history.csv", ".tmp-abc-x", f"tmp-{dead}-x", f".tmp{dead}-x",
            f".tmp--{dead}-x", "checkpoints/mine.keras", "checkpoints/epoch-0001.keras.bak",
            "checkpoints/epoch-1.keras", "notes.txt"]
    for name in removed + kept:
        with open(os.path.join(run, name), "wb") as f:
            f.write(b"leftover " + name.encode())
    os.mkdir(os.path.join(run, f".tmp-{dead}-folder"))
    kept.append(f".tmp-{dead}-folder")
    before = tree_hash(run)
    # --epochs 2 = what it has: the lifecycle starts (lock, clean-up) and trains nothing.
    out, _ = world.succeeds(train_args(world, run, "--resume", "--epochs", "2"), capfd)
    assert "already trained 2 of 2" in out
    after = tree_hash(run)
    assert not os.path.exists(os.path.join(run, ".lock"))
    for name in removed:
        assert name not in after, name
    unchanged = {k: v for k, v in before.items()
                 if k not in removed and k not in (".lock", "config.json")}
    assert {k: after.get(k) for k in unchanged} == unchanged


def test_resume_of_a_run_whose_config_lacks_a_later_field(world, capfd):
    run = world.copy_run()
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = json.load(f)
    del config["decay_after"]  # as if the run predates that setting
    with open(path, "w") as f:
        json.dump(config, f)
    world.succeeds(train_args(world, run, "--resume", "--epochs", "3"), capfd)
    with open(os.path.join(run, "state.json")) as f:
        state = json.load(f)
    assert state["epoch"] == 3 and [row["epoch"] for row in state["history"]] == [1, 2, 3]
    with open(path) as f:
        assert json.load(f)["decay_after"] == 0
    assert os.path.exists(os.path.join(run, "checkpoints", "epoch-0003.keras"))
    assert not os.path.exists(os.path.join(run, "checkpoints", "epoch-0002.keras"))


@pytest.mark.parametrize("tf_config, fragment", [
    (None, "needs the TF_CONFIG"), ("", "needs the TF_CONFIG"), ("{not json", "malformed"),
    ("[]", "malformed"), ('{"cluster": {}}', "malformed"),
    ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "malformed"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "malformed"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "malformed"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "malformed"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}',
     "multi_worker")])
@pytest.mark.parametrize("resume", [False, True], ids=["new", "resume"])
def test_multi_worker_without_a_usable_tf_config(world, capfd, monkeypatch, tf_config,
                                                 fragment, resume):
    if tf_config is not None:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    out_dir = world.copy_run() if resume else world.root / "mw"
    before = tree_hash(out_dir)
    world.fails(train_args(world, out_dir, "--strategy", "multi_worker",
                           *(["--resume", "--epochs", "3"] if resume else [])), capfd, fragment)
    assert tree_hash(out_dir) == before
