"""word2vec training, evaluation, projector output and SavedModel, on planted structure."""

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest

from tests.conftest import run_python
from word2vec import evaluation, skipgram
from word2vec.model import PRESETS, build_word2vec
from word2vec.pairs import training_dataset
from word2vec.projector import tsne
from word2vec.vectors import WordVectors

# Four topics; a sentence draws all its words from one topic, so words of a
# topic share their contexts and should end up nearest to each other.
TOPICS = [["cat", "dog", "mouse", "horse", "cow"], ["red", "green", "blue", "yellow", "black"],
          ["one", "two", "three", "four", "five"], ["고양이", "강아지", "토끼", "여우", "곰"]]


def planted_tokens(sentences=400, length=8, seed=0):
    rng = np.random.default_rng(seed)
    tokens = []
    for i in range(sentences):
        tokens += list(rng.choice(TOPICS[i % len(TOPICS)], length))
    return tokens


def preset_config(**changes):
    return dataclasses.replace(PRESETS["test"], **changes)


def train_planted(run_dir, arch="skipgram", epochs=4):
    return skipgram.train(preset_config(arch=arch, epochs=epochs), str(run_dir),
                          planted_tokens(), seed=1, verbose=0)


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """(run_dir, model, vocab) of a skip-gram run on the planted corpus, trained once."""
    run_dir = str(tmp_path_factory.mktemp("skipgram") / "run")
    return (run_dir, *train_planted(run_dir))


def assert_topics_are_neighbours(run_dir):
    vectors = WordVectors.load(run_dir)
    for topic in TOPICS:
        for word in topic:
            nearest = [w for w, _ in vectors.neighbors(word, k=4)]
            assert sorted(nearest) == sorted(set(topic) - {word}), (word, nearest)


def mean_loss(model, batches):
    return float(np.mean([model.example_losses(x, y).numpy().mean() for x, y in batches]))


def test_loss_falls(planted_run):
    run_dir, model, vocab = planted_run
    history = json.load(open(os.path.join(run_dir, "state.json")))["history"]
    assert len(history) == 4 and history[-1]["loss"] < history[0]["loss"]
    # The same batches score far better than before training.
    config = preset_config(arch=model.arch)
    data, _ = training_dataset(vocab.training_ids(planted_tokens()), np.ones(len(vocab)),
                               config.window, config.arch, 256, seed=5, first_epoch=0, epochs=1)
    batches = list(data.take(10))
    untrained = build_word2vec(config, vocab.counts, seed=1)
    assert mean_loss(model, batches) < 0.7 * mean_loss(untrained, batches)


def test_planted_neighbours_come_first(planted_run):
    assert_topics_are_neighbours(planted_run[0])


def test_cbow_finds_the_planted_neighbours_too(tmp_path):
    train_planted(tmp_path / "cbow", arch="cbow")
    assert_topics_are_neighbours(tmp_path / "cbow")


def test_projector_files_match_and_outputs_exist(planted_run):
    run_dir, model, vocab = planted_run
    vectors = open(os.path.join(run_dir, "vectors.tsv"), encoding="utf-8").read().splitlines()
    metadata = open(os.path.join(run_dir, "metadata.tsv"), encoding="utf-8").read().splitlines()
    assert len(vectors) == len(metadata) == len(vocab)
    assert metadata == vocab.words
    assert np.allclose([float(x) for x in vectors[3].split("\t")], model.embeddings.numpy()[3],
                       atol=1e-5)
    np.testing.assert_array_equal(np.load(os.path.join(run_dir, "embeddings.npy")),
                                  model.embeddings.numpy())
    png = open(os.path.join(run_dir, "tsne.png"), "rb").read()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_resume_continues_from_the_last_epoch(planted_run, tmp_path):
    run_dir = str(tmp_path / "run")
    shutil.copytree(planted_run[0], run_dir)
    before = json.load(open(os.path.join(run_dir, "state.json")))["history"]
    skipgram.train(preset_config(epochs=5), run_dir, planted_tokens(), seed=1, resume=True,
                   verbose=0)
    state = json.load(open(os.path.join(run_dir, "state.json")))
    assert [row["epoch"] for row in state["history"]] == [1, 2, 3, 4, 5]
    assert state["history"][:4] == before  # the finished epochs were kept, not redone


def test_savedmodel_round_trip(planted_run, tmp_path):
    vectors = WordVectors.load(planted_run[0])
    export_dir = skipgram.export(vectors, str(tmp_path / "export"))
    script = f"""
import json, numpy as np, tensorflow as tf
m = tf.saved_model.load({export_dir!r})
out = m.signatures["lookup"](words=tf.constant(["cat", "고양이", "nonsense"]))
near = m.signatures["neighbors"](words=tf.constant(["cat", "고양이"]), k=tf.constant(3))
print(json.dumps({{"vectors": out["vectors"].numpy().tolist(),
                  "known": out["known"].numpy().tolist(),
                  "neighbors": [[w.decode() for w in row] for row in near["neighbors"].numpy()],
                  "cosines": near["cosines"].numpy().tolist()}}))
"""
    result = run_python(script, tmp_path, with_project=False)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    ids = [vectors.vocab.index[w] for w in ("cat", "고양이")] + [vectors.vocab.unknown_id]
    np.testing.assert_allclose(served["vectors"], vectors.vectors[ids], rtol=1e-6)
    assert served["known"] == [True, True, False]
    for row, word in enumerate(["cat", "고양이"]):
        expected = vectors.neighbors(word, k=3)
        assert served["neighbors"][row] == [w for w, _ in expected]
        np.testing.assert_allclose(served["cosines"][row], [c for _, c in expected], atol=1e-5)


def test_analogy_evaluator_scores_a_hand_made_file_exactly(tmp_path):
    # 2-D vectors where king - man + woman lands exactly on queen, and
    # paris - france + italy on berlin instead of rome (a wrong answer).
    words = ["man", "woman", "king", "queen", "france", "paris", "italy", "rome", "berlin",
             "<unk>"]
    vectors = np.array([[1, 0], [0, 1], [1, 0.2], [0.2, 1], [1, -1], [1, -0.5], [-1, -1],
                        [-1, 0.2], [0.35, -0.95], [0, 0]], dtype=np.float32)
    path = tmp_path / "questions.txt"
    path.write_text(": family\nMan King Woman Queen\n: capitals\nfrance paris italy rome\n"
                    "france paris italy berlin\nfrance paris spain madrid\n", encoding="utf-8")
    sections = evaluation.read_analogies(str(path))
    result = evaluation.evaluate_analogies(vectors, words, sections, skip={"<unk>"})
    assert [(s["section"], s["correct"], s["total"]) for s in result["sections"]] == [
        ("family", 1, 1), ("capitals", 1, 2)]
    assert result["accuracy"] == pytest.approx(2 / 3) and result["skipped"] == 1
    # Restricted to the 8 most frequent words, berlin can no longer be the answer
    # and the question expecting it is skipped.
    restricted = evaluation.evaluate_analogies(vectors, words, sections, restrict_vocab=8)
    assert [(s["correct"], s["total"]) for s in restricted["sections"]] == [(1, 1), (1, 1)]
    assert restricted["skipped"] == 2


def test_spearman_with_ties_equals_hand_computed_value():
    # Ranks of x: 1, 2.5, 2.5, 4; of y: 2, 1, 3, 4 -> Pearson of the ranks.
    x, y = [1.0, 2.0, 2.0, 3.0], [0.5, 0.1, 0.7, 0.9]
    rx, ry = np.array([1, 2.5, 2.5, 4]), np.array([2, 1, 3, 4])
    expected = np.sum((rx - rx.mean()) * (ry - ry.mean())) / np.sqrt(
        np.sum((rx - rx.mean()) ** 2) * np.sum((ry - ry.mean()) ** 2))
    assert evaluation.spearman(x, y) == pytest.approx(expected)
    assert evaluation.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_tsne_separates_clusters():
    rng = np.random.default_rng(0)
    centers = np.eye(3, 10) * 10
    points = np.concatenate([c + rng.normal(size=(20, 10)) for c in centers])
    mapped = tsne(points, perplexity=10)
    labels = np.repeat(np.arange(3), 20)
    distances = np.linalg.norm(mapped[:, None] - mapped[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert np.all(labels[np.argmin(distances, axis=1)] == labels)  # nearest is a cluster mate


@pytest.mark.slow
def test_enwiki_sample_beats_gensims_numbers(tmp_path):
    """The small preset on the real corpus, scored as in benchmarks/RESULTS.md (minutes)."""
    from tests.conftest import shared_data
    from word2vec.corpus import read_corpus

    tokens = read_corpus(shared_data("word2vec", "enwiki_sample.txt"))
    skipgram.train(PRESETS["small"], str(tmp_path / "run"), tokens, seed=1, verbose=0)
    results = skipgram.evaluate(WordVectors.load(str(tmp_path / "run")),
                                shared_data("word2vec", "questions-words.txt"),
                                shared_data("word2vec", "wordsim353.tsv"))
    # gensim's skip-gram with the same settings: 1.8-2.2% and 0.23-0.25.
    assert results["analogy_accuracy"] > 0.022 and results["wordsim_spearman"] > 0.30
