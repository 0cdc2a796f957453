"""week4_qa.vqa: the servable equals the trained model, the export equals the servable,
resume equals an uninterrupted run, evaluate, predict and the frozen-encoder path."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from common.cli import run_cli
from common.outputs import is_own_png
from common.runs import RunDir
from tests.vqa_fixture import write_easy_vqa
from week4_qa import vqa, vqa_data, vqa_evaluate, vqa_inputs
from week4_qa.vqa_model import PRESETS

# 8 epochs on the 120 images of conftest's vqa_run: enough to read colours (below).
CONFIG = PRESETS["test"]


def question_batch(data_dir, config, vocab, answers, count=40):
    split = vqa_data.read_split(str(data_dir), "test")[0]
    split = split.subset([i < count for i in range(len(split))])
    images, split, rows = vqa_inputs.decode_split(split, config.image_size, verbose=0)
    data, _ = vqa_inputs.arrays(split, vocab, answers, rows)
    ids = tf.ragged.constant(data["question"]).to_tensor(0).numpy()
    return split, images[rows], ids


def test_the_servable_gives_the_trained_models_answers(vqa_run):
    run_dir, data = vqa_run
    servable, vocab, answers, config, _ = vqa.load_run(run_dir)
    split, images, ids = question_batch(data, config, vocab, answers)
    model = RunDir(run_dir).load_model("vqa", "best")
    logits = model({"image": images, "question": ids}, training=False).numpy()
    out = servable.answer_ids(tf.constant(images), tf.constant(ids))
    np.testing.assert_array_equal(out["answer"].numpy(), np.argmax(logits, -1))
    np.testing.assert_allclose(out["probability"].numpy(),
                               np.max(tf.nn.softmax(logits).numpy(), -1), rtol=1e-5)
    attention = out["attention"].numpy()                     # (n, h, w): 32 px -> 4 x 4
    assert attention.shape == (len(split), 4, 4)
    np.testing.assert_allclose(attention.sum((1, 2)), 1.0, rtol=1e-5)
    by_text = servable.answer(tf.constant(images), tf.constant(split.questions))
    assert [a.decode() for a in by_text["answer"].numpy()] == [
        answers[i] for i in out["answer"].numpy()]


def test_the_export_answers_as_the_run_does(vqa_run, tmp_path):
    run_dir, data = vqa_run
    servable, vocab, answers, config, _ = vqa.load_run(run_dir)
    split, images, _ = question_batch(data, config, vocab, answers, count=12)
    path = vqa.export(run_dir, str(tmp_path / "export"))
    loaded = tf.saved_model.load(path).signatures["serving_default"]
    got = loaded(images=tf.constant(images), questions=tf.constant(split.questions))
    want = servable.answer(tf.constant(images), tf.constant(split.questions))
    assert list(got["answer"].numpy()) == list(want["answer"].numpy())
    np.testing.assert_allclose(got["probability"].numpy(), want["probability"].numpy(),
                               rtol=1e-5)
    meta = tf.saved_model.load(path).signatures["metadata"]()
    assert [a.decode() for a in meta["class_names"].numpy()] == answers
    # Images of another size are resized in the graph: a 64 px copy gives answers too.
    big = tf.image.resize(images, [64, 64], method="nearest")
    assert loaded(images=tf.cast(big, tf.uint8),
                  questions=tf.constant(split.questions))["answer"].shape == (12,)


def test_evaluate_writes_accuracy_per_question_type(vqa_run, tmp_path):
    run_dir, data = vqa_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert run_cli(vqa.main, ["evaluate", "--run_dir", str(copy)]) is None  # the real CLI
    results = json.loads((copy / "results.json").read_text())
    split, _ = vqa.test_split(RunDir(str(copy)).read_config("vqa"))
    per_type = results["per_type"]
    assert set(per_type) == {"yes/no", "shape", "colour"}
    assert sum(v["questions"] for v in per_type.values()) == len(split) == 160
    weighted = sum(v["accuracy"] * v["questions"] for v in per_type.values()) / len(split)
    assert weighted == pytest.approx(results["accuracy"])
    # The answers themselves: the servable's, question by question.
    servable, vocab, answers, config, _ = vqa.load_run(str(copy))
    predicted = vqa_evaluate.answer_split(servable, config, split, vocab, answers)[0]
    assert results["accuracy"] == np.mean([p == a for p, a in zip(predicted, split.answers)])


def test_predict_prints_one_answer_each_and_draws_the_attention(vqa_run, tmp_path, capsys):
    run_dir, data = vqa_run
    image = str(data / "test" / "images" / "0.png")
    out = tmp_path / "maps"
    out.mkdir()
    assert run_cli(vqa.main, [
        "predict", "--run_dir", run_dir, image, "what color is the shape?",
        image, "what zorbly shape is in the image?", "--out", str(out)]) is None
    captured = capsys.readouterr()
    lines, note = captured.out.splitlines(), captured.err.strip()
    assert note.startswith("note: 1 word(s)") and note.endswith("<unk>: zorbly")
    answers = [line for line in lines if line.endswith("?")]
    assert len(answers) == 2 and all(0 < float(a.split()[1].strip("()")) <= 1 for a in answers)
    assert sorted(os.listdir(out)) == ["attention-1.png", "attention-2.png"]
    assert all(is_own_png(str(out / name)) for name in os.listdir(out))


def colour_accuracy(run_dir, test):
    servable, vocab, answers, config, _ = vqa.load_run(run_dir)
    predicted, _, _, scored = vqa_evaluate.answer_split(servable, config, test, vocab, answers)
    return vqa_evaluate.scores(predicted, scored)["per_type"]["colour"]["accuracy"]


def test_the_image_answers_colour_questions_the_question_alone_cannot(vqa_run, tmp_path):
    """The contrast at test scale: the blind model can only guess among 4 colours (seeds
    0-2 measured 0.25-0.35), the attention model reads them (1.0 on each seed)."""
    run_dir, data = vqa_run
    split, test, settings = vqa.load_data(str(data))
    blind = str(tmp_path / "blind")
    vqa.train(dataclasses.replace(CONFIG, arch="blind"), blind, split, settings, seed=1,
              verbose=0)
    assert colour_accuracy(run_dir, test) >= colour_accuracy(blind, test) + 0.4


def test_resume_equals_an_uninterrupted_run(tmp_path):
    data = write_easy_vqa(tmp_path / "data", 40, 4)
    split, _, settings = vqa.load_data(str(data))
    config = dataclasses.replace(CONFIG, arch="vis_lstm", epochs=2)
    vqa.train(config, str(tmp_path / "whole"), split, settings, seed=4, verbose=0)
    vqa.train(dataclasses.replace(config, epochs=1), str(tmp_path / "parts"), split, settings,
              seed=4, verbose=0)
    vqa.train(config, str(tmp_path / "parts"), split, settings, seed=4, resume=True,
              verbose=0)
    whole, parts = (RunDir(str(tmp_path / name)).read_state() for name in ("whole", "parts"))
    for a, b in zip(whole["history"], parts["history"]):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    models = [RunDir(str(tmp_path / name)).load_model("vqa", "last")
              for name in ("whole", "parts")]
    for a, b in zip(*(m.get_weights() for m in models)):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_a_frozen_encoder_reads_cached_grids_and_the_servable_runs_it(tmp_path):
    data = write_easy_vqa(tmp_path / "data", 12, 2)
    split, _, settings = vqa.load_data(str(data))
    config = dataclasses.replace(CONFIG, encoder="mobilenet_v2", weights="none", epochs=1,
                                 val_fraction=0.3)
    run_dir = str(tmp_path / "run")
    model = vqa.train(config, run_dir, split, settings, seed=2, verbose=0)[0]
    assert "grid" in model.input and "image" not in model.input
    servable, vocab, answers, config, _ = vqa.load_run(run_dir, "last")
    _, images, ids = question_batch(data, config, vocab, answers, count=16)
    grids = vqa_inputs.grid_features(vqa_inputs.frozen_encoder(config, 2), images,
                                     progress=False)
    logits = RunDir(run_dir).load_model("vqa", "last")(
        {"grid": grids, "question": ids}, training=False).numpy()
    out = servable.answer_ids(tf.constant(images), tf.constant(ids))
    np.testing.assert_allclose(out["probability"].numpy(),
                               np.max(tf.nn.softmax(logits).numpy(), -1), rtol=1e-4)


def test_vqa_v1_keeps_the_top_answers_and_scores_the_rest_as_wrong(tmp_path):
    from tests.vqa_fixture import write_vqa_v1

    data = write_vqa_v1(tmp_path / "v1", 30, 6)
    split, _, settings = vqa.load_data(str(data))
    config = dataclasses.replace(CONFIG, top_answers=3, epochs=1)
    run_dir = str(tmp_path / "run")
    _, _, _, answers = vqa.train(config, run_dir, split, settings, seed=0, verbose=0)
    counts = {a: split.answers.count(a) for a in set(split.answers)}
    assert answers == sorted(counts, key=lambda a: (-counts[a], a))[:3]
    saved = RunDir(run_dir).read_config("vqa")
    assert saved["format"] == "vqa_v1"
    assert saved["answers_dropped"] == sum(a not in answers for a in split.answers) > 0
    test, source = vqa.test_split(saved)
    results = vqa.evaluate(run_dir, test, source=source)
    outside = sum(a not in answers for a in test.answers)
    assert results["answers_outside_classes"] == outside
    assert results["accuracy"] <= 1 - outside / len(test)
    assert set(results["per_type"]) == {"yes/no", "other"}


@pytest.mark.slow
def test_on_real_easy_vqa_attention_beats_blind_by_20_points(tmp_path):
    """The contrast of benchmarks/vqa_easy.py at 4 epochs (about 8 minutes on 2 cores):
    the attention model reads the colour and shape that the blind one can only guess."""
    import tarfile

    from tests.conftest import shared_data

    with tarfile.open(shared_data("easy_vqa.tar")) as tar:
        tar.extractall(tmp_path, filter="data")
    split, test, settings = vqa.load_data(str(tmp_path / "easy_vqa"))
    scores = {}
    for arch in ("blind", "attention"):
        config = dataclasses.replace(PRESETS["easy_vqa"], arch=arch, epochs=4)
        run_dir = str(tmp_path / arch)
        vqa.train(config, run_dir, split, settings, verbose=0)
        scores[arch] = vqa.evaluate(run_dir, test)
    assert scores["attention"]["accuracy"] >= scores["blind"]["accuracy"] + 0.20
    assert (scores["attention"]["per_type"]["colour"]["accuracy"]
            >= scores["blind"]["per_type"]["colour"]["accuracy"] + 0.5)
