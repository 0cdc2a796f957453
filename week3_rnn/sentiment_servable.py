"""Classifying texts with a trained sentiment model, as TensorFlow graphs.

    classify(texts (batch,) string) -> {
        "labels"          (batch,) string            the most probable class name
        "probability"     (batch,) float32           its probability
        "probabilities"   (batch, classes) float32   in class_names order
        "tokens"          (batch,) int32             the text's tokens before truncation
        "unknown_tokens"  (batch,) int32             tokens read as <unk>
    }
    class_names() -> {"class_names" (classes,) string}

A text is split by common.tokens.tokenize (the graph training used), its last
max_length tokens are kept (as in training), tokens the vocabulary lacks
become <unk>, and the batch is padded with <pad> = 0, which the model masks.
The same tf.functions serve `sentiment predict`, `sentiment evaluate` and the
exported SavedModel, so the three agree by construction.
"""

import tensorflow as tf

from common.tokens import UNK_ID, tokenize


class SentimentServable(tf.Module):
    def __init__(self, model, vocab, class_names, max_length):
        super().__init__()
        self.model = model
        self.level = vocab.level
        self.max_length = int(max_length)
        self.table = vocab.lookup_table()
        self.names = tf.constant(list(class_names), tf.string)

    def token_ids(self, texts):
        """(ids (batch, time) int32 padded with 0, tokens (batch,), unknown (batch,))."""
        tokens = tokenize(texts, self.level)                     # ragged (batch, None)
        counts = tf.cast(tokens.row_lengths(), tf.int32)
        kept = tokens[:, -self.max_length:]                      # the last max_length
        ids = tf.ragged.map_flat_values(self.table.lookup, kept)
        unknown = tf.reduce_sum(tf.cast(tf.equal(ids, UNK_ID), tf.int32), axis=1)
        # One <pad> column more, so a batch of texts without tokens still has a time
        # step (the mask hides it, as it hides all padding).
        padded = tf.pad(ids.to_tensor(0), [[0, 0], [0, 1]])
        return padded, counts, unknown

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def classify(self, texts):
        ids, counts, unknown = self.token_ids(texts)
        probabilities = self.model(ids, training=False)          # (batch, classes)
        best = tf.argmax(probabilities, axis=1, output_type=tf.int32)
        return {"labels": tf.gather(self.names, best),
                "probability": tf.reduce_max(probabilities, axis=1),
                "probabilities": probabilities,
                "tokens": counts, "unknown_tokens": unknown}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def ids(self, texts):
        """What the model reads: {"token_ids" (batch, time) int32}; for tests and clients."""
        return {"token_ids": self.token_ids(texts)[0]}

    @tf.function(input_signature=[])
    def class_names(self):
        return {"class_names": self.names}

    def signatures(self):
        return {"serving_default": self.classify, "classify": self.classify,
                "token_ids": self.ids, "class_names": self.class_names}
