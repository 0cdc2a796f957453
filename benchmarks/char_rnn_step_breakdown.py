"""Where a char-RNN training step's time goes: each part timed alone, in milliseconds.

The benchmark model of char_rnn_vs_pytorch.py (2 x 256 LSTM, batch 64 x 100,
65 characters): FastLSTM's forward and backward time loops (compiled by XLA,
as training runs them, and as plain TF ops, as before), the large input and
gradient matmuls, and the softmax head. Each part runs in its own
`tf.function` on random data of the real shapes; the sum, set beside the
step time that char_rnn_vs_pytorch.py measures, leaves the optimizer,
clipping, embedding and Keras's per-step work.

    python -m benchmarks.char_rnn_step_breakdown
"""

import functools
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TIME, BATCH, UNITS, EMBEDDING, VOCAB = 100, 64, 256, 64, 65


def milliseconds(function, repeats=5, blocks=5):
    """Wall milliseconds of `function()`: the median over `blocks` blocks of `repeats` calls.

    The median, because this shared 2-core machine has slow moments that a
    single mean over all calls absorbs.
    """
    import statistics

    import tensorflow as tf

    function()
    function()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(repeats):
            result = function()
        tf.nest.map_structure(lambda x: x.numpy(), result)  # wait for the last call
        times.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(times)


def main():
    import numpy as np
    import tensorflow as tf

    from week3_rnn import fast_lstm

    rng = np.random.default_rng(0)

    def tensor(*shape, scale=0.1):
        return tf.constant((rng.normal(size=shape) * scale).astype(np.float32))

    input_gates, zeros = tensor(TIME, BATCH, 4 * UNITS, scale=1.0), tf.zeros([BATCH, UNITS])
    recurrent, upstream = tensor(UNITS, 4 * UNITS), tensor(TIME, BATCH, UNITS)
    loops = {}
    for name, jit in (("XLA", True), ("plain TF", False)):
        # As training runs them under XLA: unrolled.
        forward = tf.function(functools.partial(fast_lstm._forward_loop, unroll=jit),
                              jit_compile=jit)
        backward = tf.function(functools.partial(fast_lstm._backward_loop, unroll=jit),
                               jit_compile=jit)
        _, cells, gates, _, _ = forward(input_gates, zeros, zeros, recurrent)
        loops[name] = (
            2 * milliseconds(lambda: forward(input_gates, zeros, zeros, recurrent)),
            2 * milliseconds(lambda: backward(upstream, gates, cells, zeros, zeros, zeros,
                                              recurrent)))
    rows = TIME * BATCH
    # Every operand its own tensor: Grappler merges identical ops, and a repeated
    # matmul would be timed once.
    x1, x2 = tensor(rows, EMBEDDING), tensor(rows, UNITS)  # each layer's inputs
    h1, h2 = tensor(rows, UNITS), tensor(rows, UNITS)  # each layer's previous h
    dz1, dz2 = tensor(rows, 4 * UNITS), tensor(rows, 4 * UNITS)
    w1, w2, bias = tensor(EMBEDDING, 4 * UNITS), tensor(UNITS, 4 * UNITS), tensor(4 * UNITS)
    projections = milliseconds(tf.function(
        lambda: (tf.matmul(x1, w1) + bias, tf.matmul(x2, w2) + bias)))
    gradients = milliseconds(tf.function(lambda: tuple(  # dW, dU, dX and db of each layer
        part for x, h, dz, w in ((x1, h1, dz1, w1), (x2, h2, dz2, w2))
        for part in (tf.matmul(tf.transpose(x), dz), tf.matmul(tf.transpose(h), dz),
                     tf.matmul(dz, tf.transpose(w)), tf.reduce_sum(dz, 0)))))
    head_kernel = tensor(UNITS, VOCAB)
    labels = tf.constant(rng.integers(0, VOCAB, size=rows).astype(np.int32))

    def head():
        with tf.GradientTape() as tape:
            tape.watch([x2, head_kernel])
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels, tf.matmul(x2, head_kernel)))
        return tape.gradient(loss, [x2, head_kernel])

    head_ms = milliseconds(tf.function(head))
    parts = [("forward time loops (XLA), 2 layers", loops["XLA"][0]),
             ("backward time loops with the gate derivatives (XLA), 2 layers", loops["XLA"][1]),
             ("input projections X W + b, 2 layers", projections),
             ("weight and input gradients (6 large matmuls) and bias sums", gradients),
             ("softmax head forward and backward", head_ms)]
    print("| part of one step | ms |\n|---|---|")
    for name, ms in parts:
        print(f"| {name} | {ms:.1f} |")
    print(f"| sum of the parts | {sum(ms for _, ms in parts):.1f} |")
    print(f"| (the two loops as plain TF ops: {sum(loops['plain TF']):.1f} ms) | |")


if __name__ == "__main__":
    main()
