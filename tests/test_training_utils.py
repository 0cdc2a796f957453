"""tf.distribute selection and the shared training plumbing."""

from tests.conftest import REPO_ROOT, run_python

MIRRORED_SCRIPT = r"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
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
    script = MIRRORED_SCRIPT.replace("OUT_DIR", repr(str(tmp_path / "run")))
    result = run_python(script, REPO_ROOT, with_project=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "replicas 2" in result.stdout
