"""word2vec's export: vectors stored once as a variable, the metadata signature, the
by-id signatures, LiteRT files that match TensorFlow, and an export that loses nothing."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from common.cli import run_cli
from tests.conftest import assert_one_line_error, call_cli
from word2vec import skipgram
from word2vec.corpus import CountedVocab
from word2vec.servable import Word2VecServable
from word2vec.vectors import WordVectors, save_embeddings


def synthetic_vectors(size, dim, seed=0):
    words = [f"w{i}" for i in range(size - 1)] + ["<unk>"]
    vocab = CountedVocab(words, list(range(size - 1, 0, -1)) + [0])
    return WordVectors(np.random.default_rng(seed).normal(size=(size, dim)), vocab)


@pytest.fixture(scope="module")
def vector_run(tmp_path_factory):
    """A run directory with vectors only (as neighbors/evaluate/export read them)."""
    run_dir = tmp_path_factory.mktemp("vectors") / "run"
    run_dir.mkdir()
    vectors = synthetic_vectors(40, 8)
    vectors.vocab.save(str(run_dir / "vocab.json"))
    save_embeddings(vectors.vectors, str(run_dir / "embeddings.npy"))
    return run_dir, vectors


def folder_bytes(path, suffix=""):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path)
               for name in names if name.endswith(suffix))


def test_vectors_are_one_variable_stored_once(tmp_path):
    graph_bytes = {}
    for dim in (8, 512):
        vectors = synthetic_vectors(500, dim)
        path = skipgram.export(vectors, str(tmp_path / f"dim{dim}"))
        graph_bytes[dim] = os.path.getsize(os.path.join(path, "saved_model.pb"))
        table_bytes = vectors.vectors.nbytes  # 1,024,000 at dim 512
        assert table_bytes <= folder_bytes(os.path.join(path, "variables")) < 1.5 * table_bytes
    # The graph holds the vocabulary, not the vectors: it does not grow with them.
    assert abs(graph_bytes[512] - graph_bytes[8]) < 0.01 * table_bytes
    loaded = tf.saved_model.load(path)
    assert isinstance(loaded.vectors, tf.Variable)
    np.testing.assert_array_equal(loaded.vectors.numpy(), vectors.vectors)


def test_metadata_and_signatures(vector_run, tmp_path):
    _, vectors = vector_run
    path = skipgram.export(vectors, str(tmp_path / "export"), config={"arch": "skipgram"})
    loaded = tf.saved_model.load(path)
    assert set(loaded.signatures) == {"lookup", "neighbors", "lookup_ids", "neighbors_ids",
                                      "serving_default", "metadata"}
    out = loaded.signatures["metadata"]()
    meta = json.loads(out["json"].numpy().decode())
    assert meta["kind"] == "word2vec" and meta["config"] == {"arch": "skipgram"}
    assert meta["vocabulary"] == vectors.vocab.words and meta["unknown"] == "<unk>"
    assert [w.decode() for w in out["vocabulary"].numpy()] == vectors.vocab.words
    assert meta["signatures"]["neighbors"] == {
        "k": {"dtype": "int32", "shape": []}, "words": {"dtype": "string", "shape": [None]}}
    assert meta["signatures"]["lookup"] == {"words": {"dtype": "string", "shape": [None]}}
    # tf.constant(5) is int32: the README's one-liner works as before.
    near = loaded.signatures["neighbors"](words=tf.constant(["w3"]), k=tf.constant(5))
    by_id = loaded.signatures["neighbors_ids"](ids=tf.constant([3]), k=tf.constant(5))
    expected = vectors.neighbors("w3", 5)
    assert [w.decode() for w in near["neighbors"].numpy()[0]] == [w for w, _ in expected]
    assert by_id["ids"].numpy()[0].tolist() == [vectors.vocab.index[w] for w, _ in expected]
    np.testing.assert_allclose(by_id["cosines"].numpy()[0], [c for _, c in expected], atol=1e-5)
    looked_up = loaded.signatures["lookup_ids"](ids=tf.constant([0, 39]))["vectors"]
    np.testing.assert_allclose(looked_up.numpy(), vectors.vectors[[0, 39]], rtol=1e-6)


def run_tflite(path, inputs):
    """Outputs of a .tflite model, by dtype name, for inputs given in signature order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    details = sorted(interpreter.get_input_details(), key=lambda d: d["name"])
    for detail, value in zip(details, inputs):
        interpreter.resize_tensor_input(detail["index"], value.shape)
    interpreter.allocate_tensors()
    for detail, value in zip(details, inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return {d["dtype"].__name__: interpreter.get_tensor(d["index"])
            for d in interpreter.get_output_details()}


def test_litert_export_matches_tensorflow(vector_run, tmp_path, capsys):
    run_dir, vectors = vector_run
    export_dir = tmp_path / "tfl"
    run_cli(skipgram.main, ["export", "--run_dir", str(run_dir), "--export_dir",
                            str(export_dir), "--format", "litert"])
    out = capsys.readouterr().out
    assert "LookupTableFindV2" in out  # why the by-word signatures are SavedModel-only
    assert sorted(os.listdir(export_dir)) == ["lookup_ids.tflite", "metadata.json",
                                              "neighbors_ids.tflite", "tfcourse_export.json"]
    metadata = json.loads((export_dir / "metadata.json").read_text())
    assert metadata["vocabulary"] == vectors.vocab.words
    servable = Word2VecServable(vectors.vectors, vectors.vocab.words, "<unk>")
    ids = np.array([0, 5, 38], np.int32)
    expected = servable.lookup_ids(tf.constant(ids))["vectors"].numpy()
    got = run_tflite(str(export_dir / "lookup_ids.tflite"), [ids])["float32"]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    k = np.array(4, np.int32)
    expected = servable.neighbors_ids(tf.constant(ids), tf.constant(k))
    got = run_tflite(str(export_dir / "neighbors_ids.tflite"), [ids, k])
    np.testing.assert_array_equal(got["int32"], expected["ids"].numpy())
    np.testing.assert_allclose(got["float32"], expected["cosines"].numpy(), atol=1e-4)


def test_overwrite_replaces_only_an_earlier_export(vector_run, tmp_path, capsys):
    run_dir, _ = vector_run
    export = ["export", "--run_dir", str(run_dir), "--export_dir", str(tmp_path / "export")]
    run_cli(skipgram.main, export)
    run_cli(skipgram.main, [*export, "--overwrite"])  # an earlier export: replaced
    assert os.path.exists(tmp_path / "export" / "saved_model.pb")
    capsys.readouterr()
    other = tmp_path / "someone_else"
    other.mkdir()
    (other / "canary.txt").write_bytes(b"keep me\x00")
    status, _, stderr = call_cli(skipgram.main, [
        "export", "--run_dir", str(run_dir), "--export_dir", str(other), "--overwrite"], capsys)
    assert_one_line_error(status, stderr, "not an export written by this project")
    assert os.listdir(other) == ["canary.txt"]
    assert (other / "canary.txt").read_bytes() == b"keep me\x00"


@pytest.mark.parametrize("where, fragment", [
    ("inside", "lies inside the run directory"),
    ("run", "is or contains"),
])
def test_export_never_writes_into_or_over_the_run(vector_run, capsys, where, fragment):
    run_dir, _ = vector_run
    before = sorted(os.listdir(run_dir))
    target = run_dir / "exported" if where == "inside" else run_dir
    status, _, stderr = call_cli(skipgram.main, [
        "export", "--run_dir", str(run_dir), "--export_dir", str(target), "--overwrite"], capsys)
    assert_one_line_error(status, stderr, fragment)
    assert sorted(os.listdir(run_dir)) == before


def test_export_of_another_commands_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text('{"kind": "char_rnn"}')
    status, _, stderr = call_cli(skipgram.main, [
        "export", "--run_dir", str(run_dir), "--export_dir", str(tmp_path / "export")], capsys)
    assert_one_line_error(status, stderr, "holds a 'char_rnn' run")
    assert not (tmp_path / "export").exists()
