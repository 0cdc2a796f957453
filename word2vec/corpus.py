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
import hashlib
import os
import zipfile

import numpy as np

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.text import WordVocab, decode_text, read_text_file

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

    def to_json(self):
        return {"words": self.words, "unknown": self.unknown, "counts": self.counts.tolist()}

    @classmethod
    def load(cls, path):
        """The vocab.json of a run; UsageError naming the file if it is not one of ours."""
        data = read_json_file(path)
        try:
            return cls(data["words"], data["counts"], data["unknown"])
        except (KeyError, TypeError, ValueError):
            raise UsageError(f"{path} is not a word2vec vocabulary of this project (it needs "
                             "distinct \"words\", one count each and \"unknown\"); restore "
                             "it or retrain") from None


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


def read_corpus(path, max_bytes=DEFAULT_MAX_BYTES):
    """The whitespace-separated tokens of a UTF-8 text file (UsageError if unusable)."""
    return split_words(read_text_file(path, max_bytes), path)


def split_words(text, source):
    tokens = text.split()
    if not tokens:
        raise UsageError(f"{source} holds no words, only whitespace")
    return tokens


TEXT8_URL = "https://mattmahoney.net/dc/text8.zip"
# The digest gluon-nlp checks (dmlc/gluon-nlp, src/gluonnlp/data/corpora/
# large_text_compression_benchmark.py, Text8.archive_file) and the size TF's
# word2vec_basic.py checks. Keras's get_file verifies only MD5 or SHA-256, and
# no published SHA-256 of text8.zip was found, so the SHA-1 is checked here.
TEXT8_SHA1 = "6c70299b93b7e1f927b42cd8f6ac1a31547c7a2e"
TEXT8_BYTES = 31_344_016


def text8_tokens(max_bytes=DEFAULT_MAX_BYTES):
    """The text8 corpus (17M words of Wikipedia), downloaded once into the Keras cache."""
    import keras

    try:
        path = keras.utils.get_file("text8.zip", TEXT8_URL)
    except Exception as error:  # no network, a proxy, a half-written file
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise UsageError(f"could not download text8 from {TEXT8_URL} ({reason}); "
                         "pass --text with a local text file instead") from None
    check_download(path, TEXT8_BYTES, TEXT8_SHA1)
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("text8")
        if member.file_size > max_bytes:
            raise UsageError(f"text8 is {member.file_size:,} bytes, more than --max_bytes "
                             f"{max_bytes:,}")
        data = archive.read(member)
    return split_words(decode_text(data, "text8"), "text8")


def check_download(path, size, sha1):
    """UsageError unless the file at `path` has this size and SHA-1 digest."""
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if os.path.getsize(path) != size or digest.hexdigest() != sha1:
        raise UsageError(f"{path} is not the published text8.zip ({size:,} bytes, SHA-1 "
                         f"{sha1}): a truncated or altered download; delete it and run again")
