"""char-RNN behaviour: learning, resume, sampling, round trips."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import run_python
from week3_rnn import char_rnn
from week3_rnn.char_model import build_char_rnn
from week3_rnn.generation import generate_ids


def test_initial_loss_is_close_to_log_vocab_size(corpus, test_config):
    from common.text import CharVocab

    vocab = CharVocab.from_text(corpus)
    model = build_char_rnn(test_config, len(vocab))
    ids = np.array(vocab.encode(corpus[:201]))
    x, y = ids[:-1].reshape(10, 20), ids[1:].reshape(10, 20)
    loss = float(model.evaluate(x, y, verbose=0))
    # Untrained logits are near zero, so the prediction is near uniform.
    assert abs(loss - math.log(len(vocab))) < 0.05 * math.log(len(vocab))


def test_loss_falls_and_run_directory_is_complete(trained_run):
    run_dir, _, vocab = trained_run
    state = json.load(open(os.path.join(run_dir, "state.json")))
    first, last = state["history"][0], state["history"][-1]
    assert last["loss"] < first["loss"] - 0.2
    assert last["val_loss"] < math.log(len(vocab))
    assert last["val_loss_bpc"] == pytest.approx(last["val_loss"] / math.log(2))
    for name in ["config.json", "vocab.json", "history.csv", "loss.png", "best.keras",
                 state["checkpoint"], "logs"]:
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert len(open(os.path.join(run_dir, "history.csv")).readlines()) == 1 + state["epoch"]


def test_resume_equals_uninterrupted_training(tmp_path, corpus, test_config):
    config = dataclasses.replace(test_config, epochs=3)
    straight, _, _ = char_rnn.train(config, str(tmp_path / "straight"), corpus, verbose=0)
    char_rnn.train(dataclasses.replace(config, epochs=1), str(tmp_path / "split"), corpus,
                   verbose=0)
    resumed, state, _ = char_rnn.train(config, str(tmp_path / "split"), corpus,
                                       resume=True, verbose=0)
    assert state["epoch"] == 3 and len(state["history"]) == 3
    assert resumed.optimizer.iterations.numpy() == straight.optimizer.iterations.numpy()
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_keras_file_round_trip_gives_the_same_logits(trained_run):
    run_dir, model, vocab = trained_run
    loaded, _ = char_rnn.load_run(run_dir, "last")
    ids = np.array([vocab.encode("the cat 고양이")], dtype=np.int32)
    np.testing.assert_allclose(loaded(ids), model(ids), atol=1e-6)


def test_sampling_is_reproducible_and_respects_the_seed(trained_run):
    _, model, vocab = trained_run
    first = char_rnn.sample(model, vocab, "the ", 80, temperature=1.0, seed=5)
    again = char_rnn.sample(model, vocab, "the ", 80, temperature=1.0, seed=5)
    other = char_rnn.sample(model, vocab, "the ", 80, temperature=1.0, seed=6)
    assert first == again and first != other
    assert first.startswith("the ") and len(first) == 84


def test_low_temperature_equals_argmax(trained_run):
    _, model, vocab = trained_run
    greedy = char_rnn.sample(model, vocab, "a d", 60, sampling="argmax")
    for seed in (0, 1):
        cold = char_rnn.sample(model, vocab, "a d", 60, temperature=1e-6, seed=seed)
        assert cold == greedy


def test_space_sampling_is_greedy_except_after_spaces(trained_run):
    _, model, vocab = trained_run
    text = char_rnn.sample(model, vocab, "the", 80, temperature=3.0, seed=3,
                           sampling="space")
    ids = vocab.encode(text)
    for position in range(3, len(text)):
        if text[position - 1] != " ":
            logits = model(np.array([ids[:position]], np.int32))[0, -1]
            assert ids[position] == int(np.argmax(logits)), position


def test_generation_carries_state_like_rereading_the_prefix(trained_run):
    """Greedy generation with the carried state equals recomputing from scratch."""
    _, model, vocab = trained_run
    prime = vocab.encode("the cat")
    carried = generate_ids(model, tf.constant(prime, tf.int32), 30, 1.0,
                           tf.constant([0, 0], tf.int64), sampling="argmax").numpy()
    ids = list(prime)
    for _ in range(30):
        logits = model(np.array([ids], np.int32))[0, -1]
        ids.append(int(np.argmax(logits)))
    np.testing.assert_array_equal(carried, ids[len(prime):])


def test_saved_model_gives_the_same_logits_and_generates_without_the_project(
        trained_run, tmp_path):
    run_dir, model, vocab = trained_run
    export_dir = str(tmp_path / "export")
    char_rnn.export(model, vocab, export_dir)
    ids = np.array([vocab.encode("the dog 강아지")], dtype=np.int32)
    reloaded = tf.saved_model.load(export_dir)
    np.testing.assert_allclose(reloaded.signatures["logits"](token_ids=ids)["logits"],
                               model(ids), atol=1e-5)
    seeded = reloaded.signatures["generate_seeded"](
        prime=tf.constant("the "), length=tf.constant(40), temperature=tf.constant(1.0),
        seed=tf.constant(5))["text"].numpy().decode()
    assert seeded == char_rnn.sample(model, vocab, "the ", 40, temperature=1.0, seed=5)
    # A fresh interpreter in another folder, with no access to this project.
    script = ("import json, sys\nimport tensorflow as tf\n"
              "assert not any('week3_rnn' in m for m in sys.modules)\n"
              f"g = tf.saved_model.load({export_dir!r}).signatures['generate']\n"
              "out = g(prime=tf.constant('고양'), length=tf.constant(25),"
              " temperature=tf.constant(0.8))\n"
              "print(json.dumps(out['text'].numpy().decode()))\n")
    result = run_python(script, tmp_path, with_project=False, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    text = json.loads(result.stdout.strip().splitlines()[-1])  # the text may hold newlines
    assert text.startswith("고양") and len(text) == 27
    assert set(text) <= set(vocab.chars)


def test_lecture_lstm_trains_through_the_command(tmp_path, corpus_file):
    out_dir = tmp_path / "lecture"
    char_rnn.main(["train", "--text", str(corpus_file), "--preset", "test",
                   "--cell", "lecture_lstm", "--epochs", "2", "--out_dir", str(out_dir),
                   "--verbose", "0"])
    history = json.load(open(out_dir / "state.json"))["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    model, _ = char_rnn.load_run(str(out_dir))
    assert type(model.recurrent_layers[0].cell).__name__ == "LectureLSTMCell"


def test_default_corpus_is_the_python_standard_library():
    from week3_rnn.char_data import load_corpus

    text, source = load_corpus()
    assert source == "dataset:python_stdlib"
    assert 1_000_000 <= len(text) <= 2_000_000
    assert "def " in text and "import " in text
    assert math.log(len(set(text))) > 4  # a rich character set (> 55 characters)
