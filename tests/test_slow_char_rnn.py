"""Slow tier: the char-RNN on real text (../shared/data), skipped when absent."""

import dataclasses

import pytest

from tests.conftest import shared_data
from week3_rnn import char_rnn
from week3_rnn.char_data import load_corpus
from week3_rnn.char_model import PRESETS


@pytest.mark.slow
def test_small_preset_learns_tinyshakespeare_quickly(tmp_path):
    data_dir = shared_data("tinyshakespeare")
    text, _ = load_corpus(dataset="tiny_shakespeare", data_dir=data_dir)
    assert len(text) == 1_115_394
    # One epoch over the first 420k characters: about 60 Adam steps.
    config = dataclasses.replace(PRESETS["small"], epochs=1, val_fraction=0.05)
    model, state, vocab = char_rnn.train(config, str(tmp_path / "run"), text[:420_000],
                                         verbose=0)
    val_loss = state["history"][-1]["val_loss"]
    # Uniform guessing is ln(65) = 4.17 nats; unigram frequencies about 3.3.
    assert val_loss < 2.4, val_loss
    sample = char_rnn.sample(model, vocab, "ROMEO:", 200, temperature=0.8, seed=0)
    words = sample.split()
    assert len(words) > 20 and sum(w.lower() in {"the", "and", "to", "i", "of", "a"}
                                   for w in words) >= 1
