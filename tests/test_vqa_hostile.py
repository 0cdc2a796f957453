"""A hostile user of week4_qa.vqa: data, image files and run folders made to break it.

Each case is one `error:` line and exit status 2 with nothing written, or, for
evaluation and predict, answers that do not depend on how many questions are
asked at once. In-process (tests.conftest.call_cli); test_vqa_errors.py holds
the real command line's child process.
"""

import json
import os
import shutil
import struct
import warnings
import zlib

import pytest

from tests.conftest import assert_one_line_error, call_cli, snapshot
from tests.vqa_fixture import write_easy_vqa, write_vqa_v1
from week4_qa import vqa


def fails(argv, capsys, fragment=""):
    status, out, stderr = call_cli(vqa.main, argv, capsys)
    assert_one_line_error(status, stderr, fragment)
    assert out == ""
    return stderr


def train_args(data, out_dir):
    return ["train", "--preset", "test", "--data_dir", str(data), "--out_dir", str(out_dir),
            "--verbose", "0"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_easy_vqa(tmp_path_factory.mktemp("vqa_hostile") / "data", 30, 3)


# Rows written as JSON text, so that a number int() cannot read reaches the reader as is.
@pytest.mark.parametrize("image_id, fragment", [
    ('"\u00b2"', "whole number of at most 18 digits"),        # a digit to str.isdigit only
    ('"' + "9" * 5000 + '"', "whole number of at most 18 digits"),  # over int()'s 4,300
    ("9" * 5000, "not valid JSON"),                           # the same as a JSON number
    ("1" + "0" * 18, "whole number of at most 18 digits"),
    ('"../../etc/passwd"', "whole number"), ('"/etc/passwd"', "whole number"),
], ids=["superscript", "long_string", "long_number", "19_digits", "relative", "absolute"])
@pytest.mark.parametrize("part", ["train", "test"])
def test_image_ids_that_are_not_whole_numbers(tiny, tmp_path, capsys, image_id, fragment,
                                              part):
    data = tmp_path / "data"
    shutil.copytree(tiny, data)
    path = data / part / "questions.json"
    path.write_text(path.read_text()[:-1] + f', ["what shape is it?", "circle", {image_id}]]')
    before = snapshot(tmp_path)
    fails(train_args(data, tmp_path / "run"), capsys, fragment)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("make", [os.mkdir, os.mkfifo,
                                  lambda path: os.symlink("/dev/zero", path)],
                         ids=["folder", "fifo", "device"])
def test_an_image_that_is_a_folder_fifo_or_device_is_never_opened(tiny, tmp_path, capsys,
                                                                   make):
    data = tmp_path / "data"
    shutil.copytree(tiny, data)
    image = data / "train" / "images" / "1.png"
    image.unlink()
    make(image)
    fails(train_args(data, tmp_path / "run"), capsys, "not there as regular files")
    assert not (tmp_path / "run").exists()


def test_vqa_v1_blank_answers(tmp_path, capsys):
    """A blank human answer never becomes a class (it made a run whose answers.json every
    later verb refused); a question whose answers are all blank is named in one line."""
    from week4_qa.vqa_data import most_frequent_answer

    assert most_frequent_answer(["", " ", "red", "", "blue", "red"]) == "red"
    data = write_vqa_v1(tmp_path / "v1", 4, 2)
    path = data / "mscoco_train2014_annotations.json"
    notes = json.loads(path.read_text())
    for human in notes["annotations"][0]["answers"]:
        human["answer"] = " "
    path.write_text(json.dumps(notes))
    before = snapshot(tmp_path)
    stderr = fails(train_args(data, tmp_path / "run"), capsys, "has no answer that is not blank")
    assert "not in VQA v1's layout" not in stderr  # its own message, not re-wrapped
    assert snapshot(tmp_path) == before
    del notes["annotations"][0]
    path.write_text(json.dumps(notes))
    before = snapshot(tmp_path)
    fails(train_args(data, tmp_path / "run"), capsys, "has no annotation of question")
    assert snapshot(tmp_path) == before


def png_header(path, width, height):
    """A PNG that claims width x height pixels: its header chunk and a few bytes of image
    data, all Pillow reads to learn the size (any decoder would fail on the data)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 14_000, 100_000])
def test_a_huge_image_header_is_one_line(vqa_run, tmp_path, capsys, side):
    """Pillow warns on stderr over 89M pixels and refuses over 179M: neither may add a line
    or read as 'not an image'."""
    image = png_header(tmp_path / "huge.png", side, side)
    before = snapshot(tmp_path)
    fails(["predict", "--run_dir", vqa_run[0], str(image), "what shape is it?"], capsys,
          "more than the limit of 67,108,864 pixels")
    assert snapshot(tmp_path) == before


def test_answers_never_depend_on_how_many_are_asked_at_once(vqa_run, tmp_path, capsys,
                                                            monkeypatch):
    """predict and evaluate answer at most the training batch at once (all 1,000 pairs of a
    1024-pixel run at once were an out-of-memory kill), with the same answers."""
    from common.cli import run_cli
    from week4_qa import vqa_evaluate

    images = sorted((vqa_run[1] / "test" / "images").glob("*.png"))[:5]
    pairs = [str(p) for image in images for p in (image, "what color is the shape?")]
    assert run_cli(vqa.main, ["predict", "--run_dir", vqa_run[0], *pairs]) is None
    wanted = capsys.readouterr().out
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "batch_size": 2}))
    seen, load_run = [], vqa_evaluate.load_run

    class Counting:
        def __init__(self, servable):
            self.servable = servable

        def answer(self, images, questions):
            seen.append(int(images.shape[0]))
            return self.servable.answer(images, questions)

        def answer_ids(self, images, ids):
            seen.append(int(ids.shape[0]))
            return self.servable.answer_ids(images, ids)

    def counting_load_run(*args):
        servable, *rest = load_run(*args)
        return (Counting(servable), *rest)

    monkeypatch.setattr(vqa_evaluate, "load_run", counting_load_run)
    assert run_cli(vqa.main, ["predict", "--run_dir", str(run), *pairs]) is None
    assert seen == [2, 2, 1]
    answers = lambda text: [line.split()[0] for line in text.splitlines()]  # noqa: E731
    assert answers(capsys.readouterr().out) == answers(wanted)
    seen.clear()
    assert run_cli(vqa.main, ["evaluate", "--run_dir", str(run)]) is None
    results = json.loads((run / "results.json").read_text())
    assert max(seen) == 2 and sum(seen) == results["questions"]


def test_an_application_encoder_adds_no_warning_to_its_error(monkeypatch):
    """Keras's 'weights for 224 pixels' warning was a second stderr line beside the
    offline download's one `error:` line."""
    from common.cli import UsageError
    from common.image_encoders import build_image_encoder

    def offline(*args, **kwargs):
        raise OSError("no network here")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(UsageError, match="could not load mobilenet_v2 weights"):
            build_image_encoder("mobilenet_v2", 32, weights="imagenet")
    assert [str(w.message) for w in caught] == []


def test_help_says_each_default_once_and_only_the_offered_formats(capsys):
    texts = {}
    for verb in ("train", "export"):
        status, out, _ = call_cli(vqa.main, [verb, "--help"], capsys)
        assert status == 0
        texts[verb] = " ".join(out.split())  # argparse wraps lines where it likes
    assert "(default: small_cnn)" in texts["train"] and "(default small_cnn)" not in texts["train"]
    assert "(default imagenet)" not in texts["train"]
    assert texts["train"].startswith("usage: python -m week4_qa.vqa train [-h]")
    assert "saved_model: a TensorFlow SavedModel" in texts["export"]
    assert "litert" not in texts["export"]


def test_evaluate_without_a_data_flag_names_the_recorded_folder(vqa_run, tmp_path, capsys):
    """The user passed no --data_dir: the error names the run's recorded folder, not a flag."""
    run = tmp_path / "run"
    shutil.copytree(vqa_run[0], run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data_dir": str(tmp_path / "gone")}))
    before = snapshot(tmp_path)
    stderr = fails(["evaluate", "--run_dir", str(run)], capsys, "(from its config.json) is not a")
    assert "--data_dir " + str(tmp_path) not in stderr
    assert snapshot(tmp_path) == before
