"""FastLSTM equals keras.layers.LSTM: outputs, states and gradients.

Both of FastLSTM's paths are checked: training=True runs its time loops
compiled by XLA, inference runs them as plain TF ops.
"""

import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from week3_rnn.fast_lstm import MAX_UNROLLED_STEPS, FastLSTM


def _pair(units=4, features=5):
    rng = np.random.default_rng(0)
    reference = layers.LSTM(units, return_sequences=True, return_state=True)
    fast = FastLSTM(units, return_state=True)
    dummy = np.zeros((1, 2, features), np.float32)
    reference(dummy)
    fast(dummy)
    # Random weights (not the initial zeros/ones bias) so every gate matters.
    weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32)
               for w in reference.get_weights()]
    reference.set_weights(weights)
    fast.set_weights(weights)
    return reference, fast


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("time_steps", [1, 7])
def test_outputs_and_states_equal_keras_lstm(time_steps, training):
    reference, fast = _pair()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, time_steps, 5)).astype(np.float32)
    state = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(2)]
    for initial_state in (None, state):
        expected = reference(x, initial_state=initial_state)
        actual = fast(x, initial_state=initial_state, training=training)
        for e, a in zip(expected, actual):
            np.testing.assert_allclose(a, e, atol=1e-5)


# Under XLA (training) sequences of up to MAX_UNROLLED_STEPS run unrolled,
# longer ones in a while loop: both are checked.
@pytest.mark.parametrize("training,time_steps", [
    (False, 7), (True, 7), (True, MAX_UNROLLED_STEPS + 5)])
def test_gradients_equal_keras_lstm(training, time_steps):
    reference, fast = _pair()
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(3, time_steps, 5)).astype(np.float32))
    state = [tf.constant(rng.normal(size=(3, 4)).astype(np.float32)) for _ in range(2)]
    upstream = [tf.constant(rng.normal(size=s).astype(np.float32))
                for s in [(3, time_steps, 4), (3, 4), (3, 4)]]

    def grads(layer):
        with tf.GradientTape() as tape:
            tape.watch([x, *state])
            outputs = layer(x, initial_state=state, training=training)
            # A loss that depends on the sequence and on both final states.
            loss = sum(tf.reduce_sum(o * u) for o, u in zip(outputs, upstream))
        return tape.gradient(loss, [x, *state, *layer.trainable_weights])

    for e, a in zip(grads(reference), grads(fast)):
        np.testing.assert_allclose(a, e, atol=1e-5)


def test_initial_weights_follow_keras_conventions():
    layer = FastLSTM(3)
    layer(np.zeros((1, 2, 4), np.float32))
    bias = layer.bias.numpy()
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])  # forget bias 1
    assert layer.kernel.shape == (4, 12) and layer.recurrent_kernel.shape == (3, 12)
