"""The lecture's hand-written RNN, LSTM and GRU cells equal the Keras built-ins numerically."""

import numpy as np
import pytest
import tensorflow as tf
import keras
from keras import layers

from week3_rnn.cells import LectureGRUCell, LectureLSTMCell, LectureRNNCell

BATCH, TIME, FEATURES, UNITS = 3, 7, 5, 4
ATOL = 1e-5


def _random_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")


def _randomize(layer, seed):
    """Replaces every weight with random values so that no gate is trivial."""
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [
            rng.normal(scale=0.5, size=w.shape).astype("float32")
            for w in layer.get_weights()
        ]
    )


def _lstm_pair():
    """A keras.layers.LSTM and RNN(LectureLSTMCell) with identical weights."""
    keras.utils.set_random_seed(0)
    reference = layers.LSTM(UNITS, return_sequences=True, return_state=True)
    ours = layers.RNN(LectureLSTMCell(UNITS), return_sequences=True, return_state=True)
    x = _random_inputs()
    reference(x), ours(x)  # Build both.
    _randomize(reference, seed=1)
    ours.set_weights(reference.get_weights())
    return reference, ours


def _gru_pair():
    """A keras.layers.GRU(reset_after=False) and RNN(LectureGRUCell), same weights."""
    keras.utils.set_random_seed(0)
    reference = layers.GRU(
        UNITS, reset_after=False, return_sequences=True, return_state=True
    )
    ours = layers.RNN(LectureGRUCell(UNITS), return_sequences=True, return_state=True)
    x = _random_inputs()
    reference(x), ours(x)
    _randomize(reference, seed=1)
    ours.set_weights(reference.get_weights())
    return reference, ours


def _rnn_pair():
    """A keras.layers.SimpleRNN and RNN(LectureRNNCell) with identical weights."""
    keras.utils.set_random_seed(0)
    reference = layers.SimpleRNN(UNITS, return_sequences=True, return_state=True)
    ours = layers.RNN(LectureRNNCell(UNITS), return_sequences=True, return_state=True)
    x = _random_inputs()
    reference(x), ours(x)
    _randomize(reference, seed=1)
    ours.set_weights(reference.get_weights())
    return reference, ours


def _initial_state(num_states, seed=2):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(num_states)
    ]


def _assert_all_close(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=ATOL, rtol=0)


@pytest.mark.parametrize("pair, num_states", [(_lstm_pair, 2), (_gru_pair, 1),
                                              (_rnn_pair, 1)])
@pytest.mark.parametrize("with_initial_state", [False, True])
def test_cell_matches_keras_builtin(pair, num_states, with_initial_state):
    reference, ours = pair()
    x = _random_inputs()
    kwargs = {}
    if with_initial_state:
        kwargs["initial_state"] = _initial_state(num_states)
    expected = reference(x, **kwargs)  # [sequence, h, (c)]
    actual = ours(x, **kwargs)
    assert len(actual) == 1 + num_states
    assert actual[0].shape == (BATCH, TIME, UNITS)
    _assert_all_close(actual, expected)
    # The outputs must depend on the initial state, or the check above is empty.
    if with_initial_state:
        from_zero = ours(x)
        assert np.abs(np.asarray(from_zero[0]) - np.asarray(actual[0])).max() > 1e-2


def test_lstm_default_init_matches_keras():
    """Shapes and the unit forget bias match the built-in's initial weights."""
    x = _random_inputs()
    reference = layers.LSTM(UNITS)
    ours = layers.RNN(LectureLSTMCell(UNITS))
    reference(x), ours(x)
    for w_ref, w_ours in zip(reference.get_weights(), ours.get_weights()):
        assert w_ref.shape == w_ours.shape
    bias = ours.get_weights()[2]
    expected_bias = np.concatenate(
        [np.zeros(UNITS), np.ones(UNITS), np.zeros(2 * UNITS)]
    )
    np.testing.assert_array_equal(bias, expected_bias)
    np.testing.assert_array_equal(reference.get_weights()[2], expected_bias)
    recurrent = ours.get_weights()[1]  # Orthogonal: rows are orthonormal.
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(UNITS), atol=1e-5)


def test_gru_weight_shapes_match_reset_before():
    x = _random_inputs()
    reference = layers.GRU(UNITS, reset_after=False)
    ours = layers.RNN(LectureGRUCell(UNITS))
    reference(x), ours(x)
    assert [w.shape for w in ours.get_weights()] == [
        w.shape for w in reference.get_weights()
    ] == [(FEATURES, 3 * UNITS), (UNITS, 3 * UNITS), (3 * UNITS,)]


@pytest.mark.parametrize("pair", [_lstm_pair, _gru_pair, _rnn_pair])
def test_gradients_match_keras_builtin(pair):
    reference, ours = pair()
    x = tf.constant(_random_inputs())
    # A fixed random projection makes every output element count in the loss.
    projection = tf.constant(
        np.random.default_rng(3).normal(size=(UNITS,)).astype("float32")
    )

    def gradients(layer):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x)
            # The sequence and the final states all contribute.
            loss = sum(tf.reduce_sum(tf.tanh(o) * projection) for o in outputs)
        return tape.gradient(loss, [x] + layer.trainable_weights)

    expected = gradients(reference)
    actual = gradients(ours)
    assert len(actual) == 4  # inputs, kernel, recurrent_kernel, bias
    for g in actual:
        assert np.abs(np.asarray(g)).max() > 1e-4
    _assert_all_close(actual, expected)


def _language_model(cell, vocab_size=11, embedding_dim=6):
    tokens = keras.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(vocab_size, embedding_dim)(tokens)  # (batch, time, 6)
    sequence, *_ = layers.RNN(cell, return_sequences=True, return_state=True)(embedded)
    logits = layers.Dense(vocab_size)(sequence)  # (batch, time, vocab)
    return keras.Model(tokens, logits)


def _token_batch(seed=4, vocab_size=11):
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab_size, size=(BATCH, TIME + 1)).astype("int32")


@pytest.mark.parametrize("cell_class", [LectureLSTMCell, LectureGRUCell, LectureRNNCell])
def test_keras_save_load_round_trip(tmp_path, cell_class):
    keras.utils.set_random_seed(0)
    model = _language_model(cell_class(UNITS))
    tokens = _token_batch()
    before = model.predict_on_batch(tokens)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.layers[2].cell, cell_class)
    assert reloaded.layers[2].cell.units == UNITS
    np.testing.assert_array_equal(reloaded.predict_on_batch(tokens), before)


@pytest.mark.parametrize("cell_class", [LectureLSTMCell, LectureGRUCell, LectureRNNCell])
def test_adam_steps_lower_the_loss(cell_class):
    keras.utils.set_random_seed(0)
    model = _language_model(cell_class(8))
    tokens = _token_batch()
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.Adam(learning_rate=0.05)

    def loss_value():
        return float(loss_fn(targets, model(inputs)))

    initial = loss_value()
    # An untrained model predicts nearly uniformly: loss close to ln(vocab).
    assert abs(initial - np.log(11)) < 0.3
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    assert loss_value() < 0.8 * initial


def test_rnn_weights_are_simple_rnn_s():
    """Same names, shapes and initial values (glorot, orthogonal, zeros) as SimpleRNN."""
    x = _random_inputs()
    reference = layers.SimpleRNN(UNITS)
    ours = layers.RNN(LectureRNNCell(UNITS))
    reference(x), ours(x)
    assert ([w.name for w in ours.weights] == [w.name for w in reference.weights]
            == ["kernel", "recurrent_kernel", "bias"])
    assert [w.shape for w in ours.get_weights()] == [
        (FEATURES, UNITS), (UNITS, UNITS), (UNITS,)]
    kernel, recurrent, bias = ours.get_weights()
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(UNITS), atol=1e-5)
    np.testing.assert_array_equal(bias, np.zeros(UNITS))


def test_rnn_cell_is_the_lecture_equation():
    """One step by hand: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)."""
    cell = LectureRNNCell(UNITS)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH, FEATURES)).astype("float32")
    h = rng.normal(size=(BATCH, UNITS)).astype("float32")
    cell.build((None, FEATURES))
    cell.set_weights([rng.normal(size=w.shape).astype("float32") for w in cell.get_weights()])
    # Keras stores W_xh and W_hh transposed, as (in, out) matrices that rows multiply.
    kernel, recurrent_kernel, b = cell.get_weights()
    w_xh, w_hh = kernel.T, recurrent_kernel.T  # (units, features), (units, units)
    expected = np.tanh(x @ w_xh.T + h @ w_hh.T + b)  # rows are examples: (batch, units)
    output, state = cell(x, [h])
    np.testing.assert_allclose(np.asarray(output), expected, atol=ATOL)
    np.testing.assert_allclose(np.asarray(state[0]), expected, atol=ATOL)
    np.testing.assert_allclose(np.asarray(cell(x, h)[1]), expected, atol=ATOL)


def test_cells_reject_non_positive_units():
    with pytest.raises(ValueError, match="units"):
        LectureLSTMCell(0)
    with pytest.raises(ValueError, match="units"):
        LectureGRUCell(-1)
    with pytest.raises(ValueError, match="units"):
        LectureRNNCell(0)
