"""The lecture's vanilla RNN, LSTM and GRU cells, written out from the equations.

All three are Keras 3 RNN cells: they process one time step and are run over a
sequence by `keras.layers.RNN(cell, return_sequences=True, return_state=True)`.
Their weights have the same names, shapes, gate order and initializers as the
Keras built-ins, so `cell_rnn.set_weights(keras_rnn.get_weights())` makes the
two compute the same numbers; `tests/test_cells.py` checks this.

Vanilla RNN (state h; the weights of `keras.layers.SimpleRNN`):

    h_t = tanh(x W_xh + h W_hh + b)        kernel, recurrent_kernel, bias

LSTM (state h, c; gate order i, f, g, o as `keras.layers.LSTM` stores them):

    i   = sigmoid(x Wi + h Ui + bi)        input gate
    f   = sigmoid(x Wf + h Uf + bf)        forget gate (bias starts at 1)
    g   = tanh(x Wg + h Ug + bg)           candidate cell
    o   = sigmoid(x Wo + h Uo + bo)        output gate
    c_t = f * c + i * g
    h_t = o * tanh(c_t)                    the output

GRU (state h; gate order z, r, h as `keras.layers.GRU` stores them):

    z   = sigmoid(x Wz + h Uz + bz)        update gate
    r   = sigmoid(x Wr + h Ur + br)        reset gate
    h~  = tanh(x Wh + (r * h) Uh + bh)     candidate state
    h_t = z * h + (1 - z) * h~             the output

This is the original GRU of Cho et al. (2014): the reset gate scales the old
state *before* it is multiplied by Uh. That is `keras.layers.GRU(units,
reset_after=False)`, which also has a single bias of shape (3 * units,). The
Keras default, `reset_after=True`, is the cuDNN variant: it computes
r * (h Uh + bh') after the matmul and keeps a second, recurrent bias, so it
neither matches these equations nor has the same weight shapes. Note also
that Keras (and this cell) keeps the old state with weight z; some texts
write h_t = (1 - z) * h + z * h~, which only swaps the meaning of z.

The LSTM with peephole connections is in week3_rnn/peephole_cell.py.
"""

import keras
from keras import initializers, layers, ops


def _lstm_bias_initializer(units):
    """Zeros, except the forget gate's bias which starts at 1.

    A forget bias of 1 keeps the cell state flowing at the start of training
    (Jozefowicz et al., 2015); Keras calls this `unit_forget_bias=True`.
    """

    def initializer(shape, dtype=None):
        return ops.concatenate(
            [
                ops.zeros((units,), dtype=dtype),  # i
                ops.ones((units,), dtype=dtype),  # f
                ops.zeros((2 * units,), dtype=dtype),  # g, o
            ]
        )

    return initializer


def _single_state(states):
    """(h, was_a_list): the RNN layer passes a one-element list for an int
    state_size; a bare tensor is accepted too so the cell can be called alone."""
    is_list = isinstance(states, (list, tuple))
    return (states[0] if is_list else states), is_list


class _LectureCell(layers.Layer):
    """What every lecture cell shares: `units`, the sizes the RNN layer reads
    (`state_units` states of `units` each; a single state is a bare int, as
    Keras expects) and a config that rebuilds the cell."""

    state_units = 1

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be a positive integer, got {units}.")
        self.units = units
        self.state_size = units if self.state_units == 1 else [units] * self.state_units
        self.output_size = units

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tfcourse")
class LectureRNNCell(_LectureCell):
    """One vanilla RNN step, h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)."""

    def build(self, input_shape):
        # SimpleRNN's names, shapes and initializers, in its order.
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="kernel",
            initializer=initializers.GlorotUniform(),
        )  # W_xh stored transposed: (features, units)
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units),
            name="recurrent_kernel",
            initializer=initializers.Orthogonal(),
        )  # W_hh transposed: (units, units)
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, inputs, states, training=None):
        h, is_list = _single_state(states)  # (batch, units)
        h_new = ops.tanh(
            ops.matmul(inputs, self.kernel)
            + ops.matmul(h, self.recurrent_kernel)
            + self.bias
        )  # (batch, units)
        return h_new, [h_new] if is_list else h_new


@keras.saving.register_keras_serializable(package="tfcourse")
class LectureLSTMCell(_LectureCell):
    """One LSTM step; use inside `keras.layers.RNN`."""

    state_units = 2  # the RNN layer carries (h, c); the output is h

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 4 * self.units),
            name="kernel",
            initializer=initializers.GlorotUniform(),
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 4 * self.units),
            name="recurrent_kernel",
            initializer=initializers.Orthogonal(),
        )
        self.bias = self.add_weight(
            shape=(4 * self.units,),
            name="bias",
            initializer=_lstm_bias_initializer(self.units),
        )

    def call(self, inputs, states, training=None):
        h, c = states  # (batch, units) each
        # All four gates' pre-activations in one pair of matmuls.
        z = (
            ops.matmul(inputs, self.kernel)
            + ops.matmul(h, self.recurrent_kernel)
            + self.bias
        )  # (batch, 4 * units)
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)  # (batch, units) each
        i = ops.sigmoid(z_i)
        f = ops.sigmoid(z_f)
        g = ops.tanh(z_g)
        o = ops.sigmoid(z_o)
        c_new = f * c + i * g  # (batch, units)
        h_new = o * ops.tanh(c_new)  # (batch, units)
        return h_new, [h_new, c_new]


@keras.saving.register_keras_serializable(package="tfcourse")
class LectureGRUCell(_LectureCell):
    """One GRU step (reset gate before the matmul); use inside `keras.layers.RNN`."""

    def build(self, input_shape):
        input_dim = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(input_dim, 3 * self.units),
            name="kernel",
            initializer=initializers.GlorotUniform(),
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, 3 * self.units),
            name="recurrent_kernel",
            initializer=initializers.Orthogonal(),
        )
        self.bias = self.add_weight(
            shape=(3 * self.units,), name="bias", initializer="zeros"
        )

    def call(self, inputs, states, training=None):
        h, is_list = _single_state(states)  # (batch, units)
        u = self.units
        x = ops.matmul(inputs, self.kernel) + self.bias  # (batch, 3 * units)
        x_z, x_r, x_h = ops.split(x, 3, axis=-1)  # (batch, units) each
        u_z = self.recurrent_kernel[:, :u]  # (units, units)
        u_r = self.recurrent_kernel[:, u : 2 * u]
        u_h = self.recurrent_kernel[:, 2 * u :]
        z = ops.sigmoid(x_z + ops.matmul(h, u_z))
        r = ops.sigmoid(x_r + ops.matmul(h, u_r))
        # The reset gate acts on the old state before the matmul (Cho et al.).
        h_candidate = ops.tanh(x_h + ops.matmul(r * h, u_h))  # (batch, units)
        h_new = z * h + (1.0 - z) * h_candidate  # (batch, units)
        return h_new, [h_new] if is_list else h_new
