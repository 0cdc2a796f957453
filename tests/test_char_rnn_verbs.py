"""The char-RNN's verbs in the shared grammar: generate (and its old name), evaluate, export."""

import json
import math
import shutil

import numpy as np
import pytest

from common.cli import run_cli
from week3_rnn import char_rnn


def call_cli(main, argv, capsys):
    """(status, stdout, stderr) of a CLI call that succeeds (run_cli returns, no exit)."""
    status = run_cli(main, argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_sample_is_generate_under_its_old_name(trained_run, capsys):
    argv = ["--run_dir", trained_run[0], "--prime", "the", "--length", "40", "--seed", "3"]
    status, new_text, new_err = call_cli(char_rnn.main, ["generate", *argv], capsys)
    assert status is None and new_err == ""
    status, old_text, old_err = call_cli(char_rnn.main, ["sample", *argv], capsys)
    assert status is None and old_text == new_text
    assert old_err.strip() == ("note: char_rnn sample is deprecated; use char_rnn generate "
                               "(same meaning)")


def test_generate_num_gives_one_text_per_seed(trained_run, capsys):
    argv = ["generate", "--run_dir", trained_run[0], "--prime", "a", "--length", "60"]
    _, both, _ = call_cli(char_rnn.main, [*argv, "--num", "2", "--seed", "7"], capsys)
    _, first, _ = call_cli(char_rnn.main, [*argv, "--seed", "7"], capsys)
    _, second, _ = call_cli(char_rnn.main, [*argv, "--seed", "8"], capsys)
    assert both == first + second and first != second


def test_generate_num_traces_the_decoding_loop_once(trained_run, capsys, monkeypatch):
    """`generate --num 5` builds its graph once and prints, per seed, what generate_seeded gives.

    generate_ids runs in Python only while a graph is traced, so counting its
    calls counts traces. generate_seeded, the SavedModel's signature, is the
    reference each seed's text must still equal.
    """
    import tensorflow as tf

    from week3_rnn import generation

    run_dir = trained_run[0]
    model, vocab = char_rnn.load_run(run_dir)
    servable = generation.CharRNNServable(model, vocab.chars)
    expected = "".join(
        servable.generate_seeded(tf.constant("the "), tf.constant(30), tf.constant(1.0),
                                 tf.constant(seed))["text"].numpy().decode() + "\n"
        for seed in range(7, 12))
    traces = []
    original = generation.generate_ids

    def counted(*args, **kwargs):
        traces.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(generation, "generate_ids", counted)
    status, out, err = call_cli(char_rnn.main, [
        "generate", "--run_dir", run_dir, "--prime", "the ", "--length", "30", "--num", "5",
        "--seed", "7"], capsys)
    assert status is None and err == ""
    assert len(traces) == 1
    assert out == expected


def test_evaluate_reports_the_validation_loss_on_the_validation_text(trained_run, corpus,
                                                                     test_config, tmp_path):
    # A copy: results.json written into the session's shared run would leak into other tests.
    run_dir = str(tmp_path / "run")
    shutil.copytree(trained_run[0], run_dir)
    vocab = trained_run[2]
    tail = corpus[-int(len(vocab.encode(corpus)) * test_config.val_fraction):]
    results = char_rnn.evaluate(run_dir, tail, checkpoint="last")
    with open(f"{run_dir}/results.json", encoding="utf-8") as f:
        saved = json.load(f)
    assert saved["bits_per_char"] == pytest.approx(results["bits_per_char"])
    assert results["bits_per_char"] == pytest.approx(results["loss"] / math.log(2))
    assert "tensorflow" in saved["provenance"] and saved["checkpoint"] == "last"
    # Same model, same windows as fit's validation pass: the same loss.
    state = json.load(open(f"{run_dir}/state.json", encoding="utf-8"))
    assert results["loss"] == pytest.approx(state["history"][-1]["val_loss"], rel=1e-3)


def test_export_has_metadata_and_int32_seeds(trained_run, tmp_path):
    import tensorflow as tf

    run_dir, model, vocab = trained_run
    path = char_rnn.export(model, vocab, str(tmp_path / "export"), run_dir=run_dir,
                           config={"units": 32})
    loaded = tf.saved_model.load(path)
    meta = loaded.signatures["metadata"]()
    info = json.loads(meta["json"].numpy().decode())
    assert info["kind"] == "char_rnn" and info["vocabulary"] == vocab.chars
    assert [c.decode() for c in meta["vocabulary"].numpy()] == vocab.chars
    assert info["signatures"]["generate_seeded"]["seed"]["dtype"] == "int32"
    assert info["signatures"]["generate"]["length"]["dtype"] == "int32"
    seeded = loaded.signatures["generate_seeded"]
    args = dict(prime=tf.constant("a"), length=tf.constant(30), temperature=tf.constant(1.0))
    one = seeded(seed=tf.constant(1), **args)["text"].numpy()
    assert one == seeded(seed=tf.constant(1), **args)["text"].numpy()
    assert one != seeded(seed=tf.constant(2), **args)["text"].numpy()


def test_litert_logits_match_tensorflow(trained_run, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    run_dir, model, vocab = trained_run
    path = char_rnn.export(model, vocab, str(tmp_path / "tflite"), run_dir=run_dir,
                           fmt="litert", config={"seq_length": 11})
    ids = np.array([vocab.encode("the cat sat")], np.int32)  # (1, 11)
    interpreter = Interpreter(model_path=f"{path}/logits.tflite")
    runner = interpreter.get_signature_runner()
    got = runner(token_ids=ids)["logits"]
    expected = model(ids).numpy()
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) <= 1e-4
    assert json.load(open(f"{path}/tfcourse_export.json"))["format"] == "litert"


def test_train_ends_with_the_commands_to_run_next(tmp_path, corpus_file, capsys):
    out_dir = str(tmp_path / "run")
    status, stdout, _ = call_cli(char_rnn.main, [
        "train", "--text", str(corpus_file), "--preset", "test", "--epochs", "1",
        "--out_dir", out_dir, "--verbose", "0"], capsys)
    assert status is None
    tail = stdout[stdout.index("next:"):]
    for verb in ("generate", "evaluate", "export"):
        assert f"python -m week3_rnn.char_rnn {verb} --run_dir {out_dir}" in tail
    config = json.load(open(f"{out_dir}/config.json", encoding="utf-8"))
    assert {"tensorflow", "keras", "numpy", "cpu", "cpu_flags"} <= config["provenance"].keys()
