"""word2vec under hostile or careless input: one `error:` line, exit 2, and nothing that
was there before (a canary file, the run directory) changed or removed."""

import hashlib
import io
import os
import zipfile

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, call_cli, snapshot
from word2vec import corpus as corpus_module
from word2vec import skipgram
from word2vec.corpus import CountedVocab
from word2vec.vectors import save_embeddings

WORDS = ["alpha", "beta", "gamma", "delta", "<unk>"]


@pytest.fixture
def run_dir(tmp_path):
    """A run directory with vectors, a config.json and a canary file."""
    path = tmp_path / "run"
    path.mkdir()
    CountedVocab(WORDS, [9, 8, 7, 6, 0]).save(str(path / "vocab.json"))
    save_embeddings(np.random.default_rng(0).normal(size=(5, 3)), str(path / "embeddings.npy"))
    (path / "config.json").write_text('{"kind": "word2vec", "arch": "skipgram"}')
    (path / "canary.txt").write_bytes(b"earlier results \x00\xff")
    return path


def fails_cleanly(capsys, argv, fragment, unchanged=None):
    before = snapshot(unchanged) if unchanged else None
    status, _, stderr = call_cli(skipgram.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    if unchanged:
        assert snapshot(unchanged) == before  # byte for byte, nothing added


@pytest.mark.parametrize("damage, fragment", [
    (lambda p: (p / "embeddings.npy").write_bytes(
        (p / "embeddings.npy").read_bytes()[:90]), "embeddings.npy is truncated or corrupt"),
    (lambda p: (p / "embeddings.npy").write_bytes(b"not numpy at all"),
     "embeddings.npy is truncated or corrupt"),
    (lambda p: save_embeddings(np.zeros((4, 3)), str(p / "embeddings.npy")),
     "embeddings.npy holds a float32 array of shape (4, 3)"),
    (lambda p: save_embeddings(np.full((5, 3), np.nan), str(p / "embeddings.npy")),
     "embeddings.npy holds NaN"),
    (lambda p: (p / "vocab.json").write_text('{"words": ["alpha", "be'),
     "vocab.json is corrupt or truncated"),
    (lambda p: (p / "vocab.json").write_text('{"words": ["alpha"], "unknown": "<unk>"}'),
     "vocab.json is not a word2vec vocabulary"),
    (lambda p: (p / "config.json").write_text('{"kind": "word2v'),
     "config.json is corrupt or truncated"),
    (lambda p: (p / "config.json").write_text('{"kind": "dcgan"}'), "holds a 'dcgan' run"),
])
@pytest.mark.parametrize("verb", [["neighbors", "alpha"], ["evaluate", "--wordsim", "x.tsv"],
                                  ["export", "--export_dir", "EXPORT"]])
def test_damaged_run_files_are_named(run_dir, tmp_path, capsys, damage, fragment, verb):
    damage(run_dir)
    verb = [str(tmp_path / "export") if part == "EXPORT" else part for part in verb]
    fails_cleanly(capsys, [verb[0], "--run_dir", str(run_dir), *verb[1:]], fragment, run_dir)
    assert not (tmp_path / "export").exists()


def test_a_file_link_out_of_the_run_directory_is_refused(run_dir, tmp_path, capsys):
    outside = tmp_path / "elsewhere.json"
    outside.write_text((run_dir / "vocab.json").read_text())
    (run_dir / "vocab.json").unlink()
    (run_dir / "vocab.json").symlink_to(outside)
    fails_cleanly(capsys, ["neighbors", "--run_dir", str(run_dir), "alpha"],
                  "points outside the run directory", run_dir)


@pytest.mark.parametrize("make, fragment", [
    (lambda p: os.mkfifo(p), "FIFO"),
    (lambda p: os.mkdir(p), "got a directory"),
    (lambda p: p.write_text("word " * 100), "raise it with --max_bytes"),
])
def test_text_that_is_not_a_readable_small_file(tmp_path, capsys, make, fragment):
    text = tmp_path / "text"
    make(text)
    fails_cleanly(capsys, ["train", "--text", str(text), "--preset", "test", "--out_dir",
                           str(tmp_path / "run"), "--max_bytes", "100"], fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, fragment", [
    (["--k", str(10 ** 9)], "argument --k: must be in 1..10,000"),
    (["--k", "0"], "argument --k: must be in 1..10,000"),
])
def test_neighbor_counts_are_bounded(run_dir, capsys, flags, fragment):
    fails_cleanly(capsys, ["neighbors", "--run_dir", str(run_dir), "alpha", *flags], fragment,
                  run_dir)


@pytest.mark.parametrize("flags, fragment", [
    (["--embedding_dim", str(10 ** 9)], "--embedding_dim: must be in 1..4,096"),
    (["--embedding_dim", "0"], "--embedding_dim: must be in 1..4,096"),
    (["--window", str(2 ** 32)], "--window: must be in 1..100"),
    (["--batch_size", "-1"], "--batch_size: must be in 1..1,048,576"),
    (["--max_vocab", "-1"], "--max_vocab: must be 0 (no limit) or in 1..10,000,000"),
    (["--max_vocab", str(10 ** 12)], "--max_vocab: must be 0 (no limit)"),
    (["--learning_rate", "nan"], "--learning_rate: must be a positive number"),
    (["--sample", "inf"], "--sample: must be zero or more"),
    (["--seed", "-1"], "--seed: must be a seed in 0..2147483647"),
    (["--epochs", str(10 ** 9)], "--epochs: must be in 1..100,000"),
])
def test_training_sizes_are_bounded(tmp_path, capsys, flags, fragment):
    text = tmp_path / "text.txt"
    text.write_text("a b c d e f " * 20)
    fails_cleanly(capsys, ["train", "--text", str(text), "--out_dir", str(tmp_path / "run"),
                           *flags], fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("pairs, fragment", [
    ("alpha\tbeta\tnan\ngamma\tdelta\t3\n", "line 1: the score 'nan' is not a finite number"),
    ("alpha\tbeta\t1\ngamma\tdelta\tinf\n", "line 2: the score 'inf' is not a finite number"),
    ("alpha\tbeta\t5\ngamma\tdelta\t5\n", "all have the same human score"),
])
def test_evaluation_files_that_would_give_nan(run_dir, tmp_path, capsys, pairs, fragment):
    path = tmp_path / "pairs.tsv"
    path.write_text(pairs)
    fails_cleanly(capsys, ["evaluate", "--run_dir", str(run_dir), "--wordsim", str(path)],
                  fragment, run_dir)
    assert not (run_dir / "results.json").exists()


def fake_zip(member="text8", text=b"anarchism originated as a term of abuse "):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(member, text * 10)
    return buffer.getvalue()


def test_text8_download_is_checked(tmp_path, monkeypatch):
    import keras

    archive = tmp_path / "text8.zip"
    archive.write_bytes(fake_zip())
    calls = []
    monkeypatch.setattr(keras.utils, "get_file",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or str(archive))
    with pytest.raises(corpus_module.UsageError, match="is not the published text8.zip"):
        corpus_module.text8_tokens()
    assert calls[0][0][1].startswith("https://")
    assert archive.read_bytes() == fake_zip()  # a bad download is named, never removed
    # The same archive passes once its digest is the expected one.
    monkeypatch.setattr(corpus_module, "TEXT8_SHA1", hashlib.sha1(fake_zip()).hexdigest())
    monkeypatch.setattr(corpus_module, "TEXT8_BYTES", len(fake_zip()))
    assert corpus_module.text8_tokens()[:3] == ["anarchism", "originated", "as"]
    with pytest.raises(corpus_module.UsageError, match="more than --max_bytes 10"):
        corpus_module.text8_tokens(max_bytes=10)


def test_a_failed_start_over_an_existing_folder_leaves_it_as_it_was(tmp_path, capsys):
    # An empty folder of the user's (train refuses one holding files before reading data).
    out_dir = tmp_path / "mine"
    out_dir.mkdir()
    text = tmp_path / "text.txt"
    text.write_text("one one one one two")
    fails_cleanly(capsys, ["train", "--text", str(text), "--preset", "test", "--out_dir",
                           str(out_dir), "--min_count", "2"], "only 1 distinct word", out_dir)
    assert out_dir.is_dir() and os.listdir(out_dir) == []  # kept, and still empty


def test_a_run_that_diverges_in_its_first_epoch_leaves_nothing(tmp_path, capsys):
    text = tmp_path / "text.txt"
    text.write_text("a b c d e f g h i j k l " * 40)
    fails_cleanly(capsys, ["train", "--text", str(text), "--preset", "test", "--out_dir",
                           str(tmp_path / "run"), "--learning_rate", "1e30"],
                  "the loss became NaN in epoch 1")
    assert not (tmp_path / "run").exists()
