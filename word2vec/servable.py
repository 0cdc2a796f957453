"""The word vectors with their vocabulary, as a SavedModel-ready module.

    lookup(words (n,) string) -> {"vectors" (n, dim) float32, "known" (n,) bool}
        A word outside the vocabulary gets the <unk> row and known = False.
    neighbors(words (n,) string, k () int32) -> {"neighbors" (n, k) string,
        "cosines" (n, k) float32, "known" (n,) bool}
        The k words nearest by cosine, the word itself and <unk> excluded.
    lookup_ids(ids (n,) int32) -> {"vectors" (n, dim) float32}
    neighbors_ids(ids (n,) int32, k () int32) -> {"ids" (n, k) int32, "cosines" (n, k)}
        The same by vocabulary id (metadata's `vocabulary` maps ids to words);
        these two are also what `export --format litert` converts, as LiteRT
        has no string hash table.

The vectors are one tf.Variable, stored once in the SavedModel's variables
(not a graph constant, so a large vocabulary does not meet the 2 GiB limit of
a graph); unit vectors are computed when `neighbors` runs. `neighbors` here
and in word2vec.vectors give the same answers.
"""

import numpy as np
import tensorflow as tf

# The ops of `lookup` and `neighbors` (by word) that LiteRT lacks.
STRING_LOOKUP_OPS = ("HashTableV2", "LookupTableFindV2", "LookupTableImportV2")


class Word2VecServable(tf.Module):
    def __init__(self, vectors, words, unknown):
        super().__init__()
        self.vectors = tf.Variable(np.asarray(vectors, dtype=np.float32), trainable=False,
                                   name="vectors")  # (vocab, dim)
        self.words = tf.Variable(words, trainable=False, dtype=tf.string, name="words")
        self.unknown_id = words.index(unknown)
        self.word_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(words),
                                                tf.range(len(words), dtype=tf.int32)),
            default_value=-1)

    def _ids(self, words):
        """(ids with <unk> for unknown words (n,), known (n,) bool)."""
        ids = self.word_to_id.lookup(words)
        return tf.where(ids < 0, self.unknown_id, ids), ids >= 0

    def _nearest(self, ids, k):
        """(top ids (n, k) int32, cosines (n, k)) of the rows nearest to rows `ids`."""
        norms = tf.sqrt(tf.reduce_sum(tf.square(self.vectors), axis=1, keepdims=True))
        unit = self.vectors / tf.maximum(norms, 1e-12)  # (vocab, dim)
        cosines = tf.matmul(tf.gather(unit, ids), unit, transpose_b=True)  # (n, vocab)
        vocab_size = tf.shape(self.vectors)[0]
        columns = tf.range(vocab_size)[None, :]
        excluded = tf.equal(columns, ids[:, None]) | tf.equal(columns, self.unknown_id)
        cosines = tf.where(excluded, tf.constant(-np.inf, tf.float32), cosines)
        top = tf.math.top_k(cosines, k=tf.minimum(k, vocab_size - 2))
        return top.indices, top.values

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def lookup(self, words):
        ids, known = self._ids(words)
        return {"vectors": tf.gather(self.vectors, ids), "known": known}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32)])
    def neighbors(self, words, k):
        ids, known = self._ids(words)
        top_ids, cosines = self._nearest(ids, k)
        return {"neighbors": tf.gather(self.words, top_ids), "cosines": cosines,
                "known": known}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def lookup_ids(self, ids):
        return {"vectors": tf.gather(self.vectors, ids)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([], tf.int32)])
    def neighbors_ids(self, ids, k):
        top_ids, cosines = self._nearest(ids, k)
        return {"ids": top_ids, "cosines": cosines}

    def signatures(self):
        return {"lookup": self.lookup, "neighbors": self.neighbors,
                "lookup_ids": self.lookup_ids, "neighbors_ids": self.neighbors_ids,
                "serving_default": self.lookup}

    def litert_functions(self):
        """The signatures LiteRT can run: those by id (the by-word ones need a hash table)."""
        return {"lookup_ids": self.lookup_ids.get_concrete_function(),
                "neighbors_ids": self.neighbors_ids.get_concrete_function()}
