"""tf.distribute selection and the shared training plumbing."""

from tests.conftest import run_on_two_cpus

MIRRORED_SCRIPT = r"""
import dataclasses, numpy as np
from common.training import get_strategy
from week3_rnn import char_rnn
from week3_rnn.char_model import PRESETS
from tests.conftest import make_corpus
strategy = get_strategy("mirrored")
assert strategy.num_replicas_in_sync == 2, strategy.num_replicas_in_sync
# Sequences of 5 characters, not the preset's 20: XLA compiles the LSTM loops unrolled
# over the sequence, and 5 steps compile much faster than 20 (the same code paths; more,
# shorter batches, so the loss falls further: 3.0 -> 1.6 against 3.5 -> 3.1).
config = dataclasses.replace(PRESETS["test"], epochs=2, val_fraction=0.2, seq_length=5)
model, state, vocab = char_rnn.train(config, OUT_DIR, make_corpus(), strategy="mirrored",
                                     verbose=0)
history = state["history"]
assert history[-1]["loss"] < history[0]["loss"], history
print("replicas", strategy.num_replicas_in_sync, "loss", history[0]["loss"],
      history[-1]["loss"])
"""


def test_mirrored_strategy_trains_on_two_logical_cpus(tmp_path):
    output = run_on_two_cpus(MIRRORED_SCRIPT, OUT_DIR=str(tmp_path / "run"))
    assert any(line.startswith("replicas 2 ") for line in output)
