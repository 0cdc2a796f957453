"""Trained word vectors as a run directory keeps them, and what the commands ask of them.

    embeddings.npy   (vocab, dim) float32, row i is the vector of word i
    vocab.json       {"words", "unknown", "counts"}: words by falling count, <unk> last

Reading these needs numpy only: `neighbors`, `analogy` and `evaluate` start
fast, and work on any run with at least one finished epoch.
"""

import os

import numpy as np

from common.cli import UsageError
from word2vec.corpus import CountedVocab
from word2vec.evaluation import nearest, unit_rows

EMBEDDINGS = "embeddings.npy"
VOCAB = "vocab.json"


def save_embeddings(vectors, path):
    """np.save to a temporary name, then rename: a killed process leaves the old file."""
    tmp = f"{path}.tmp-{os.getpid()}.npy"
    np.save(tmp, np.asarray(vectors, dtype=np.float32))
    os.replace(tmp, path)


class WordVectors:
    """Vectors (vocab, dim) with their vocabulary."""

    def __init__(self, vectors, vocab):
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.vocab = vocab
        self.unit_vectors = unit_rows(self.vectors)

    @classmethod
    def load(cls, run_dir):
        paths = [os.path.join(run_dir, name) for name in (EMBEDDINGS, VOCAB)]
        if not os.path.isdir(run_dir):
            raise UsageError(f"--run_dir {run_dir} is not a folder")
        missing = [os.path.basename(p) for p in paths if not os.path.exists(p)]
        if missing:
            raise UsageError(f"{run_dir} has no {' or '.join(missing)}; train at least one "
                             "epoch there first (python -m word2vec.skipgram train)")
        return cls(np.load(paths[0]), CountedVocab.load(paths[1]))

    def ids(self, words):
        """Ids of `words`; UsageError naming every word outside the vocabulary."""
        unknown = [w for w in words if w not in self.vocab.index or w == self.vocab.unknown]
        if unknown:
            shown = ", ".join(repr(w) for w in dict.fromkeys(unknown))
            raise UsageError(f"not in the vocabulary ({len(self.vocab) - 1:,} words): {shown}; "
                             "words are case-sensitive and rarer than --min_count are left out")
        return [self.vocab.index[w] for w in words]

    def neighbors(self, word, k=8):
        """[(word, cosine)] of the k words nearest to `word`, itself and <unk> left out."""
        (i,) = self.ids([word])
        return self._words(nearest(self.unit_vectors, self.vectors[i], k,
                                   {i, self.vocab.unknown_id}))

    def analogy(self, a, b, c, k=5):
        """[(word, cosine)]: a is to b as c is to ? (nearest to b - a + c, unit vectors)."""
        ia, ib, ic = self.ids([a, b, c])
        u = self.unit_vectors
        return self._words(nearest(u, u[ib] - u[ia] + u[ic], k,
                                   {ia, ib, ic, self.vocab.unknown_id}))

    def _words(self, ranked):
        return [(self.vocab.words[i], cosine) for i, cosine in ranked]
