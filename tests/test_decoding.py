"""common.decoding: beam search against brute force, beam 1 against greedy, on hand-made steps."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from common.decoding import beam_search, greedy_search
from common.tokens import END_ID, PAD_ID, START_ID

VOCAB = 6  # <pad> <start> <end> and three real tokens
REAL = [3, 4, 5]


def table_log_probs(code):
    """log P(next | prefix) of a made-up model whose answer depends on the whole prefix
    (`code` numbers the prefix); NumPy, the reference for `step` below."""
    x = np.sin(code * 1.37 + np.arange(VOCAB) * 2.11) * 3.0
    return x - np.log(np.exp(x).sum())


def step(tokens, state):
    """common.decoding's step function over table_log_probs; emits its prefix code twice."""
    code = state["code"] * VOCAB + tf.cast(tokens, tf.float64)  # (rows,)
    x = tf.sin(code[:, None] * 1.37 + tf.range(VOCAB, dtype=tf.float64)[None] * 2.11) * 3.0
    log_probs = tf.cast(tf.nn.log_softmax(x), tf.float32)
    return log_probs, {"code": code}, tf.cast(tf.stack([code, -code], 1), tf.float32)


def brute_force(first_code, max_length):
    """(score, tokens) of the best output: every sequence of real tokens ending in <end>,
    or max_length real tokens without it; <pad> and <start> are never emitted."""
    best = None
    for n in range(max_length + 1):
        for body in itertools.product(REAL, repeat=n):
            tokens = list(body) + ([END_ID] if n < max_length else [])
            if len(tokens) > max_length:
                continue
            code, score, last = first_code, 0.0, START_ID
            for token in tokens:
                code = code * VOCAB + last
                score, last = score + table_log_probs(code)[token], token
            if best is None or score > best[0] + 1e-9:
                best = (score, tokens)
    return best


INITIAL = {"code": tf.constant([0.0, 1.0, 2.0, 7.0], tf.float64)}


@pytest.mark.parametrize("max_length", [1, 3, 4])
def test_a_wide_beam_finds_what_brute_force_finds(max_length):
    # 3 real tokens over 4 steps: at most 81 live prefixes and 40 finished ones, so a beam
    # of 128 never drops a hypothesis and the search is exhaustive.
    out = beam_search(step, INITIAL, 4, 128, max_length)
    for b, code in enumerate([0.0, 1.0, 2.0, 7.0]):
        score, tokens = brute_force(code, max_length)
        found = out["tokens"][b].numpy().tolist()
        assert found[:len(tokens)] == tokens and set(found[len(tokens):]) <= {PAD_ID}
        assert out["scores"][b].numpy() == pytest.approx(score, abs=1e-5)
        assert out["lengths"][b] == len(tokens) - (tokens[-1] == END_ID)


def test_beam_1_is_greedy_token_for_token():
    greedy = greedy_search(step, INITIAL, 4, 6)
    beam = beam_search(step, INITIAL, 4, 1, 6)
    for key in ("tokens", "lengths", "emitted"):
        np.testing.assert_array_equal(greedy[key], beam[key], err_msg=key)
    np.testing.assert_allclose(greedy["scores"], beam["scores"], atol=1e-6)


def test_greedy_takes_the_argmax_and_scores_its_tokens():
    out = greedy_search(step, INITIAL, 4, 6)
    for b, code in enumerate([0.0, 1.0, 2.0, 7.0]):
        last, score = START_ID, 0.0
        for t, token in enumerate(out["tokens"][b].numpy()):
            if t and out["tokens"][b, t - 1] in (END_ID, PAD_ID):
                assert token == PAD_ID  # nothing after <end>
                continue
            code = code * VOCAB + last
            log_probs = table_log_probs(code)
            log_probs[[PAD_ID, START_ID]] = -np.inf
            assert token == np.argmax(log_probs)
            # What is emitted is this step's prefix code, along the chosen path.
            assert out["emitted"][b, t].numpy().tolist() == pytest.approx([code, -code])
            score, last = score + log_probs[token], token
        assert out["scores"][b].numpy() == pytest.approx(score, abs=1e-5)


def test_a_beam_of_two_finds_what_greedy_misses():
    """The first token 3 is likelier (0.6 vs 0.4), but after it nothing is sure; after 4
    <end> is certain: greedy picks 3, a beam of two keeps 4 and finds the better output."""
    def two_steps(tokens, state):
        t = state["t"]
        first = tf.math.log(tf.constant([[1e-9, 1e-9, 1e-9, 0.6, 0.4]]))
        after_3 = tf.math.log(tf.constant([[1e-9, 1e-9, 0.3, 0.35, 0.35]]))
        after_4 = tf.math.log(tf.constant([[1e-9, 1e-9, 1.0 - 2e-9, 1e-9, 1e-9]]))
        rows = tf.shape(tokens)[0]
        log_probs = tf.where((t == 0)[:, None], tf.tile(first, [rows, 1]),
                             tf.where((tokens == 3)[:, None], tf.tile(after_3, [rows, 1]),
                                      tf.tile(after_4, [rows, 1])))
        return log_probs, {"t": t + 1}

    start = {"t": tf.zeros([1], tf.int32)}
    assert greedy_search(two_steps, start, 1, 3)["tokens"][0, :2].numpy().tolist() == [3, 3]
    found = beam_search(two_steps, start, 1, 2, 3)
    assert found["tokens"][0].numpy().tolist() == [4, END_ID]
    assert found["scores"][0].numpy() == pytest.approx(np.log(0.4), abs=1e-5)
    assert "emitted" not in found


def test_the_beam_may_be_a_tensor_in_a_graph():
    """An exported signature takes the beam as an input."""
    @tf.function(input_signature=[tf.TensorSpec([], tf.int32)])
    def search(beam):
        return beam_search(step, INITIAL, 4, beam, 4)

    eager = beam_search(step, INITIAL, 4, 3, 4)
    graph = search(tf.constant(3))
    for key in ("tokens", "lengths", "emitted"):
        np.testing.assert_array_equal(eager[key], graph[key], err_msg=key)
