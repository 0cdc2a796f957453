"""The lecture's LSTM memory block with peephole connections (Gers & Schmidhuber, 2000).

In the plain LSTM (week3_rnn/cells.py) the gates look only at the input x_t
and the previous output h_{t-1}. With peepholes they also look at the cell
state s_c itself: the input and forget gates at the previous state s_c^{t-1},
the output gate at the new state s_c^t, which is computed before it. The
peephole weights are diagonal (each cell sees only its own state), so each is
a vector of `units` numbers, applied elementwise (*):

    a_I   = x W_I + h U_I + b_I + w_cI * s_c^{t-1}     input gate   b_I = sigmoid(a_I)
    a_F   = x W_F + h U_F + b_F + w_cF * s_c^{t-1}     forget gate  b_F = sigmoid(a_F)
    g     = tanh(x W_g + h U_g + b_g)                  candidate cell
    s_c^t = b_F * s_c^{t-1} + b_I * g                  the new cell state
    a_O   = x W_O + h U_O + b_O + w_cO * s_c^t         output gate  b_O = sigmoid(a_O)
    h_t   = b_O * tanh(s_c^t)                          the output

W, U and b are stored exactly as in `keras.layers.LSTM` and LectureLSTMCell
(kernel, recurrent_kernel, bias; gate order i, f, g, o; forget bias 1), so
their weights load unchanged, followed by the three peephole vectors. The
peepholes start at zero: a new cell computes what the plain LSTM computes and
learns how much to look at its state; their gradient is not zero at zero
(it is the gate's error times s_c), so they do move. TensorFlow 1's
`LSTMCell(use_peepholes=True)` is the same cell (its w_i_diag, w_f_diag,
w_o_diag); it no longer runs under Keras 3, so tests/test_peephole_cell.py
checks this one against a NumPy implementation of the equations above.
"""

import keras
from keras import ops

from week3_rnn.cells import LectureLSTMCell


@keras.saving.register_keras_serializable(package="tfcourse")
class PeepholeLSTMCell(LectureLSTMCell):
    """One LSTM step whose gates also see the cell state; use inside `keras.layers.RNN`."""

    def build(self, input_shape):
        super().build(input_shape)  # kernel, recurrent_kernel, bias
        # w_cI, w_cF, w_cO: (units,) each, one weight per cell (diagonal).
        self.input_peephole = self.add_weight(
            shape=(self.units,), name="input_peephole", initializer="zeros")
        self.forget_peephole = self.add_weight(
            shape=(self.units,), name="forget_peephole", initializer="zeros")
        self.output_peephole = self.add_weight(
            shape=(self.units,), name="output_peephole", initializer="zeros")

    def call(self, inputs, states, training=None):
        h, c = states  # h_{t-1}, s_c^{t-1}: (batch, units) each
        z = (
            ops.matmul(inputs, self.kernel)
            + ops.matmul(h, self.recurrent_kernel)
            + self.bias
        )  # (batch, 4 * units)
        z_i, z_f, z_g, z_o = ops.split(z, 4, axis=-1)  # (batch, units) each
        # The input and forget gates peek at the previous cell state ...
        i = ops.sigmoid(z_i + self.input_peephole * c)
        f = ops.sigmoid(z_f + self.forget_peephole * c)
        g = ops.tanh(z_g)
        c_new = f * c + i * g  # s_c^t: (batch, units)
        # ... and the output gate at the state it is about to show.
        o = ops.sigmoid(z_o + self.output_peephole * c_new)
        h_new = o * ops.tanh(c_new)  # (batch, units)
        return h_new, [h_new, c_new]
