"""Bad input to week3_rnn.spacing: one `error:` line, exit status 2, nothing half-made or lost."""

import json
import os
import shutil

import pytest

from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, make_corpus, snapshot)
from tests.test_spacing import call_cli_ok
from week3_rnn import spacing


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(spacing.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""


def train_args(text, out_dir, *extra):
    return ["train", "--text", str(text), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", *extra]


@pytest.mark.parametrize("content, fragment", [
    (None, "not found"),
    (b"", "is empty"),
    (b"\x00\x01\x02binary\x00", "binary"),
    (b"caf\xe9 au lait", "not valid UTF-8"),
    ("아버지가방에들어가신다\n".encode() * 50, "no spaces"),
    (b"too short", "fewer than one window"),
    # Spaces only in the validation tail: the training part has nothing to learn.
    (b"x" * 400 + b" y" * 30, "training part of the text"),
])
def test_bad_training_texts_make_no_run(tmp_path, capsys, content, fragment):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    fails(train_args(path, tmp_path / "new" / "run"), capsys, fragment)
    assert not (tmp_path / "new").exists()


def test_an_unknown_direction_is_one_line(tmp_path, capsys):
    path = tmp_path / "input.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    fails(train_args(path, tmp_path / "run", "--direction", "sideways"), capsys, "sideways")
    fails(train_args(path, tmp_path / "run", "--strategy", "multi_worker"), capsys)
    assert not (tmp_path / "run").exists()


def other_kind(tmp_path):
    run_dir = tmp_path / "other"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"kind": "char_rnn"}))
    return str(run_dir)


@pytest.mark.parametrize("verb", ["evaluate", "predict", "export"])
def test_a_run_of_another_kind_is_refused(tmp_path, capsys, verb):
    run_dir = other_kind(tmp_path)
    extra = {"evaluate": [], "predict": ["thecat"],
             "export": ["--export_dir", str(tmp_path / "export")]}[verb]
    before = snapshot(run_dir)
    fails([verb, "--run_dir", run_dir, *extra], capsys, "holds a 'char_rnn' run")
    assert snapshot(run_dir) == before and not (tmp_path / "export").exists()


def test_resume_into_a_run_of_another_kind(tmp_path, capsys):
    path = tmp_path / "input.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    run_dir = other_kind(tmp_path)
    fails(train_args(path, run_dir, "--resume"), capsys, "holds a 'char_rnn' run")


def test_an_existing_run_is_never_overwritten(spacing_run, tmp_path, capsys):
    path = tmp_path / "input.txt"
    path.write_text(make_corpus(), encoding="utf-8")
    before = snapshot(spacing_run[0])
    fails(train_args(path, spacing_run[0]), capsys, "already holds a run")
    fails(train_args(path, spacing_run[0], "--resume", "--direction", "uni"), capsys,
          "direction: 'bi' -> 'uni'")
    assert snapshot(spacing_run[0]) == before


@pytest.mark.parametrize("extra, fragment", [
    ([], "nothing to space"),
    (["a\nb"], "line break"),
    (["abc", "--input", "INPUT"], "not both"),
    (["--input", "MISSING"], "not found"),
    (["--input", "BINARY"], "binary"),
])
def test_bad_predict_inputs(spacing_run, tmp_path, capsys, extra, fragment):
    (tmp_path / "in.txt").write_text("thecat\n", encoding="utf-8")
    (tmp_path / "bin").write_bytes(b"\x00\x01")
    paths = {"INPUT": str(tmp_path / "in.txt"), "MISSING": str(tmp_path / "none.txt"),
             "BINARY": str(tmp_path / "bin")}
    fails(["predict", "--run_dir", spacing_run[0], *[paths.get(a, a) for a in extra]], capsys,
          fragment)


def test_evaluate_needs_a_text_with_spaces(spacing_run, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    shutil.copytree(spacing_run[0], run_dir)
    before = snapshot(run_dir)
    path = tmp_path / "nospaces.txt"
    path.write_text("thecatsatonthemat\n", encoding="utf-8")
    fails(["evaluate", "--run_dir", run_dir, "--text", str(path)], capsys, "no spaces")
    assert snapshot(run_dir) == before  # no results.json


def test_evaluate_refuses_a_training_text_changed_since(tmp_path, capsys):
    path = tmp_path / "input.txt"
    path.write_text(make_corpus(80), encoding="utf-8")
    run_dir = str(tmp_path / "run")
    call_cli_ok(train_args(path, run_dir, "--epochs", "1"), capsys)
    path.write_text(make_corpus(90), encoding="utf-8")
    fails(["evaluate", "--run_dir", run_dir], capsys, "has changed since")
    assert not os.path.exists(os.path.join(run_dir, "results.json"))


def test_export_never_replaces_what_it_did_not_write(spacing_run, tmp_path, capsys,
                                                     monkeypatch):
    run_dir = spacing_run[0]
    run_before = snapshot(run_dir)
    folder = assert_export_keeps_what_it_did_not_write(spacing.main, run_dir, tmp_path, capsys,
                                                       monkeypatch)
    fails(["export", "--run_dir", run_dir, "--export_dir", str(folder)], capsys,
          "--overwrite")
    fails(["export", "--run_dir", run_dir, "--export_dir", str(tmp_path / "x"),
           "--format", "litert"], capsys, "litert")
    assert (folder / "canary.txt").read_text() == "keep me"
    assert snapshot(run_dir) == run_before
    ours = tmp_path / "ours"
    for _ in range(2):  # --overwrite replaces this project's own earlier export
        call_cli_ok(["export", "--run_dir", run_dir, "--export_dir", str(ours), "--overwrite"],
                    capsys)
    assert (ours / "saved_model.pb").exists() and (ours / "tfcourse_export.json").exists()
