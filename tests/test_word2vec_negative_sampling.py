"""word2vec's negative-sampling loss: the formula, the sampler, training, old configs."""

import dataclasses

import numpy as np
import tensorflow as tf

from common.configs import config_from_dict
from tests.test_word2vec import assert_topics_are_neighbours, planted_tokens, preset_config
from word2vec import skipgram
from word2vec.model import Word2Vec, Word2VecConfig, negative_cdf


def softplus(x):
    return np.logaddexp(0.0, x)


def test_loss_and_gradients_equal_word2vecs_formula():
    rng = np.random.default_rng(0)
    model = Word2Vec([9, 7, 5, 3, 2, 1], embedding_dim=4, num_sampled=3,
                     loss="negative_sampling")
    vectors = rng.normal(size=(6, 4)).astype(np.float32)
    outputs = rng.normal(size=(6, 4)).astype(np.float32)
    biases = rng.normal(size=6).astype(np.float32)
    for variable, value in zip(model.trainable_variables, (vectors, outputs, biases)):
        variable.assign(value)
    centers, labels = np.array([0, 1, 4]), np.array([2, 3, 5])
    negatives = np.array([[1, 4, 4], [3, 0, 5], [2, 1, 0]])  # example 1 drew its label 3
    model.draw_negatives = lambda shape: tf.constant(negatives, tf.int32)

    with tf.GradientTape() as tape:
        losses = model.example_losses(tf.constant(centers), tf.constant(labels))
        total = tf.reduce_sum(losses)
    d_vectors, d_outputs, d_biases = (tf.convert_to_tensor(g) for g in
                                      tape.gradient(total, model.trainable_variables))

    expected = np.zeros(3)
    want_vectors, want_outputs, want_biases = np.zeros((6, 4)), np.zeros((6, 4)), np.zeros(6)
    for b, (center, label) in enumerate(zip(centers, labels)):
        h = vectors[center].astype(np.float64)
        terms = [(label, 1.0)] + [(n, -1.0) for n in negatives[b] if n != label]
        for word, sign in terms:  # loss term softplus(-sign * logit)
            logit = h @ outputs[word] + biases[word]
            expected[b] += softplus(-sign * logit)
            d_logit = -sign / (1.0 + np.exp(sign * logit))
            want_vectors[center] += d_logit * outputs[word]
            want_outputs[word] += d_logit * h
            want_biases[word] += d_logit
    np.testing.assert_allclose(losses.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(d_vectors.numpy(), want_vectors, atol=1e-5)
    np.testing.assert_allclose(d_outputs.numpy(), want_outputs, atol=1e-5)
    np.testing.assert_allclose(d_biases.numpy(), want_biases, atol=1e-5)


def test_negatives_follow_the_samplers_distribution():
    counts = [400, 300, 0, 100, 50, 50, 0]  # ids 2 and 6 (as <unk>) are never seen
    draws = 200_000
    for sampler, probabilities in (
            ("unigram", np.array(counts, float) ** 0.75),
            ("log_uniform", np.log((np.arange(7) + 2.0) / (np.arange(7) + 1.0)))):
        probabilities = probabilities / probabilities.sum()
        np.testing.assert_allclose(np.diff(negative_cdf(counts, sampler), prepend=0.0),
                                   probabilities, atol=1e-12)
        model = Word2Vec(counts, embedding_dim=2, num_sampled=5, sampler=sampler,
                         loss="negative_sampling")
        ids = model.draw_negatives(tf.constant([draws // 5, 5])).numpy()
        assert ids.shape == (draws // 5, 5) and ids.min() >= 0 and ids.max() < 7
        # The standard error of each frequency is below 0.0012: 0.01 is over 8 of them.
        np.testing.assert_allclose(np.bincount(ids.ravel(), minlength=7) / draws,
                                   probabilities, atol=0.01)
        if sampler == "unigram":
            assert not np.isin(ids, [2, 6]).any()


def test_planted_neighbours_with_negative_sampling(tmp_path):
    config = preset_config(loss="negative_sampling", num_sampled=4, epochs=4)
    skipgram.train(config, str(tmp_path / "run"), planted_tokens(), seed=1, verbose=0)
    assert_topics_are_neighbours(tmp_path / "run")


def test_a_config_saved_before_the_loss_flag_reads_nce():
    saved = dataclasses.asdict(Word2VecConfig())
    del saved["loss"]
    assert config_from_dict(Word2VecConfig, saved).loss == "nce"
