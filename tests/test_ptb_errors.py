"""PTB bad inputs: one `error:` line, exit status 2, nothing lost or half made."""

import hashlib
import json
import os
import shutil

import pytest

from tests.conftest import (assert_export_keeps_what_it_did_not_write, cli_error_line,
                            shared_data, snapshot)
from tests.test_ptb import write_corpus
from week3_rnn import ptb
from week3_rnn.ptb_data import SPLIT_SHA256, SPLIT_URL


def run_command(argv, capsys):
    return cli_error_line(ptb.main, argv, capsys)


@pytest.mark.parametrize("remove, empty, fragment", [
    (["valid", "test"], None, "lacks ptb.valid.txt, ptb.test.txt"),
    ([], "test", "ptb.test.txt is empty"),
])
def test_missing_or_empty_split_files(tmp_path, capsys, remove, empty, fragment):
    data_dir = write_corpus(tmp_path / "data")
    for split in remove:
        os.remove(os.path.join(data_dir, f"ptb.{split}.txt"))
    if empty:
        open(os.path.join(data_dir, f"ptb.{empty}.txt"), "w").close()
    line = run_command(["train", "--data_dir", data_dir, "--preset", "test",
                        "--out_dir", str(tmp_path / "run")], capsys)
    assert fragment in line
    assert not (tmp_path / "run").exists()


def test_split_shorter_than_one_batch(tmp_path, capsys):
    data_dir = write_corpus(tmp_path / "data")
    open(os.path.join(data_dir, "ptb.valid.txt"), "w").write("the cat\n")
    line = run_command(["train", "--data_dir", data_dir, "--preset", "test",
                        "--out_dir", str(tmp_path / "run")], capsys)
    assert "the valid split has 3 words" in line and not (tmp_path / "run").exists()


def test_no_data_dir_and_no_network_points_to_data_dir(tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("keras.utils.get_file", offline)
    line = run_command(["train", "--preset", "test", "--out_dir", str(tmp_path / "run")],
                       capsys)
    assert "could not download" in line and "--data_dir" in line


@pytest.mark.parametrize("flags, fragment", [
    (["--preset", "small"], "preset: 'test' -> 'small'"),
    (["--preset", "test", "--hidden_size", "32"], "hidden_size: 16 -> 32"),
])
def test_resume_with_other_settings(trained_ptb, ptb_dir, capsys, flags, fragment):
    run_dir = trained_ptb[0]
    before = open(os.path.join(run_dir, "state.json")).read()
    line = run_command(["train", "--data_dir", ptb_dir, "--out_dir", run_dir, "--resume",
                        "--batch_size", "4", "--num_steps", "5", *flags], capsys)
    assert fragment in line
    assert open(os.path.join(run_dir, "state.json")).read() == before


def test_scoring_an_empty_sentence(trained_ptb, capsys):
    line = run_command(["score", "--run_dir", trained_ptb[0], "the cat", "   "], capsys)
    assert "empty" in line



def test_download_is_https_and_checked_with_a_hash(tmp_path, capsys, monkeypatch):
    calls = []

    def record(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        raise ValueError("Incomplete or corrupted file detected")

    monkeypatch.setattr("keras.utils.get_file", record)
    line = run_command(["train", "--preset", "test", "--out_dir", str(tmp_path / "run")],
                       capsys)
    assert "could not download" in line and "corrupted" in line
    fname, origin, kwargs = calls[0]
    assert origin.startswith("https://") and kwargs["file_hash"] == SPLIT_SHA256["train"]
    assert not (tmp_path / "run").exists()


def test_the_download_hashes_are_those_of_the_penn_treebank_files():
    for split, expected in SPLIT_SHA256.items():
        data = open(shared_data("ptb", f"ptb.{split}.txt"), "rb").read()
        assert hashlib.sha256(data).hexdigest() == expected
        assert SPLIT_URL.format(split=split).endswith(f"/ptb.{split}.txt")


def test_a_fifo_or_binary_split_file_is_refused(trained_ptb, tmp_path, capsys):
    data_dir = write_corpus(tmp_path / "data")
    os.remove(os.path.join(data_dir, "ptb.valid.txt"))
    os.mkfifo(os.path.join(data_dir, "ptb.valid.txt"))  # reading it would block forever
    line = run_command(["train", "--data_dir", data_dir, "--preset", "test",
                        "--out_dir", str(tmp_path / "run")], capsys)
    assert "FIFO" in line and not (tmp_path / "run").exists()
    evaluate = ["evaluate", "--run_dir", trained_ptb[0], "--data_dir", data_dir]
    assert "FIFO" in run_command(evaluate + ["--split", "valid"], capsys)
    open(os.path.join(data_dir, "ptb.test.txt"), "wb").write(b"\x00\x01 binary")
    assert "ptb.test.txt looks like a binary file" in run_command(evaluate, capsys)
    line = run_command(["train", "--data_dir", data_dir, "--preset", "test", "--max_bytes",
                        "10", "--out_dir", str(tmp_path / "run")], capsys)
    assert "more than the limit of 10" in line and not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, fragment", [
    (["--num", "0"], "--num: must be in 1..1,000"),
    (["--num", "1001"], "--num: must be in 1..1,000"),
    (["--num_sentences", "1000000000"], "--num_sentences: must be in 1..1,000"),
    (["--length", "1000000000"], "--length: must be in 1..10,000"),
    (["--max_words", "0"], "--max_words: must be in 1..10,000"),
    (["--seed", "-1"], "--seed"),
    (["--seed", str(2 ** 31)], "--seed"),
    (["--num", "2", "--num_sentences", "2"], "not both"),
    (["--temperature", "nan"], "--temperature"),
])
def test_generate_counts_are_bounded(trained_ptb, capsys, flags, fragment):
    line = run_command(["generate", "--run_dir", trained_ptb[0], *flags], capsys)
    assert fragment in line


def test_scoring_a_sentence_too_long(trained_ptb, capsys):
    line = run_command(["score", "--run_dir", trained_ptb[0], " ".join(["the"] * 10_001)], capsys)
    assert "more than 10,000" in line


@pytest.mark.parametrize("argv, fragment", [
    (["--text", "{missing}"], "not found"),
    (["--text", "{folder}"], "directory"),
    (["--text", "{binary}"], "binary"),
    (["--text", "{binary}", "--split", "valid"], "not both"),
    (["--data_dir", "{folder}"], "ptb.test.txt"),
    (["--data_dir", "{missing}"], "gone or not a folder"),
])
def test_evaluate_bad_inputs_write_nothing(trained_ptb, tmp_path, capsys, argv, fragment):
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02")
    (tmp_path / "folder").mkdir()
    names = {"missing": tmp_path / "missing.txt", "folder": tmp_path / "folder",
             "binary": binary}
    before = snapshot(trained_ptb[0])
    line = run_command(["evaluate", "--run_dir", trained_ptb[0],
                        *[a.format(**names) for a in argv]], capsys)
    assert fragment in line and snapshot(trained_ptb[0]) == before


def test_evaluate_a_run_without_a_data_folder_or_of_another_command(trained_ptb, tmp_path, capsys):
    run_dir = str(tmp_path / "copy")
    shutil.copytree(trained_ptb[0], run_dir)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    json.dump({**config, "source": "injected"}, open(os.path.join(run_dir, "config.json"), "w"))
    assert "records no data folder" in run_command(["evaluate", "--run_dir", run_dir], capsys)
    json.dump({**config, "kind": "char_rnn"}, open(os.path.join(run_dir, "config.json"), "w"))
    for verb in ("evaluate", "generate", "export"):
        extra = ["--export_dir", str(tmp_path / "out")] if verb == "export" else []
        line = run_command([verb, "--run_dir", run_dir, *extra], capsys)
        assert "holds a 'char_rnn' run" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, content, fragment", [
    ("best.keras", b"PK\x03\x04 truncated", "best.keras is truncated or corrupt"),
    ("vocab.json", b'{"words": [', "vocab.json is corrupt"),
    ("config.json", b"{", "config.json is corrupt"),
])
def test_corrupt_run_files_name_the_file(trained_ptb, tmp_path, capsys, name, content, fragment):
    run_dir = str(tmp_path / "copy")
    shutil.copytree(trained_ptb[0], run_dir)
    open(os.path.join(run_dir, name), "wb").write(content)
    for verb in ("score", "generate", "evaluate"):
        argv = [verb, "--run_dir", run_dir] + (["the cat"] if verb == "score" else [])
        assert fragment in run_command(argv, capsys)


def test_export_never_replaces_what_it_did_not_write(trained_ptb, tmp_path, capsys, monkeypatch):
    assert_export_keeps_what_it_did_not_write(ptb.main, trained_ptb[0], tmp_path, capsys,
                                              monkeypatch)


def test_litert_failure_names_the_op(trained_ptb, tmp_path, capsys, monkeypatch):
    class Converter:
        def convert(self):
            raise RuntimeError("error: 'tf.StatelessMultinomial' op is neither a custom op "
                               "nor a flex op")

    monkeypatch.setattr("tensorflow.lite.TFLiteConverter.from_concrete_functions",
                        lambda *args: Converter())
    line = run_command(["export", "--run_dir", trained_ptb[0], "--export_dir",
                        str(tmp_path / "tfl"), "--format", "litert"], capsys)
    assert "tf.StatelessMultinomial" in line and not (tmp_path / "tfl").exists()
