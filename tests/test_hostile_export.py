"""Hostile `export`: it may only ever write a new folder, or replace an earlier export of ours.

Common code under attack: common.export (check_export_dir, write_export_folder and its
recovery of a killed swap, the marker) and common.runs.check_outside_run.
"""

import json
import os
import shutil

import pytest

from common.export import MARKER
from tests.test_hostile_common import dead_pid, tree_hash

# Where a careless --export_dir points. Each resolves onto (or around) something that must
# survive: the sandboxed cwd and home, the earlier run, its parent, a folder inside it.
PLACES = {
    "empty": lambda w: "",
    "blank": lambda w: "   ",
    "dot": lambda w: ".",
    "dot-slash": lambda w: "./",
    "cwd": lambda w: str(w.cwd),
    "cwd-parent": lambda w: str(w.cwd.parent),
    "home": lambda w: str(w.home),
    "home-with-slash": lambda w: str(w.home) + "/",
    "root": lambda w: "/",
    "run-dir": lambda w: w.run,
    "run-dir-parent": lambda w: os.path.dirname(w.run),
    "run-dir-dotdot": lambda w: os.path.join(w.run, "checkpoints", "..", ".."),
    "inside-run-dir": lambda w: os.path.join(w.run, "export"),
    "run-checkpoints": lambda w: os.path.join(w.run, "checkpoints"),
    "run-logs": lambda w: os.path.join(w.run, "logs"),
    "link-to-run-dir": lambda w: _link(w, w.run, "run-link"),
    "link-to-home": lambda w: _link(w, str(w.home), "home-link"),
    "under-link-to-run": lambda w: os.path.join(_link(w, w.run, "run-link2"), "export"),
}


def _link(world, target, name):
    link = world.root / name
    link.symlink_to(target)
    return str(link)


def export_args(world, export_dir, *extra):
    return ["export", "--run_dir", world.run, "--export_dir", export_dir, *extra]


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("place", list(PLACES))
def test_export_never_lands_on_what_must_survive(world, capfd, place, overwrite):
    export_dir = PLACES[place](world)
    world.fails(export_args(world, export_dir, *(["--overwrite"] if overwrite else [])), capfd,
                "--export_dir")


@pytest.mark.parametrize("place", ["cwd", "run-dir", "inside-run-dir", "empty"])
def test_litert_export_has_the_same_guard(world, capfd, place):
    world.fails(export_args(world, PLACES[place](world), "--format", "litert", "--overwrite"),
                capfd, "--export_dir")


def user_folder(world, kind):
    """Something at the export path that this project did not write."""
    path = world.root / "theirs"
    if kind == "file":
        path.write_bytes(b"a user's file\n")
        return path
    path.mkdir()
    (path / "thesis.tex").write_bytes(b"years of work\n")
    if kind == "other-marker":
        (path / MARKER).write_text(json.dumps({"project": "someone-else"}))
    elif kind == "corrupt-marker":
        (path / MARKER).write_bytes(b"{not json")
    elif kind == "marker-is-a-folder":
        (path / MARKER).mkdir()
    elif kind == "looks-like-a-savedmodel":
        (path / "saved_model.pb").write_bytes(b"\x08\x01")
        (path / "variables").mkdir()
    return path


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("kind", ["folder", "file", "other-marker", "corrupt-marker",
                                  "marker-is-a-folder", "looks-like-a-savedmodel"])
def test_overwrite_refuses_a_users_folder(world, capfd, kind, overwrite):
    path = user_folder(world, kind)
    before = tree_hash(path)
    world.fails(export_args(world, path, *(["--overwrite"] if overwrite else [])), capfd,
                "--overwrite" if not overwrite else "not an export written by this project")
    assert tree_hash(path) == before


def test_overwrite_replaces_an_earlier_export_of_ours(world, capfd):
    import tensorflow as tf

    path = world.root / "exports" / "char"
    world.succeeds(export_args(world, path), capfd)
    first = tree_hash(path)
    (path / "extra-file-of-the-old-export").write_bytes(b"x")
    world.fails(export_args(world, path), capfd, "--overwrite")  # not without --overwrite
    world.succeeds(export_args(world, path, "--overwrite"), capfd)
    assert json.loads((path / MARKER).read_text())["project"] == "tfcourse"
    assert not (path / "extra-file-of-the-old-export").exists()
    assert set(tree_hash(path)) == set(first)
    assert sorted(os.listdir(path.parent)) == ["char"]  # no staging or retired folder left
    generate = tf.saved_model.load(str(path)).signatures["generate_seeded"]
    text = generate(prime=tf.constant("t"), length=tf.constant(5, tf.int32),
                    temperature=tf.constant(1.0), seed=tf.constant(3, tf.int32))["text"]
    assert len(text.numpy().decode()) == 6
    world.assert_intact()  # export wrote nothing into the run directory


def fake_export(path, content=b"an earlier export\n"):
    path.mkdir(parents=True)
    (path / MARKER).write_text(json.dumps({"project": "tfcourse", "kind": "char_rnn"}))
    (path / "saved_model.pb").write_bytes(content)
    return path


def test_a_killed_exports_staging_folder_is_removed_and_nothing_else(world, capfd, live_pid):
    parent = world.root / "exports"
    dead = dead_pid()
    leftovers = {
        f".tmp-{dead}-char": True,              # ours, dead process: removed
        f".tmp-{live_pid}-char": False,         # a process still exporting: kept
        f".tmp-{dead}-other": False,            # staging of another export name: kept
    }
    for name in leftovers:
        fake_export(parent / name)
    (parent / f".tmp-{dead}-char-notes").mkdir()  # no marker: never ours
    user = parent / f".old-{dead}-char.d"
    user.mkdir()
    world.succeeds(export_args(world, parent / "char"), capfd)
    for name, removed in leftovers.items():
        assert (parent / name).exists() != removed, name
    assert (parent / f".tmp-{dead}-char-notes").is_dir() and user.is_dir()
    assert (parent / "char" / "saved_model.pb").stat().st_size > 1000


def test_a_retired_export_is_restored_and_not_replaced_without_overwrite(world, capfd):
    parent = world.root / "exports"
    retired = fake_export(parent / f".old-{dead_pid()}-char")
    before = tree_hash(retired)
    # A kill fell between the two renames of an --overwrite: only the retired copy is left.
    world.fails(export_args(world, parent / "char"), capfd, "--overwrite", quiet=False)
    assert tree_hash(parent / "char") == before
    assert sorted(os.listdir(parent)) == ["char"]


def test_a_retired_export_is_put_back_then_replaced_with_overwrite(world, capfd):
    parent = world.root / "exports"
    fake_export(parent / f".old-{dead_pid()}-char")
    world.succeeds(export_args(world, parent / "char", "--overwrite"), capfd)
    assert sorted(os.listdir(parent)) == ["char"]
    assert (parent / "char" / "saved_model.pb").stat().st_size > 1000


def test_a_retired_export_beside_a_finished_one_is_removed(world, capfd):
    parent = world.root / "exports"
    fake_export(parent / "char", b"the newer export\n")
    fake_export(parent / f".old-{dead_pid()}-char")
    world.succeeds(export_args(world, parent / "char", "--overwrite"), capfd)
    assert sorted(os.listdir(parent)) == ["char"]


@pytest.mark.parametrize("where", ["parent-is-a-file", "under-a-file", "unwritable"])
def test_export_into_a_place_that_cannot_hold_it(world, capfd, where, unwritable_dir):
    if where == "parent-is-a-file":
        export_dir = world.root / "canary.txt" / "export"
    elif where == "under-a-file":
        export_dir = world.root / "canary.txt" / "a" / "b"
    else:
        export_dir = os.path.join(unwritable_dir, "tfcourse-hostile-export")
    before = sorted(os.listdir(world.root))
    world.fails(export_args(world, export_dir), capfd, quiet=False)
    assert sorted(os.listdir(world.root)) == before and not os.path.lexists(export_dir)


def test_export_of_a_run_dir_that_is_not_one(world, capfd, tmp_path):
    world.fails(["export", "--run_dir", tmp_path / "nothing", "--export_dir",
                 tmp_path / "e"], capfd, "not a run directory")
    world.fails(["export", "--run_dir", world.root / "canary.txt", "--export_dir",
                 tmp_path / "e"], capfd, "is a file")
    world.fails(["export", "--run_dir", "", "--export_dir", tmp_path / "e"], capfd, "empty")
    assert not (tmp_path / "e").exists()


def test_export_into_a_folder_holding_another_run(world, capfd):
    """An export onto some other run directory (not --run_dir) is refused, never replaced."""
    other = world.copy_run("other-run")
    before = tree_hash(other)
    for extra in ([], ["--overwrite"]):
        world.fails(export_args(world, other, *extra), capfd)
    assert tree_hash(other) == before
    shutil.rmtree(other)
