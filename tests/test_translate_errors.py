"""Bad input to week3_rnn.translate: one `error:` line, exit status 2, nothing written or lost."""

import json
import os
import shutil

import pytest

from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, snapshot)
from tests.test_translate import cli, write_pairs
from week3_rnn import translate


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(translate.main, [str(a) for a in argv], capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""


def train_args(out_dir, *data):
    return ["train", *data, "--preset", "test", "--epochs", "1", "--out_dir", out_dir,
            "--verbose", "0"]


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    (b"", "is empty"),
    (b"\x00\x01\x02binary\x00\tx", "binary"),
    (b"caf\xe9\tau lait", "not valid UTF-8"),
    ("Go.\tVe.\nno tab on this line\nHi.\tHola.\n".encode(), "line 2 has no tab"),
    ("Go.\tVe.\n \tVe.\n".encode(), "line 2 has an empty source"),
    # Every pair longer than --max_length (12 characters under the test preset).
    (("x" * 20 + "\t" + "y" * 20 + "\n").encode() * 50, "no training pair is left"),
], ids=["missing", "empty", "binary", "latin-1", "no-tab", "empty-source", "all-too-long"])
def test_bad_pairs_files_make_no_run(tmp_path, capsys, content, fragment):
    path = tmp_path / "pairs.txt"
    if content is not None:
        path.write_bytes(content)
    fails(train_args(tmp_path / "new" / "run", "--pairs", path, "--tokens", "char"), capsys,
          fragment)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("flags, fragment", [
    (["--pairs", "P", "--dataset", "dates"], "not both"),
    (["--dataset", "reverse", "--data_dir", "."], "--data_dir does not apply"),
    (["--dataset", "reverse", "--keep_stress"], "--keep_stress does not apply"),
    (["--dataset", "dates", "--tokens", "word"], "--tokens does not apply"),
    (["--dataset", "addition", "--min_length", "3"], "--min_length does not apply"),
    (["--dataset", "reverse", "--min_length", "20"], "more than --max_length 12"),
    (["--dataset", "cmudict"], "needs --data_dir"),
    (["--dataset", "cmudict", "--data_dir", "EMPTY"], "not found"),
    (["--dataset", "dates", "--arch", "transformer"], "transformer"),
    (["--dataset", "dates", "--encoder", "bi", "--units", "33"], "33 is odd"),
    (["--dataset", "dates", "--strategy", "parameter_server"], "parameter_server"),
])
def test_data_flags_that_do_not_fit_make_no_run(tmp_path, capsys, flags, fragment):
    (tmp_path / "empty").mkdir()
    paths = {"P": str(write_pairs(tmp_path / "p.txt", 50)), "EMPTY": str(tmp_path / "empty")}
    fails(train_args(tmp_path / "run", *[paths.get(f, f) for f in flags]), capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_resume_with_another_vocabulary_is_refused(translate_run, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    shutil.copytree(translate_run[0], run_dir)
    before = snapshot(run_dir)
    other = tmp_path / "other.txt"
    other.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ["xyz", "zyx", "wxyz"] * 30),
                     encoding="utf-8")
    fails(["train", "--pairs", other, "--tokens", "char", "--preset", "test", "--epochs", "4",
           "--out_dir", run_dir, "--resume", "--val_fraction", "0.1", "--test_fraction", "0.1"],
          capsys, "data_sha256")  # the changed file is named by its hash
    fails(train_args(run_dir, "--pairs", translate_run[1], "--tokens", "char"), capsys,
          "already holds a run")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("extra, fragment", [
    (["--beam", "0"], "--beam"),
    (["--beam", "1000"], "--beam"),
    ([], "nothing to translate"),
    (["abc", "   "], "input 2 is empty"),
    (["abcdefghabcdefgh"], "input 1 has 16 tokens, more than the model's --max_length 12"),
    (["a\nb"], "line break"),
    (["abc", "--input", "INPUT"], "not both"),
    (["--input", "BINARY"], "binary"),
])
def test_bad_predict_inputs(translate_run, tmp_path, capsys, extra, fragment):
    (tmp_path / "in.txt").write_text("abc\n", encoding="utf-8")
    (tmp_path / "bin").write_bytes(b"\x00\x01")
    paths = {"INPUT": str(tmp_path / "in.txt"), "BINARY": str(tmp_path / "bin")}
    fails(["predict", "--run_dir", translate_run[0], *[paths.get(a, a) for a in extra]],
          capsys, fragment)


def test_attention_maps_never_replace_what_they_did_not_write(translate_run, tmp_path,
                                                              capsys):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"\x89PNG my holiday photo")
    folder = tmp_path / "maps"
    folder.mkdir()
    (folder / "attention-2.png").write_text("my notes")
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", translate_run[0], "abc", "--out", mine], capsys,
          "not a PNG written by this project")
    fails(["predict", "--run_dir", translate_run[0], "abc", "cba", "--out", folder], capsys,
          "attention-2.png exists")
    fails(["predict", "--run_dir", translate_run[0], "abc", "--out",
           os.path.join(translate_run[0], "map.png")], capsys, "run directory")
    assert snapshot(tmp_path) == before


def test_a_seq2seq_run_has_no_attention_to_draw(translate_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(translate_run[0], run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "arch": "seq2seq"}))
    fails(["predict", "--run_dir", run_dir, "abc", "--out", tmp_path / "a.png"], capsys,
          "seq2seq run, which has none")
    assert not (tmp_path / "a.png").exists()


def test_evaluate_refuses_data_changed_since_training(translate_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(translate_run[0], run_dir)
    pairs = tmp_path / "pairs.txt"
    write_pairs(pairs, seed=0)
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "path": str(pairs)}))
    status, _, _ = cli(["evaluate", "--run_dir", str(run_dir)], capsys)  # the same data
    assert status is None and (run_dir / "results.json").exists()
    (run_dir / "results.json").unlink()
    write_pairs(pairs, seed=1)
    fails(["evaluate", "--run_dir", run_dir], capsys, "has changed since the run was trained")
    fails(["evaluate", "--run_dir", run_dir, "--beam", "0"], capsys, "--beam")
    fails(["evaluate", "--run_dir", run_dir, "--data_dir", tmp_path], capsys,
          "--data_dir is for runs trained on --dataset cmudict")
    assert not (run_dir / "results.json").exists()


@pytest.mark.parametrize("verb", ["evaluate", "predict", "export"])
def test_a_run_of_another_kind_is_refused(tmp_path, capsys, verb):
    run_dir = tmp_path / "other"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"kind": "char_rnn"}))
    extra = {"evaluate": [], "predict": ["abc"],
             "export": ["--export_dir", tmp_path / "export"]}[verb]
    before = snapshot(run_dir)
    fails([verb, "--run_dir", run_dir, *extra], capsys, "holds a 'char_rnn' run")
    assert snapshot(run_dir) == before and not (tmp_path / "export").exists()


def test_export_never_replaces_what_it_did_not_write(translate_run, tmp_path, capsys,
                                                     monkeypatch):
    run_dir = translate_run[0]
    before = snapshot(run_dir)
    folder = assert_export_keeps_what_it_did_not_write(translate.main, run_dir, tmp_path,
                                                       capsys, monkeypatch)
    fails(["export", "--run_dir", run_dir, "--export_dir", folder], capsys, "--overwrite")
    fails(["export", "--run_dir", run_dir, "--export_dir", tmp_path / "x", "--format",
           "litert"], capsys, "litert")
    assert snapshot(run_dir) == before and not (tmp_path / "x").exists()


@pytest.mark.parametrize("out, fragment", [
    ("", "--out is empty"),
    ("/dev/null", "neither a folder nor a regular file"),
    ("/dev/maps", "a system folder"),
], ids=["empty", "device", "system-folder"])
def test_attention_maps_go_only_where_a_user_keeps_files(translate_run, tmp_path, capsys,
                                                         monkeypatch, out, fragment):
    monkeypatch.chdir(tmp_path)  # --out "" once wrote ./-1.png here
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", translate_run[0], "abc", "--out", out], capsys, fragment)
    assert snapshot(tmp_path) == before and not os.path.exists("/dev/null-1.png")


def edited_run(translate_run, tmp_path, name="config.json", **changes):
    """A copy of the run with `changes` made to one JSON file of it (a side: dict)."""
    run_dir = tmp_path / "run"
    shutil.copytree(translate_run[0], run_dir)
    data = json.loads((run_dir / name).read_text())
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    (run_dir / name).write_text(json.dumps(data))
    return run_dir


@pytest.mark.parametrize("changes, fragment", [
    ({"dataset": "nope"}, "dataset ('nope')"),
    ({"dataset": ["x"]}, "dataset (['x'])"),
    ({"dataset": "cmudict"}, "keep_stress"),
    ({"dataset": "pairs", "path": ["x"]}, "path (['x'])"),
    ({"dataset": "reverse", "min_length": "x", "data_seed": 0}, "min_length ('x')"),
    ({"dataset": "addition", "digits": 10 ** 6, "data_seed": 0}, "digits (1000000)"),
    ({"tokens": "byte"}, "tokens ('byte')"),
], ids=["unknown", "list", "no-keep-stress", "path-list", "min-length-str", "digits-huge",
        "tokens"])
def test_evaluate_refuses_edited_data_settings(translate_run, tmp_path, capsys, changes,
                                               fragment):
    run_dir = edited_run(translate_run, tmp_path, **changes)
    before = snapshot(run_dir)
    fails(["evaluate", "--run_dir", run_dir], capsys, fragment)
    fails(["predict", "--run_dir", run_dir, "abc"], capsys, "edited or damaged")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("flags, fragment", [
    (["--dataset", "dates", "--max_examples", "10000000"], "lower --max_examples"),
    (["--dataset", "reverse", "--min_length", "12", "--max_examples", "1000000"],
     "lower --max_examples, --max_length or --min_length"),
    (["--dataset", "addition", "--digits", "18", "--max_examples", "1000000"],
     "lower --max_examples or --digits"),
])
def test_data_that_cannot_fit_is_refused_before_it_is_made(tmp_path, capsys, monkeypatch,
                                                           flags, fragment):
    from week3_rnn import translate_limits

    monkeypatch.setattr(translate_limits, "available_bytes", lambda: 2 ** 30)  # 1 GiB here
    fails(train_args(tmp_path / "run", *flags), capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_evaluate_refuses_an_edited_max_examples_before_generating(tmp_path, capsys,
                                                                   monkeypatch):
    from week3_rnn import translate_limits

    run_dir = tmp_path / "run"
    status, _, _ = cli(train_args(str(run_dir), "--dataset", "addition", "--max_examples",
                                  "300"), capsys)
    assert status is None
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "max_examples": 10 ** 7}))
    before = snapshot(run_dir)
    monkeypatch.setattr(translate_limits, "available_bytes", lambda: 2 ** 30)
    fails(["evaluate", "--run_dir", run_dir], capsys, "lower --max_examples")
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("name, changes, fragment", [
    ("vocab.json", {"source": {"level": "word"}}, "holds word source tokens"),
    ("vocab.json", {"target": {"level": "word"}}, "holds word target tokens"),
    ("config.json", {"arch": "seq2seq"}, "not the seq2seq model with a uni encoder"),
    ("config.json", {"encoder": "bi"}, "not the attention model with a bi encoder"),
    ("config.json", {"reverse_source": True}, "trained with reverse_source False"),
])
def test_an_edited_run_is_refused_not_used(translate_run, tmp_path, capsys, name, changes,
                                           fragment):
    run_dir = edited_run(translate_run, tmp_path, name, **changes)
    before = snapshot(run_dir)
    fails(["predict", "--run_dir", run_dir, "abc"], capsys, fragment)
    fails(["evaluate", "--run_dir", run_dir], capsys, fragment)
    assert snapshot(run_dir) == before


def test_evaluate_pairs_that_all_are_too_long_is_one_error_line(translate_run, tmp_path,
                                                                capsys):
    pairs = tmp_path / "long.tsv"
    pairs.write_text("a very long date phrase here\t2020-01-01\n", encoding="utf-8")
    before = snapshot(translate_run[0])
    fails(["evaluate", "--run_dir", translate_run[0], "--pairs", pairs], capsys,
          "no pair of at most 12 tokens")
    assert snapshot(translate_run[0]) == before


def test_a_file_too_small_to_hold_out_a_test_part_makes_no_run(tmp_path, capsys):
    pairs = tmp_path / "header.tsv"
    pairs.write_text("source\ttarget\n", encoding="utf-8")
    fails(train_args(tmp_path / "run", "--pairs", pairs, "--tokens", "char"), capsys,
          "the test part would be empty")
    assert not (tmp_path / "run").exists()
