"""Hostile and broken CIFAR-10 inputs: one `error:` line, exit 2, nothing run, nothing lost.

Data sets (--data_dir) are untrusted: a crafted pickle must not run code, and
truncated or corrupt files must name themselves. Run directories handed to
the reading verbs may be broken too; none of it may change a byte of an
earlier run or of a file beside it.
"""

import os
import pickle
import shutil

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, call_cli, snapshot
from tests.test_cifar_data import random_batch, write_image_tree, write_python_layout
from week2_cnn import cifar10
from week2_cnn.cifar_data import load_cifar10


class CreatesAFile:
    """A pickle that creates a file when it is loaded with plain pickle.load."""

    def __init__(self, path, how):
        self.path, self.how = path, how

    def __reduce__(self):
        if self.how == "open":
            return open, (self.path, "w")
        return os.system, (f"touch {self.path}",)


@pytest.fixture(scope="module")
def run_dir(cifar_run):
    return cifar_run[0]  # conftest's run; every test here checks it is left unchanged


@pytest.fixture
def canary(tmp_path):
    path = tmp_path / "canary.txt"
    path.write_bytes(b"earlier results\n")
    return path


def python_layout(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_python_layout(folder, [random_batch(40, 1), random_batch(10, 2)])
    return folder


def train_fails(tmp_path, capsys, data_dir, fragment):
    out_dir = tmp_path / "new_run"
    status, _, err = call_cli(cifar10.main, ["train", "--preset", "test", "--verbose", "0",
                                             "--data_dir", str(data_dir),
                                             "--out_dir", str(out_dir)], capsys)
    assert_one_line_error(status, err, fragment)
    assert not out_dir.exists()  # no half-made run directory


@pytest.mark.parametrize("how", ["open", "system"])
def test_a_malicious_pickle_is_refused_and_never_runs(tmp_path, capsys, how):
    folder = python_layout(tmp_path)
    payload = pickle.dumps(CreatesAFile(str(tmp_path / "proof"), how))
    result = pickle.loads(payload)  # the payload is live: plain pickle runs it
    if hasattr(result, "close"):
        result.close()
    assert (tmp_path / "proof").exists()
    target = tmp_path / "created_by_the_pickle"
    (folder / "data_batch_1").write_bytes(pickle.dumps(CreatesAFile(str(target), how)))
    train_fails(tmp_path, capsys, folder, "refusing to run it")
    assert not target.exists()


def test_truncated_batch_and_corrupt_meta_name_the_file(tmp_path, capsys):
    folder = python_layout(tmp_path)
    batch = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(batch[:len(batch) // 2])
    train_fails(tmp_path, capsys, folder, "test_batch is not a readable CIFAR-10 Python batch")
    (folder / "test_batch").write_bytes(batch)
    (folder / "batches.meta").write_bytes(b"\x80\x04garbage")
    train_fails(tmp_path, capsys, folder, "batches.meta")
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"cat"]}))
    train_fails(tmp_path, capsys, folder, "expected label_names")
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [object()] * 10}))
    train_fails(tmp_path, capsys, folder, "never does")


def test_a_corrupt_image_cache_is_rebuilt(tmp_path, capsys):
    images, labels = random_batch(10, 3)[0], np.arange(10)
    write_image_tree(tmp_path / "jpg", images, labels, "train")
    write_image_tree(tmp_path / "jpg", images, labels, "test")
    cache = tmp_path / "cache"
    first = load_cifar10(str(tmp_path / "jpg"), str(cache))
    (cache_file,) = (cache / "cifar10").iterdir()
    for damage in (cache_file.read_bytes()[:100], b"PK\x03\x04 not a zip"):
        capsys.readouterr()
        cache_file.write_bytes(damage)
        again = load_cifar10(str(tmp_path / "jpg"), str(cache))
        out = capsys.readouterr().out
        assert "is corrupt or truncated; decoding the images again" in out and "cached in" in out
        np.testing.assert_array_equal(again.x_train, first.x_train)
    load_cifar10(str(tmp_path / "jpg"), str(cache))
    assert "read from the cache" in capsys.readouterr().out


def test_broken_run_directories_get_one_line(run_dir, tmp_path, capsys, canary):
    before = snapshot(run_dir)
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "best.keras").write_bytes(b"PK\x03\x04 truncated")
    status, _, err = call_cli(cifar10.main, ["export", "--run_dir", str(broken),
                                             "--export_dir", str(tmp_path / "e")], capsys)
    assert_one_line_error(status, err, "best.keras is truncated or corrupt")
    (broken / "labels.json").write_text("[\"cat\", ")
    status, _, err = call_cli(cifar10.main, ["predict", "--run_dir", str(broken),
                                             str(canary)], capsys)
    assert_one_line_error(status, err, "labels.json is corrupt or truncated")
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    config = (other / "config.json").read_text().replace('"cifar10"', '"char_rnn"')
    (other / "config.json").write_text(config)
    status, _, err = call_cli(cifar10.main, ["evaluate", "--run_dir", str(other)], capsys)
    assert_one_line_error(status, err, "holds a 'char_rnn' run")
    assert snapshot(run_dir) == before and canary.read_bytes() == b"earlier results\n"


def test_predict_refuses_folders_fifos_and_huge_files(run_dir, tmp_path, capsys, canary):
    before = snapshot(run_dir)
    cases = [(str(tmp_path), "got a directory")]
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.png")
        cases.append((str(tmp_path / "fifo.png"), "FIFO"))
    cases.append((str(canary), "raise it with --max_bytes"))
    for path, fragment in cases:
        status, _, err = call_cli(cifar10.main, ["predict", "--run_dir", run_dir, path,
                                                 "--max_bytes", "8"], capsys)
        assert_one_line_error(status, err, fragment)
    assert snapshot(run_dir) == before


def test_export_never_replaces_what_it_did_not_write(run_dir, tmp_path, capsys, canary):
    before = snapshot(run_dir)
    cases = [("", "is empty"), (run_dir, "is or contains"),
             (os.path.join(run_dir, "export"), "lies inside the run directory"),
             (str(tmp_path), "is not an export written by this project")]
    for export_dir, fragment in cases:
        status, _, err = call_cli(cifar10.main, ["export", "--run_dir", run_dir, "--overwrite",
                                                 "--export_dir", export_dir], capsys)
        assert_one_line_error(status, err, fragment)
    assert snapshot(run_dir) == before and canary.read_bytes() == b"earlier results\n"


@pytest.mark.parametrize("flags, fragment", [
    (["--val_fraction", "1.5"], "--val_fraction"), (["--val_fraction", "nan"], "in [0, 1)"),
    (["--width", "0"], "--width"), (["--width", "1000000000"], "in 1..1,024"),
    (["--translate", "40"], "in 0..16"), (["--epochs", "0"], "--epochs"),
    (["--batch_size", "4096"], "fewer than one batch"),
])
def test_meaningless_numbers_are_refused(tmp_path, capsys, flags, fragment):
    status, _, err = call_cli(cifar10.main, ["train", "--preset", "test", "--data_dir",
                                             str(python_layout(tmp_path)), "--out_dir",
                                             str(tmp_path / "r"), *flags], capsys)
    assert_one_line_error(status, err, fragment)
    assert not (tmp_path / "r").exists()
