"""The word2vec vocabulary: counts, --min_count, --max_vocab with <unk>, subsampling.

A corpus is any UTF-8 text split on whitespace (so Korean eojeol work as
words). The vocabulary keeps words seen at least `min_count` times, at most
`max_vocab` of them, most frequent first, and `<unk>` last for every other
word. As in word2vec.c and gensim, words outside the vocabulary are dropped
from the training stream rather than trained as `<unk>`: a catch-all token
that stands for thousands of rare words would become a frequent, meaningless
context word. `<unk>` still has a row (its count is 0, so it is never
sampled), so lookups of unknown words return something.
"""

import collections
import json
import os

import numpy as np

from common.cli import UsageError
from common.files import atomic_write_json
from common.text import WordVocab, read_text_file

UNK = "<unk>"


class CountedVocab(WordVocab):
    """A WordVocab with the corpus count of every word (`counts`, (vocab,) int64)."""

    def __init__(self, words, counts, unknown=UNK):
        super().__init__(words, unknown)
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(self.words),):
            raise ValueError("one count per vocabulary word is needed")

    @classmethod
    def from_tokens(cls, tokens, min_count=5, max_vocab=None):
        """The words of `tokens` seen >= min_count times, by (-count, word), plus <unk>."""
        counts = collections.Counter(tokens)
        counts.pop(UNK, None)  # a literal "<unk>" in the text is the unknown word
        kept = sorted((w for w, c in counts.items() if c >= min_count),
                      key=lambda w: (-counts[w], w))
        if not kept:
            raise UsageError(
                f"no word occurs at least --min_count {min_count} times in the corpus "
                f"({len(counts):,} distinct words, the most frequent "
                f"{max(counts.values()) if counts else 0} times); lower --min_count")
        if max_vocab is not None:
            kept = kept[:max_vocab - 1]  # <unk> takes the last place
        return cls(kept + [UNK], [counts[w] for w in kept] + [0])

    def training_ids(self, tokens):
        """(n,) int32 ids of the tokens in the vocabulary, in order; the rest dropped."""
        ids = np.asarray(self.encode(tokens), dtype=np.int32)
        return ids[ids != self.unknown_id]

    def save(self, path):
        atomic_write_json(path, {"words": self.words, "unknown": self.unknown,
                                 "counts": self.counts.tolist()})

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return cls(data["words"], data["counts"], data["unknown"])


def keep_probabilities(counts, sample):
    """word2vec.c's subsampling: P(keep word) = (sqrt(f / t) + 1) * t / f, at most 1.

    f is the word's count and t = sample * (total count). A word that makes up
    a fraction `sample` of the corpus keeps about 2/3 of its occurrences; rarer
    words keep all. sample 0 turns subsampling off. Returns (vocab,) float32.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones(len(counts), dtype=np.float32)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.where(counts > 0, np.minimum(keep, 1.0), 1.0).astype(np.float32)


def read_corpus(path):
    """The whitespace-separated tokens of a UTF-8 text file (UsageError if unusable)."""
    tokens = read_text_file(path).split()
    if not tokens:
        raise UsageError(f"{path} holds no words, only whitespace")
    return tokens


TEXT8_URL = "http://mattmahoney.net/dc/text8.zip"


def text8_tokens():
    """The text8 corpus (17M words of Wikipedia), downloaded once into the Keras cache."""
    import keras

    try:
        path = keras.utils.get_file("text8.zip", TEXT8_URL, extract=True)
    except Exception as error:  # no network, a proxy, a half-written file
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise UsageError(f"could not download text8 from {TEXT8_URL} ({reason}); "
                         "pass --corpus with a local text file instead") from None
    # Keras returns the archive or the folder it was unpacked into, by version.
    root = path if os.path.isdir(path) else os.path.dirname(path)
    for folder, _, files in os.walk(root):
        if "text8" in files:
            return read_corpus(os.path.join(folder, "text8"))
    raise UsageError(f"the downloaded archive under {root} has no text8 file; "
                     "pass --corpus with the unpacked file")
