"""char-RNN training speed: this project (Keras 3 / TF) against plain PyTorch.

Same model (embedding 64, 2 x 256 LSTM, dense to a 65-character vocabulary),
same batch (64 sequences of 100 characters), same optimizer (Adam, gradient
clipping by global norm 5), same random data, on this machine's CPU.

Each side runs in its own fresh process (so neither framework's thread pools
disturb the other), in alternating rounds: tfcourse, pytorch, tfcourse, ...
Each process trains `--warmup` steps untimed (tracing, allocation), then times
`--steps` steps. Prints the median characters/second of each side over the
rounds and the ratio tfcourse / pytorch (>= 1.0 means this project is faster).

    python -m benchmarks.char_rnn_vs_pytorch     # needs: pip install -r benchmarks/requirements.txt
    python -m benchmarks.char_rnn_vs_pytorch --cells lstm keras_lstm --rounds 3
    python -m benchmarks.char_rnn_vs_pytorch --cells lstm --bfloat16   # both sides in bf16 too

--bfloat16 adds each side again with bfloat16 products (AMX on CPUs that have it):
Keras's mixed_bfloat16 policy (variables float32) and PyTorch's CPU autocast to
bfloat16 (weights float32). Neither is what `train` runs; it measures the lever.
"""

import numpy as np
from benchmarks.side_by_side import (compare, keras_fit_speed, loop_speed, make_parser,
                                     print_measurement)

VOCAB, EMBEDDING, UNITS, LAYERS, SEQ, BATCH, CLIP, LR = 65, 64, 256, 2, 100, 64, 5.0, 2e-3
BF16 = "_bf16"  # a side's suffix: the same side with bfloat16 products


def random_batches(count, seed=0):
    """(count, batch, seq + 1) random ids, identical for both frameworks."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, size=(count, BATCH, SEQ + 1)).astype(np.int32)


def tfcourse_speed(cell, warmup, steps):
    """Characters/second of this project's training path (model.fit); a cell name ending
    in _bf16 runs under Keras's mixed_bfloat16 policy."""
    import keras
    import tensorflow as tf

    from week3_rnn.char_model import PRESETS, build_char_rnn

    if cell.endswith(BF16):
        keras.config.set_dtype_policy("mixed_bfloat16")
        cell = cell[:-len(BF16)]
    config = PRESETS["small"].__class__(cell=cell, num_layers=LAYERS, units=UNITS,
                                        embedding_dim=EMBEDDING, seq_length=SEQ,
                                        batch_size=BATCH, learning_rate=LR, grad_clip=CLIP)
    model = build_char_rnn(config, VOCAB)
    windows = random_batches(warmup + steps)
    data = tf.data.Dataset.from_tensor_slices(windows).map(
        lambda w: (w[:, :-1], w[:, 1:])).prefetch(2)
    return keras_fit_speed(model, data, warmup, steps, BATCH * SEQ)


def pytorch_speed(warmup, steps, bfloat16=False):
    """Characters/second of a plain PyTorch nn.LSTM model with the same shapes (the
    forward and loss under CPU autocast to bfloat16 if asked)."""
    import contextlib

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

    def train_step(i):
        inputs, targets = windows[i][:, :-1], windows[i][:, 1:]
        optimizer.zero_grad()
        with (torch.autocast("cpu", dtype=torch.bfloat16) if bfloat16
              else contextlib.nullcontext()):
            logits = model(inputs)
            loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB).float(),
                                               targets.reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()

    return loop_speed(train_step, warmup, steps, BATCH * SEQ)


def main():
    parser = make_parser(__doc__, warmup=5, steps=30)
    parser.add_argument("--cells", nargs="+", default=["lstm", "keras_lstm"],
                        help="this project's cells to time (lstm: FastLSTM, the default; "
                             "keras_lstm: stock keras.layers.LSTM)")
    parser.add_argument("--bfloat16", action="store_true",
                        help="each side again with bfloat16 products (module docstring)")
    args = parser.parse_args()

    if args.measure:
        if args.measure.startswith("pytorch"):
            speed = pytorch_speed(args.warmup, args.steps, args.measure.endswith(BF16))
        else:
            speed = tfcourse_speed(args.measure, args.warmup, args.steps)
        print_measurement(speed)
        return
    print(f"model: embedding {EMBEDDING}, {LAYERS} x {UNITS} LSTM, seq {SEQ}, batch {BATCH}")
    names = {cell: f"tfcourse --cell {cell}" for cell in args.cells}
    names["pytorch"] = "pytorch nn.LSTM"
    sides = [*args.cells, "pytorch"]
    if args.bfloat16:
        names.update({side + BF16: names[side] + " bf16" for side in sides})
        sides = [*sides[:-1], *(side + BF16 for side in sides[:-1]), "pytorch" + BF16,
                 "pytorch"]
    compare(__file__, sides, "pytorch", args.rounds, args.warmup, args.steps, "chars",
            names)


if __name__ == "__main__":
    main()
