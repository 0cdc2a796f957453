"""Bad input to week3_rnn.sentiment: one `error:` line, exit status 2, nothing written or lost."""

import json
import logging
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


def test_offline_the_default_tfds_path_is_one_line(tmp_path, capsys, monkeypatch, caplog):
    """No download yet and no connection: one line at once (not tfds's retries)."""
    import socket

    import tensorflow_datasets as tfds

    def unreachable(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    # Not downloaded: the cache holds what an interrupted first download leaves, of which
    # tfds's is_prepared() warns through absl.
    (tmp_path / "tfds" / "imdb_reviews" / "plain_text" / "1.0.0").mkdir(parents=True)
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr(socket, "create_connection", unreachable)
    fails(train_args(tmp_path / "run"), capsys, "ai.stanford.edu cannot be reached", tmp_path)
    # A download that fails once started (cut off, a proxy's error) is one line too.
    monkeypatch.setattr("week3_rnn.sentiment_data.check_reachable", lambda urls: None)

    def cut_off(self, *args, **kwargs):
        raise ConnectionError("Connection reset by peer")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", cut_off)
    fails(train_args(tmp_path / "run"), capsys, "could not load imdb_reviews", tmp_path)
    assert os.listdir(tmp_path) == ["tfds"]
    # tfds's absl warning ('Variant folder ... has no dataset_info.json') printed a line
    # before the error line in the real CLI (pytest's log capture hid it from capsys).
    assert not [r for r in caplog.records if r.name == "absl" and r.levelno >= logging.WARNING]


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


# --- found by a hostile pass over the real CLI -------------------------------------------------

def edited(run, name, change):
    path = run / name
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize("name, change, fragment", [
    ("config.json", lambda c: {**c, "data": "x"}, "source, seed or data entry"),
    ("config.json", lambda c: {**c, "seed": "x", "source": "dataset:order"},
     "source, seed or data entry"),
    ("config.json", lambda c: {**c, "source": ["x"]}, "source, seed or data entry"),
])
def test_evaluate_refuses_an_edited_data_record(tsv_run, tmp_path, capsys, name, change,
                                                fragment):
    """A config.json whose source, seed or data entry train never writes: one error line
    (it was an AttributeError / numpy ValueError traceback)."""
    run, _ = copied(tsv_run, tmp_path)
    edited(run, name, change)
    fails(["evaluate", "--run_dir", str(run)], capsys, fragment, tmp_path)


@pytest.mark.parametrize("name, change, fragment", [
    ("vocab.json", lambda v: {**v, "level": "char"}, "holds char tokens but config.json says"),
    ("config.json", lambda c: {**c, "tokens": "char"}, "holds word tokens but config.json"),
    ("config.json", lambda c: {**c, "arch": "bow"}, "not the sentiment_bow that config.json"),
    ("labels.json", lambda names: [names[0], names[0]], "not a list of distinct class names"),
])
def test_a_run_edited_to_disagree_with_itself_is_refused(tsv_run, tmp_path, capsys, name,
                                                         change, fragment):
    """An edited level, arch or class list was read silently (char tokens fed to a word
    model, results.json naming the wrong arch): predict and export refuse it."""
    run, _ = copied(tsv_run, tmp_path)
    edited(run, name, change)
    fails(["predict", "--run_dir", str(run), "good"], capsys, fragment, tmp_path)
    fails(["export", "--run_dir", str(run), "--export_dir", str(tmp_path / "export")], capsys,
          fragment, tmp_path)


def test_evaluate_text_may_hold_one_class_and_names_unknown_labels_briefly(tsv_run, tmp_path,
                                                                           capsys):
    """A test file of positive reviews alone is a fair test set (it was refused as 'needs
    two classes'); labels the run lacks are named, each cut to 40 characters."""
    run, _ = copied(tsv_run, tmp_path)
    positive = tmp_path / "positive.tsv"
    positive.write_text("review 1 good\tgood\nreview 3 good\tgood\nreview 5 good\tgood\n")
    assert run_cli(sentiment.main, ["evaluate", "--run_dir", str(run), "--text",
                                    str(positive)]) is None
    out, err = capsys.readouterr()
    assert err == "" and "on 3 texts" in out
    assert json.loads((run / "results.json").read_text())["examples"] == 3
    odd = tmp_path / "odd.tsv"
    odd.write_text("".join(f"text {i}\t{'x' * 500}{i}\n" for i in range(1000)))
    stderr = fails(["evaluate", "--run_dir", str(run), "--text", str(odd)], capsys,
                   "and 995 more are not classes of the run (bad, good)", tmp_path)
    assert len(stderr) < 600


def test_a_nul_byte_after_the_first_64_kib_is_refused(tmp_path, capsys):
    """Only the first 64 KiB were searched for NUL bytes (common/text.py)."""
    path = tmp_path / "reviews.tsv"
    path.write_bytes(labelled_lines(4000).encode() + b"x\x00y\tgood\n")
    assert path.stat().st_size > 65536
    fails(train_args(tmp_path / "run", "--text", path), capsys, "binary", tmp_path)


def test_an_input_over_the_default_max_bytes_is_refused_unread(tmp_path, capsys):
    """Training holds texts and tokens in memory (up to about 20 bytes per input byte):
    the default limit is sentiment's MAX_BYTES (256 MiB), not the 2 GiB that could end
    in an out-of-memory kill. A sparse file: nothing is written to disk or read."""
    from week3_rnn.sentiment_verbs import MAX_BYTES

    path = tmp_path / "huge.tsv"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    (tmp_path / "runs").mkdir()  # the tree checked (the sparse file would be read to hash it)
    fails(train_args(tmp_path / "runs" / "run", "--text", path), capsys,
          f"more than the limit of {MAX_BYTES:,}", tmp_path / "runs")
    assert os.listdir(tmp_path / "runs") == []


def test_a_long_text_costs_no_python_object_per_token(sentiment_run):
    """Training tokenises, cuts and counts in TensorFlow: a text of 400,000 tokens
    allocates far less Python memory than one string per token would (about 20 MB), and
    its ids equal the servable's (the last max_length tokens)."""
    import tracemalloc

    from week3_rnn import sentiment_verbs

    run_dir, _, vocab = sentiment_run
    text = " ".join(["good", "bad", "not", "zebra"] * 100_000)
    tracemalloc.start()
    ids = sentiment_verbs.token_ids([text, "good"], vocab, 64)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000, peak
    servable = sentiment_verbs.servable_of(run_dir)[0]
    served = servable.ids([text, "good"])["token_ids"].numpy()
    assert ids.to_list() == [served[0][:64].tolist(), served[1][:1].tolist()]


def test_too_many_imdb_class_folders_are_one_short_line(tmp_path, capsys):
    """Folder classes are bounded like a label column's (at most 100)."""
    root = write_imdb(tmp_path / "data", per_class=2)
    for i in range(101):
        (root / "aclImdb" / "train" / f"c{i:03}").mkdir()
    stderr = fails(train_args(tmp_path / "run", "--data_dir", root), capsys,
                   "holds 103 class folders, more than 100", tmp_path)
    assert len(stderr) < 400
