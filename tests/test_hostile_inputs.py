"""Hostile inputs: files that are not files, absurd counts and seeds, and what reading verbs write.

Common code under attack: common.files (check_regular_file, read_bytes), common.text
(read_text_file), common.cli (count, seed_int, positive_float, fraction, ErrorExitParser).
"""

import os
import socket

import pytest

from common.argtypes import SEED_MAX
from tests.test_hostile_common import RUN_FLAGS, time_limit, tree_hash


def special_file(world, kind):
    """A --text path that must be refused before it is read (or, for a FIFO, opened)."""
    path = world.root / kind
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link-to-fifo":
        os.mkfifo(world.root / "fifo-target")
        path.symlink_to(world.root / "fifo-target")
    elif kind == "socket":
        path = world.root / "s.sock"
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        world.server = server  # kept open (and bound) for the rest of the test
    elif kind == "directory":
        path.mkdir()
    elif kind == "dangling-link":
        path.symlink_to(world.root / "nowhere")
    elif kind in ("/dev/zero", "/dev/urandom", "/dev/null"):
        return kind
    return path


KINDS = {"fifo": "FIFO", "link-to-fifo": "FIFO", "socket": "socket", "directory": "directory",
         "/dev/zero": "device", "/dev/urandom": "device", "/dev/null": "device",
         "dangling-link": "not found", "missing": "not found"}


def text_verb(world, verb, text):
    if verb == "train":
        return ["train", "--text", text, "--out_dir", world.root / "new", *RUN_FLAGS]
    return ["evaluate", "--run_dir", world.run, "--text", text]


@pytest.mark.parametrize("verb", ["train", "evaluate"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_text_that_is_not_a_regular_file(world, capfd, verb, kind):
    text = special_file(world, kind)
    with time_limit(60):  # a FIFO opened for reading would block here forever
        world.fails(text_verb(world, verb, text), capfd, KINDS[kind])
    assert not (world.root / "new").exists()


@pytest.mark.parametrize("verb", ["train", "evaluate"])
def test_a_text_over_max_bytes(world, capfd, verb):
    size = world.text.stat().st_size
    world.fails(text_verb(world, verb, world.text) + ["--max_bytes", str(size - 1)], capfd,
                "--max_bytes")
    assert not (world.root / "new").exists()


def test_a_data_dir_whose_input_is_a_fifo(world, capfd):
    (world.root / "shakespeare").mkdir()
    os.mkfifo(world.root / "shakespeare" / "input.txt")
    with time_limit(60):
        world.fails(["train", "--dataset", "tiny_shakespeare", "--data_dir",
                     world.root / "shakespeare", "--out_dir", world.root / "new", *RUN_FLAGS],
                    capfd, "FIFO")


@pytest.mark.parametrize("verb", ["train", "evaluate"])
def test_an_empty_text_path_is_refused(world, capfd, verb):
    # Sizes chosen so that, if the stdlib corpus is read instead, it fails fast, not trains.
    extra = ["--seq_length", "100000", "--val_fraction", "0.99"] if verb == "train" else []
    argv = text_verb(world, verb, "") + extra
    world.fails(argv, capfd, "--text")


def generate(world, *extra):
    return ["generate", "--run_dir", world.run, "--prime", "t", "--length", "20", *extra]


GENERATE_FLAGS = [
    ("--length", "1000000000"), ("--length", str(2 ** 31)), ("--length", str(2 ** 32 + 20)),
    ("--length", "0"), ("--length", "-1"), ("--length", "1e3"), ("--length", "ten"),
    ("--num", "1000000000"), ("--num", "0"), ("--num", "-2"),
    ("--seed", "-1"), ("--seed", str(2 ** 31)), ("--seed", str(2 ** 63)),
    ("--seed", str(2 ** 64 + 1)), ("--seed", "1.5"), ("--seed", "nan"),
    ("--temperature", "0"), ("--temperature", "-1"), ("--temperature", "nan"),
    ("--temperature", "inf"), ("--temperature", "-inf"),
    ("--temperature", "1e-50"), ("--temperature", "1e-40"), ("--temperature", "1e300"),
    ("--checkpoint", "worst"), ("--sampling", "random"), ("--prime", ""),
]


@pytest.mark.parametrize("flag, value", GENERATE_FLAGS)
def test_generate_refuses_an_absurd_value(world, capfd, flag, value):
    world.fails(generate(world, flag, value), capfd, flag)


@pytest.mark.parametrize("seed, num", [(SEED_MAX, 2), (SEED_MAX - 998, 1000)])
def test_generate_seeds_never_pass_the_largest(world, capfd, seed, num):
    world.fails(generate(world, "--seed", str(seed), "--num", str(num)), capfd, "--seed")


TRAIN_FLAGS = [
    ("--epochs", "1000000000000"), ("--epochs", "0"), ("--epochs", "-3"),
    ("--seed", "-1"), ("--seed", str(2 ** 31)), ("--seed", str(2 ** 63)),
    ("--units", "1000000000"), ("--batch_size", "1000000000"), ("--seq_length", "1000000000"),
    ("--num_layers", "1000000000"), ("--embedding_dim", "1000000000"), ("--units", "0"),
    ("--learning_rate", "nan"), ("--learning_rate", "inf"), ("--learning_rate", "0"),
    ("--val_fraction", "nan"), ("--val_fraction", "1"), ("--val_fraction", "-0.1"),
    ("--grad_clip", "inf"), ("--grad_clip", "nan"), ("--grad_clip", "-1"),
    ("--lr_decay", "0"), ("--decay_after", "-1"), ("--dropout_rate", "1"),
    ("--max_bytes", "0"), ("--max_bytes", "-1"), ("--strategy", "tpu"), ("--preset", "huge"),
    ("--cell", "transformer"), ("--dataset", "imagenet"), ("--verbose", "3"),
]


@pytest.mark.parametrize("resume", [False, True], ids=["new", "resume"])
@pytest.mark.parametrize("flag, value", TRAIN_FLAGS)
def test_train_refuses_an_absurd_value(world, capfd, flag, value, resume):
    out_dir = world.copy_run() if resume else world.root / "new"
    before = tree_hash(out_dir)
    argv = ["train", "--text", world.text, "--out_dir", out_dir, *RUN_FLAGS,
            *(["--resume"] if resume else []), flag, value]
    world.fails(argv, capfd, flag)
    assert tree_hash(out_dir) == before


def test_other_verbs_refuse_bad_flags(world, capfd):
    world.fails(["evaluate", "--run_dir", world.run, "--text", world.text, "--max_bytes", "0"],
                capfd, "--max_bytes")
    world.fails(["export", "--run_dir", world.run, "--export_dir", world.root / "e",
                 "--format", "onnx"], capfd, "--format")
    world.fails(["export", "--run_dir", world.run], capfd, "--export_dir")
    world.fails(["fly"], capfd, "fly")
    world.fails([], capfd, "")


def test_different_seeds_give_different_texts_and_generate_writes_nothing(world, capfd):
    def text(*extra):
        return world.succeeds(generate(world, "--length", "60", *extra), capfd)[0]

    one, two, largest = text("--seed", "1"), text("--seed", "2"), text("--seed", str(SEED_MAX))
    assert len({one, two, largest}) == 3
    # --num n uses seeds s .. s + n - 1, and the same seed gives the same text again.
    assert text("--seed", "1", "--num", "2") == one + two
    world.assert_intact()  # the run directory generated from is byte-for-byte unchanged


def test_evaluate_writes_only_its_results(world, capfd):
    run = world.copy_run()
    before = tree_hash(run)
    world.succeeds(["evaluate", "--run_dir", run, "--text", world.text], capfd)
    after = tree_hash(run)
    assert set(after) - set(before) == {"results.json"}
    assert {k: after[k] for k in before} == before
