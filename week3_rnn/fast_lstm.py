"""An LSTM layer with a hand-written gradient that is fast on CPUs.

`keras.layers.LSTM` on a CPU runs the generic RNN loop: every time step does
its own small input matmul, and the backward pass accumulates the weight
gradients one small outer product per step. PyTorch and cuDNN instead do the
work that does not depend on the recurrence as a few large matrix products
over the whole sequence. `FastLSTM` does the same in TensorFlow:

forward   Zx = X @ W + b for all time steps at once (one large matmul);
          the loop only computes Z_t = Zx_t + h_{t-1} @ U and the gates.
backward  the gate derivatives are computed for all steps at once; the loop
          only propagates dh, dc through time (seven small ops a step);
          dW = X^T dZ, dU = H_prev^T dZ, db = sum dZ and dX = dZ W^T are
          again single large matmuls after the loop.

The weights have the same names, shapes, gate order (i, f, c, o) and
initializers as `keras.layers.LSTM`, so weights move freely between the two;
`tests/test_fast_lstm.py` checks outputs and gradients against Keras.
"""

import keras
import tensorflow as tf
from keras import initializers, layers


def _split_gates(z):
    """Applies the gate nonlinearities to pre-activations (batch, 4 * units)."""
    i, f, g, o = tf.split(z, 4, axis=1)
    return tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)


@tf.custom_gradient
def lstm_sequence(inputs, h0, c0, kernel, recurrent_kernel, bias):
    """Runs an LSTM over a time-major sequence.

    Args:
      inputs: (time, batch, features).
      h0, c0: (batch, units) initial state.
      kernel: (features, 4 * units); recurrent_kernel: (units, 4 * units);
      bias: (4 * units,). Gate order i, f, c, o as in Keras.

    Returns:
      (outputs (time, batch, units), final h, final c).
    """
    time_steps = tf.shape(inputs)[0]
    batch = tf.shape(inputs)[1]
    features = tf.shape(inputs)[2]
    units = tf.shape(recurrent_kernel)[0]
    flat_inputs = tf.reshape(inputs, [-1, features])
    # (time, batch, 4 * units): the input part of every gate, in one matmul.
    input_gates = tf.reshape(
        tf.matmul(flat_inputs, kernel) + bias, [time_steps, batch, 4 * units])

    def new_array():
        return tf.TensorArray(inputs.dtype, size=time_steps)

    input_gates_ta = new_array().unstack(input_gates)

    def forward_step(t, h, c, hs, cs, zs):
        z = input_gates_ta.read(t) + tf.matmul(h, recurrent_kernel)  # (batch, 4 * units)
        i, f, g, o = _split_gates(z)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), zs.write(t, z)

    _, h_last, c_last, hs, cs, zs = tf.while_loop(
        lambda t, *_: t < time_steps,
        forward_step,
        (tf.constant(0), h0, c0, new_array(), new_array(), new_array()),
    )
    hs, cs, zs = hs.stack(), cs.stack(), zs.stack()

    def grad(d_outputs, d_h_last, d_c_last):
        d_outputs = tf.zeros_like(hs) if d_outputs is None else d_outputs
        d_h_last = tf.zeros_like(h_last) if d_h_last is None else d_h_last
        d_c_last = tf.zeros_like(c_last) if d_c_last is None else d_c_last
        # Everything that does not depend on the incoming gradient is computed
        # for the whole sequence at once, as a few large elementwise ops, so
        # the loop below runs only seven small ops per step.
        h_prev = tf.concat([h0[None], hs[:-1]], axis=0)  # (time, batch, units)
        c_prev = tf.concat([c0[None], cs[:-1]], axis=0)
        i, f, g, o = tf.split(zs, 4, axis=2)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        tanh_c = tf.tanh(cs)
        # dc_t += dh_t * dc_from_dh; dz_t = [dc, dc, dc, dh] * dz_from_dc_dh.
        dc_from_dh = o * (1.0 - tanh_c * tanh_c)
        dz_from_dc_dh = tf.concat(
            [g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g),
             tanh_c * o * (1.0 - o)], axis=2)  # (time, batch, 4 * units)
        # TF's CPU matmul is markedly slower with transpose_a/transpose_b set
        # than on explicitly transposed operands, so transpose once up front.
        recurrent_transposed = tf.transpose(recurrent_kernel)  # (4 * units, units)
        d_out_ta = new_array().unstack(d_outputs)
        dc_from_dh_ta = new_array().unstack(dc_from_dh)
        dz_factor_ta = new_array().unstack(dz_from_dc_dh)
        forget_ta = new_array().unstack(f)

        def backward_step(t, dh_next, dc_next, dzs):
            dh = d_out_ta.read(t) + dh_next
            dc = dc_next + dh * dc_from_dh_ta.read(t)
            dz = tf.concat([dc, dc, dc, dh], axis=1) * dz_factor_ta.read(t)
            dh_next = tf.matmul(dz, recurrent_transposed)
            return t - 1, dh_next, dc * forget_ta.read(t), dzs.write(t, dz)

        _, d_h0, d_c0, dzs = tf.while_loop(
            lambda t, *_: t >= 0,
            backward_step,
            (time_steps - 1, d_h_last, d_c_last, new_array()),
        )
        # (time * batch, 4 * units): the weight gradients as single matmuls.
        dz_flat = tf.reshape(dzs.stack(), [-1, 4 * units])
        d_kernel = tf.matmul(tf.transpose(flat_inputs), dz_flat)
        d_recurrent = tf.matmul(tf.transpose(tf.reshape(h_prev, [-1, units])), dz_flat)
        d_bias = tf.reduce_sum(dz_flat, axis=0)
        d_inputs = tf.reshape(
            tf.matmul(dz_flat, tf.transpose(kernel)), [time_steps, batch, features])
        return d_inputs, d_h0, d_c0, d_kernel, d_recurrent, d_bias

    return (hs, h_last, c_last), grad


@keras.saving.register_keras_serializable(package="tfcourse")
class FastLSTM(layers.Layer):
    """Drop-in for `keras.layers.LSTM` (batch-major) with a fused CPU gradient.

    Call with `inputs` (batch, time, features) and optionally
    `initial_state=[h, c]`. Returns the sequence (batch, time, units) or the
    last output, followed by `[h, c]` when `return_state=True`.
    """

    def __init__(self, units, return_sequences=True, return_state=False,
                 unit_forget_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.unit_forget_bias = unit_forget_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)

    def build(self, input_shape):
        units = self.units
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], 4 * units),
            initializer=self.kernel_initializer)
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(units, 4 * units),
            initializer=self.recurrent_initializer)
        if self.unit_forget_bias:
            # Keras's default: forget gate bias 1 so memory flows at the start.
            def bias_initializer(shape, dtype=None):
                zeros = tf.zeros([units], dtype=dtype)
                return tf.concat([zeros, tf.ones([units], dtype=dtype), zeros, zeros], 0)
        else:
            bias_initializer = "zeros"
        self.bias = self.add_weight(name="bias", shape=(4 * units,),
                                    initializer=bias_initializer)

    def call(self, inputs, initial_state=None):
        inputs = tf.convert_to_tensor(inputs)
        if initial_state is None:
            zeros = tf.zeros([tf.shape(inputs)[0], self.units], inputs.dtype)
            initial_state = [zeros, zeros]
        h0, c0 = initial_state
        if inputs.shape[1] == 1:
            # One step (text generation): the plain cell equations, no loop.
            z = inputs[:, 0] @ self.kernel + h0 @ self.recurrent_kernel + self.bias
            i, f, g, o = _split_gates(z)
            c = f * c0 + i * g
            h = o * tf.tanh(c)
            outputs = h[:, None] if self.return_sequences else h
            return [outputs, h, c] if self.return_state else outputs
        outputs, h, c = lstm_sequence(
            tf.transpose(inputs, [1, 0, 2]), h0, c0,
            tf.convert_to_tensor(self.kernel), tf.convert_to_tensor(self.recurrent_kernel),
            tf.convert_to_tensor(self.bias))
        outputs = tf.transpose(outputs, [1, 0, 2]) if self.return_sequences else h
        return [outputs, h, c] if self.return_state else outputs

    def compute_output_shape(self, input_shape):
        batch, time = input_shape[0], input_shape[1]
        out = (batch, time, self.units) if self.return_sequences else (batch, self.units)
        if self.return_state:
            return [out, (batch, self.units), (batch, self.units)]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, return_sequences=self.return_sequences,
            return_state=self.return_state, unit_forget_bias=self.unit_forget_bias,
            kernel_initializer=initializers.serialize(self.kernel_initializer),
            recurrent_initializer=initializers.serialize(self.recurrent_initializer))
        return config
