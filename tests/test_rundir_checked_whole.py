"""Every file read from a run directory is checked whole before any byte of the run is written.

Each case damages a fresh copy of the earlier char-RNN run in a way that parses
(an epoch out of range, a history entry without its epoch, JSON nested
thousands deep, a .keras whose zip entry fails its CRC, a .lock that is a
FIFO) and checks that `--resume` and the reading verbs give one `error:` line
and leave the copy exactly as it was: no retrained epoch, no replaced
best.keras, no removed checkpoint, no rewritten config.json.
"""

import json
import os
import zipfile

import pytest

from tests.test_hostile_common import time_limit, tree_hash
from tests.test_hostile_rundir import attack, verb_args


def edit_state(run, change):
    path = os.path.join(run, "state.json")
    with open(path) as f:
        state = json.load(f)
    change(state)
    with open(path, "w") as f:
        json.dump(state, f)


STATE_EDITS = {
    "epoch-beyond-history": (lambda s: s.update(epoch=s["epoch"] + 5), "history"),
    "epoch-absurd": (lambda s: s.update(epoch=10 ** 12), "epoch"),
    "epoch-negative": (lambda s: s.update(epoch=-1), "epoch"),
    "row-without-epoch": (lambda s: s["history"][0].pop("epoch"), "history entry 1"),
    "row-epoch-repeated": (lambda s: s["history"][1].update(epoch=1), "history entry 2"),
    "row-with-a-string": (lambda s: s["history"][0].update(loss="low"), "not a number"),
    "row-not-a-dict": (lambda s: s["history"].__setitem__(0, [1]), "history entry 1"),
    "no-checkpoint-named": (lambda s: s.update(checkpoint=None), "no checkpoint"),
    "interrupted-in-the-future": (
        lambda s: s.update(interrupted={"path": "checkpoints/interrupted.keras",
                                        "after_epoch": s["epoch"] + 1}), "interrupted"),
    "best-epoch-unknown": (lambda s: s.update(best_epoch=99), "best_epoch"),
}


@pytest.mark.parametrize("verb", ["resume", "evaluate"])
@pytest.mark.parametrize("edit", sorted(STATE_EDITS))
def test_a_state_json_out_of_range_touches_nothing(world, capfd, edit, verb):
    run = world.copy_run()
    change, fragment = STATE_EDITS[edit]
    edit_state(run, change)
    assert "state.json" in attack(world, capfd, verb, run, fragment)


def nested(depth):
    return ("[" * depth + "]" * depth).encode()


@pytest.mark.parametrize("name", ["config.json", "state.json", "vocab.json"])
@pytest.mark.parametrize("depth", [40, 100_000])
@pytest.mark.parametrize("verb", ["resume", "generate"])
def test_deeply_nested_json_is_one_error_line(world, capfd, name, depth, verb):
    run = world.copy_run()
    with open(os.path.join(run, name), "wb") as f:
        f.write(nested(depth))
    # A state.json that cannot be read beside checkpoints is "corrupt" (common.runs).
    attack(world, capfd, verb, run, "corrupt state.json" if name == "state.json"
           else "levels deep")


def damage_an_entry(path):
    """Flips one byte inside the stored data of the archive's largest entry (CRC fails)."""
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.compress_size)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 26)
        name_length, extra_length = (int.from_bytes(f.read(2), "little") for _ in range(2))
        f.seek(info.header_offset + 30 + name_length + extra_length + info.compress_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert zipfile.is_zipfile(path)  # still a zip: only the entry's CRC tells


@pytest.mark.parametrize("target, verb", [
    ("checkpoints/epoch-0002.keras", "resume"), ("best.keras", "generate"),
    ("best.keras", "export"), ("checkpoints/epoch-0002.keras", "evaluate-last")])
def test_a_keras_file_failing_its_crc_is_one_error_line(world, capfd, target, verb):
    run = world.copy_run()
    damage_an_entry(os.path.join(run, target))
    attack(world, capfd, verb, run, "fails its check")


@pytest.mark.parametrize("kind", ["fifo", "folder", "dangling-link"])
def test_a_lock_that_is_not_a_file_is_refused_without_blocking(world, capfd, kind):
    run = world.copy_run()
    before = tree_hash(run)  # taken without the lock: hashing would open a FIFO and block
    lock = os.path.join(run, ".lock")
    {"fifo": os.mkfifo, "folder": os.mkdir,
     "dangling-link": lambda p: os.symlink("/nonexistent/lock", p)}[kind](lock)
    with time_limit(60):
        world.fails(verb_args("resume", run, world), capfd, "in use")
    assert os.path.lexists(lock)
    (os.rmdir if kind == "folder" else os.remove)(lock)
    assert tree_hash(run) == before
