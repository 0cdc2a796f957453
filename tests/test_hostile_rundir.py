"""Hostile run directories: corrupt, edited or handed-over ones, read by every verb.

Common code under attack: common.runs (RunDir.read_state/read_config/resolve/checkpoint_path,
remove_superseded, load_keras_file), common.files (read_json_file, inside), and the start of
common.lifecycle.train on --resume. Each case attacks a fresh copy of the earlier run (the
earlier run itself is the bystander that World checks); the copy must be unchanged too.
"""

import json
import os
import shutil

import pytest

from tests.test_hostile_common import RUN_FLAGS, tree_hash


def verb_args(verb, run, world):
    """The command line of `verb` on run directory `run`."""
    last = ["--checkpoint", "last"] if verb.endswith("-last") else []
    verb = verb.removesuffix("-last")
    if verb == "generate":
        return ["generate", "--run_dir", run, "--prime", "t", "--length", "5", *last]
    if verb == "export":
        return ["export", "--run_dir", run, "--export_dir", world.root / "exported", *last]
    if verb == "evaluate":
        return ["evaluate", "--run_dir", run, "--text", world.text, *last]
    assert verb == "resume"
    return ["train", "--out_dir", run, "--resume", "--text", world.text, "--epochs", "3",
            *RUN_FLAGS]


def attack(world, capfd, verb, run, fragment, quiet=True):
    """Runs `verb` on `run`: one error line, and neither `run` nor any canary changed."""
    before = tree_hash(run)
    line = world.fails(verb_args(verb, run, world), capfd, fragment, quiet=quiet)
    assert tree_hash(run) == before, "the attacked run directory changed"
    assert not (world.root / "exported").exists()
    return line


def test_a_failed_resume_leaves_config_json_as_it_was(world, capfd):
    run = world.copy_run()
    with open(os.path.join(run, "checkpoints", "epoch-0002.keras"), "wb") as f:
        f.write(b"garbage")
    before = tree_hash(run)
    world.fails(verb_args("resume", run, world), capfd, "epoch-0002.keras")
    assert tree_hash(run) == before


CORRUPTIONS = {
    "truncated": lambda data: data[:len(data) // 2],
    "garbage": lambda data: b"\x00\xffnot this project's file\x00" * 8,
    "empty": lambda data: b"",
    "a-list": lambda data: b"[1, 2, 3]\n",
}
KERAS_CORRUPTIONS = ("truncated", "garbage", "empty")
READERS = ("generate", "export", "evaluate")
CORRUPT_CASES = (
    [("best.keras", c, v) for c in KERAS_CORRUPTIONS for v in READERS]
    + [("checkpoints/epoch-0002.keras", c, v) for c in KERAS_CORRUPTIONS
       for v in ("generate-last", "export-last", "resume")]
    + [(name, c, v) for name in ("config.json", "state.json", "vocab.json")
       for c in CORRUPTIONS for v in (*READERS, "resume")])


@pytest.mark.parametrize("name, corruption, verb", CORRUPT_CASES)
def test_a_corrupt_file_in_the_run_is_named(world, capfd, name, corruption, verb):
    run = world.copy_run()
    path = os.path.join(run, name)
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(CORRUPTIONS[corruption](data))
    attack(world, capfd, verb, run, "vocab" if name == "vocab.json" else os.path.basename(name))


UNUSABLE_STATES = {
    "missing": None,
    "truncated": b'{"epoch": 2, "hist',
    "a-list": b"[2]",
    "a-string": b'"epoch 2"',
    "epoch-is-text": b'{"epoch": "2", "history": [], "checkpoint": null}',
    "epoch-missing": b'{"history": [], "checkpoint": "checkpoints/epoch-0002.keras"}',
    "epoch-null": b'{"epoch": null}',
}


@pytest.mark.parametrize("state", list(UNUSABLE_STATES))
def test_resume_refuses_an_unusable_state_beside_checkpoints(world, capfd, state):
    """Never a fresh start over best.keras and history.csv: an error naming what is there."""
    run = world.copy_run()
    path = os.path.join(run, "state.json")
    os.remove(path)
    if UNUSABLE_STATES[state] is not None:
        with open(path, "wb") as f:
            f.write(UNUSABLE_STATES[state])
    line = attack(world, capfd, "resume", run, "state.json")
    assert "best.keras" in line and "epoch-0002.keras" in line
    # A new `train` over it is refused too.
    before = tree_hash(run)
    argv = verb_args("resume", run, world)
    argv.remove("--resume")
    world.fails(argv, capfd, "already holds a run")
    assert tree_hash(run) == before


def edit_state(run, **changes):
    path = os.path.join(run, "state.json")
    with open(path) as f:
        state = json.load(f)
    state.update(changes)
    with open(path, "w") as f:
        json.dump(state, f)


WRONG_TYPES = {
    "checkpoint-number": {"checkpoint": 5},
    "interrupted-path-number": {"interrupted": {"path": 5, "after_epoch": 2}},
    "interrupted-text": {"interrupted": "x"},
    "interrupted-no-path": {"interrupted": {"after_epoch": 2}},
    "history-null": {"history": None},
    "history-of-numbers": {"history": [1, 2]},
    "epoch-negative": {"epoch": -1},
    "epoch-true": {"epoch": True},
    "best-score-text": {"best_score": "low"},
}


@pytest.mark.parametrize("name", WRONG_TYPES)
def test_resume_of_a_state_with_wrong_types(world, capfd, name):
    """Refused before anything is removed: the run's own epoch checkpoint survives too."""
    run = world.copy_run()
    edit_state(run, **WRONG_TYPES[name])
    attack(world, capfd, "resume", run, "state.json")


@pytest.fixture
def victim(world):
    """Someone else's files beside the handed-over run: a folder with a .keras-named file."""
    folder = world.root / "victim"
    folder.mkdir()
    (folder / "best.keras").write_bytes(b"VICTIM: not a model, and not yours to read\n")
    (folder / "epoch-0001.keras").write_bytes(b"VICTIM checkpoint of another project\n")
    return folder


def confined(world, capfd, victim, verb, run):
    before = tree_hash(victim)
    line = attack(world, capfd, verb, run, "")
    assert ("points outside the run directory" in line
            or "is not a path inside the run directory" in line), "victim read: " + line
    assert tree_hash(victim) == before


@pytest.mark.parametrize("verb", ["resume", "generate-last", "export-last"])
@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_a_state_checkpoint_outside_the_run(world, capfd, victim, verb, how):
    run = world.copy_run()
    target = "../victim/best.keras" if how == "relative" else str(victim / "best.keras")
    edit_state(run, checkpoint=target)
    confined(world, capfd, victim, verb, run)


@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_an_interrupted_checkpoint_outside_the_run(world, capfd, victim, how):
    run = world.copy_run()
    target = "../victim/best.keras" if how == "relative" else str(victim / "best.keras")
    edit_state(run, interrupted={"path": target, "after_epoch": 2})
    confined(world, capfd, victim, "resume", run)


@pytest.mark.parametrize("verb", READERS)
def test_best_keras_linked_outside_the_run(world, capfd, victim, verb):
    run = world.copy_run()
    os.remove(os.path.join(run, "best.keras"))
    os.symlink(victim / "best.keras", os.path.join(run, "best.keras"))
    confined(world, capfd, victim, verb, run)


@pytest.mark.parametrize("verb", ["resume", "generate-last", "export-last"])
def test_the_epoch_checkpoint_linked_outside_the_run(world, capfd, victim, verb):
    run = world.copy_run()
    os.remove(os.path.join(run, "checkpoints", "epoch-0002.keras"))
    os.symlink(victim / "best.keras", os.path.join(run, "checkpoints", "epoch-0002.keras"))
    confined(world, capfd, victim, verb, run)


@pytest.mark.parametrize("verb", [
    "resume", "generate-last", "export-last"])
def test_the_checkpoints_folder_linked_outside_the_run(world, capfd, victim, verb):
    run = world.copy_run()
    shutil.move(os.path.join(run, "checkpoints", "epoch-0002.keras"), victim)
    os.rmdir(os.path.join(run, "checkpoints"))
    os.symlink(victim, os.path.join(run, "checkpoints"))
    confined(world, capfd, victim, verb, run)


def test_vocab_linked_outside_the_run(world, capfd, victim):
    run = world.copy_run()
    shutil.move(os.path.join(run, "vocab.json"), victim / "vocab.json")
    os.symlink(victim / "vocab.json", os.path.join(run, "vocab.json"))
    confined(world, capfd, victim, "export", run)


@pytest.mark.parametrize("verb", [*READERS, "resume"])
@pytest.mark.parametrize("kind, fragment", [("ptb", "'ptb' run"), (None, "'unknown' run"),
                                            ("", "not a 'char_rnn' run")])
def test_a_run_of_another_kind(world, capfd, verb, kind, fragment):
    run = world.copy_run()
    path = os.path.join(run, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.pop("kind")
    if kind is not None:
        config["kind"] = kind
    with open(path, "w") as f:
        json.dump(config, f)
    attack(world, capfd, verb, run, fragment)


@pytest.mark.parametrize("verb", [*READERS, "resume"])
@pytest.mark.parametrize("what", ["missing", "empty-folder", "a-file", "empty-string"])
def test_a_run_dir_that_is_not_one(world, capfd, verb, what):
    run = {"missing": world.root / "nothing", "empty-folder": world.root / "empty",
           "a-file": world.root / "canary.txt", "empty-string": ""}[what]
    if what == "empty-folder":
        run.mkdir()
    fragment = {"missing": "not a run directory", "empty-folder": "not a run directory",
                "a-file": "is a file", "empty-string": "empty"}[what]
    world.fails(verb_args(verb, run, world), capfd, fragment)
    assert not (world.root / "nothing").exists() and not (world.root / "exported").exists()
    if what == "empty-folder":
        assert os.listdir(run) == []
