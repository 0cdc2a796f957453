"""gradient-flow: the lecture's vanishing-gradient figure, measured on trained char-RNNs.

For windows x_0 .. x_T of real text, the loss at the last step T (the
cross-entropy of the character that follows x_T) is differentiated with
respect to the embedded input e_t = embedding(x_t) at every step t, and the
norm ||dL_T / de_t|| is plotted against the distance T - t (log scale). Each
window starts from the zero state at x_0, as the training windows do; every
run is measured on the same windows.

Why it falls: in a vanilla RNN, h_t = tanh(W_xh e_t + W_hh h_{t-1} + b), so

    dL_T / de_t = W_xh^T D_t W_hh^T D_{t+1} ... W_hh^T D_T dL_T/dh_T,
    D_k = diag(1 - h_k^2), every factor of norm <= 1,

one more W_hh^T D factor for every step back: the norm shrinks (or grows)
geometrically with T - t. The LSTM's cell state is carried additively,
s_c^t = f * s_c^{t-1} + i * g, so the gradient along it is multiplied only by
the forget gates, and the GRU's h_t = z * h_{t-1} + ... likewise by z: both
can keep it near 1 for many steps.

    python -m week3_rnn.char_rnn gradient-flow --run_dir runs/rnn --run_dir runs/lstm \\
        --run_dir runs/gru --dataset tiny_shakespeare \\
        --data_dir ../shared/data/tinyshakespeare --out gradient_flow.png

prints, per run, the mean norm at a few distances and writes one PNG.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from common.argtypes import count, seed_int
from common.cli import UsageError
from common.outputs import check_out_file
from common.plots import new_figure, save_figure
from common.runs import RunDir

MAX_DISTANCE = 1_000
MAX_WINDOWS = 4_096
CHUNK = 32  # windows per gradient computation (memory grows with CHUNK * distance)
SHOWN_DISTANCES = (0, 1, 10, 50, 100, 200, 500, 1000)


def add_flags(parser, add_text_flags):
    parser.add_argument("--run_dir", action="append", required=True,
                        help="a char_rnn run directory; repeat the flag for one line per run")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="best: lowest validation loss; last: the last finished epoch")
    add_text_flags(parser)
    parser.add_argument("--distance", type=count(MAX_DISTANCE), default=100,
                        help="the largest T - t measured (windows of distance + 1 inputs)")
    parser.add_argument("--num", type=count(MAX_WINDOWS), default=64,
                        help="text windows averaged over (random positions in the text)")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="where the windows start; the same seed gives the same windows")
    parser.add_argument("--out", default="gradient_flow.png",
                        help="PNG file to write (an existing file only if this project "
                             "wrote it)")


def sample_windows(ids, distance, num, seed=0):
    """(num, distance + 2) int32 windows of `ids` at random starts: inputs x_0..x_T, target.

    Distinct starts when the text has that many; repeats only when it is short.
    """
    length = distance + 2
    starts = len(ids) - length + 1
    if starts < 1:
        raise UsageError(f"the text has {len(ids):,} characters; --distance {distance} "
                         f"needs at least {length}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(starts, size=num, replace=num > starts)
    return np.stack([ids[s:s + length] for s in chosen]).astype(np.int32)


def gradient_norms(model, windows):
    """||dL_T / de_t|| per window and distance: (num, T + 1), column d is T - t = d.

    model: a CharRNN; windows: (num, T + 2) ids, the last one the target of step T.
    """
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    @tf.function
    def chunk_norms(inputs, targets):
        with tf.GradientTape() as tape:
            embedded = model.embedding(inputs)  # (chunk, T + 1, embedding_dim)
            tape.watch(embedded)
            logits = model.from_embeddings(embedded)[:, -1]  # (chunk, vocab): step T only
            # A sum, not a mean: each window's gradient is that of its own loss L_T.
            loss = tf.reduce_sum(loss_fn(targets, logits))
        gradient = tape.gradient(loss, embedded)  # (chunk, T + 1, embedding_dim)
        return tf.norm(gradient, axis=-1)[:, ::-1]  # reversed: column d is step T - d

    pieces = [chunk_norms(tf.constant(w[:, :-1]), tf.constant(w[:, -1]))
              for w in np.array_split(windows, -(-len(windows) // CHUNK))]
    return np.concatenate([p.numpy() for p in pieces]).astype(np.float64)


def read_runs(run_dirs, checkpoint, out=None):
    """[(label, model, vocab)] of char_rnn runs; every directory (and `out`, the PNG to
    write) is checked before any model is loaded."""
    from week3_rnn.char_rnn_verbs import KIND, load_run

    configs = [RunDir(path).read_config(KIND) for path in run_dirs]
    if out is not None:
        check_out_file(out, read_runs=run_dirs)
    runs = []
    for path, config in zip(run_dirs, configs):
        model, vocab = load_run(path, checkpoint)
        name = os.path.basename(os.path.normpath(path))
        runs.append((f"{config['cell']} ({name})", model, vocab))
    return runs


def measure(runs, text, distance, num, seed=0):
    """{label: (num, distance + 1) norms} on the same windows of `text` for every run."""
    curves = {}
    for label, model, vocab in runs:
        unknown = vocab.unknown_chars(text)
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            raise UsageError(f"the text has characters outside the vocabulary of {label}: "
                             f"{shown}; pass the text the run was trained on")
        ids = np.asarray(vocab.encode(text), np.int32)
        curves[label] = gradient_norms(model, sample_windows(ids, distance, num, seed))
    return curves


def summary_lines(curves):
    """One line per run: the mean norm at a few distances and the decay from 1 to 50."""
    lines = []
    for label, norms in curves.items():
        mean = norms.mean(axis=0)
        shown = [f"d={d}: {mean[d]:.3g}" for d in SHOWN_DISTANCES if d < len(mean)]
        decay = f"; norm(1)/norm(50) = {mean[1] / mean[50]:.3g}" if len(mean) > 50 else ""
        lines.append(f"{label}: mean ||dL_T/de_t|| " + ", ".join(shown) + decay)
    return lines


def plot_curves(curves, path, title):
    """Mean norm (and the middle half of the windows, shaded) against T - t, log y."""
    fig, ax = new_figure(6.4, 4.2)
    for label, norms in curves.items():
        distances = np.arange(norms.shape[1])
        low, high = np.percentile(norms, [25, 75], axis=0)
        (line,) = ax.plot(distances, norms.mean(axis=0), label=label)
        ax.fill_between(distances, low, high, color=line.get_color(), alpha=0.15, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("distance T - t (characters back from the predicting step)\n"
                  "line: mean over the windows; band: their middle half (25-75%)")
    ax.set_ylabel("||d loss_T / d embedded input_t||")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, mark=True)


def run(args, read_text):
    """The verb: every --run_dir on the same windows, one PNG; returns the curves."""
    runs = read_runs(args.run_dir, args.checkpoint, args.out)
    text, source = read_text()
    curves = measure(runs, text, args.distance, args.num, args.seed)
    for line in summary_lines(curves):
        print(line)
    title = f"gradient flow: {args.num} windows of {os.path.basename(source)}"
    plot_curves(curves, args.out, title)
    print(f"wrote {args.out}")
    return curves
