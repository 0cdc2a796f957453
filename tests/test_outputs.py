"""common.outputs: the one check and the one write every verb's output file goes through."""

import os
import threading

import pytest

from common.cli import UsageError
from common.outputs import (check_out_file, check_out_prefix, is_own_png, numbered_pngs,
                            write_bytes, write_json)
from common.plots import new_figure, save_figure

# Files named like the project's own (a staging file, a run file) that the
# gateway must never touch when it writes beside them.
CANARIES = {".tmp-1-x": b"not a staging file of ours\n", "history.csv": b"my,own\n1,2\n",
            "photo.png": b"\x89PNG not ours"}


@pytest.fixture
def folder(tmp_path):
    """A user's folder holding the canaries."""
    path = tmp_path / "mine"
    path.mkdir()
    for name, data in CANARIES.items():
        (path / name).write_bytes(data)
    return path


@pytest.fixture
def run_dir(tmp_path):
    """A run directory a reading verb only reads."""
    path = tmp_path / "runs" / "run"
    path.mkdir(parents=True)
    (path / "config.json").write_text('{"kind": "dcgan"}\n')
    return path


def assert_canaries_kept(folder):
    for name, data in CANARIES.items():
        assert (folder / name).read_bytes() == data


def refused(fragment, path, **kwargs):
    with pytest.raises(UsageError, match=fragment):
        check_out_file(str(path), **kwargs)


def own_png(path, mark=True):
    figure, axes = new_figure(1, 1)
    axes.plot([0, 1])
    save_figure(figure, str(path), mark=mark)


def test_a_new_file_and_an_own_png_may_be_written(folder):
    check_out_file(str(folder / "new.png"))
    check_out_file(str(folder / "new" / "deeper" / "x.png"))  # folders made on write
    own_png(folder / "grid.png")
    assert is_own_png(folder / "grid.png")
    check_out_file(str(folder / "grid.png"))  # ours: may be replaced


def test_files_it_did_not_write_are_refused(folder):
    refused("exists and is not a PNG written by this project", folder / "history.csv")
    refused("exists and is not a PNG written by this project", folder / "photo.png")
    own_png(folder / "plain.png", mark=False)  # a PNG, but without the mark
    assert not is_own_png(folder / "plain.png")
    refused("not a PNG written by this project", folder / "plain.png")
    refused("--classifier is empty", "", what="--classifier")
    refused("--out is empty", "  ")
    assert_canaries_kept(folder)


def test_a_folder_fifo_or_device_is_refused(folder):
    refused("got a directory", folder)
    refused("got a FIFO, socket or device", "/dev/null", existing="read")
    if not hasattr(os, "mkfifo"):
        pytest.skip("FIFOs are POSIX")
    os.mkfifo(folder / "pipe.png")
    os.symlink(folder / "pipe.png", folder / "link.png")
    errors = []

    def check_all():  # a FIFO opened to read its header would block here forever
        for name in ("pipe.png", "link.png"):
            try:
                check_out_file(str(folder / name))
            except UsageError as error:
                errors.append(str(error))

    thread = threading.Thread(target=check_all, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the check opened the FIFO"
    assert len(errors) == 2 and all("FIFO" in error for error in errors), errors


def test_paths_inside_or_over_a_run_it_only_reads_are_refused(run_dir, tmp_path):
    for path in (run_dir / "grid.png", run_dir / "sub" / "x.png", run_dir,
                 run_dir.parent, tmp_path):
        refused("is or contains the run directory", path, read_runs=[str(run_dir)])
    refused("--classifier .* run directory", run_dir / "c.keras", what="--classifier",
            read_runs=[str(run_dir)], existing="read")
    os.symlink(run_dir, tmp_path / "link")  # through a link too
    refused("run directory", tmp_path / "link" / "x.png", read_runs=[str(run_dir)])
    check_out_file(str(tmp_path / "x.png"), read_runs=[str(run_dir)])
    assert sorted(os.listdir(run_dir)) == ["config.json"]


def test_the_folder_must_exist_or_be_makeable(folder):
    refused(r"mine[/\\]history.csv is not a folder", folder / "history.csv" / "x.png")
    refused("does not exist", folder / "missing" / "x.png", make_folder=False)
    refused("is not a folder", folder / "history.csv" / "x.png", make_folder=False)


@pytest.mark.skipif(os.name != "posix", reason="folder modes are POSIX")
def test_an_unwritable_folder_is_refused(folder, monkeypatch):
    locked = folder / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.geteuid() == 0:  # root writes anywhere: answer os.access as for another user
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode: real_access(path, mode)
                            and os.path.realpath(path) != os.path.realpath(locked))
    try:
        refused("is not writable", locked / "x.png")
        refused("is not writable", locked / "new" / "x.png")  # the folder it would make
    finally:
        locked.chmod(0o700)


def test_read_inputs_may_exist(folder):
    """existing="read": the verb reads the file there (a cached classifier) and keeps it."""
    check_out_file(str(folder / "history.csv"), "--classifier", existing="read")
    with pytest.raises(ValueError):
        check_out_file(str(folder / "x.png"), existing="replace")


def test_writes_are_whole_and_leave_no_staging_file(folder, monkeypatch):
    target = folder / "results.json"
    assert write_json(str(target), {"accuracy": 0.5, "단어": 1}) == str(target)
    assert target.read_text(encoding="utf-8") == '{\n  "accuracy": 0.5,\n  "단어": 1\n}\n'
    write_bytes(str(target), b"second\n")
    assert target.read_bytes() == b"second\n"
    assert sorted(os.listdir(folder)) == sorted([*CANARIES, "results.json"])

    def killed(source, destination):  # a failure between the write and the rename
        raise OSError(28, "No space left on device", destination)

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(OSError):
        write_bytes(str(target), b"third, never seen\n")
    assert target.read_bytes() == b"second\n"  # the earlier file whole
    assert sorted(os.listdir(folder)) == sorted([*CANARIES, "results.json"])
    assert_canaries_kept(folder)


def test_write_makes_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "grid.png"
    own_png(path)
    assert is_own_png(path) and os.listdir(path.parent) == ["grid.png"]


@pytest.mark.parametrize("path", ["/etc/map.png", "/dev/shm_map.png", "/usr/map.png",
                                  "/map.png"])
def test_a_file_in_a_system_folder_is_refused(path):
    with pytest.raises(UsageError, match="a system folder"):
        check_out_file(path)
    assert not os.path.lexists(path)


def test_numbered_pngs_for_a_folder_a_file_and_a_prefix(tmp_path):
    folder = str(tmp_path)
    assert numbered_pngs(folder, 2) == [f"{folder}/attention-1.png", f"{folder}/attention-2.png"]
    assert numbered_pngs("new/", 10, "caption")[9] == os.path.join("new/", "caption-10.png")
    assert numbered_pngs("map.png", 1) == ["map.png"]
    assert numbered_pngs("map.png", 2) == ["map-1.png", "map-2.png"]
    assert numbered_pngs("map", 10)[0] == "map-01.png"


@pytest.mark.parametrize("out, message", [(" ", "is empty"),
                                          ("/dev/null", "neither a folder nor a regular file")])
def test_an_out_prefix_that_names_no_place_is_refused(out, message):
    with pytest.raises(UsageError, match=message):
        check_out_prefix(out)


@pytest.mark.parametrize("path", ["/etc/run", "/usr", "/dev/shm/run", "/var/run_here",
                                  "/etc/new_folder/run"])
def test_runs_and_exports_are_never_made_in_a_system_folder(path):
    from common.export import check_export_dir
    from common.runs import check_new_run_folder

    with pytest.raises(UsageError, match="a system folder"):
        check_new_run_folder(path)
    with pytest.raises(UsageError, match="a system folder"):
        check_export_dir(path, overwrite=False)
    assert path == "/usr" or not os.path.lexists(path)
