"""Word-spacing restoration: tagging, chunked reading, bi vs uni, the verbs and the SavedModel.

Bad inputs are in test_spacing_errors.py; both use conftest's spacing_run, trained once.
"""

import dataclasses
import json
import os
import random

import numpy as np
import pytest

from common.runs import load_keras_file
from tests.conftest import assert_one_line_error, call_cli, make_corpus, run_python
from week3_rnn import spacing
from week3_rnn.spacing_data import (chunk_starts, encode, most_central_chunk, restore_spaces,
                                    space_scores, tag_spaces)
from week3_rnn.spacing_model import PRESETS, build_spacing_model

CONFIG = dataclasses.replace(PRESETS["test"], epochs=4, val_fraction=0.2)
KOREAN = "아버지가 방에 들어가신다"


@pytest.mark.parametrize("text", [KOREAN, "the cat sat on the mat.\n고양이가 매트 위에 앉았다.\n",
                                  "tabs\tstay, line\nbreaks too; a trailing space "])
def test_tagging_round_trip_restores_the_text(text):
    chars, tags = tag_spaces(text)
    assert " " not in chars and len(chars) == len(tags) == len(text) - text.count(" ")
    assert restore_spaces(chars, tags) == text


def test_tags_mark_the_character_before_each_space():
    chars, tags = tag_spaces(KOREAN)
    assert chars == "아버지가방에들어가신다"
    assert tags.tolist() == [0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]
    # A tag only says "a space follows": runs become one space, leading ones go.
    assert restore_spaces(*tag_spaces("  a   b")) == "a b"


def test_scores_count_spaces_character_by_character():
    scores = space_scores([1, 0, 1, 1, 0], [1, 1, 0, 1, 0])
    assert (scores["true_positives"], scores["false_positives"],
            scores["false_negatives"]) == (2, 1, 1)
    assert scores["precision"] == pytest.approx(2 / 3) and scores["f1"] == pytest.approx(2 / 3)


def test_chunk_plan_takes_the_most_central_chunk():
    import tensorflow as tf

    from week3_rnn.spacing_servable import chunk_plan

    for window in (1, 2, 5, 8, 24):
        for length in range(1, 70):
            starts, chunk, offset = chunk_plan(tf.constant(length), window)
            reference_chunk, reference_offset = most_central_chunk(length, window)
            assert starts.numpy().tolist() == chunk_starts(length, window).tolist()
            assert chunk.numpy().tolist() == reference_chunk.tolist()
            assert offset.numpy().tolist() == reference_offset.tolist()
            # Each character sees about a quarter window on both sides, where the text allows.
            i, offset = np.arange(length), offset.numpy()
            context = np.minimum(offset, min(length, window) - 1 - offset)
            assert np.all(context >= np.minimum(np.minimum(i, length - 1 - i), window // 4 - 1))


def servable(spacing_run):
    from week3_rnn.spacing_servable import SpacingServable

    _, model, vocab, _ = spacing_run
    return SpacingServable(model, vocab.chars, CONFIG.window)


def test_a_text_shorter_than_the_window_is_read_whole(spacing_run):
    model, vocab = spacing_run[1], spacing_run[2]
    chars = "thecatsatonthemat"
    assert len(chars) < CONFIG.window
    ids = encode(chars, vocab)
    tagger = servable(spacing_run)  # held: its tf.functions keep only a weak reference
    chunked = tagger.ids_probabilities(ids).numpy()
    whole = model.predict(ids[None], verbose=0)[0, :, 0]
    whole[-1] = 0.0  # nothing follows the last character
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_a_long_text_takes_each_prediction_from_its_most_central_chunk(spacing_run):
    model, vocab, text = spacing_run[1], spacing_run[2], spacing_run[3]
    chars = tag_spaces(text[:400])[0]
    ids = encode(chars, vocab)
    starts = chunk_starts(len(ids), CONFIG.window)
    by_chunk = model.predict(np.stack([ids[s:s + CONFIG.window] for s in starts]),
                             verbose=0)[..., 0]
    expected = by_chunk[most_central_chunk(len(ids), CONFIG.window)]
    expected[-1] = 0.0
    tagger = servable(spacing_run)  # held: its tf.functions keep only a weak reference
    chunked = tagger.ids_probabilities(ids).numpy()
    np.testing.assert_allclose(chunked, expected, atol=1e-6)


def test_restoring_changes_no_other_character(spacing_run):
    long_text = make_corpus(12).replace("\n", " ")  # one line, ten windows long
    texts = [long_text, "ab" + "Ω" * 30 + "\tcd", "", "   ", KOREAN.replace(" ", "")]
    tagger = servable(spacing_run)
    restored = spacing.restore(tagger, texts)
    for text, out in zip(texts, restored):
        assert out.replace(" ", "") == text.replace(" ", "")
        assert "  " not in out and not out.startswith(" ") and not out.endswith(" ")
    assert restored[0] != restored[0].replace(" ", "")  # it does add spaces


def test_training_lowers_the_loss_and_learns_the_spaces(spacing_run):
    with open(os.path.join(spacing_run[0], "state.json"), encoding="utf-8") as f:
        history = json.load(f)["history"]
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert {"val_precision", "val_recall", "val_f1"} <= history[-1].keys()
    tagger = servable(spacing_run)
    assert spacing.restore(tagger, ["thecatsatonthemat."]) == [
        "the cat sat on the mat."]


@pytest.mark.parametrize("direction", ["bi", "uni"])
def test_bi_and_uni_tensor_shapes(direction):
    import keras

    config = dataclasses.replace(PRESETS["test"], direction=direction)
    model = build_spacing_model(config, vocab_size=10)
    layer = model.get_layer("bidirectional_0" if direction == "bi" else "lstm_0")
    probe = keras.Model(model.input, [model.get_layer("embedding").output, layer.output,
                                       model.output])
    ids = np.random.default_rng(0).integers(0, 11, (3, 7)).astype(np.int32)
    embedded, recurrent, out = probe(ids)
    width = 2 * config.units if direction == "bi" else config.units
    assert embedded.shape == (3, 7, config.embedding_dim)
    assert recurrent.shape == (3, 7, width) and out.shape == (3, 7, 1)
    # Changing the last character reaches the first one's output only in the bi model.
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % 11
    moved = np.abs(np.asarray(model(changed)) - np.asarray(model(ids)))[:, 0].max()
    assert (moved > 1e-6) if direction == "bi" else (moved == 0.0)


def test_the_backward_lstm_reads_right_to_left():
    from week3_rnn.spacing_model import SpacingLSTM

    model = build_spacing_model(PRESETS["test"], vocab_size=10)
    bidirectional = model.get_layer("bidirectional_0")
    x = np.random.default_rng(1).normal(size=(2, 9, PRESETS["test"].embedding_dim))
    x = x.astype(np.float32)
    forward_only = SpacingLSTM(PRESETS["test"].units)
    forward_only.build(x.shape)
    forward_only.set_weights(bidirectional.backward_layer.get_weights())
    backward_half = bidirectional(x).numpy()[..., PRESETS["test"].units:]
    expected = forward_only(x[:, ::-1]).numpy()[:, ::-1]
    np.testing.assert_allclose(backward_half, expected, atol=1e-5)


def test_keras_file_round_trip_gives_the_same_probabilities(spacing_run):
    run_dir, model = spacing_run[0], spacing_run[1]
    with open(os.path.join(run_dir, "state.json"), encoding="utf-8") as f:
        last = json.load(f)["checkpoint"]
    loaded = load_keras_file(os.path.join(run_dir, last))
    ids = np.arange(40, dtype=np.int32).reshape(2, 20) % (len(spacing_run[2]) + 1)
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)


def test_bidirectional_learns_what_only_the_right_context_tells(tmp_path):
    """A space comes before every 'a' in iid letters: the next character decides it."""
    rng = random.Random(0)
    letters = "".join(rng.choice("abcd") for _ in range(4000))
    text_file = tmp_path / "letters.txt"
    text_file.write_text(letters[0] + letters[1:].replace("a", " a"), encoding="utf-8")
    # Windows of 8, not the preset's 24: the next character is inside every window, and
    # XLA compiles the LSTM loops unrolled over the window, 8 steps much faster (f1 bi 1.0,
    # uni 0.0 on training seeds 0-2, as at 24).
    config = dataclasses.replace(PRESETS["test"], num_layers=1, epochs=3, window=8)
    f1 = {}
    for direction in ("bi", "uni"):
        run_dir = str(tmp_path / direction)
        spacing.train(dataclasses.replace(config, direction=direction), run_dir,
                      text_file.read_text(encoding="utf-8"), f"file:{text_file}", verbose=0)
        chars, tags = spacing.held_out_text(run_dir)
        f1[direction] = spacing.evaluate(run_dir, chars, tags)["f1"]
    assert f1["bi"] > 0.95 and f1["uni"] < 0.5, f1


def test_predict_prints_exactly_one_line_per_text(spacing_run, tmp_path, capsys):
    texts = ["thecatsatonthemat.", "", make_corpus(6).replace("\n", ""), "고양이가매트위에앉았다."]
    status, out, err = call_cli_ok(["predict", "--run_dir", spacing_run[0], *texts], capsys)
    assert status is None and err == ""
    lines = out.split("\n")
    assert lines[-1] == "" and len(lines) == len(texts) + 1
    assert [line.replace(" ", "") for line in lines[:-1]] == [t.replace(" ", "") for t in texts]
    lines_file = tmp_path / "lines.txt"
    lines_file.write_bytes("\r\n".join(texts).encode("utf-8") + b"\r\n")
    _, from_file, _ = call_cli_ok(["predict", "--run_dir", spacing_run[0], "--input",
                                   str(lines_file)], capsys)
    assert from_file == out


def call_cli_ok(argv, capsys):
    from common.cli import run_cli

    status = run_cli(spacing.main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_saved_model_restores_like_predict_without_the_project(spacing_run, tmp_path, capsys):
    texts = ["thecatsatonthemat.", make_corpus(8).replace("\n", ""), "", "Ω고양이가x"]
    _, out, _ = call_cli_ok(["predict", "--run_dir", spacing_run[0], *texts], capsys)
    export_dir = str(tmp_path / "export")
    call_cli_ok(["export", "--run_dir", spacing_run[0], "--export_dir", export_dir], capsys)
    script = (
        "import json, sys, tensorflow as tf\n"
        f"m = tf.saved_model.load({export_dir!r})\n"
        f"texts = tf.constant({json.dumps(texts)})\n"
        "out = m.signatures['serving_default'](texts=texts)['texts'].numpy()\n"
        "kind = json.loads(m.signatures['metadata']()['json'].numpy())['kind']\n"
        "print(json.dumps({'kind': kind, 'texts': [t.decode() for t in out]}))\n")
    done = run_python(script, tmp_path, with_project=False)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["kind"] == "spacing"
    assert result["texts"] == out.split("\n")[:-1]


def test_evaluate_scores_the_held_out_tail_like_predict(spacing_run, tmp_path, capsys):
    import shutil

    run_dir = str(tmp_path / "run")
    shutil.copytree(spacing_run[0], run_dir)  # results.json goes into the copy
    text_file = tmp_path / "tail.txt"
    tail = spacing_run[3][-300:]
    text_file.write_text(tail, encoding="utf-8")
    call_cli_ok(["evaluate", "--run_dir", run_dir, "--text", str(text_file)], capsys)
    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    # The same numbers from predict's output, tag by tag.
    tagger = servable(spacing_run)
    restored = spacing.restore(tagger, [tail])[0]
    expected = space_scores(tag_spaces(tail)[1], tag_spaces(restored)[1])
    assert {k: results[k] for k in expected} == pytest.approx(expected)
    assert results["direction"] == "bi" and "tensorflow" in results["provenance"]
    # Without --text, the held-out tail is re-read from the run's source: here a string.
    status, _, err = call_cli(spacing.main, ["evaluate", "--run_dir", run_dir], capsys)
    assert_one_line_error(status, err, "cannot be read again")
