"""`train` never writes into a folder it did not make, on every command.

A folder of the user's own files, named like this project's (config.json,
history.csv, a staging-looking `.tmp-1-x`), given as --out_dir directly,
through a symlink, or as `.`, is one `error:` line, exit 2, and every byte of
it survives. The root and home folders are refused even when empty. An empty
folder, and a folder holding only a lock of a killed run, are accepted.
"""

import os

import pytest

from common.cli import run_cli
from tests.conftest import call_cli, make_corpus
from tests.test_hostile_common import dead_pid, tree_hash
from tests.test_cifar_cli import colour_layout
from tests.test_dcgan_verbs import mnist_like
from tests.test_ptb import write_corpus
from tests.test_transfer import make_photo_folder, save_small_base
from tests.vqa_fixture import write_easy_vqa

CANARY_FILES = {
    "config.json": b'{"kind": "mine", "notes": "my own settings"}\n',
    "history.csv": b"day,mood\n1,fine\n",
    "results.json": b'{"grade": "A"}\n',
    "loss.png": b"\x89PNG not really",
    ".tmp-1-x": b"a file whose name looks like a staging file",
    "notes.txt": "메모: 지우지 마세요\n".encode("utf-8"),
}

COMMANDS = ["week1_basics.regression", "week1_basics.mnist", "week1_basics.autoencoder",
            "week2_cnn.cifar10", "week2_cnn.transfer", "week3_rnn.char_rnn", "week3_rnn.ptb",
            "week3_rnn.spacing", "word2vec.skipgram", "gan.dcgan", "gan.vae",
            "week3_rnn.translate", "week3_rnn.sentiment", "week4_qa.memn2n",
            "week4_qa.vqa", "week5_caption.caption"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny offline data of every kind the commands read, made once."""
    root = tmp_path_factory.mktemp("canary_data")
    text = root / "corpus.txt"
    text.write_text(make_corpus(60), encoding="utf-8")
    return {"text": text, "mnist": mnist_like(root / "mnist"),
            "cifar": colour_layout(root / "cifar-10-batches-py"),
            "ptb": write_corpus(root / "ptb"), "photos": make_photo_folder(root / "photos"),
            "base": save_small_base(root), "vqa": write_easy_vqa(root / "easy_vqa", 30, 3)}


def data_flags(command, data):
    return {
        "week1_basics.regression": [],
        "week1_basics.mnist": ["--data_dir", data["mnist"]],
        "week1_basics.autoencoder": ["--data_dir", data["mnist"]],
        "week2_cnn.cifar10": ["--data_dir", data["cifar"]],
        "week2_cnn.transfer": ["--image_dir", data["photos"], "--base", data["base"],
                               "--weights", "none", "--bottleneck_dir", ""],
        "week3_rnn.ptb": ["--data_dir", data["ptb"]],
        "gan.dcgan": ["--data_dir", data["mnist"]],
        "gan.vae": ["--data_dir", data["mnist"]],
        "week3_rnn.sentiment": ["--dataset", "order"],
        "week3_rnn.translate": ["--dataset", "reverse"],
        "week4_qa.memn2n": [],  # generated bAbI stories
        "week4_qa.vqa": ["--data_dir", data["vqa"]],
        "week5_caption.caption": ["--scenes", "64"],  # the generated scene world
    }.get(command, ["--text", data["text"]])


def train_argv(command, data, out_dir):
    return ["train", *map(str, data_flags(command, data)), "--out_dir", str(out_dir),
            "--preset", "test", "--epochs", "1", "--verbose", "0"]


def main_of(command):
    import importlib

    return importlib.import_module(command).main


def canary_folder(path):
    path.mkdir()
    for name, content in CANARY_FILES.items():
        (path / name).write_bytes(content)
    (path / "checkpoints_of_mine").mkdir()
    return path


def refused(command, data, out_dir, capsys, fragment):
    status, out, err = call_cli(main_of(command), train_argv(command, data, out_dir), capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), (status, err)
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("how", ["folder", "symlink", "dot"])
def test_a_folder_of_the_users_files_survives_byte_for_byte(command, how, data, tmp_path,
                                                             capsys, monkeypatch):
    folder = canary_folder(tmp_path / "mine")
    before = tree_hash(folder)
    if how == "symlink":
        os.symlink(folder, tmp_path / "link")
        out_dir = tmp_path / "link"
    elif how == "dot":
        monkeypatch.chdir(folder)
        out_dir = "."
    else:
        out_dir = folder
    refused(command, data, out_dir, capsys,
            "working folder" if how == "dot" else "not a run of this command")
    assert tree_hash(folder) == before
    assert sorted(os.listdir(tmp_path)) == sorted(["mine"] + (["link"] if how == "symlink"
                                                              else []))


@pytest.mark.parametrize("where", ["home", "root"])
def test_root_and_home_are_refused_even_when_empty(where, data, tmp_path, capsys,
                                                   monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    out_dir = home if where == "home" else "/"
    refused("week3_rnn.char_rnn", data, out_dir, capsys, "root, home or working folder")
    assert os.listdir(home) == []


def test_a_run_of_another_command_is_refused_and_kept(data, tmp_path, capsys):
    run = tmp_path / "run"
    argv = train_argv("week1_basics.regression", data, run)  # the quickest run to make
    assert run_cli(main_of("week1_basics.regression"), argv) is None
    before = tree_hash(run)
    refused("week3_rnn.char_rnn", data, run, capsys, "not a run of this command")
    assert tree_hash(run) == before


@pytest.mark.parametrize("contents", ["empty", "stale-lock"])
def test_an_empty_folder_or_a_killed_runs_lock_is_accepted(contents, data, tmp_path, capsys):
    folder = tmp_path / "new"
    folder.mkdir()
    if contents == "stale-lock":
        import json
        import socket

        (folder / ".lock").write_text(json.dumps({"pid": dead_pid(),
                                                  "host": socket.gethostname()}))
    argv = train_argv("week3_rnn.char_rnn", data, folder)
    assert run_cli(main_of("week3_rnn.char_rnn"), argv) is None
    assert (folder / "config.json").is_file() and not (folder / ".lock").exists()


def test_a_foreign_lock_is_not_taken_for_ours(data, tmp_path, capsys):
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / ".lock").write_text("my lock file, not yours")
    before = tree_hash(folder)
    refused("week3_rnn.char_rnn", data, folder, capsys, "'.lock'")
    assert tree_hash(folder) == before


def test_the_lifecycle_refuses_it_too(tmp_path):
    """The Python API and a multi-worker chief skip the CLI's early check: the lifecycle
    itself refuses a folder of the user's files."""
    from common import lifecycle
    from common.cli import UsageError
    from common.runs import RunDir
    from week3_rnn.char_model import PRESETS

    folder = canary_folder(tmp_path / "mine")
    before = tree_hash(folder)
    job = lifecycle.TrainJob(kind="char_rnn", config=PRESETS["test"], out_dir=str(folder),
                             build_model=None, train_data=None, steps_per_epoch=1,
                             progress=None)
    with pytest.raises(UsageError, match="not a run of this command"):
        lifecycle.check_new_or_resumable(RunDir(job.out_dir), job, lifecycle.run_config(job))
    assert tree_hash(folder) == before
