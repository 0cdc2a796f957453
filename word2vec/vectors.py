"""Trained word vectors as a run directory keeps them, and what the commands ask of them.

    embeddings.npy   (vocab, dim) float32, row i is the vector of word i
    vocab.json       {"words", "unknown", "counts"}: words by falling count, <unk> last

Reading these needs numpy only: `neighbors`, `analogy` and `evaluate` start
fast, and work on any run with at least one finished epoch.
"""

import io
import os

import numpy as np

from common.cli import UsageError
from common.files import check_regular_file
from common.outputs import write_bytes
from common.runs import RunDir
from word2vec.corpus import CountedVocab
from word2vec.evaluation import nearest, unit_rows

EMBEDDINGS = "embeddings.npy"
VOCAB = "vocab.json"
KIND = "word2vec"


def save_embeddings(vectors, path):
    """np.save to a staging file, then rename: a killed process leaves the old file."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(vectors, dtype=np.float32))
    write_bytes(path, buffer.getvalue())


def load_embeddings(path, vocab_size):
    """(vocab_size, dim) float32 from embeddings.npy; UsageError naming the file if unusable."""
    check_regular_file(path, EMBEDDINGS)
    try:
        vectors = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError):
        raise UsageError(f"{path} is truncated or corrupt (not a .npy array); restore it or "
                         "retrain") from None
    if (vectors.ndim != 2 or vectors.shape[0] != vocab_size or vectors.shape[1] < 1
            or not np.issubdtype(vectors.dtype, np.floating)):
        raise UsageError(f"{path} holds a {vectors.dtype} array of shape {vectors.shape}, not "
                         f"the ({vocab_size}, dim) float vectors of the run's {VOCAB}; "
                         "restore it or retrain")
    if not np.all(np.isfinite(vectors)):
        raise UsageError(f"{path} holds NaN or infinite values; restore it or retrain")
    return vectors


class WordVectors:
    """Vectors (vocab, dim) with their vocabulary."""

    def __init__(self, vectors, vocab):
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.vocab = vocab
        self.unit_vectors = unit_rows(self.vectors)

    @classmethod
    def load(cls, run_dir_path):
        """The vectors of a run directory (one with no config.json is read as vectors only)."""
        if not os.path.isdir(run_dir_path):
            raise UsageError(f"--run_dir {run_dir_path} is not a folder")
        run_dir = RunDir(run_dir_path)
        if run_dir.has_run():
            run_dir.read_config(KIND)  # another command's run, or a corrupt config.json
        paths = {name: run_dir.resolve(name, "file") for name in (EMBEDDINGS, VOCAB)}
        missing = [name for name, path in paths.items() if not os.path.exists(path)]
        if missing:
            raise UsageError(f"{run_dir_path} has no {' or '.join(missing)}; train at least one "
                             "epoch there first (python -m word2vec.skipgram train)")
        vocab = CountedVocab.load(paths[VOCAB])
        return cls(load_embeddings(paths[EMBEDDINGS], len(vocab)), vocab)

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
