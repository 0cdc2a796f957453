"""A trained memory network with its tokenizer and vocabulary, as TensorFlow graphs.

The same tf.functions serve `memn2n predict` (strings), `memn2n evaluate`
(id arrays) and the exported SavedModel, so the three agree by construction;
sentences are split into words by common.tokens.tokenize, the graph training
used.
"""

import keras
import tensorflow as tf

from common.tokens import tokenize


class MemN2NServable(tf.Module):
    """answer(story (n,) string, question () string) ->
        {"answer" () string, "probability" () float32, "attention" (hops, n) float32}

    A story is its statements, oldest first; the question reads the last
    memory_size of them, and the attention of older ones is 0. Words outside
    the vocabulary are read as <unk>.
    """

    def __init__(self, model, vocab, memory_size):
        super().__init__()
        # The hops layer's two outputs: answer logits (B, V) and attention (B, K, M).
        self.model = keras.Model(model.inputs, model.get_layer("memory").output)
        self.memory_size = int(memory_size)
        self.table = vocab.lookup_table()
        self.words = tf.constant(vocab.tokens, tf.string)

    def ids(self, texts):
        """texts (n,) string -> (n, words) int32, padded with 0 (<pad>)."""
        tokens = tokenize(texts, "word")
        return tf.ragged.map_flat_values(self.table.lookup, tokens).to_tensor(0)

    def run(self, story, query, time):
        logits, attention = self.model({"story": story, "query": query, "time": time},
                                       training=False)
        probabilities = tf.nn.softmax(logits)                            # (B, V)
        answer = tf.argmax(logits, -1, output_type=tf.int32)             # (B,)
        return answer, tf.reduce_max(probabilities, -1), attention

    @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32),
                                  tf.TensorSpec([None, None], tf.int32)])
    def answer_ids(self, story, query, time):
        """For evaluation: id arrays (memn2n babi_data.encode_examples) -> answer ids,
        their probabilities and the attention (B, K, M)."""
        answer, probability, attention = self.run(story, query, time)
        return {"answer": answer, "probability": probability, "attention": attention}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                  tf.TensorSpec([], tf.string)])
    def answer(self, story, question):
        count = tf.size(story)
        kept = tf.reverse(story[tf.maximum(count - self.memory_size, 0):], [0])  # newest first
        slots = tf.size(kept)
        memory = self.ids(kept)[None]                                     # (1, M, J)
        query = self.ids(question[None])                                  # (1, Jq)
        time = tf.range(slots)[None]                                      # (1, M)
        answer, probability, attention = self.run(memory, query, time)
        # (K, M) newest first -> (K, n) in the story's order; older statements get 0.
        attention = tf.reverse(attention[0], [1])
        attention = tf.pad(attention, [[0, 0], [count - slots, 0]])
        return {"answer": tf.gather(self.words, answer[0]), "probability": probability[0],
                "attention": attention}

    def signatures(self):
        return {"serving_default": self.answer, "answer": self.answer,
                "answer_ids": self.answer_ids}
