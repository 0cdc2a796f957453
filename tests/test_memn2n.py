"""week4_qa.memn2n: the paper's position encoding, masking, linear start, random noise,
tries, training to high accuracy, predict, evaluate, export and resume."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from common.runs import RunDir
from common.cli import run_cli
from tests.conftest import snapshot
from week4_qa import babi_data, memn2n
from week4_qa.memn2n_model import (PRESETS, build_memn2n_model, estimated_size,
                                   position_encoding)
from week4_qa.memn2n_training import linear_start_on, spread_times

CONFIG = PRESETS["test"]
STORY = ("1 Mary moved to the bathroom.\n2 John went to the hallway.\n"
         "3 Mary travelled to the office.\n4 Daniel journeyed to the garden.\n")


def call_cli_ok(argv, capsys):
    """stdout of a CLI call that must succeed (run_cli returns instead of exiting)."""
    assert run_cli(memn2n.main, argv) is None
    return capsys.readouterr().out


def test_position_encoding_is_the_papers_formula():
    words, dim = 4, 5
    mask = np.array([[1, 1, 1, 1, 0, 0]], np.float32)  # a 4-word sentence padded to 6
    got = position_encoding(tf.constant(mask), dim).numpy()[0]
    for j in range(1, words + 1):
        for k in range(1, dim + 1):
            expected = (1 - j / words) - (k / dim) * (1 - 2 * j / words)
            assert got[j - 1, k - 1] == pytest.approx(expected, abs=1e-6)
    unpadded = position_encoding(tf.constant(mask[:, :words]), dim).numpy()[0]
    np.testing.assert_allclose(got[:words], unpadded, atol=1e-7)


@pytest.mark.parametrize("temporal", [True, False])
def test_estimated_size_counts_the_built_models_weights(temporal):
    config = dataclasses.replace(CONFIG, hops=3, temporal_encoding=temporal)
    model = build_memn2n_model(config, 40)
    # K + 1 = 4 tied embedding matrices (and temporal ones), not 2K as untied.
    assert estimated_size(config, 40, 10, 7).parameters == model.count_params() == (
        4 * 40 * 20 + (4 * config.memory_size * 20 if temporal else 0) + 1)


@pytest.mark.parametrize("linear", [0.0, 1.0])
def test_padding_changes_nothing_and_gets_no_attention(linear):
    model = build_memn2n_model(dataclasses.replace(CONFIG, hops=3), 30)
    model.get_layer("memory").linear.assign(linear)
    rng = np.random.default_rng(0)
    story = rng.integers(1, 30, (2, 3, 4)).astype(np.int32)
    story[1, 2] = 0                      # the second story has two memories
    story[0, 1, 2:] = 0                  # a two-word sentence
    query = rng.integers(1, 30, (2, 3)).astype(np.int32)
    padded = np.zeros((2, 7, 6), np.int32)
    padded[:, :3, :4] = story
    hops = memn2n.MemN2NServable(model, _Vocab(30), CONFIG.memory_size)

    def run(s):
        time = np.tile(np.arange(s.shape[1], dtype=np.int32), (2, 1))
        logits, attention = hops.model({"story": s, "query": query, "time": time})
        return tf.nn.softmax(logits).numpy(), attention.numpy()

    probabilities, attention = run(story)
    padded_probabilities, padded_attention = run(padded)
    np.testing.assert_allclose(padded_probabilities, probabilities, atol=1e-5)
    np.testing.assert_allclose(padded_attention[:, :, :3], attention, atol=1e-5)
    assert not padded_attention[:, :, 3:].any() and not attention[1, :, 2].any()
    if not linear:
        np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)


class _Vocab:
    """Just what MemN2NServable reads of a TokenVocab."""

    def __init__(self, size):
        self.tokens = ["<pad>", "<start>", "<end>", "<unk>"] + [f"w{i}" for i in range(size - 4)]

    def lookup_table(self):
        from common.tokens import TokenVocab

        return TokenVocab(self.tokens, "word").lookup_table()


def test_linear_start_ends_when_the_validation_loss_stops_falling():
    config = dataclasses.replace(CONFIG, epochs=10)

    def rows(*losses, linear=1.0):
        return [{"val_loss": loss, "linear": linear} for loss in losses]

    assert linear_start_on(config, [])
    assert linear_start_on(config, rows(3.0, 2.5, 2.0))
    assert not linear_start_on(config, rows(3.0, 2.5, 2.6))      # stopped falling
    assert not linear_start_on(config, rows(3.0, 2.5) + rows(2.4, linear=0.0))  # stays out
    assert not linear_start_on(config, rows(5, 4, 3, 2, 1))       # half the try at most
    assert not linear_start_on(dataclasses.replace(config, linear_start=False), [])


def test_random_noise_spreads_ages_but_keeps_their_order():
    story = np.zeros((3, 12, 2), np.int32)
    story[0, :10], story[1, :12], story[2, :1] = 1, 1, 1
    seen = set()
    for i in range(50):
        seed = tf.constant([i, 3], tf.int64)
        time = spread_times(tf.constant(story), 0.3, seed).numpy()
        assert (time == spread_times(tf.constant(story), 0.3, seed).numpy()).all()
        for row, memories in zip(time, (10, 12, 1)):
            used = row[:memories]
            assert (np.diff(used) > 0).all() and used[0] >= 0
            assert used[-1] < memories + int(np.ceil(0.3 * memories))
            assert list(row[memories:]) == list(range(memories, 12))  # padding untouched
        seen.add(tuple(time[0]))
    assert len(seen) > 5 and tuple(range(10)) + (10, 11) in seen


def test_training_reaches_high_accuracy_and_attends_to_the_facts(memn2n_run, tmp_path):
    run_dir, _, test = memn2n_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    results = memn2n.evaluate(str(copy), test)
    assert results["accuracy"] > 0.9            # about 0.99 measured; chance is 1/6
    assert results["supporting_fact_attention"] > 0.85
    assert results["unknown_words"] == 0 and results["questions"] == 1000
    saved = json.loads((copy / "results.json").read_text())
    assert saved["accuracy"] == results["accuracy"] and saved["from_try"] == 1
    state = RunDir(run_dir).read_state()
    rows = state["history"]
    assert rows[0]["linear"] == 1.0 and rows[-1]["linear"] == 0.0   # linear start ended
    softmax_losses = [row.get("val_loss_softmax", np.inf) for row in rows]
    assert state["best_epoch"] == int(np.argmin(softmax_losses)) + 1


def test_predict_prints_the_answer_and_each_hops_sentence(memn2n_run, tmp_path, capsys):
    run_dir, _, _ = memn2n_run
    story = tmp_path / "story.txt"
    story.write_text(STORY)
    before = snapshot(run_dir)
    out = call_cli_ok(["predict", "--run_dir", run_dir, "--story", str(story),
                       "Where is Mary?", "Where is Daniel?"], capsys)
    lines = out.splitlines()
    assert lines[0] == "office" and lines[CONFIG.hops + 1] == "garden"
    assert lines[1].startswith("  hop 1: attention ") and lines[1].endswith(
        "3 Mary travelled to the office.")
    assert len(lines) == 2 * (CONFIG.hops + 1)
    assert snapshot(run_dir) == before


def test_export_answers_as_predict_does(memn2n_run, tmp_path, capsys):
    run_dir, _, _ = memn2n_run
    export_dir = tmp_path / "export"
    call_cli_ok(["export", "--run_dir", run_dir, "--export_dir", str(export_dir)], capsys)
    servable, _, _, _ = memn2n.load_run(run_dir)
    statements = babi_data.story_statements(babi_data.parse_babi(STORY))
    loaded = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    for question in ("Where is John?", "Where is the unicorn?"):  # "unicorn": <unk>
        expected = memn2n.predict(servable, statements, question)
        out = loaded(story=tf.constant([t for _, t in statements]),
                     question=tf.constant(question))
        assert out["answer"].numpy().decode() == expected["answer"]
        np.testing.assert_allclose(out["attention"].numpy(), expected["attention"], atol=1e-6)
        assert out["attention"].shape == (CONFIG.hops, 4)
    # A story longer than the memory: the oldest statements get no attention.
    long_story = [f"Mary went to the {p}." for p in babi_data.PLACES] * 4
    out = loaded(story=tf.constant(long_story), question=tf.constant("Where is Mary?"))
    dropped = len(long_story) - CONFIG.memory_size
    assert not out["attention"].numpy()[:, :dropped].any()
    np.testing.assert_allclose(out["attention"].numpy().sum(-1), 1.0, atol=1e-5)
    expected = memn2n.predict(servable, list(enumerate(long_story[dropped:])), "Where is Mary?")
    assert out["answer"].numpy().decode() == expected["answer"]


def test_evaluate_on_generated_data_needs_no_data_flag(memn2n_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(memn2n_run[0], copy)
    out = call_cli_ok(["evaluate", "--run_dir", str(copy)], capsys)
    assert "accuracy" in out and (copy / "results.json").is_file()


def test_resume_and_a_second_try_equal_an_uninterrupted_run(tmp_path):
    train, _, settings = memn2n.load_task(1, None, 300)
    config = dataclasses.replace(CONFIG, epochs=2, tries=2)
    memn2n.train(config, str(tmp_path / "whole"), train, settings, seed=5, verbose=0)
    memn2n.train(dataclasses.replace(config, tries=1), str(tmp_path / "parts"), train,
                 settings, seed=5, verbose=0)
    memn2n.train(config, str(tmp_path / "parts"), train, settings, seed=5, resume=True,
                 verbose=0)
    whole, parts = (RunDir(str(tmp_path / name)).read_state() for name in ("whole", "parts"))
    assert [row["try"] for row in whole["history"]] == [1, 1, 2, 2]
    for a, b in zip(whole["history"], parts["history"]):
        for key in ("loss", "val_loss", "linear", "learning_rate"):
            assert a[key] == pytest.approx(b[key], rel=1e-5), key
    assert whole["best_epoch"] == parts["best_epoch"]
    weights = [memn2n.load_run(str(tmp_path / name), "last")[0].model.get_weights()
               for name in ("whole", "parts")]
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # The second try starts over: linear start again (the first try had ended it).
    assert [row["linear"] for row in whole["history"]] == [1.0, 0.0, 1.0, 0.0]
