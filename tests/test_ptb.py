"""PTB word LM: reader, batching, carried state, perplexity, resume.

The commands (score, generate, evaluate, export) are in test_ptb_cli.py, bad
inputs in test_ptb_errors.py; all three use the session's corpus and trained run
(ptb_dir, trained_ptb in tests/conftest.py), made with write_corpus and CONFIG here.
"""

import dataclasses
import json
import math
import os
import random

import numpy as np
import pytest
import tensorflow as tf

from common.text import WordVocab
from tests.conftest import shared_data
from week3_rnn import ptb
from week3_rnn.ptb_data import batch_windows, epoch_dataset, read_splits, text_to_words
from week3_rnn.ptb_model import (PRESETS, build_ptb_model, mean_cross_entropy,
                                 softmax_cross_entropy_dense)
from week3_rnn.ptb_servable import stream_log_probs

# The tutorial's TestConfig, a little wider so that it learns something.
CONFIG = dataclasses.replace(PRESETS["test"], hidden_size=16, batch_size=4, num_steps=5,
                             epochs=2)


def write_corpus(folder, oov=True):
    """PTB-style splits from a tiny grammar; valid and test hold one unseen word."""
    rng = random.Random(0)
    subjects = ["the cat", "a dog", "the company", "mr. smith", "the bank"]
    verbs = ["sat on", "ran to", "bought", "sold", "said"]
    objects = ["the mat", "the park", "N shares", "a stake", "the market"]
    os.makedirs(folder, exist_ok=True)
    for split, count in [("train", 300), ("valid", 40), ("test", 40)]:
        lines = [f" {rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)} "
                 for _ in range(count)]
        if oov and split != "train":
            lines[3] += "zebra "
        with open(os.path.join(folder, f"ptb.{split}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return str(folder)


def test_reader_appends_eos_and_vocabulary_is_ordered_by_count():
    assert text_to_words(" a b \n c \n") == ["a", "b", "<eos>", "c", "<eos>"]
    vocab = WordVocab.from_words("b a b c a b <unk>".split())
    assert vocab.words == ["b", "a", "<unk>", "c"]  # (-count, word)
    assert vocab.encode(["c", "zebra"]) == [3, 2]
    cut = WordVocab.from_words("b a b c a b".split(), max_size=2)
    assert cut.words == ["b", "<unk>"] and cut.encode(["a"]) == [1]


def test_batching_equals_a_simple_reference_reshaping():
    ids = np.arange(103, dtype=np.int32)
    batch_size, num_steps = 4, 5
    # The tutorial's ptb_producer, written out: rows of 25, windows of 5.
    data = ids[:100].reshape(batch_size, 25)
    expected = [(data[:, i * 5:(i + 1) * 5], data[:, i * 5 + 1:(i + 1) * 5 + 1])
                for i in range((25 - 1) // num_steps)]
    x, y = batch_windows(ids, batch_size, num_steps)
    batches = list(epoch_dataset(ids, batch_size, num_steps).as_numpy_iterator())
    assert x.shape == y.shape == (4, batch_size, num_steps) and len(batches) == 4
    for i, (ref_x, ref_y) in enumerate(expected):
        np.testing.assert_array_equal(x[i], ref_x)
        np.testing.assert_array_equal(y[i], ref_y)
        np.testing.assert_array_equal(batches[i][0]["ids"], ref_x)
        np.testing.assert_array_equal(batches[i][1], ref_y)
        assert batches[i][0]["reset"] == (i == 0)


def test_fused_softmax_loss_equals_dense_then_cross_entropy_with_gradients():
    rng = np.random.default_rng(0)
    hidden = tf.constant(rng.normal(size=(12, 5)), tf.float32)
    kernel = tf.constant(rng.normal(size=(5, 7)), tf.float32)
    bias = tf.constant(rng.normal(size=(7,)), tf.float32)
    labels = tf.constant(rng.integers(0, 7, size=12), tf.int32)
    weights = tf.constant(rng.uniform(size=12), tf.float32)  # a non-uniform upstream gradient

    def weighted_loss(loss_fn):
        with tf.GradientTape() as tape:
            tape.watch([hidden, kernel, bias])
            loss = tf.reduce_sum(weights * loss_fn())
        return loss, tape.gradient(loss, [hidden, kernel, bias])

    fused = weighted_loss(lambda: softmax_cross_entropy_dense(hidden, kernel, bias, labels))
    reference = weighted_loss(lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.matmul(hidden, kernel) + bias))
    np.testing.assert_allclose(fused[0], reference[0], rtol=1e-6)
    for got, want in zip(fused[1], reference[1]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tie_embeddings", [False, True])
def test_train_step_gradient_equals_plain_model_gradient(tie_embeddings):
    """The training step's fused head gives the same update as autodiff through call()."""
    config = dataclasses.replace(CONFIG, tie_embeddings=tie_embeddings, grad_clip=0.0)
    ids = np.random.default_rng(1).integers(0, 11, size=(config.batch_size, 6)).astype(np.int32)
    inputs = {"ids": ids[:, :-1], "reset": tf.constant(True)}
    fused, plain = (build_ptb_model(config, 11, seed=3) for _ in range(2))
    plain.set_weights(fused.get_weights())
    fused.train_step((inputs, ids[:, 1:]))
    with tf.GradientTape() as tape:
        loss = mean_cross_entropy(ids[:, 1:], plain(ids[:, :-1])) * (ids.shape[1] - 1)
    gradients = tape.gradient(loss, plain.trainable_variables)
    for variable, gradient, updated in zip(plain.trainable_variables, gradients,
                                           fused.trainable_variables):
        expected = variable.numpy() - config.learning_rate * tf.convert_to_tensor(gradient)
        np.testing.assert_allclose(updated.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_state_carries_between_batches_in_training_and_evaluation(trained_ptb):
    _, trained_model, _, vocab, ids = trained_ptb
    # The trained weights (an untrained LSTM barely uses its state), kept fixed.
    model = build_ptb_model(dataclasses.replace(CONFIG, learning_rate=0.0), len(vocab))
    model.set_weights(trained_model.get_weights())
    config = CONFIG
    x, y = batch_windows(ids["train"], config.batch_size, config.num_steps)
    rows = np.concatenate(list(x), axis=1)  # (batch, epoch_size * num_steps): whole rows
    carried = float(mean_cross_entropy(np.concatenate(list(y), axis=1), model(rows)))
    reset = np.mean([float(mean_cross_entropy(yi, model(xi))) for xi, yi in zip(x, y)])
    # A model trained with carried state relies on it, so the two differ; if
    # training reset the state every batch, this already fails.
    assert abs(carried - reset) > 0.05
    data = epoch_dataset(ids["train"], config.batch_size, config.num_steps)
    history = model.fit(data.repeat(), epochs=2, steps_per_epoch=len(x), shuffle=False,
                        verbose=0)
    # Both epochs start from zeros and carry the state batch to batch.
    np.testing.assert_allclose(history.history["loss"], [carried, carried], rtol=1e-5)
    # evaluate() too, and a second pass starts from zeros again.
    first_pass, second_pass = (model.evaluate(data, verbose=0) for _ in range(2))
    np.testing.assert_allclose([first_pass, second_pass], [carried, carried], rtol=1e-5)


def test_perplexity_is_exp_of_mean_cross_entropy_computed_by_hand(trained_ptb):
    run_dir, model, results, _, ids = trained_ptb
    test_ids = ids["test"]
    # The tutorial's test run by hand: batch 1, num_steps 1, state carried.
    states, log_probs = None, []
    for t in range(len(test_ids) - 1):
        logits, states = model(test_ids[None, t:t + 1], states, return_state=True)
        logits = logits.numpy()[0, 0].astype(np.float64)
        log_softmax = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        log_probs.append(log_softmax[test_ids[t + 1]])
    by_hand = math.exp(-np.mean(log_probs))
    assert results["test_perplexity"] == pytest.approx(by_hand, rel=1e-4)
    np.testing.assert_allclose(stream_log_probs(model, test_ids, chunk_steps=7), log_probs,
                               atol=1e-4)
    saved = json.load(open(os.path.join(run_dir, "results.json")))
    assert {"tensorflow", "keras", "numpy", "cpu"} <= set(saved.pop("provenance"))
    assert saved == pytest.approx(results)
    history = json.load(open(os.path.join(run_dir, "state.json")))["history"]
    for row in history:
        assert row["perplexity"] == pytest.approx(math.exp(row["loss"]))
        assert row["val_perplexity"] == pytest.approx(math.exp(row["val_loss"]))
    # The test preset decays the learning rate by 0.5 after its first epoch.
    assert [row["learning_rate"] for row in history] == [1.0, 0.5]
    assert history[-1]["perplexity"] < history[0]["perplexity"]
    assert results["test_perplexity"] < 0.5 * len(WordVocab.load(
        os.path.join(run_dir, "vocab.json")))
    assert set(results) >= {"train_perplexity", "valid_perplexity", "test_perplexity",
                            "words_per_second", "epochs", "seconds"}


@pytest.mark.parametrize("variational", [True, False])
def test_variational_dropout_drops_the_same_units_at_every_step(variational):
    config = dataclasses.replace(CONFIG, dropout_rate=0.5, variational_dropout=variational)
    model = build_ptb_model(config, 11)
    dropped = model._dropout(tf.ones([3, 50, 8]), True, tf.constant([1, 2], tf.int64), 0)
    kept = dropped.numpy() != 0  # (batch, time, features)
    np.testing.assert_allclose(dropped.numpy()[kept], 2.0)  # inverted dropout scaling
    assert 0.3 < kept.mean() < 0.7
    same_mask_at_every_step = (kept == kept[:, :1]).all()
    assert same_mask_at_every_step == variational


def test_resume_equals_uninterrupted_training(tmp_path, ptb_dir):
    # Dropout everywhere: a resumed run must draw the same masks.
    config = dataclasses.replace(CONFIG, dropout_rate=0.3, variational_dropout=True,
                                 weight_drop_rate=0.2, tie_embeddings=True)
    splits = read_splits(ptb_dir)
    straight, straight_results = ptb.train(config, str(tmp_path / "straight"), splits,
                                           verbose=0)
    ptb.train(dataclasses.replace(config, epochs=1), str(tmp_path / "split"), splits, verbose=0)
    resumed, resumed_results = ptb.train(config, str(tmp_path / "split"), splits, resume=True,
                                         verbose=0)
    assert resumed.optimizer.iterations.numpy() == straight.optimizer.iterations.numpy()
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert resumed_results["test_perplexity"] == pytest.approx(
        straight_results["test_perplexity"], rel=1e-5)

def test_resume_of_a_run_whose_config_predates_a_field(tmp_path, ptb_dir, trained_ptb):
    """A config.json written before a field existed (and with the old "data" key) resumes."""
    import shutil

    # A copy of the session's run (CONFIG's 2 epochs on ptb_dir), resumed for a third.
    splits, run_dir = read_splits(ptb_dir), str(tmp_path / "run")
    shutil.copytree(trained_ptb[0], run_dir)
    path = os.path.join(run_dir, "config.json")
    config = json.load(open(path))
    del config["weight_drop_rate"], config["provenance"]
    config["data"] = config.pop("source")
    json.dump(config, open(path, "w"))
    _, results = ptb.train(dataclasses.replace(CONFIG, epochs=3), run_dir, splits, "test",
                           ptb_dir, seed=1, resume=True, verbose=0)
    assert results["epochs"] == 3
    assert json.load(open(path))["weight_drop_rate"] == 0.0  # rewritten with the default


@pytest.mark.slow
def test_one_small_epoch_on_the_real_penn_treebank(tmp_path):
    data_dir = shared_data("ptb")
    config = dataclasses.replace(PRESETS["small"], epochs=1)
    _, results = ptb.train(config, str(tmp_path / "run"), read_splits(data_dir), "small",
                           verbose=0)
    # The tutorial's log after epoch 1: train 268, valid 179.
    assert results["valid_perplexity"] < 250 and results["test_perplexity"] < 250
