"""A name holding bytes that are not UTF-8 is one `error:` line on every verb, never a traceback.

Python hands such bytes (b'\\xff') to the program as lone surrogates; TensorFlow
accepts only UTF-8 paths and strings, so the parser refuses them before any
work starts, naming the flag and the bytes.
"""

import os

import pytest

from tests.conftest import call_cli
from tests.test_out_dir_canary import COMMANDS, main_of

BAD = os.fsdecode(b"caf\xe9-\xff")  # Latin-1 bytes, as a user's old file system may hold


# Flags a command's train requires before it looks at --out_dir.
REQUIRED = {"week2_cnn.transfer": ["--image_dir", "photos"], "word2vec.skipgram": ["--text", "t"],
            "week4_qa.vqa": ["--data_dir", "d"]}


def argvs(command, tmp_path):
    bad = str(tmp_path / BAD)
    good = str(tmp_path / "run")
    return {
        "train --out_dir": ["train", *REQUIRED.get(command, []), "--out_dir", bad],
        "evaluate --run_dir": ["evaluate", "--run_dir", bad],
        "export --export_dir": ["export", "--run_dir", good, "--export_dir", bad],
    }


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ["train --out_dir", "evaluate --run_dir",
                                  "export --export_dir"])
def test_non_utf8_bytes_in_a_path_flag(command, case, tmp_path, capsys):
    status, out, err = call_cli(main_of(command), argvs(command, tmp_path)[case], capsys)
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1, err
    flag = case.split()[1]
    assert lines[0].startswith(f"error: {flag} b'") and "not UTF-8" in lines[0], lines[0]
    assert "\\xe9-\\xff" in lines[0]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("command, argv, name", [
    ("week3_rnn.char_rnn", ["train", "--text", BAD], "--text"),
    ("week3_rnn.spacing", ["predict", "--run_dir", "run", BAD], "TEXT"),
    ("week3_rnn.sentiment", ["predict", "--run_dir", "run", BAD], "TEXT"),
    ("week3_rnn.translate", ["predict", "--run_dir", "run", BAD], "TEXT"),
    ("week2_cnn.cifar10", ["predict", "--run_dir", "run", BAD], "images"),
    ("week4_qa.memn2n", ["predict", "--run_dir", "run", "--story", BAD, "Where?"], "--story"),
    ("week4_qa.memn2n", ["predict", "--run_dir", "run", "--story", "s", BAD], "QUESTION"),
    ("week4_qa.vqa", ["predict", "--run_dir", "run", BAD, "what?"], "IMAGE QUESTION"),
    ("week4_qa.vqa", ["predict", "--run_dir", "run", "a.png", BAD], "IMAGE QUESTION"),
    ("week5_caption.caption", ["predict", "--run_dir", "run", "a.png", BAD], "IMAGE"),
    ("week5_caption.caption", ["train", "--data_dir", BAD], "--data_dir"),
])
def test_non_utf8_bytes_in_an_input_or_a_positional_text(command, argv, name, capsys):
    status, _, err = call_cli(main_of(command), argv, capsys)
    assert status == 2 and err.startswith(f"error: {name} b'caf\\xe9-\\xff'"), err
