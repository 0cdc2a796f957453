"""PTB commands: score, generate (and its old spellings), evaluate, export, LiteRT."""

import json
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from common.cli import run_cli
from tests.conftest import run_python
from week3_rnn import ptb
from week3_rnn.ptb_servable import PTBServable

def test_score_command_prints_word_log_probs_and_perplexity(trained_ptb, capsys):
    run_cli(ptb.main, ["score", "--run_dir", trained_ptb[0], "The cat sat on zebra"])
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out[:6]] == ["The", "cat", "sat", "on", "zebra", "<eos>"]
    assert "scored as the" in out[0] and "scored as <unk>" in out[4]
    log_probs = [float(line.split()[1]) for line in out[:6]]
    assert out[6].startswith("perplexity ")
    assert float(out[6].split()[1]) == pytest.approx(math.exp(-np.mean(log_probs)), rel=1e-2)


def test_generate_is_reproducible_and_uses_vocabulary_words(trained_ptb):
    _, model, _, vocab, _ = trained_ptb
    first = ptb.generate(model, vocab, num_sentences=4, max_words=12, seed=5)
    assert first == ptb.generate(model, vocab, num_sentences=4, max_words=12, seed=5)
    assert first != ptb.generate(model, vocab, num_sentences=4, max_words=12, seed=6)
    for sentence in first:
        words = sentence.split()
        assert len(words) <= 12 and "<eos>" not in words and set(words) <= set(vocab.words)


def test_export_round_trip_scores_without_the_project(trained_ptb, tmp_path):
    _, model, _, vocab, _ = trained_ptb
    export_dir = str(tmp_path / "export")
    ptb.export(model, vocab, export_dir)
    sentences = ["the cat sat on the mat", "a dog bought N shares zebra"]
    score = tf.saved_model.load(export_dir).signatures["score"]
    out = score(sentences=tf.constant(sentences + [""]))
    for i, sentence in enumerate(sentences):
        word_log_probs, perplexity = ptb.score(model, vocab, sentence)
        assert out["perplexity"][i].numpy() == pytest.approx(perplexity, rel=1e-5)
        # By hand: read after <eos> from zeros, predict every word and the final <eos>.
        ids = vocab.encode(sentence.split() + ["<eos>"])
        logits = model(np.array([[vocab.index["<eos>"]] + ids[:-1]])).numpy()[0]
        log_softmax = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        by_hand = math.exp(-np.mean(log_softmax[np.arange(len(ids)), ids]))
        assert perplexity == pytest.approx(by_hand, rel=1e-4)
    assert np.isnan(out["perplexity"][2].numpy())
    script = ("import tensorflow as tf, sys\n"
              "assert not any('week3_rnn' in m for m in sys.modules)\n"
              f"model = tf.saved_model.load({export_dir!r})\n"
              "out = model.signatures['score'](sentences=tf.constant(['the cat sat on the mat']))\n"
              "print(float(out['perplexity'][0]))\n"
              "out = model.signatures['generate'](num_sentences=tf.constant(2),"
              " max_words=tf.constant(10), temperature=tf.constant(1.0))\n"
              "print(len(out['sentences'].numpy()))\n")
    result = run_python(script, tmp_path, with_project=False, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    perplexity, count = result.stdout.split()[-2:]
    assert float(perplexity) == pytest.approx(float(out["perplexity"][0]), rel=1e-5)
    assert count == "2"



def test_generate_num_and_length_and_their_old_spellings(trained_ptb, capsys):
    run_dir, model, _, vocab, _ = trained_ptb
    expected = ptb.generate(model, vocab, num_sentences=3, max_words=7, seed=2)
    base = ["generate", "--run_dir", run_dir, "--checkpoint", "last", "--seed", "2"]
    run_cli(ptb.main, base + ["--num", "3", "--length", "7"])
    new = capsys.readouterr()
    assert new.out.splitlines() == expected and new.err == ""
    run_cli(ptb.main, base + ["--num_sentences", "3", "--max_words", "7"])
    old = capsys.readouterr()
    assert old.out == new.out
    assert old.err.splitlines() == [
        "note: --num_sentences is deprecated; use --num (same meaning)",
        "note: --max_words is deprecated; use --length (same meaning)"]
    run_cli(ptb.main, ["generate", "--run_dir", run_dir])  # the defaults: 5 of at most 50
    sentences = capsys.readouterr().out.splitlines()
    assert len(sentences) == 5 and all(len(s.split()) <= 50 for s in sentences)


def test_evaluate_a_split_or_a_text_file_keeps_the_training_results(trained_ptb, tmp_path,
                                                                   capsys):
    results = trained_ptb[2]
    run_dir = str(tmp_path / "run")
    shutil.copytree(trained_ptb[0], run_dir)  # evaluate writes results.json into the run
    others = {name: open(os.path.join(run_dir, name), "rb").read()
              for name in ("config.json", "state.json", "vocab.json", "best.keras")}
    run_cli(ptb.main, ["evaluate", "--run_dir", run_dir, "--checkpoint", "last"])
    assert capsys.readouterr().out.startswith("perplexity ")
    saved = json.load(open(os.path.join(run_dir, "results.json")))
    assert saved["split"] == "test" and saved["checkpoint"] == "last"
    # The same number train printed: batch 1, state carried, the last epoch's weights.
    assert saved["perplexity"] == pytest.approx(results["test_perplexity"], rel=1e-5)
    assert saved["perplexity"] == pytest.approx(math.exp(saved["cross_entropy"]))
    assert saved["training"] == pytest.approx(results) and "provenance" in saved
    text = tmp_path / "sentences.txt"
    text.write_bytes(open(os.path.join(trained_data_dir(run_dir), "ptb.test.txt"), "rb").read())
    run_cli(ptb.main, ["evaluate", "--run_dir", run_dir, "--checkpoint", "last",
                       "--text", str(text)])
    on_text = json.load(open(os.path.join(run_dir, "results.json")))
    assert on_text["perplexity"] == pytest.approx(saved["perplexity"], rel=1e-6)
    assert on_text["text"] == str(text) and on_text["unknown_words"] == 1  # "zebra"
    assert on_text["training"] == saved["training"]  # kept through a second evaluation
    run_cli(ptb.main, ["evaluate", "--run_dir", run_dir, "--split", "valid"])
    assert json.load(open(os.path.join(run_dir, "results.json")))["split"] == "valid"
    capsys.readouterr()
    # A reading verb: nothing else in the run directory changed.
    assert others == {name: open(os.path.join(run_dir, name), "rb").read() for name in others}


def trained_data_dir(run_dir):
    return json.load(open(os.path.join(run_dir, "config.json")))["source"]


def test_export_has_metadata_and_a_seeded_int32_generate(trained_ptb, tmp_path, capsys):
    run_dir, model, _, vocab, _ = trained_ptb
    export_dir = str(tmp_path / "export")
    run_cli(ptb.main, ["export", "--run_dir", run_dir, "--export_dir", export_dir,
                       "--checkpoint", "last"])
    run_cli(ptb.main, ["export", "--run_dir", run_dir, "--export_dir", export_dir,
                       "--checkpoint", "last", "--overwrite"])  # replaces its own export
    assert capsys.readouterr().out.count(f"wrote {export_dir}") == 2
    loaded = tf.saved_model.load(export_dir)
    assert set(loaded.signatures) == {"score", "generate", "generate_seeded", "logits",
                                      "metadata", "serving_default"}
    metadata = json.loads(loaded.signatures["metadata"]()["json"].numpy().decode())
    assert metadata["kind"] == "ptb" and metadata["vocabulary"] == vocab.words
    assert metadata["config"]["hidden_size"] == 16 and metadata["config"]["preset"] == "test"
    assert set(metadata["signatures"]) >= {"score", "generate", "generate_seeded", "logits"}
    dtypes = {"num_sentences": "int32", "max_words": "int32", "temperature": "float32",
              "seed": "int32"}
    seeded = loaded.signatures["generate_seeded"].structured_input_signature[1]
    assert {name: spec.dtype.name for name, spec in seeded.items()} == dtypes
    listed = metadata["signatures"]["generate_seeded"]
    assert {name: spec["dtype"] for name, spec in listed.items()} == dtypes
    out = loaded.signatures["generate_seeded"](
        num_sentences=tf.constant(4), max_words=tf.constant(12), temperature=tf.constant(1.0),
        seed=tf.constant(5))
    assert [s.decode() for s in out["sentences"].numpy()] == ptb.generate(
        model, vocab, num_sentences=4, max_words=12, seed=5)
    ids = np.array([[3, 1, 4, 1, 5]], np.int32)
    state = np.random.default_rng(0).normal(size=(1, 2, 1, 16)).astype(np.float32)
    step = loaded.signatures["logits"](token_ids=tf.constant(ids), state=tf.constant(state))
    logits, states = model(ids, [[state[0, 0], state[0, 1]]], return_state=True)
    np.testing.assert_allclose(step["logits"], logits, atol=1e-5)
    np.testing.assert_allclose(step["state"][0], np.stack(states[0]), atol=1e-5)


def test_litert_logits_match_tensorflow(trained_ptb, tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    run_dir, model, _, vocab, _ = trained_ptb
    export_dir = str(tmp_path / "tfl")
    run_cli(ptb.main, ["export", "--run_dir", run_dir, "--export_dir", export_dir,
                       "--checkpoint", "last", "--format", "litert"])
    assert "logits.tflite" in capsys.readouterr().out
    assert json.load(open(os.path.join(export_dir, "metadata.json")))["vocabulary"] == vocab.words
    interpreter = Interpreter(os.path.join(export_dir, "logits.tflite"))
    state = np.random.default_rng(1).normal(size=(1, 2, 1, 16)).astype(np.float32)
    inputs = {d["name"]: d for d in interpreter.get_input_details()}
    (ids_in,) = [d for name, d in inputs.items() if "token_ids" in name]
    (state_in,) = [d for name, d in inputs.items() if "state" in name]
    interpreter.allocate_tensors()
    servable = PTBServable(model, vocab)
    for word_id in (3, 1, 4, 1, 5):  # a few steps, the state carried as an app would
        interpreter.set_tensor(ids_in["index"], np.array([[word_id]], np.int32))
        interpreter.set_tensor(state_in["index"], state)
        interpreter.invoke()
        # The outputs by rank: logits (1, 1, vocab), state (layers, 2, 1, hidden).
        got = {("logits" if len(d["shape"]) == 3 else "state"): interpreter.get_tensor(
            d["index"]) for d in interpreter.get_output_details()}
        want = servable.logits(tf.constant([[word_id]]), tf.constant(state))
        np.testing.assert_allclose(got["logits"], want["logits"], atol=1e-4)
        np.testing.assert_allclose(got["state"], want["state"], atol=1e-4)
        state = got["state"]


def test_train_ends_with_the_commands_to_run_next(ptb_dir, tmp_path, capsys):
    out_dir = str(tmp_path / "run")
    run_cli(ptb.main, ["train", "--data_dir", ptb_dir, "--preset", "test", "--out_dir", out_dir,
                       "--verbose", "0"])
    out = capsys.readouterr().out
    tail = out[out.index("next:"):]
    for verb in ("evaluate", "generate", "score", "export"):
        assert f"python -m week3_rnn.ptb {verb} --run_dir {out_dir}" in tail
    assert json.load(open(os.path.join(out_dir, "config.json")))["source"] == ptb_dir


def test_the_command_module_imports_nothing_heavy(tmp_path):
    script = ("import sys\nimport week3_rnn.ptb\n"
              "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))\n")
    result = run_python(script, tmp_path, with_project=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr[-2000:]
