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

When training, both time loops are compiled by XLA (one compiled loop body
instead of a dozen separately dispatched small ops a step: +26% char-RNN
training speed on the 2-core CPU, benchmarks/RESULTS.md), unrolled when the
sequence is at most MAX_UNROLLED_STEPS long (+11% more); inference and
exported servables run the same steps in tf.while_loops of plain TF ops.

The weights have the same names, shapes, gate order (i, f, c, o) and
initializers as `keras.layers.LSTM`, so weights move freely between the two;
`tests/test_fast_lstm.py` checks outputs and gradients against Keras.
"""

import functools

import keras
import tensorflow as tf
from keras import initializers, layers


def _split_gates(z):
    """Applies the gate nonlinearities to pre-activations (batch, 4 * units)."""
    i, f, g, o = tf.split(z, 4, axis=1)
    return tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)


def _gate_constants(units, dtype):
    """(scale, offset), each (4 * units,): tanh(z * scale) * scale + offset are the gates.

    sigmoid(x) = tanh(x / 2) / 2 + 1/2, so one tanh over the whole (batch,
    4 * units) block gives all four gates (i, f, o sigmoid; g tanh). Under
    XLA this is 4-5x faster than splitting z first and applying sigmoid and
    tanh to the parts (62 against 330 us for a 64 x 1024 step on the
    2-core CPU): XLA's fusion recomputes the sliced activations for each use.
    """
    def per_gate(i, g):
        return tf.concat([tf.fill([2 * units], i), tf.fill([units], g),
                          tf.fill([units], i)], 0)
    return tf.cast(per_gate(0.5, 1.0), dtype), tf.cast(per_gate(0.5, 0.0), dtype)


def _time_steps(sequence):
    """The length of a time-major sequence: static when known (XLA needs it), else a tensor."""
    return sequence.shape[0] if sequence.shape[0] is not None else tf.shape(sequence)[0]


# Under XLA, sequences up to this long run as straight-line code (the loop
# unrolled): 14-15% faster loops for the char-RNN's 100 steps, with no loop
# control and no per-step writes into loop buffers; compiling takes 3-5 s.
# Longer or unknown lengths, and plain TF (inference, export), use tf.while_loop.
MAX_UNROLLED_STEPS = 200


def _scan(step, sequences, carry, output_like, reverse=False, unroll=False):
    """Runs carry, output = step(slices of `sequences` at t, carry) over time.

    sequences: tensors (time, ...); carry: a tuple of tensors; output_like:
    tensors shaped as one step's outputs. Returns the outputs stacked (time,
    ...) and the last carry. Reverse runs from the last step to the first
    (outputs still in time order).
    """
    time_steps = _time_steps(sequences[0])
    if unroll and isinstance(time_steps, int) and time_steps <= MAX_UNROLLED_STEPS:
        outputs = [None] * time_steps
        for t in reversed(range(time_steps)) if reverse else range(time_steps):
            carry, outputs[t] = step(tuple(x[t] for x in sequences), carry)
        return tf.nest.map_structure(lambda *steps: tf.stack(steps), *outputs), carry

    def unstacked(x):
        return tf.TensorArray(x.dtype, size=time_steps, element_shape=x.shape[1:]).unstack(x)

    inputs_ta = [unstacked(x) for x in sequences]
    outputs_ta = tf.nest.map_structure(
        lambda o: tf.TensorArray(o.dtype, size=time_steps, element_shape=o.shape), output_like)

    def body(t, carry, outputs_ta):
        carry, output = step(tuple(ta.read(t) for ta in inputs_ta), carry)
        return (t - 1 if reverse else t + 1, carry,
                tf.nest.map_structure(lambda ta, o: ta.write(t, o), outputs_ta, output))

    _, carry, outputs_ta = tf.while_loop(
        (lambda t, *_: t >= 0) if reverse else (lambda t, *_: t < time_steps), body,
        (time_steps - 1 if reverse else tf.constant(0), carry, outputs_ta),
        maximum_iterations=time_steps)
    return tf.nest.map_structure(lambda ta: ta.stack(), outputs_ta), carry


def _forward_loop(input_gates, h0, c0, recurrent_kernel, unroll=False):
    """The recurrence: (hs, cs, gates (time, batch, 4 * units) activated, h, c)."""
    scale, offset = _gate_constants(tf.shape(h0)[1], input_gates.dtype)

    def step(inputs, carry):
        (z_input,), (h, c) = inputs, carry
        gates = tf.tanh((z_input + tf.matmul(h, recurrent_kernel)) * scale) * scale + offset
        i, f, g, o = tf.split(gates, 4, axis=1)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return (h, c), (h, c, gates)

    (hs, cs, gates), (h, c) = _scan(step, (input_gates,), (h0, c0),
                                    (h0, c0, input_gates[0]), unroll=unroll)
    return hs, cs, gates, h, c


def _backward_loop(d_outputs, gates, cs, c0, d_h_last, d_c_last, recurrent_kernel,
                   unroll=False):
    """dZ (time, batch, 4 * units) for all steps, and the gradients of h0 and c0.

    Everything that does not depend on the incoming gradient is computed for
    the whole sequence at once, so the loop runs seven small ops a step.
    """
    c_prev = tf.concat([c0[None], cs[:-1]], axis=0)  # (time, batch, units)
    i, f, g, o = tf.split(gates, 4, axis=2)
    tanh_c = tf.tanh(cs)
    # dc_t += dh_t * dc_from_dh; dz_t = [dc, dc, dc, dh] * dz_from_dc_dh.
    dc_from_dh = o * (1.0 - tanh_c * tanh_c)
    dz_from_dc_dh = tf.concat(
        [g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g), tanh_c * o * (1.0 - o)],
        axis=2)  # (time, batch, 4 * units)
    # Plain TF's CPU matmul was markedly slower with transpose_b set than on
    # an explicitly transposed operand (on the CPU this was written for).
    recurrent_transposed = tf.transpose(recurrent_kernel)  # (4 * units, units)

    def step(inputs, carry):
        (d_out, dc_factor, dz_factor, forget), (dh_next, dc_next) = inputs, carry
        dh = d_out + dh_next
        dc = dc_next + dh * dc_factor
        dz = tf.concat([dc, dc, dc, dh], axis=1) * dz_factor
        return (tf.matmul(dz, recurrent_transposed), dc * forget), dz

    dzs, (d_h0, d_c0) = _scan(step, (d_outputs, dc_from_dh, dz_from_dc_dh, f),
                              (d_h_last, d_c_last), gates[0], reverse=True, unroll=unroll)
    return dzs, d_h0, d_c0


def _make_lstm_sequence(forward_loop, backward_loop):
    """lstm_sequence with these two loop functions (plain TF ops, or compiled by XLA)."""

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
        # stop_gradient: this function gives its own gradient, and a tape that saw
        # the loop's inputs would ask an XLA-compiled loop for its intermediates.
        hs, cs, gates, h_last, c_last = forward_loop(
            *(tf.stop_gradient(x) for x in (input_gates, h0, c0, recurrent_kernel)))

        def grad(d_outputs, d_h_last, d_c_last):
            d_outputs = tf.zeros_like(hs) if d_outputs is None else d_outputs
            d_h_last = tf.zeros_like(h_last) if d_h_last is None else d_h_last
            d_c_last = tf.zeros_like(c_last) if d_c_last is None else d_c_last
            dzs, d_h0, d_c0 = backward_loop(*(tf.stop_gradient(x) for x in (
                d_outputs, gates, cs, c0, d_h_last, d_c_last, recurrent_kernel)))
            # (time * batch, 4 * units): the weight gradients as single large matmuls.
            dz_flat = tf.reshape(dzs, [-1, 4 * units])
            h_prev = tf.concat([h0[None], hs[:-1]], axis=0)  # (time, batch, units)
            d_kernel = tf.matmul(tf.transpose(flat_inputs), dz_flat)
            d_recurrent = tf.matmul(tf.transpose(tf.reshape(h_prev, [-1, units])), dz_flat)
            d_bias = tf.reduce_sum(dz_flat, axis=0)
            d_inputs = tf.reshape(
                tf.matmul(dz_flat, tf.transpose(kernel)), [time_steps, batch, features])
            return d_inputs, d_h0, d_c0, d_kernel, d_recurrent, d_bias

        return (hs, h_last, c_last), grad

    return lstm_sequence


# Inference, export and anything a servable keeps: plain TF ops every runtime
# can load (TensorFlow Serving, the LiteRT converter).
lstm_sequence = _make_lstm_sequence(_forward_loop, _backward_loop)
# Training: both time loops compiled by XLA. TF runs each op of a while-loop
# body through its executor (tens of microseconds an op at these sizes); XLA
# runs the body as one compiled function. The large matmuls outside the loops
# stay with TF's oneDNN kernels.
lstm_sequence_compiled = _make_lstm_sequence(
    tf.function(functools.partial(_forward_loop, unroll=True), jit_compile=True),
    tf.function(functools.partial(_backward_loop, unroll=True), jit_compile=True))


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

    def call(self, inputs, initial_state=None, training=None):
        inputs = tf.convert_to_tensor(inputs)
        if initial_state is None:
            zeros = tf.zeros([tf.shape(inputs)[0], self.units], inputs.dtype)
            initial_state = [zeros, zeros]
        h0, c0 = initial_state
        if inputs.shape[1] == 1:
            # One step (text generation): the plain cell equations, no loop. Not the
            # loops' one-tanh form: for generation's one-row steps the split form
            # measured 5-10% faster (SavedModel generate, 9,199-9,606 against
            # 8,544-8,850 chars/s, alternating runs).
            z = inputs[:, 0] @ self.kernel + h0 @ self.recurrent_kernel + self.bias
            i, f, g, o = _split_gates(z)
            c = f * c0 + i * g
            h = o * tf.tanh(c)
            outputs = h[:, None] if self.return_sequences else h
            return [outputs, h, c] if self.return_state else outputs
        sequence = lstm_sequence_compiled if training else lstm_sequence
        outputs, h, c = sequence(
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
