"""Sentiment (many-to-one): masking, truncation, the order contrast, the verbs and the SavedModel.

Bad inputs are in test_sentiment_errors.py, the data readers in
test_sentiment_data.py; the trained lstm run is conftest's sentiment_run.
"""

import dataclasses
import json
import os

import numpy as np
import pytest

from tests.conftest import run_python
from week3_rnn import sentiment, sentiment_verbs
from week3_rnn.sentiment_data import load_order_task
from week3_rnn.sentiment_model import ARCHS, PRESETS, build_sentiment_model

# The order task at test scale: 1,000 texts a part, 5 epochs (lstm and bilstm reached
# 100% test accuracy and bow 48-50% on each of seeds 0-7).
SENTIMENT_CONFIG = dataclasses.replace(PRESETS["test"], max_examples=1000, epochs=5)

REVIEW = [5, 9, 4, 7, 7, 12, 6]  # token ids of one review (0 is <pad>)


def seeded_model(config, vocab_size, num_classes):
    """An untrained model with the same weights whatever ran before."""
    import keras

    keras.utils.set_random_seed(0)
    return build_sentiment_model(config, vocab_size, num_classes)


@pytest.mark.parametrize("arch", ARCHS)
def test_padding_changes_no_probability(arch):
    """The same review padded to two lengths (and beside a longer one) gives the same
    probabilities within 1e-5: the mask hides the padding from every arch."""
    config = dataclasses.replace(PRESETS["test"], arch=arch, num_layers=2)
    model = seeded_model(config, vocab_size=16, num_classes=3)
    short = np.array([REVIEW + [0] * 2], np.int32)
    long = np.array([REVIEW + [0] * 40], np.int32)
    batch = np.array([REVIEW + [0] * 33, (list(range(1, 16)) * 3)[:40]], np.int32)
    p_short, p_long, p_batch = (np.asarray(model(x)) for x in (short, long, batch))
    np.testing.assert_allclose(p_short[0], p_long[0], atol=1e-5)
    np.testing.assert_allclose(p_short[0], p_batch[0], atol=1e-5)
    # Padding is not a token the model ignores by chance: a real token there moves it.
    other = np.array([REVIEW + [3] + [0] * 2], np.int32)
    assert np.abs(np.asarray(model(other))[0] - p_short[0]).max() > 1e-6


@pytest.mark.parametrize("arch", ["lstm", "bilstm"])
def test_the_recurrent_archs_see_order_and_bow_does_not(arch):
    config = dataclasses.replace(PRESETS["test"], arch=arch)
    model = seeded_model(config, vocab_size=16, num_classes=2)
    bow = seeded_model(dataclasses.replace(config, arch="bow"), 16, 2)
    ids = np.array([REVIEW, REVIEW[::-1]], np.int32)  # the same bag, reversed
    assert np.abs(np.diff(np.asarray(model(ids)), axis=0)).max() > 1e-6
    np.testing.assert_allclose(*np.asarray(bow(ids)), atol=1e-7)


def test_a_bilstm_reads_the_real_tokens_in_both_directions():
    """Its output is the forward LSTM's state after the last real token beside the
    backward LSTM's after the first; the backward half ignores trailing padding."""
    import keras

    config = dataclasses.replace(PRESETS["test"], arch="bilstm")
    model = seeded_model(config, vocab_size=16, num_classes=2)
    features = keras.Model(model.input, model.get_layer("bidirectional_0").output)
    layer = model.get_layer("bidirectional_0")
    embedded = model.get_layer("embedding")(np.array([REVIEW], np.int32))
    forward = layer.forward_layer(embedded)                      # (1, units)
    backward = layer.backward_layer(embedded)                    # reads it last to first
    padded = np.array([REVIEW + [0] * 9], np.int32)
    np.testing.assert_allclose(np.asarray(features(padded))[0],
                               np.concatenate([forward[0], backward[0]]), atol=1e-5)


def cli_ok(argv, capsys):
    """(stdout, stderr) of a command that must succeed, run in-process as the CLI runs it."""
    from common.cli import run_cli

    assert run_cli(sentiment.main, argv) is None
    captured = capsys.readouterr()
    return captured.out, captured.err


def servable(run):
    return sentiment_verbs.servable_of(run[0])[0]


def test_servable_ids_equal_training_ids_and_keep_the_last_tokens(sentiment_run):
    """The exported tokenizer (TF graph) and training's encoding give the same ids; a
    long text keeps its last max_length tokens; unseen tokens are <unk>, counted."""
    run_dir, _, vocab = sentiment_run
    texts = ["good , not bad", "  NOT Bad   but GREAT!", "zebra good 고양이",
             " ".join(["bad"] * 50 + ["great", ",", "not", "awful"] * 10)]
    tagger = servable(sentiment_run)
    ids = tagger.ids(texts)["token_ids"].numpy()
    expected, unknown = sentiment_verbs.encode(texts, vocab, SENTIMENT_CONFIG.max_length)
    for row, want in zip(ids, expected):
        assert row[:len(want)].tolist() == want and not row[len(want):].any()
    out = sentiment_verbs.classify(tagger, texts)
    assert out["tokens"].tolist() == [4, 5, 3, 90] and out["unknown_tokens"].tolist() == [
        0, 0, 2, 0] and unknown == 2
    assert expected[3][-4:] == vocab.encode(["great", ",", "not", "awful"])
    assert len(expected[3]) == SENTIMENT_CONFIG.max_length < 90


def test_the_order_task_is_solved_by_lstm(sentiment_run):
    """conftest's lstm run: the ORDER CONTRAST's first half (>= 95% on the test part)."""
    with open(os.path.join(sentiment_run[0], "results.json"), encoding="utf-8") as f:
        results = json.load(f)
    assert results["accuracy"] >= 0.95 and results["examples"] == 1000
    assert results["unknown_tokens"] == 0 and results["truncated_texts"] == 0


@pytest.mark.parametrize("arch, solved", [("bilstm", True), ("bow", False)])
def test_order_contrast_bilstm_solves_it_bow_cannot(arch, solved, tmp_path, capsys):
    """Every bag of words of the order task occurs with both labels: bow stays near
    chance (<= 75%) while bilstm (and conftest's lstm) reach >= 95% on unseen sentences."""
    config = dataclasses.replace(SENTIMENT_CONFIG, arch=arch)
    data = load_order_task(config, seed=1)
    sentiment_verbs.train(config, str(tmp_path / "run"), data, seed=1, verbose=0)
    results = sentiment_verbs.evaluate(str(tmp_path / "run"), data.test)
    assert (results["accuracy"] >= 0.95) if solved else (results["accuracy"] <= 0.75)


def test_predict_prints_label_and_probability_per_text(sentiment_run, tmp_path, capsys):
    long = " ".join(["awful"] * 80 + ["good", ",", "not", "bad"])
    out, err = cli_ok(["predict", "--run_dir", sentiment_run[0], "great , not dull",
                       "dull , not great", "zebra unicorn", long], capsys)
    lines = [line.split("\t") for line in out.strip().split("\n")]
    assert [label for label, _ in lines[:2]] == ["pos", "neg"] and len(lines) == 4
    assert all(label in ("neg", "pos") and 0.5 <= float(p) <= 1.0 for label, p in lines)
    assert err.strip().split("\n") == [
        "note: text 3 holds no token seen in training (all read as <unk>); its label says "
        "little about it",
        "note: text 4 has 84 tokens; only its last 64 were read (the run's --max_length)"]
    _, err = cli_ok(["predict", "--run_dir", sentiment_run[0], "", " \t "], capsys)
    assert err.strip().split("\n") == [
        f"note: text {i} has no tokens (empty or white space); its label says nothing about "
        "it" for i in (1, 2)]
    lines_file = tmp_path / "lines.txt"
    lines_file.write_text("great , not dull\r\n\nbad\n", encoding="utf-8")
    out2, _ = cli_ok(["predict", "--run_dir", sentiment_run[0], "--input", str(lines_file)],
                     capsys)
    assert out2.split("\n")[0] == out.split("\n")[0] and len(out2.strip().split("\n")) == 3


def test_evaluate_needs_no_data_flag_and_rewrites_the_same_results(sentiment_run, tmp_path,
                                                                    capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(sentiment_run[0], run)
    before = json.loads((run / "results.json").read_text())
    out, err = cli_ok(["evaluate", "--run_dir", str(run)], capsys)
    assert err == "" and len(out.strip().split("\n")) == 1
    after = json.loads((run / "results.json").read_text())
    for key in ("accuracy", "classes", "confusion", "unknown_tokens", "examples"):
        assert after[key] == before[key]
    counts = np.array(after["confusion"]["counts"])
    assert counts.sum() == 1000 and after["confusion"]["rows_true_columns_predicted"] == [
        "neg", "pos"]
    assert after["accuracy"] == pytest.approx(np.trace(counts) / 1000)


def test_export_gives_predicts_probabilities_without_this_project(sentiment_run, tmp_path):
    import tensorflow as tf

    export_dir = tmp_path / "export"
    sentiment_verbs.export(sentiment_run[0], str(export_dir))
    texts = ["great , not dull", "dull , not great", "", "좋아요 zebra"]
    expected = sentiment_verbs.classify(servable(sentiment_run), texts)
    loaded = tf.saved_model.load(str(export_dir))
    out = loaded.signatures["serving_default"](texts=tf.constant(texts))
    np.testing.assert_allclose(out["probabilities"].numpy(), expected["probabilities"],
                               atol=1e-6)
    assert out["labels"].numpy().tolist() == expected["labels"].tolist()
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy())
    assert metadata["class_names"] == ["neg", "pos"] and metadata["kind"] == "sentiment"
    script = (f"import tensorflow as tf\nf = tf.saved_model.load({str(export_dir)!r})"
              ".signatures['serving_default']\nout = f(texts=tf.constant(['great , not dull']))"
              "\nprint(out['labels'].numpy()[0].decode(), float(out['probability'][0]))")
    done = run_python(script, tmp_path, with_project=False)
    label, probability = done.stdout.split()
    assert done.returncode == 0 and label == "pos"
    assert float(probability) == pytest.approx(float(expected["probability"][0]), abs=1e-6)


def test_litert_export_runs_in_ai_edge_litert_like_the_servable(sentiment_run, tmp_path):
    """probabilities.tflite (token ids in) gives the SavedModel's probabilities for the ids
    the servable's tokenizer makes, padded to max_length."""
    from ai_edge_litert.interpreter import Interpreter

    export_dir = tmp_path / "litert"
    sentiment_verbs.export(sentiment_run[0], str(export_dir), fmt="litert")
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["class_names"] == ["neg", "pos"] and metadata["vocabulary"][3] == "<unk>"
    runner = Interpreter(model_path=str(export_dir / "probabilities.tflite")
                         ).get_signature_runner()
    tagger = servable(sentiment_run)
    texts = ["great , not dull", "not great but dull", "zebra"]
    ids = tagger.ids(texts)["token_ids"].numpy()
    expected = sentiment_verbs.classify(tagger, texts)["probabilities"]
    for row, want in zip(ids, expected):
        padded = np.zeros((1, SENTIMENT_CONFIG.max_length), np.int32)
        padded[0, :len(row)] = row
        got = runner(token_ids=padded)["probabilities"][0]
        np.testing.assert_allclose(got, want, atol=1e-5)

