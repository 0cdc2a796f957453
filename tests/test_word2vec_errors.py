"""word2vec's bad inputs: one line `error: ...`, exit status 2, nothing overwritten."""

import os

import numpy as np
import pytest

from common.cli import run_cli
from tests.conftest import assert_one_line_error, call_cli
from word2vec import skipgram
from word2vec.corpus import CountedVocab
from word2vec.vectors import save_embeddings


def run_command(argv, capsys):
    """Runs the CLI in-process; returns (exit status, stderr)."""
    status, _, stderr = call_cli(skipgram.main, argv, capsys)
    return status, stderr


def train_args(corpus, out_dir, *extra):
    return ["train", "--text", str(corpus), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", *extra]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run directory with vectors for 'alpha', 'beta', 'gamma', 'delta' (no training)."""
    run_dir = tmp_path_factory.mktemp("run")
    vocab = CountedVocab(["alpha", "beta", "gamma", "delta", "<unk>"], [9, 8, 7, 6, 0])
    vocab.save(str(run_dir / "vocab.json"))
    save_embeddings(np.random.default_rng(0).normal(size=(5, 3)), str(run_dir / "embeddings.npy"))
    return run_dir


@pytest.mark.parametrize("content, extra, fragment", [
    (b"", (), "is empty"),
    (b"   \n\t\n", (), "is empty"),
    (b"\xff\xfe not utf-8", (), "not valid UTF-8"),
    (b"one two three one two three", ("--min_count", "3"), "--min_count 3"),
    (b"one one one one two", ("--min_count", "2"), "only 1 distinct word"),
    ("a b c d e f " * 20, ("--max_vocab", "2"), "--max_vocab 2"),
    ("a b c d e f " * 20, ("--num_sampled", "6"), "--num_sampled 6 must be smaller"),
    ("a b c d e f " * 20, ("--num_sampled", "9"), "vocabulary (6 words)"),
])
def test_bad_corpus_or_flags(tmp_path, capsys, content, extra, fragment):
    path = tmp_path / "corpus.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    status, stderr = run_command(train_args(path, tmp_path / "run", *extra), capsys)
    assert_one_line_error(status, stderr, fragment)
    assert not (tmp_path / "run").exists()  # nothing written for a run that never started


def test_missing_corpus(tmp_path, capsys):
    status, stderr = run_command(train_args(tmp_path / "nope.txt", tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "not found")


def test_text8_offline_is_a_clean_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached copy to find
    import keras

    def offline(*args, **kwargs):
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    status, stderr = run_command(["train", "--dataset", "text8", "--out_dir",
                                  str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "could not download text8")


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c d e f g h i j k l " * 20)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text('{"kind": "word2vec", "note": "earlier work"}')
    status, stderr = run_command(train_args(corpus, run_dir), capsys)
    assert_one_line_error(status, stderr, "already holds a run")
    assert "earlier work" in (run_dir / "config.json").read_text()


@pytest.mark.parametrize("argv, fragment", [
    (["neighbors", "alpha", "omega"], "'omega'"),
    (["neighbors", "<unk>"], "'<unk>'"),
    (["analogy", "alpha", "zeta", "eta"], "'zeta', 'eta'"),
])
def test_words_outside_the_vocabulary_are_named(tiny_run, capsys, argv, fragment):
    status, stderr = run_command([argv[0], "--run_dir", str(tiny_run), *argv[1:]], capsys)
    assert_one_line_error(status, stderr, fragment)


def test_neighbors_and_analogy_answer_known_words(tiny_run, capsys):
    run_cli(skipgram.main, ["neighbors", "--run_dir", str(tiny_run), "alpha", "--k", "2"])
    run_cli(skipgram.main, ["analogy", "--run_dir", str(tiny_run), "alpha", "beta", "gamma"])
    out = capsys.readouterr().out
    assert out.startswith("alpha: ") and "alpha : beta = gamma : ?" in out
    assert "delta" in out.splitlines()[-1]  # the only word left for the analogy


@pytest.mark.parametrize("text, fragment", [
    ("alpha beta gamma delta\n", "before any ': section' line"),
    (": section\nalpha beta gamma\n", "needs 4 words"),
    (": only a heading\n", "holds no analogy questions"),
])
def test_analogy_file_in_the_wrong_format(tiny_run, tmp_path, capsys, text, fragment):
    path = tmp_path / "questions.txt"
    path.write_text(text)
    status, stderr = run_command(["evaluate", "--run_dir", str(tiny_run), "--analogies",
                                  str(path)], capsys)
    assert_one_line_error(status, stderr, fragment)
    assert not (tiny_run / "results.json").exists()


def test_wordsim_file_in_the_wrong_format(tiny_run, tmp_path, capsys):
    path = tmp_path / "pairs.tsv"
    path.write_text("alpha\tbeta\tvery similar\n")
    status, stderr = run_command(["evaluate", "--run_dir", str(tiny_run), "--wordsim",
                                  str(path)], capsys)
    assert_one_line_error(status, stderr, "is not 'word1 word2 score'")


def test_commands_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    status, stderr = run_command(["neighbors", "--run_dir", str(tmp_path), "alpha"], capsys)
    assert_one_line_error(status, stderr, "train at least one epoch")


def test_export_refuses_an_existing_directory(tiny_run, tmp_path, capsys):
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("earlier work")
    status, stderr = run_command(["export", "--run_dir", str(tiny_run), "--export_dir",
                                  str(target)], capsys)
    assert_one_line_error(status, stderr, "--overwrite")
    assert os.listdir(target) == ["keep.txt"]
