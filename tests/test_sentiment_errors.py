"""Bad input to week3_rnn.sentiment: one `error:` line, exit status 2, nothing written or lost."""

import json
import os
import shutil

import pytest

from common.cli import run_cli
from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, snapshot)
from tests.test_sentiment_data import write_imdb, write_nsmc
from week3_rnn import sentiment


def fails(argv, capsys, fragment="", where=None):
    """The command fails with one error line containing `fragment`; `where` (a folder)
    is byte for byte as before."""
    before = snapshot(where) if where is not None else None
    status, out, stderr = call_cli(sentiment.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""
    if where is not None:
        assert snapshot(where) == before
    return stderr


def train_args(out_dir, *data):
    return ["train", *map(str, data), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", "--epochs", "1"]


def labelled_lines(count=40, words=("good", "bad")):
    return "".join(f"review {i} {words[i % 2]}\t{words[i % 2]}\n" for i in range(count))


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    (b"", "is empty"),
    (b"\x00\x01\x02binary\x00\tpos\n", "binary"),
    (b"caf\xe9 au lait\tpos\n", "not valid UTF-8"),
    (b"fine\tpos\nalso fine\tneg\nno tab here\n", "line 3 has no tab"),
    (b"a\tpos\nb\t\n", "line 2 has an empty label"),
    ("".join(f"review\t{i}\n" for i in range(30)).encode(), "is not a label"),
    (b"x" * 10 + b"\t" + b"y" * 70 + b"\n", "is not a label"),
    (b"good\tpos\ngreat\tpos\n", "at least two classes"),
    (b"text\tlabel\n", "no TEXT<TAB>LABEL line"),
])
def test_bad_labelled_files_make_no_run(tmp_path, capsys, content, fragment):
    path = tmp_path / "reviews.tsv"
    if content is not None:
        path.write_bytes(content)
    fails(train_args(tmp_path / "new" / "run", "--text", path), capsys, fragment, tmp_path)
    assert not (tmp_path / "new").exists()


def broken_imdb(root, how):
    write_imdb(root, per_class=3)
    top = root / "aclImdb"
    if how == "missing class":
        shutil.rmtree(top / "test" / "neg")
    elif how == "one class":
        shutil.rmtree(top / "train" / "neg")
    elif how == "extra class":
        (top / "test" / "meh").mkdir()
    elif how == "no reviews":
        for path in (top / "test" / "pos").iterdir():
            path.rename(path.with_suffix(".bak"))
    elif how == "binary review":
        (top / "train" / "pos" / "0_9.txt").write_bytes(b"\x00\x01PNG")
    elif how == "no layout":
        shutil.rmtree(top / "test")
    return root


@pytest.mark.parametrize("how, fragment", [
    ("missing class", "test/neg is missing"), ("one class", "at least two"),
    ("extra class", "class folders train/ lacks: meh"), ("no reviews", "holds no .txt"),
    ("binary review", "binary"), ("no layout", "matches no known layout")])
def test_bad_imdb_folders_make_no_run(tmp_path, capsys, how, fragment):
    root = broken_imdb(tmp_path / "data", how)
    fails(train_args(tmp_path / "run", "--data_dir", root), capsys, fragment, tmp_path)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("edit, fragment", [
    (lambda lines: lines[1:], "line 1 is not NSMC's header"),
    (lambda lines: lines[:2] + ["1\tgood movie\t2"] + lines[2:], "line 3: label '2'"),
    (lambda lines: lines + ["7\tno label"], "2 tab-separated columns, not 3"),
])
def test_bad_nsmc_files_make_no_run(tmp_path, capsys, edit, fragment):
    root = write_nsmc(tmp_path / "nsmc", count=8)
    path = root / "ratings_train.txt"
    path.write_text("\n".join(edit(path.read_text().strip().split("\n"))) + "\n")
    fails(train_args(tmp_path / "run", "--data_dir", root), capsys, fragment, tmp_path)
    (root / "ratings_test.txt").unlink()
    write_nsmc(tmp_path / "nsmc2", count=8)
    (tmp_path / "nsmc2" / "ratings_test.txt").unlink()
    fails(train_args(tmp_path / "run", "--data_dir", tmp_path / "nsmc2"), capsys,
          "ratings_test.txt is missing", tmp_path)


@pytest.mark.parametrize("flags, fragment", [
    (["--max_length", "0"], "--max_length"), (["--max_length", "10000000"], "--max_length"),
    (["--max_examples", "-1"], "--max_examples"), (["--arch", "rnn"], "--arch"),
    (["--tokens", "bytes"], "--tokens"), (["--dataset", "sst2"], "--dataset"),
    (["--dataset", "order", "--text", "x.tsv"], "--text and --dataset name two data sources"),
    (["--text", "x.tsv", "--data_dir", "d"], "--text and --data_dir name two data sources"),
])
def test_bad_flags_are_one_line(tmp_path, capsys, flags, fragment):
    fails(train_args(tmp_path / "run", *flags), capsys, fragment, tmp_path)
    assert os.listdir(tmp_path) == []


def test_offline_the_default_tfds_path_is_one_line(tmp_path, capsys, monkeypatch):
    """No download yet and no connection: one line at once (not tfds's retries)."""
    import socket

    import tensorflow_datasets as tfds

    def unreachable(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: False)
    monkeypatch.setattr(socket, "create_connection", unreachable)
    fails(train_args(tmp_path / "run"), capsys, "ai.stanford.edu cannot be reached", tmp_path)
    # A download that fails once started (cut off, a proxy's error) is one line too.
    monkeypatch.setattr("week3_rnn.sentiment_data.check_reachable", lambda urls: None)

    def cut_off(self, *args, **kwargs):
        raise ConnectionError("Connection reset by peer")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", cut_off)
    fails(train_args(tmp_path / "run"), capsys, "could not load imdb_reviews", tmp_path)
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def tsv_run(tmp_path_factory):
    """(run_dir, its TEXT<TAB>LABEL file) trained for one epoch; tests copy the run."""
    root = tmp_path_factory.mktemp("tsv_run")
    path = root / "reviews.tsv"
    path.write_text(labelled_lines(120))
    assert run_cli(sentiment.main, train_args(root / "run", "--text", path)) is None
    return root / "run", path


def copied(tsv_run, tmp_path):
    shutil.copytree(tsv_run[0], tmp_path / "run")
    shutil.copy(tsv_run[1], tmp_path / "reviews.tsv")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["source"] = f"file:{tmp_path / 'reviews.tsv'}"
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    return tmp_path / "run", tmp_path / "reviews.tsv"


def test_resume_with_another_vocabulary_is_refused_and_the_same_data_resumes(tsv_run,
                                                                            tmp_path, capsys):
    run, path = copied(tsv_run, tmp_path)
    other = tmp_path / "other.tsv"
    other.write_text(labelled_lines(120, words=("great", "awful")))
    resume = [*train_args(run, "--text", other)[:-2], "--epochs", "2", "--resume"]
    fails(resume, capsys, "vocabulary differs", tmp_path)
    resume[2] = str(path)
    assert run_cli(sentiment.main, resume) is None
    assert json.loads((run / "state.json").read_text())["epoch"] == 2


def test_evaluate_refuses_a_changed_file_and_labels_the_run_lacks(tsv_run, tmp_path, capsys):
    run, path = copied(tsv_run, tmp_path)
    path.write_text(labelled_lines(150))
    fails(["evaluate", "--run_dir", str(run)], capsys, "has changed since it was trained",
          tmp_path)
    other = tmp_path / "other.tsv"
    other.write_text("fine\tyes\nbad\tno\nok\tyes\nmeh\tno\n")
    fails(["evaluate", "--run_dir", str(run), "--text", str(other)], capsys,
          "labels 'no', 'yes' are not classes of the run (bad, good)", tmp_path)


def test_predict_without_texts_and_other_kinds_of_runs(sentiment_run, tmp_path, capsys):
    fails(["predict", "--run_dir", sentiment_run[0]], capsys, "nothing to classify")
    lines = tmp_path / "lines.txt"
    lines.write_text("good\n")
    fails(["predict", "--run_dir", sentiment_run[0], "good", "--input", str(lines)], capsys,
          "not both")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"kind": "spacing"}))
    for argv in (["predict", "good"], ["evaluate"],
                 ["export", "--export_dir", str(tmp_path / "export")]):
        fails([argv[0], "--run_dir", str(other), *argv[1:]], capsys, "holds a 'spacing' run",
              tmp_path)
    assert not (tmp_path / "export").exists()


def test_export_never_replaces_what_it_did_not_write(sentiment_run, tmp_path, capsys,
                                                     monkeypatch):
    assert_export_keeps_what_it_did_not_write(sentiment.main, sentiment_run[0], tmp_path,
                                              capsys, monkeypatch)
