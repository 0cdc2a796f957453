"""The peephole LSTM cell against the lecture's equations (NumPy) and the plain LSTM.

TensorFlow 1's `tf.compat.v1.nn.rnn_cell.LSTMCell(use_peepholes=True)` would be
the natural reference, but under TensorFlow 2.21 with Keras 3 it raises
"`LSTMCell` is not available with Keras 3", so the reference here is the
memory-block equations written out in NumPy (float64), one gate at a time.
"""

import numpy as np
import pytest
import tensorflow as tf
import keras
from keras import layers

from week3_rnn.cells import LectureLSTMCell
from week3_rnn.peephole_cell import PeepholeLSTMCell

BATCH, TIME, FEATURES, UNITS = 3, 7, 5, 4
ATOL = 1e-5


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def numpy_peephole_lstm(x, weights, h0, c0):
    """The lecture's memory block over x (batch, time, features), in float64.

    weights: [kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,),
    w_cI (u,), w_cF (u,), w_cO (u,)], gate blocks in the order I, F, g, O.
    Returns (outputs (batch, time, u), h_T, s_T).
    """
    kernel, recurrent, bias, w_ci, w_cf, w_co = (np.asarray(w, np.float64) for w in weights)
    u = recurrent.shape[0]
    block = {name: slice(k * u, (k + 1) * u) for k, name in enumerate("IFgO")}

    def pre_activation(gate, x_t, h):
        s = block[gate]
        return x_t @ kernel[:, s] + h @ recurrent[:, s] + bias[s]

    h, s_c = np.asarray(h0, np.float64), np.asarray(c0, np.float64)
    outputs = []
    for t in range(x.shape[1]):
        x_t = np.asarray(x[:, t], np.float64)
        b_i = sigmoid(pre_activation("I", x_t, h) + w_ci * s_c)  # sees s_c^{t-1}
        b_f = sigmoid(pre_activation("F", x_t, h) + w_cf * s_c)  # sees s_c^{t-1}
        g = np.tanh(pre_activation("g", x_t, h))
        s_c = b_f * s_c + b_i * g  # s_c^t
        b_o = sigmoid(pre_activation("O", x_t, h) + w_co * s_c)  # sees s_c^t
        h = b_o * np.tanh(s_c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, s_c


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    h0, c0 = (rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2))
    return x, h0, c0


def _peephole_layer(seed=1, peephole_scale=1.0):
    """RNN(PeepholeLSTMCell) with random weights; the peepholes scaled by `peephole_scale`."""
    layer = layers.RNN(PeepholeLSTMCell(UNITS), return_sequences=True, return_state=True)
    layer.build((None, None, FEATURES))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32")
               for w in layer.get_weights()]
    layer.set_weights(weights[:3] + [peephole_scale * w for w in weights[3:]])
    return layer


def test_weights_are_the_lstm_s_then_three_zero_peepholes():
    layer = layers.RNN(PeepholeLSTMCell(UNITS))
    layer.build((None, None, FEATURES))
    assert [w.name for w in layer.weights] == [
        "kernel", "recurrent_kernel", "bias", "input_peephole", "forget_peephole",
        "output_peephole"]
    shapes = [w.shape for w in layer.get_weights()]
    assert shapes == [(FEATURES, 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,)] + [(UNITS,)] * 3
    for peephole in layer.get_weights()[3:]:
        np.testing.assert_array_equal(peephole, np.zeros(UNITS))


@pytest.mark.parametrize("with_initial_state", [False, True])
def test_matches_the_numpy_memory_block(with_initial_state):
    layer = _peephole_layer()
    x, h0, c0 = _data()
    if not with_initial_state:
        h0, c0 = np.zeros_like(h0), np.zeros_like(c0)
    sequence, h, c = layer(x, initial_state=[h0, c0])
    expected = numpy_peephole_lstm(x, layer.get_weights(), h0, c0)
    for actual, wanted in zip((sequence, h, c), expected):
        np.testing.assert_allclose(np.asarray(actual), wanted, atol=ATOL, rtol=0)
    # The peepholes must change the numbers, or the check above would not see them.
    weights = layer.get_weights()
    plain = numpy_peephole_lstm(x, weights[:3] + [0 * w for w in weights[3:]], h0, c0)
    assert np.abs(plain[0] - expected[0]).max() > 1e-2
    # Each peephole on its own matters too (a swapped s^{t-1} / s^t would show).
    for k in range(3):
        one = weights[:3] + [w if j == k else 0 * w for j, w in enumerate(weights[3:])]
        alone = numpy_peephole_lstm(x, one, h0, c0)[0]
        assert np.abs(alone - plain[0]).max() > 1e-3, k


@pytest.mark.parametrize("plain", ["keras", "lecture"])
def test_zero_peepholes_equal_the_plain_lstm(plain):
    keras.utils.set_random_seed(0)
    peephole = _peephole_layer(peephole_scale=0.0)
    cell = LectureLSTMCell(UNITS) if plain == "lecture" else None
    reference = (layers.RNN(cell, return_sequences=True, return_state=True) if cell
                 else layers.LSTM(UNITS, return_sequences=True, return_state=True))
    reference.build((None, None, FEATURES))
    reference.set_weights(peephole.get_weights()[:3])
    x, h0, c0 = _data(seed=2)
    x = tf.constant(x)

    def outputs_and_input_gradient(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, initial_state=[h0, c0])
            loss = sum(tf.reduce_sum(tf.sin(o)) for o in outputs)
        return [*outputs, tape.gradient(loss, x)]

    actual = outputs_and_input_gradient(peephole)
    for a, e in zip(actual, outputs_and_input_gradient(reference)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=ATOL, rtol=0)
    assert np.abs(np.asarray(actual[-1])).max() > 1e-3


def test_peephole_gradients_equal_finite_differences_of_the_equations():
    """d loss / d (w_cI, w_cF, w_cO) by autodiff against central differences in NumPy."""
    layer = _peephole_layer(seed=3)
    x, h0, c0 = _data(seed=4)
    projection = np.random.default_rng(5).normal(size=(UNITS,))

    def numpy_loss(weights):
        sequence = numpy_peephole_lstm(x, weights, h0, c0)[0]
        return float(np.sum(np.tanh(sequence) * projection))

    with tf.GradientTape() as tape:
        sequence = layer(x, initial_state=[h0, c0])[0]
        loss = tf.reduce_sum(tf.tanh(sequence) * projection.astype("float32"))
    peepholes = layer.cell.weights[3:]
    gradients = tape.gradient(loss, peepholes)
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    eps = 1e-6
    for k, gradient in enumerate(gradients):
        numeric = np.zeros(UNITS)
        for unit in range(UNITS):
            up = [w.copy() for w in weights]
            down = [w.copy() for w in weights]
            up[3 + k][unit] += eps
            down[3 + k][unit] -= eps
            numeric[unit] = (numpy_loss(up) - numpy_loss(down)) / (2 * eps)
        assert np.abs(numeric).max() > 1e-2, k  # every peephole gets a real gradient
        np.testing.assert_allclose(np.asarray(gradient), numeric, atol=1e-4, rtol=1e-3)


def test_keras_save_load_round_trip(tmp_path):
    tokens = keras.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(11, FEATURES)(tokens)
    sequence, *_ = layers.RNN(PeepholeLSTMCell(UNITS), return_sequences=True,
                              return_state=True)(embedded)
    model = keras.Model(tokens, layers.Dense(11)(sequence))
    rng = np.random.default_rng(6)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                       for w in model.get_weights()])
    ids = rng.integers(0, 11, size=(BATCH, TIME)).astype("int32")
    path = tmp_path / "peephole.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded.layers[2].cell) is PeepholeLSTMCell
    np.testing.assert_array_equal(reloaded.predict_on_batch(ids), model.predict_on_batch(ids))


def test_rejects_non_positive_units():
    with pytest.raises(ValueError, match="units"):
        PeepholeLSTMCell(0)
