"""The word vectors with their vocabulary, as a SavedModel-ready module.

    lookup(words (n,) string) -> {"vectors" (n, dim) float32, "known" (n,) bool}
        A word outside the vocabulary gets the <unk> row and known = False.
    neighbors(words (n,) string, k () int32) -> {"neighbors" (n, k) string,
        "cosines" (n, k) float32, "known" (n,) bool}
        The k words nearest by cosine, the word itself and <unk> excluded.

Both are tf.functions over constants, so the export serves with TensorFlow
alone; `neighbors` here and in word2vec.vectors give the same answers.
"""

import numpy as np
import tensorflow as tf


class Word2VecServable(tf.Module):
    def __init__(self, vectors, words, unknown):
        super().__init__()
        vectors = np.asarray(vectors, dtype=np.float32)
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.vectors = tf.constant(vectors)  # (vocab, dim)
        self.unit_vectors = tf.constant(vectors / norms)
        self.words = tf.constant(words)
        self.unknown_id = words.index(unknown)
        self.word_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.words, tf.range(len(words), dtype=tf.int32)),
            default_value=-1)

    def _ids(self, words):
        """(ids with <unk> for unknown words (n,), known (n,) bool)."""
        ids = self.word_to_id.lookup(words)
        return tf.where(ids < 0, self.unknown_id, ids), ids >= 0

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def lookup(self, words):
        ids, known = self._ids(words)
        return {"vectors": tf.gather(self.vectors, ids), "known": known}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32)])
    def neighbors(self, words, k):
        ids, known = self._ids(words)
        cosines = tf.matmul(tf.gather(self.unit_vectors, ids), self.unit_vectors,
                            transpose_b=True)  # (n, vocab)
        vocab_size = tf.shape(self.words)[0]
        excluded = (tf.one_hot(ids, vocab_size, on_value=True, off_value=False)
                    | (tf.range(vocab_size) == self.unknown_id)[None, :])
        cosines = tf.where(excluded, -np.inf, cosines)
        top = tf.math.top_k(cosines, k=tf.minimum(k, vocab_size - 2))
        return {"neighbors": tf.gather(self.words, top.indices), "cosines": top.values,
                "known": known}

    def signatures(self):
        return {"lookup": self.lookup, "neighbors": self.neighbors,
                "serving_default": self.lookup}
