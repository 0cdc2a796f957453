"""Bad input to week4_qa.memn2n: one `error:` line, exit status 2, nothing written or lost."""

import json
import shutil

import pytest

from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, snapshot)
from week4_qa import memn2n

GOOD_STORY = "1 Mary moved to the bathroom.\n2 John went to the hallway.\n"


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(memn2n.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""


def train_args(out_dir, *extra):
    return ["train", "--preset", "test", "--out_dir", str(out_dir), "--verbose", "0", *extra]


@pytest.mark.parametrize("content, fragment", [
    ("Mary moved to the bathroom.\nJohn went to the hallway.\n", "not in bAbI format"),
    ("1 Mary moved to the bathroom.\n3 John went to the hallway.\n", "numbered 3 after 1"),
    (GOOD_STORY + GOOD_STORY, "holds 2 stories"),
    ("1 Where is Mary? \tbathroom\t\n", "holds no statements"),
    ("", "is empty"),
])
def test_a_story_not_in_babi_format_is_one_line(memn2n_run, tmp_path, capsys, content,
                                                fragment):
    run_dir = memn2n_run[0]
    story = tmp_path / "story.txt"
    story.write_text(content)
    before, outside = snapshot(run_dir), snapshot(tmp_path)
    fails(["predict", "--run_dir", run_dir, "--story", str(story), "Where is Mary?"], capsys,
          fragment)
    assert snapshot(run_dir) == before and snapshot(tmp_path) == outside


@pytest.mark.parametrize("question", ["Where is Mary", "", "   ", "?"])
def test_a_question_without_a_question_mark_or_words_is_one_line(memn2n_run, tmp_path,
                                                                  capsys, question):
    story = tmp_path / "story.txt"
    story.write_text(GOOD_STORY)
    before = snapshot(memn2n_run[0])
    fails(["predict", "--run_dir", memn2n_run[0], "--story", str(story), "Where is John?",
           question], capsys, "QUESTION")
    assert snapshot(memn2n_run[0]) == before


@pytest.mark.parametrize("flags, fragment", [
    (["--hops", "0"], "--hops"), (["--hops", "11"], "--hops"),
    (["--task", "0"], "--task"), (["--task", "21"], "--task"),
    (["--task", "3"], "for task 3 pass --data_dir"),
    (["--val_fraction", "0"], "--val_fraction"), (["--tries", "0"], "--tries"),
    (["--stories", "20"], "too few to hold out"),
    (["--strategy", "multi_worker"], "TF_CONFIG"), (["--strategy", "tpu"], "--strategy"),
])
def test_bad_training_flags_make_no_run(tmp_path, capsys, flags, fragment):
    fails(train_args(tmp_path / "new" / "run", *flags), capsys, fragment)
    assert not (tmp_path / "new").exists()


def test_missing_task_files_in_data_dir(tmp_path, capsys):
    data = tmp_path / "en"
    data.mkdir()
    (data / "qa1_single-supporting-fact_train.txt").write_text(GOOD_STORY)
    before = snapshot(tmp_path)
    fails(train_args(tmp_path / "run", "--data_dir", str(data)), capsys,
          "holds no qa1_*_test.txt")
    fails(train_args(tmp_path / "run", "--data_dir", str(data), "--task", "2"), capsys,
          "holds no qa2_*_train.txt")
    fails(train_args(tmp_path / "run", "--data_dir", str(tmp_path / "nowhere")), capsys,
          "is not a folder")
    assert snapshot(tmp_path) == before and not (tmp_path / "run").exists()


def test_a_data_file_not_in_babi_format(tmp_path, capsys):
    data = tmp_path / "en"
    data.mkdir()
    (data / "qa1_single-supporting-fact_train.txt").write_text("Mary went home.\n")
    (data / "qa1_single-supporting-fact_test.txt").write_text(GOOD_STORY)
    fails(train_args(tmp_path / "run", "--data_dir", str(data)), capsys,
          "qa1_single-supporting-fact_train.txt, line 1 is not in bAbI format")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, fragment", [
    (["--task", "6"], "task: 1 -> 6"),            # another task: named, not its vocabulary
    (["--hops", "3"], "hops: 2 -> 3"),           # another architecture
    (["--stories", "2000"], "stories: 1000 -> 2000"),
])
def test_resume_with_other_data_or_model_is_refused(memn2n_run, tmp_path, capsys, flags,
                                                     fragment):
    run = tmp_path / "run"
    shutil.copytree(memn2n_run[0], run)
    before = snapshot(run)
    fails(train_args(run, "--resume", *flags), capsys, fragment)
    assert snapshot(run) == before


def test_an_existing_run_is_never_overwritten(memn2n_run, capsys):
    before = snapshot(memn2n_run[0])
    fails(train_args(memn2n_run[0]), capsys, "already holds a run")
    assert snapshot(memn2n_run[0]) == before


def test_export_keeps_what_it_did_not_write(memn2n_run, tmp_path, capsys, monkeypatch):
    assert_export_keeps_what_it_did_not_write(memn2n.main, memn2n_run[0], tmp_path, capsys,
                                              monkeypatch)


@pytest.mark.parametrize("verb", ["evaluate", "predict", "export"])
def test_a_run_of_another_kind_is_refused(tmp_path, capsys, verb):
    run_dir = tmp_path / "other"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"kind": "spacing"}))
    story = tmp_path / "story.txt"
    story.write_text(GOOD_STORY)
    extra = {"evaluate": [], "predict": ["--story", str(story), "Where is Mary?"],
             "export": ["--export_dir", str(tmp_path / "export")]}[verb]
    before = snapshot(tmp_path)
    fails([verb, "--run_dir", str(run_dir), *extra], capsys, "holds a 'spacing' run")
    assert snapshot(tmp_path) == before


def test_evaluate_a_real_data_run_whose_folder_is_gone(memn2n_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(memn2n_run[0], run)
    config = json.loads((run / "config.json").read_text())
    config.update(data="babi", data_dir=str(tmp_path / "moved"))
    (run / "config.json").write_text(json.dumps(config))
    before = snapshot(run)
    fails(["evaluate", "--run_dir", str(run)], capsys, "is not a folder")
    assert snapshot(run) == before


def test_the_real_command_line_prints_one_line_and_writes_nothing(memn2n_run, tmp_path):
    """`python -m week4_qa.memn2n` itself: no TensorFlow chatter, no traceback, no files."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    story = tmp_path / "story.txt"
    story.write_text("Mary moved to the bathroom.\n")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    argvs = {"not in bAbI format": ["predict", "--run_dir", memn2n_run[0], "--story", str(story),
                                 "Where is Mary?"],
             "--hops": ["train", "--hops", "0", "--out_dir", str(tmp_path / "run")]}
    before, run_before = snapshot(tmp_path), snapshot(memn2n_run[0])
    children = {fragment: subprocess.Popen([sys.executable, "-m", "week4_qa.memn2n", *argv],
                                           cwd=tmp_path, env=env, text=True,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for fragment, argv in argvs.items()}
    for fragment, child in children.items():
        out, err = child.communicate(timeout=240)
        assert_one_line_error(child.returncode, err, fragment)
        assert out == ""
    assert snapshot(tmp_path) == before and snapshot(memn2n_run[0]) == run_before
