"""char-RNN training speed: this project (Keras 3 / TF) against plain PyTorch.

Same model (embedding 64, 2 x 256 LSTM, dense to a 65-character vocabulary),
same batch (64 sequences of 100 characters), same optimizer (Adam, gradient
clipping by global norm 5), same random data, on this machine's CPU.

Each side runs in its own fresh process (so neither framework's thread pools
disturb the other), in alternating rounds: tfcourse, pytorch, tfcourse, ...
Each process trains `--warmup` steps untimed (tracing, allocation), then times
`--steps` steps. Prints the median characters/second of each side over the
rounds and the ratio tfcourse / pytorch (>= 1.0 means this project is faster).

    python benchmarks/char_rnn_vs_pytorch.py     # needs: pip install -r benchmarks/requirements.txt
    python benchmarks/char_rnn_vs_pytorch.py --cells lstm keras_lstm --rounds 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB, EMBEDDING, UNITS, LAYERS, SEQ, BATCH, CLIP, LR = 65, 64, 256, 2, 100, 64, 5.0, 2e-3


def random_batches(count, seed=0):
    """(count, batch, seq + 1) random ids, identical for both frameworks."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, size=(count, BATCH, SEQ + 1)).astype(np.int32)


def tfcourse_speed(cell, warmup, steps):
    """Characters/second of this project's training path (model.fit)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from week3_rnn.char_model import PRESETS, build_char_rnn

    config = PRESETS["small"].__class__(cell=cell, num_layers=LAYERS, units=UNITS,
                                        embedding_dim=EMBEDDING, seq_length=SEQ,
                                        batch_size=BATCH, learning_rate=LR, grad_clip=CLIP)
    model = build_char_rnn(config, VOCAB)
    windows = random_batches(warmup + steps)
    data = tf.data.Dataset.from_tensor_slices(windows).map(
        lambda w: (w[:, :-1], w[:, 1:])).prefetch(2)

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    clock = StepClock()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[clock], verbose=0)
    # Time from the end of the last warm-up step to the end of the last step.
    seconds = clock.times[-1] - clock.times[warmup - 1]
    return steps * BATCH * SEQ / seconds


def pytorch_speed(warmup, steps):
    """Characters/second of a plain PyTorch nn.LSTM model with the same shapes."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBEDDING)
            self.lstm = nn.LSTM(EMBEDDING, UNITS, num_layers=LAYERS, batch_first=True)
            self.head = nn.Linear(UNITS, VOCAB)

        def forward(self, ids):
            return self.head(self.lstm(self.embedding(ids))[0])

    model = CharLSTM()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    windows = torch.from_numpy(random_batches(warmup + steps)).long()

    def train_step(window):
        inputs, targets = window[:, :-1], window[:, 1:]
        optimizer.zero_grad()
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()

    for i in range(warmup):
        train_step(windows[i])
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        train_step(windows[i])
    return steps * BATCH * SEQ / (time.perf_counter() - start)


def measure_in_subprocess(side, warmup, steps):
    command = [sys.executable, os.path.abspath(__file__), "--measure", side,
               "--warmup", str(warmup), "--steps", str(steps)]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{side} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["chars_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--cells", nargs="+", default=["lstm", "keras_lstm"],
                        help="this project's cells to time (lstm: FastLSTM, the default; "
                             "keras_lstm: stock keras.layers.LSTM)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps per process")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per process")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one side, one process
    args = parser.parse_args()

    if args.measure:
        speed = (pytorch_speed(args.warmup, args.steps) if args.measure == "pytorch"
                 else tfcourse_speed(args.measure, args.warmup, args.steps))
        print(json.dumps({"chars_per_second": speed}))
        return

    sides = [*args.cells, "pytorch"]
    speeds = {side: [] for side in sides}
    for round_number in range(args.rounds):
        for side in sides:
            speeds[side].append(measure_in_subprocess(side, args.warmup, args.steps))
            print(f"round {round_number + 1}: {side:>10} {speeds[side][-1]:9,.0f} chars/s",
                  flush=True)
    torch_median = statistics.median(speeds["pytorch"])
    print(f"\nmodel: embedding {EMBEDDING}, {LAYERS} x {UNITS} LSTM, seq {SEQ}, batch {BATCH}; "
          f"{args.steps} timed steps x {args.rounds} rounds; medians")
    print(f"{'side':>22} {'chars/s':>10} {'ratio vs pytorch':>17}")
    for side in sides:
        median = statistics.median(speeds[side])
        name = "pytorch nn.LSTM" if side == "pytorch" else f"tfcourse --cell {side}"
        print(f"{name:>22} {median:10,.0f} {median / torch_median:17.2f}")


if __name__ == "__main__":
    main()
