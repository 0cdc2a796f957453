"""The char-RNN with the lecture's vanilla RNN and peephole LSTM cells (`--cell`).

Each cell is trained once through the command (`train --cell ...`, the test
preset), then read back, generated from and exported like any other run.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from week3_rnn import char_rnn
from week3_rnn.cells import LectureRNNCell
from week3_rnn.generation import generate_ids
from week3_rnn.peephole_cell import PeepholeLSTMCell

NEW_CELLS = {"lecture_rnn": LectureRNNCell, "peephole_lstm": PeepholeLSTMCell}


@pytest.fixture(scope="module", params=sorted(NEW_CELLS))
def cell_run(request, tmp_path_factory, corpus):
    """(cell name, run_dir, model, vocab) of a test-preset run trained by the command."""
    folder = tmp_path_factory.mktemp(request.param)
    text = folder / "corpus.txt"
    text.write_text(corpus, encoding="utf-8")
    run_dir = str(folder / "run")
    char_rnn.main(["train", "--text", str(text), "--preset", "test", "--cell", request.param,
                   "--epochs", "3", "--out_dir", run_dir, "--verbose", "0"])
    model, vocab = char_rnn.load_run(run_dir, "last")
    return request.param, run_dir, model, vocab


def test_the_cell_trains_and_the_loss_falls(cell_run):
    cell, run_dir, model, _ = cell_run
    with open(f"{run_dir}/state.json", encoding="utf-8") as f:
        history = json.load(f)["history"]
    assert len(history) == 3
    assert history[-1]["loss"] < history[0]["loss"] - 0.2
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    with open(f"{run_dir}/config.json", encoding="utf-8") as f:
        assert json.load(f)["cell"] == cell
    assert type(model.recurrent_layers[0].cell) is NEW_CELLS[cell]


def test_weights_that_start_at_zero_were_trained(cell_run):
    """The peepholes (and the RNN's bias) start at zero; training must move them."""
    cell, _, model, _ = cell_run
    zero_at_start = {"lecture_rnn": ["bias"],
                     "peephole_lstm": ["input_peephole", "forget_peephole", "output_peephole"]}
    weights = {w.name: np.asarray(w) for w in model.recurrent_layers[0].cell.weights}
    for name in zero_at_start[cell]:
        assert np.abs(weights[name]).max() > 1e-3, name


def test_keras_file_round_trip_gives_the_same_logits(cell_run, tmp_path):
    _, run_dir, model, vocab = cell_run
    best, _ = char_rnn.load_run(run_dir, "best")
    path = tmp_path / "again.keras"
    model.save(path)
    import keras

    again = keras.saving.load_model(path)
    ids = np.array([vocab.encode("the cat 고양이")], dtype=np.int32)
    np.testing.assert_array_equal(np.asarray(again(ids)), np.asarray(model(ids)))
    assert best(ids).shape == (1, ids.shape[1], len(vocab))


def test_generation_carries_the_state_like_rereading_the_prefix(cell_run):
    _, _, model, vocab = cell_run
    prime = vocab.encode("a dog")
    carried = generate_ids(model, tf.constant(prime, tf.int32), 25, 1.0,
                           tf.constant([0, 0], tf.int64), sampling="argmax").numpy()
    ids = list(prime)
    for _ in range(25):
        logits = model(np.array([ids], np.int32))[0, -1]
        ids.append(int(np.argmax(logits)))
    np.testing.assert_array_equal(carried, ids[len(prime):])


def test_saved_model_export_generates_the_same_text(cell_run, tmp_path, capsys):
    _, run_dir, model, vocab = cell_run
    export_dir = str(tmp_path / "export")
    char_rnn.main(["export", "--run_dir", run_dir, "--checkpoint", "last",
                   "--export_dir", export_dir])
    assert "wrote" in capsys.readouterr().out
    reloaded = tf.saved_model.load(export_dir)
    ids = np.array([vocab.encode("the dog 강아지")], dtype=np.int32)
    np.testing.assert_allclose(reloaded.signatures["logits"](token_ids=ids)["logits"],
                               model(ids), atol=1e-5)
    text = reloaded.signatures["generate_seeded"](
        prime=tf.constant("the "), length=tf.constant(30), temperature=tf.constant(1.0),
        seed=tf.constant(4))["text"].numpy().decode()
    assert text == char_rnn.sample(model, vocab, "the ", 30, temperature=1.0, seed=4)


def test_litert_export_gives_the_same_logits(cell_run, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    _, run_dir, model, vocab = cell_run
    path = char_rnn.export(model, vocab, str(tmp_path / "tflite"), run_dir=run_dir,
                           fmt="litert", config={"seq_length": 11})
    ids = np.array([vocab.encode("the cat sat")], np.int32)  # (1, 11)
    runner = Interpreter(model_path=f"{path}/logits.tflite").get_signature_runner()
    got = runner(token_ids=ids)["logits"]
    assert np.max(np.abs(got - model(ids).numpy())) <= 1e-4
