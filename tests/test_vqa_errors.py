"""Bad input to week4_qa.vqa: one `error:` line, exit status 2, nothing written or lost."""

import json
import shutil

import pytest
from PIL import Image

from tests.conftest import (assert_export_keeps_what_it_did_not_write, assert_one_line_error,
                            call_cli, snapshot)
from tests.vqa_fixture import write_easy_vqa
from week4_qa import vqa


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(vqa.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""


def train_args(out_dir, data, *extra):
    return ["train", "--preset", "test", "--data_dir", str(data), "--out_dir", str(out_dir),
            "--verbose", "0", *extra]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_easy_vqa(tmp_path_factory.mktemp("vqa_errors") / "data", 30, 3)


def predict(vqa_run, *pairs):
    return ["predict", "--run_dir", vqa_run[0], *map(str, pairs)]


@pytest.mark.parametrize("question", ["what color is the shape", "", "   ", "?", "!?"])
def test_a_question_without_a_question_mark_or_words(vqa_run, capsys, question):
    image = vqa_run[1] / "test" / "images" / "0.png"
    before = snapshot(vqa_run[0])
    fails(predict(vqa_run, image, "what shape is it?", image, question), capsys,
          "is not a question")
    assert snapshot(vqa_run[0]) == before


def write_image(path, size, mode="RGB"):
    Image.new(mode, size, 255 if mode != "RGB" else (200, 10, 10)).save(path)
    return path


@pytest.mark.parametrize("kind, fragment", [
    ("text", "readable image"),
    ("one_pixel", "at least 8 pixels"),
    ("huge", "more than the limit of 67,108,864 pixels"),
    ("missing", "not found"),
    ("folder", "got a directory"),
])
def test_an_image_that_is_not_one_or_the_wrong_size(vqa_run, tmp_path, capsys, kind,
                                                    fragment):
    path = tmp_path / f"{kind}.png"
    if kind == "text":
        path.write_text("not a picture")
    elif kind == "one_pixel":
        write_image(path, (1, 1))
    elif kind == "huge":
        write_image(path, (9000, 9000), "1")  # a few kB on disk, 81M pixels decoded
    elif kind == "folder":
        path.mkdir()
    before = snapshot(tmp_path)
    fails(predict(vqa_run, path, "what shape is it?"), capsys, fragment)
    assert snapshot(tmp_path) == before


def test_pairs_and_limits(vqa_run, tmp_path, capsys):
    image = vqa_run[1] / "test" / "images" / "0.png"
    fails(predict(vqa_run, image, "what shape is it?", image), capsys, "has no question")
    fails(predict(vqa_run, image, "what shape is it?") + ["--max_bytes", "10"], capsys,
          "more than the limit of 10")
    foreign = tmp_path / "mine.png"
    write_image(foreign, (10, 10))
    before = snapshot(tmp_path)
    fails(predict(vqa_run, image, "what shape is it?") + ["--out", str(foreign)], capsys,
          "not a PNG written by this project")
    fails(predict(vqa_run, image, "what shape is it?") + ["--out", vqa_run[0]], capsys, "")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flags, fragment", [
    (["--arch", "late_fusion"], "--arch"), (["--image_size", "0"], "--image_size"),
    (["--image_size", "100000"], "--image_size"), (["--units", "0"], "--units"),
    (["--batch_size", "-1"], "--batch_size"), (["--epochs", "0"], "--epochs"),
    (["--val_fraction", "0"], "--val_fraction"), (["--top_answers", "0"], "--top_answers"),
    (["--learning_rate", "nan"], "--learning_rate"), (["--encoder", "alexnet"], "--encoder"),
    (["--encoder", "inception_v3", "--weights", "none"], "at least 75x75"),
    (["--image_size", "1024", "--cnn_width", "1024", "--batch_size", "65536"], "GiB"),
    (["--strategy", "multi_worker"], "TF_CONFIG"), (["--strategy", "tpu"], "--strategy"),
])
def test_bad_training_flags_make_no_run(tiny, tmp_path, capsys, flags, fragment):
    fails(train_args(tmp_path / "new" / "run", tiny, *flags), capsys, fragment)
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("change, fragment", [
    (lambda rows: rows.append(["what is it?", "yes", 999]), "not there"),
    (lambda rows: rows.append(["what is it?", "yes"]), "is not [question, answer, image_id]"),
    (lambda rows: rows.append(["what is it", "yes", 0]), "not a question"),
])
def test_a_questions_json_naming_a_missing_image_or_malformed(tiny, tmp_path, capsys,
                                                              change, fragment):
    data = tmp_path / "data"
    shutil.copytree(tiny, data)
    rows = json.loads((data / "train" / "questions.json").read_text())
    change(rows)
    (data / "train" / "questions.json").write_text(json.dumps(rows))
    fails(train_args(tmp_path / "run", data), capsys, fragment)
    assert not (tmp_path / "run").exists()


def test_data_folders_that_are_not_vqa(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    fails(train_args(tmp_path / "run", tmp_path / "empty"), capsys, "holds neither")
    fails(train_args(tmp_path / "run", tmp_path / "nowhere"), capsys, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_too_few_images_to_hold_any_out(tmp_path, capsys):
    data = write_easy_vqa(tmp_path / "data", 2, 1)
    fails(train_args(tmp_path / "run", data), capsys, "too few to hold out")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, fragment", [
    (["--arch", "blind"], "arch: 'attention' -> 'blind'"),
    (["--units", "32"], "units"),
])
def test_resume_across_archs_or_sizes_is_refused(vqa_run, tmp_path, capsys, flags, fragment):
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    config = json.loads((run / "config.json").read_text())
    before = snapshot(run)
    argv = ["train", "--data_dir", config["data_dir"], "--out_dir", str(run), "--resume",
            "--verbose", "0", "--preset", "test", "--epochs", "2", "--seed", "1",
            "--learning_rate", str(config["learning_rate"]), *flags]
    fails(argv, capsys, fragment)
    assert snapshot(run) == before


def test_an_existing_run_is_never_overwritten(vqa_run, capsys):
    before = snapshot(vqa_run[0])
    fails(train_args(vqa_run[0], vqa_run[1]), capsys, "already holds a run")
    assert snapshot(vqa_run[0]) == before


def test_export_keeps_what_it_did_not_write(vqa_run, tmp_path, capsys, monkeypatch):
    assert_export_keeps_what_it_did_not_write(vqa.main, vqa_run[0], tmp_path, capsys,
                                              monkeypatch)


def test_evaluate_refuses_data_that_changed_or_moved(vqa_run, tmp_path, capsys):
    run, data = tmp_path / "run", tmp_path / "data"
    shutil.copytree(vqa_run[0], run)
    shutil.copytree(vqa_run[1], data)
    config = json.loads((run / "config.json").read_text())
    config["data_dir"] = str(data)
    (run / "config.json").write_text(json.dumps(config))
    rows = json.loads((data / "test" / "questions.json").read_text())
    rows[0][1] = "no" if rows[0][1] == "yes" else "yes"
    (data / "test" / "questions.json").write_text(json.dumps(rows))
    before = snapshot(run)
    fails(["evaluate", "--run_dir", str(run)], capsys, "has changed since it was trained")
    shutil.rmtree(data)
    fails(["evaluate", "--run_dir", str(run)], capsys, "is not a folder")
    assert snapshot(run) == before


@pytest.mark.parametrize("verb", ["evaluate", "predict", "export"])
def test_a_run_of_another_kind_is_refused(tmp_path, capsys, verb):
    run_dir = tmp_path / "other"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"kind": "memn2n"}))
    image = write_image(tmp_path / "a.png", (16, 16))
    extra = {"evaluate": [], "predict": [str(image), "what is it?"],
             "export": ["--export_dir", str(tmp_path / "export")]}[verb]
    before = snapshot(tmp_path)
    fails([verb, "--run_dir", str(run_dir), *extra], capsys, "holds a 'memn2n' run")
    assert snapshot(tmp_path) == before


def test_the_real_command_line_prints_one_line_and_writes_nothing(vqa_run, tmp_path):
    """`python -m week4_qa.vqa` itself: no TensorFlow chatter, no traceback, no files."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    image = str(vqa_run[1] / "test" / "images" / "0.png")
    # One child (TensorFlow's start-up is most of its cost); train's flags are checked
    # in-process above.
    argvs = {"is not a question": ["predict", "--run_dir", vqa_run[0], image, "what is it"]}
    before, run_before = snapshot(tmp_path), snapshot(vqa_run[0])
    children = {fragment: subprocess.Popen([sys.executable, "-m", "week4_qa.vqa", *argv],
                                           cwd=tmp_path, env=env, text=True,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for fragment, argv in argvs.items()}
    for fragment, child in children.items():
        out, err = child.communicate(timeout=240)
        assert_one_line_error(child.returncode, err, fragment)
        assert out == ""
    assert snapshot(tmp_path) == before and snapshot(vqa_run[0]) == run_before


@pytest.mark.parametrize("edit, fragment", [
    (lambda run: (run / "answers.json").write_text('{"answers": ["yes", "no"]}'),
     "does not match its model"),
    (lambda run: (run / "answers.json").write_text('{"answers": ["yes", "yes"]}'),
     "not a list of distinct answers"),
    (lambda run: (run / "answers.json").write_text('["yes"]'), "not a list of distinct"),
])
def test_an_edited_answers_file_is_refused(vqa_run, tmp_path, capsys, edit, fragment):
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    edit(run)
    image = vqa_run[1] / "test" / "images" / "0.png"
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", str(run), str(image), "what shape is it?"], capsys,
          fragment)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("edit", [{"arch": "vis_lstm"}, {"image_size": 64},
                                  {"encoder": "mobilenet_v2"}])
def test_a_config_edited_away_from_its_model_is_refused(vqa_run, tmp_path, capsys, edit):
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **edit}))
    image = vqa_run[1] / "test" / "images" / "0.png"
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", str(run), str(image), "what shape is it?"], capsys,
          "does not describe its model")
    assert snapshot(tmp_path) == before


def test_out_draws_attention_only_for_attention_runs(vqa_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "arch": "blind"}))
    image = vqa_run[1] / "test" / "images" / "0.png"
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", str(run), str(image), "what shape is it?", "--out",
           str(tmp_path / "map.png")], capsys, "is a blind run, which has none")
    assert snapshot(tmp_path) == before
