"""word2vec data: vocabulary, subsampling, pair generation and the negative sampler."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from common.cli import UsageError
from word2vec import pairs
from word2vec.corpus import UNK, CountedVocab, keep_probabilities
from word2vec.model import Word2Vec


def test_vocabulary_min_count_max_vocab_and_unknown():
    tokens = "a a a a b b b c c d <unk>".split()
    vocab = CountedVocab.from_tokens(tokens, min_count=2)
    assert vocab.words == ["a", "b", "c", UNK]
    assert vocab.counts.tolist() == [4, 3, 2, 0]
    assert vocab.training_ids(tokens).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert CountedVocab.from_tokens(tokens, min_count=1, max_vocab=3).words == ["a", "b", UNK]
    with pytest.raises(UsageError, match="--min_count"):
        CountedVocab.from_tokens(tokens, min_count=5)


def test_vocabulary_json_round_trip_with_korean(tmp_path):
    vocab = CountedVocab.from_tokens("고양이 고양이 강아지 cat".split(), min_count=1)
    vocab.save(tmp_path / "vocab.json")
    loaded = CountedVocab.load(tmp_path / "vocab.json")
    assert loaded == vocab and loaded.counts.tolist() == [2, 1, 1, 0]


def test_keep_probabilities_follow_word2vec_formula():
    counts = np.array([1000, 100, 10, 0])
    keep = keep_probabilities(counts, sample=0.01)
    threshold = 0.01 * 1110
    expected = (np.sqrt(1000 / threshold) + 1) * threshold / 1000
    np.testing.assert_allclose(keep[0], expected, rtol=1e-6)
    assert keep[0] < keep[1] <= 1.0 and keep[2] == 1.0 and keep[3] == 1.0
    assert np.all(keep_probabilities(counts, 0.0) == 1.0)


def reference_skipgram(ids, reach):
    """Plain-Python skip-gram pairs: every context within the center's reduced window."""
    result = []
    for i, center in enumerate(ids):
        for j in range(max(0, i - reach[i]), min(len(ids), i + reach[i] + 1)):
            if j != i:
                result.append((center, ids[j]))
    return sorted(result)


@pytest.mark.parametrize("window", [1, 2, 4])
def test_skipgram_pairs_equal_plain_python_reference(window):
    ids = tf.constant(np.arange(10, 33), tf.int32)
    seed = tf.constant([3, window], tf.int64)
    centers, contexts = pairs.skipgram_examples(ids, window, seed)
    reach = pairs.reduced_windows(len(ids), window, seed).numpy()
    assert reach.min() >= 1 and reach.max() <= window
    got = sorted(zip(centers.numpy().tolist(), contexts.numpy().tolist()))
    assert got == reference_skipgram(ids.numpy().tolist(), reach.tolist())


def test_cbow_examples_equal_plain_python_reference():
    ids = tf.constant([5, 6, 7, 8, 9, 10, 11], tf.int32)
    seed = tf.constant([1, 2], tf.int64)
    (contexts, mask), centers = pairs.cbow_examples(ids, 3, seed)
    reach = pairs.reduced_windows(7, 3, seed).numpy()
    assert centers.numpy().tolist() == ids.numpy().tolist()
    for row, center_index in enumerate(range(7)):
        used = sorted(c for c, m in zip(contexts[row].numpy(), mask[row].numpy()) if m)
        r = reach[center_index]
        expected = sorted(ids.numpy()[j] for j in range(max(0, center_index - r),
                                                         min(7, center_index + r + 1))
                          if j != center_index)
        assert used == expected


def test_dataset_epochs_have_fixed_steps_and_pairs_from_the_corpus():
    ids = np.tile(np.arange(50, dtype=np.int32), 40)  # (2000,)
    keep = np.ones(50, np.float32)
    data, steps = pairs.training_dataset(ids, keep, 2, "skipgram", 64, seed=0, first_epoch=0,
                                         epochs=2, chunk_words=700)
    batches = list(data.take(2 * steps + 1))
    assert np.array_equal(batches[0][0], batches[-1][0])  # then it starts over
    # Epoch 1 starts exactly `steps` batches in, where a resumed run starts it.
    resumed, _ = pairs.training_dataset(ids, keep, 2, "skipgram", 64, seed=0, first_epoch=1,
                                        epochs=2, chunk_words=700)
    assert np.array_equal(next(iter(resumed))[1], batches[steps][1])
    # Every pair is at most 2 apart in the repeating 0..49 sequence.
    for centers, contexts in batches[:2 * steps]:
        distance = np.abs(centers.numpy() - contexts.numpy())
        assert np.all((distance <= 2) | (distance >= 48))
    # About the expected number: 2000 words, window 2 -> ~ 2000 * 3 pairs per epoch.
    assert abs(steps * 64 - pairs.expected_examples(2000, 2, "skipgram")) < 3 * 64


def test_epochs_differ_and_are_reproducible():
    ids = np.random.default_rng(0).integers(0, 30, 3000).astype(np.int32)
    keep = keep_probabilities(np.bincount(ids, minlength=30), 0.01)
    first = lambda start: next(iter(pairs.training_dataset(ids, keep, 3, "skipgram", 32, 7,
                                                          start, start + 1)[0]))[0].numpy()
    assert np.array_equal(first(1), first(1))  # resuming at epoch 1 sees epoch 1's data
    assert not np.array_equal(first(0), first(1))  # subsampling and order redrawn per epoch


def test_subsampling_keeps_the_expected_fraction():
    ids = tf.constant(np.repeat([0, 1], [90000, 10000]).astype(np.int32))
    keep = tf.constant([0.2, 1.0])
    kept = pairs.subsample(ids, keep, tf.constant([0, 1], tf.int64)).numpy()
    assert np.sum(kept == 1) == 10000
    assert abs(np.sum(kept == 0) / 90000 - 0.2) < 0.01


def draw_negatives(model, count):
    """`count` single draws of the model's sampler (num_sampled 1), in one graph."""
    labels = tf.zeros([1, 1], tf.int64)

    @tf.function
    def draws():
        return tf.while_loop(
            lambda i, out: i < count,
            lambda i, out: (i + 1, out.write(i, model.sample_negatives(labels)[0][0])),
            (0, tf.TensorArray(tf.int64, size=count)))[1].stack()

    return draws().numpy()


def test_negative_sampler_follows_unigram_to_the_075():
    counts = [1000, 400, 100, 50, 10, 1, 0]
    model = Word2Vec(counts, embedding_dim=4, num_sampled=1)
    draws = draw_negatives(model, 20000)
    frequencies = np.bincount(draws, minlength=len(counts)) / len(draws)
    law = np.array(counts, dtype=float) ** 0.75
    law /= law.sum()
    np.testing.assert_allclose(frequencies, law, atol=0.012)
    assert frequencies[-1] == 0  # <unk> (count 0) is never a negative


def test_log_uniform_sampler_prefers_frequent_ranks():
    model = Word2Vec([1] * 100, embedding_dim=4, num_sampled=1, sampler="log_uniform")
    counter = collections.Counter(draw_negatives(model, 5000).tolist())
    # P(k) = log((k + 2) / (k + 1)) / log(101): 0.150 for rank 0, 0.0088 for rank 20.
    assert abs(counter[0] / 5000 - np.log(2) / np.log(101)) < 0.02
    assert counter[0] > 5 * counter[20]


def test_epochs_are_whole_multiples_of_the_steps_per_call():
    """Keras runs steps_per_execution steps per call: an epoch of another length would run
    over into the next epoch's data (and past the learning-rate schedule's end)."""
    ids = np.tile(np.arange(50, dtype=np.int32), 40)
    keep = np.ones(50, np.float32)
    plain = pairs.epoch_steps(ids, keep, 2, "skipgram", 64, chunk_words=700)
    steps = pairs.epoch_steps(ids, keep, 2, "skipgram", 64, chunk_words=700, multiple_of=20)
    assert steps % 20 == 0 and plain <= steps < plain + 20
    data, counted = pairs.training_dataset(ids, keep, 2, "skipgram", 64, 0, 0, 2,
                                           chunk_words=700, multiple_of=20)
    resumed, _ = pairs.training_dataset(ids, keep, 2, "skipgram", 64, 0, 1, 2,
                                        chunk_words=700, multiple_of=20)
    assert counted == steps
    second_epoch = list(data.take(steps + 1))[steps]
    assert np.array_equal(next(iter(resumed))[1], second_epoch[1])
