"""PTB small-configuration training speed: this project against plain PyTorch.

The tutorial's small model on both sides: embedding 200, 2 x 200 LSTM
(forget bias 0), softmax over 10,000 words, batch 20 x 20 steps, plain SGD at
lr 1.0 on the cross-entropy summed over the steps, global-norm clipping 5,
the final state of each batch carried into the next, uniform(-0.1, 0.1)
weights, the same random word ids. Prints words/second per side (medians of
alternating rounds, each side in its own process; see side_by_side.py) and
the ratio tfcourse / pytorch.

    pip install -r benchmarks/requirements.txt   # the peer (PyTorch)
    python -m benchmarks.ptb_vs_pytorch --rounds 3
"""

import numpy as np

from benchmarks.side_by_side import keras_fit_speed, loop_speed, run_pair

VOCAB, HIDDEN, LAYERS, STEPS, BATCH, CLIP, LR, INIT = 10000, 200, 2, 20, 20, 5.0, 1.0, 0.1


def random_ids(num_batches, seed=0):
    """A word stream long enough for `num_batches` batches, identical for both sides."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, size=BATCH * (num_batches * STEPS + 1)).astype(np.int32)


def tfcourse_speed(warmup, steps):
    """Words/second of this project's training path (PTBModel.fit)."""
    from week3_rnn.ptb_data import epoch_dataset
    from week3_rnn.ptb_model import PRESETS, build_ptb_model

    model = build_ptb_model(PRESETS["small"], VOCAB)
    data = epoch_dataset(random_ids(warmup + steps), BATCH, STEPS, repeat=True)
    return keras_fit_speed(model, data, warmup, steps, BATCH * STEPS)


def pytorch_speed(warmup, steps):
    """Words/second of the same model and training step written in PyTorch."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class PTBLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, HIDDEN)
            self.lstm = nn.LSTM(HIDDEN, HIDDEN, num_layers=LAYERS, batch_first=True)
            self.head = nn.Linear(HIDDEN, VOCAB)
            for weight in self.parameters():
                nn.init.uniform_(weight, -INIT, INIT)
            for name, bias in self.lstm.named_parameters():
                if name.startswith("bias"):
                    nn.init.zeros_(bias)  # forget bias 0, like the tutorial's cell

        def forward(self, ids, state):
            outputs, state = self.lstm(self.embedding(ids), state)
            return self.head(outputs), state

    model = PTBLSTM()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    ids = torch.from_numpy(random_ids(warmup + steps)).long()
    stream = ids.reshape(BATCH, -1)  # (batch, words): row b is the b-th slice of the stream
    zeros = torch.zeros(LAYERS, BATCH, HIDDEN)
    state = [(zeros, zeros)]

    def train_step(i):
        inputs = stream[:, i * STEPS:(i + 1) * STEPS]
        targets = stream[:, i * STEPS + 1:(i + 1) * STEPS + 1]
        optimizer.zero_grad()
        logits, new_state = model(inputs, state[0])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))
        (loss * STEPS).backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        state[0] = tuple(s.detach() for s in new_state)  # truncated BPTT

    return loop_speed(train_step, warmup, steps, BATCH * STEPS)


def main():
    run_pair(__file__, __doc__, {"tfcourse": tfcourse_speed, "pytorch": pytorch_speed},
             {"tfcourse": "tfcourse PTBModel", "pytorch": "pytorch nn.LSTM"}, "words",
             warmup=10, steps=200,
             header=f"PTB small: {LAYERS} x {HIDDEN} LSTM, vocab {VOCAB}, batch {BATCH} x "
                    f"{STEPS}, SGD")


if __name__ == "__main__":
    main()
