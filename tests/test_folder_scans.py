"""Folder scans (--image_dir, --data_dir) are bounded: system folders refused, a cap on
the entries visited (--max_files), symlinked folders never followed into a loop."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError, run_cli
from common.folders import MAX_FILES_LIMIT, check_scannable
from common.images import find_images, find_labelled_images
from gan import dcgan, vae
from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli
from week1_basics import mnist
from week2_cnn import cifar10, transfer
from week3_rnn import sentiment


def write_pngs(folder, count, size=16):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")
    return folder


IMAGE_DIR_TRAINS = {  # module: train flags besides --image_dir and --out_dir
    "gan.dcgan": ["--preset", "test", "--image_size", "32"],
    "gan.vae": ["--preset", "test", "--image_size", "32"],
    "week2_cnn.transfer": ["--preset", "test", "--weights", "none", "--bottleneck_dir", ""],
}


def test_image_dir_root_is_one_error_line_in_the_real_cli(tmp_path):
    """`train --image_dir /` on each command: exit 2, one error line, no run directory."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3",
               HOME=str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    children = {}
    for module, flags in IMAGE_DIR_TRAINS.items():  # started together: TF imports overlap
        argv = [sys.executable, "-m", module, "train", "--image_dir", "/", "--out_dir",
                str(tmp_path / module), *flags]
        children[module] = subprocess.Popen(argv, cwd=tmp_path, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for module, child in children.items():
        _, stderr = child.communicate(timeout=240)
        assert_one_line_error(child.returncode, stderr, "/ is a system folder")
        assert not (tmp_path / module).exists()
    assert sorted(os.listdir(tmp_path)) == ["home"]  # no run directory, nor a default one


def labelled_folder(root, per_class=5):
    for name in ("red", "blue"):
        write_pngs(root / name, per_class)
    return root


@pytest.mark.parametrize("main, argv", [
    (dcgan.main, ["--image_dir", "{flat}", "--preset", "test"]),
    (vae.main, ["--image_dir", "{flat}", "--preset", "test"]),
    (transfer.main, ["--image_dir", "{labelled}", "--weights", "none"]),
    (cifar10.main, ["--data_dir", "{cifar}", "--preset", "test"]),
    (mnist.main, ["--data_dir", "{flat}", "--preset", "test"]),
    (sentiment.main, ["--data_dir", "{cifar}", "--preset", "test"]),  # an IMDB-like layout
], ids=["dcgan", "vae", "transfer", "cifar10", "mnist", "sentiment"])
def test_a_scan_past_max_files_is_one_error_line_naming_the_cap(tmp_path, capsys, main, argv):
    folders = {"flat": write_pngs(tmp_path / "flat", 5),
               "labelled": labelled_folder(tmp_path / "labelled"),
               "cifar": tmp_path / "cifar"}
    labelled_folder(folders["cifar"] / "train")
    labelled_folder(folders["cifar"] / "test")
    argv = ["train", *(arg.format(**folders) for arg in argv), "--max_files", "4",
            "--out_dir", str(tmp_path / "run")]
    status, _, stderr = call_cli(main, argv, capsys)
    assert_one_line_error(status, stderr, "more than 4 files and folders (the --max_files cap)")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("main, flag", [(mnist.main, "--data_dir"), (cifar10.main, "--data_dir"),
                                        (dcgan.main, "--data_dir"), (vae.main, "--image_dir"),
                                        (sentiment.main, "--data_dir")])
def test_system_folders_are_refused_in_process(tmp_path, capsys, main, flag):
    for folder in ("/", "/usr", "/proc/self"):
        status, _, stderr = call_cli(main, ["train", flag, folder, "--out_dir",
                                            str(tmp_path / "run")], capsys)
        assert_one_line_error(status, stderr, "is a system folder")
        assert f" {folder} " in stderr
    assert not (tmp_path / "run").exists()


def test_home_and_links_to_system_folders_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    os.symlink("/", tmp_path / "to_root")
    os.symlink("/etc", tmp_path / "to_etc")
    (tmp_path / "photos").mkdir()
    for folder, fragment in [(tmp_path, "is your home folder"),
                             (tmp_path / "to_root", "to_root (/) is a system folder"),
                             (tmp_path / "to_etc", "(/etc) is a system folder")]:
        with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            check_scannable(str(folder), "--image_dir")
    check_scannable(str(tmp_path / "photos"), "--image_dir")  # a folder in it is fine


def test_max_files_has_a_maximum_shown_in_help(capsys):
    for main in (dcgan.main, vae.main, transfer.main, cifar10.main, mnist.main):
        status, out, _ = call_cli(main, ["train", "--help"], capsys)
        assert status == 0 and f"at most {MAX_FILES_LIMIT:,}" in " ".join(out.split())
    status, _, stderr = call_cli(dcgan.main, ["train", "--max_files",
                                              str(MAX_FILES_LIMIT + 1)], capsys)
    assert_one_line_error(status, stderr, "--max_files")


def looped_folder(root):
    """Two classes of images, and links that lead back up: into a loop if followed."""
    labelled_folder(root, per_class=2)
    os.symlink(root, root / "red" / "up")                # red/up -> the root
    os.symlink(root / "blue", root / "blue" / "self")    # blue/self -> blue
    (root / "red" / "deep").mkdir()
    os.symlink(root / "red", root / "red" / "deep" / "back")
    os.symlink(root / "missing", root / "blue" / "dangling.png")
    os.mkfifo(root / "blue" / "pipe.png")  # not a regular file: never opened
    return root


def test_symlink_loops_terminate_and_only_regular_files_are_found(tmp_path):
    root = looped_folder(tmp_path / "photos")
    found = [os.path.relpath(path, root) for path in find_images(str(root))]
    assert found == ["blue/000.png", "blue/001.png", "red/000.png", "red/001.png"]
    paths, labels, names = find_labelled_images(str(root))
    assert names == ["blue", "red"] and labels.tolist() == [0, 0, 1, 1]
    # The walk of a linked class folder stops at the links below it, too.
    os.symlink(root / "red", root / "linked")
    paths, labels, names = find_labelled_images(str(root))
    assert names == ["blue", "linked", "red"] and len(paths) == 6


def test_a_small_folder_with_loops_still_trains(tmp_path, capsys):
    root = looped_folder(tmp_path / "photos")
    write_pngs(root / "more", 14)  # 18 images: one test-preset batch of 16
    run_cli(dcgan.main, ["train", "--image_dir", str(root), "--out_dir", str(tmp_path / "run"),
                         "--preset", "test", "--image_size", "32", "--epochs", "1",
                         "--verbose", "0", "--max_files", "100"])
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 1
