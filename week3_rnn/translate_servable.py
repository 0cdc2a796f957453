"""Translating texts with a trained encoder-decoder, as TensorFlow graphs.

    translate(texts (batch,) string)                     greedy decoding
    translate_beam(texts (batch,) string, beam () int32) beam search, `beam` hypotheses

both return
    texts          (batch,) string          each output, tokens joined (characters
                                            as they are, words and phonemes by spaces)
    tokens         (batch, T) string        the output tokens, "" after each output's end
    source_tokens  (batch, S) string        the source as the model read it, "" padding
    scores         (batch,) float32         the output's summed token log-probability
    attention      (batch, T, S) float32    (attention arch only) the weight of each
                                            source token for each output token; rows sum
                                            to 1, padding and rows after the end are 0

Texts are split by common.tokens.tokenize (the graph training used), tokens
the vocabulary lacks read as <unk>, and a source longer than the model's
max_length is cut to its first max_length tokens (the `predict` command
refuses such inputs instead, before calling this). Decoding stops at <end>
or after max_length + 1 tokens; it is deterministic (common.decoding).
With --reverse_source the model reads the source backwards; the attention
columns are put back in the source's own order.

The same tf.functions serve `translate predict`, `translate evaluate` and
the exported SavedModel, so the three agree by construction.
"""

import tensorflow as tf

from common.decoding import beam_search, greedy_search, tile_beams
from common.tokens import tokenize
from week3_rnn.translate_model import attention_memory, decoder_step, encode, has_attention


class TranslateServable(tf.Module):
    """The model with its vocabularies, tokenizer and decoding, servable without this project."""

    def __init__(self, model, source_vocab, target_vocab, max_length, reverse_source=False,
                 lowercase=False):
        super().__init__()
        self.model = model
        self.source_table = source_vocab.lookup_table()
        self.target_tokens = tf.constant(target_vocab.tokens, tf.string)
        self.source_level = source_vocab.level
        self.separator = " " if target_vocab.level == "word" else ""
        self.max_length = int(max_length)
        self.reverse_source = bool(reverse_source)
        self.lowercase = bool(lowercase)
        self.attention = has_attention(model)

    def read_sources(self, texts):
        """texts (batch,) -> (ids (batch, S) int32 as the encoder reads them, tokens
        (batch, S) string in the source's order, lengths (batch,) int32); S >= 1."""
        if self.lowercase:
            texts = tf.strings.lower(texts, encoding="utf-8")
        tokens = tokenize(texts, self.source_level)[:, :self.max_length]  # ragged (batch, None)
        lengths = tf.cast(tokens.row_lengths(), tf.int32)
        # At least one column, so that a batch of empty texts still has a shape to read.
        shape = tf.stack([tf.shape(texts)[0], tf.reduce_max(tf.concat([lengths, [1]], 0))])
        ids = self.source_table.lookup(tokens).to_tensor(0, shape=shape)
        if self.reverse_source:
            ids = tf.reverse_sequence(ids, lengths, seq_axis=1, batch_axis=0)
        return ids, tokens.to_tensor("", shape=shape), lengths

    def step_function(self, memory):
        """common.decoding's step_fn over this model, reading `memory` (rows first)."""
        def step(tokens, states):
            logits, states, weights = decoder_step(self.model, tokens, states, memory)
            log_probs = tf.nn.log_softmax(logits)  # (rows, vocab)
            return (log_probs, states) if weights is None else (log_probs, states, weights)
        return step

    def decode(self, texts, beam=None):
        ids, source_tokens, source_lengths = self.read_sources(texts)
        outputs, mask, states = encode(self.model, ids)
        batch = tf.shape(ids)[0]
        memory = (outputs, attention_memory(self.model, outputs), mask) if self.attention else None
        if beam is None:
            found = greedy_search(self.step_function(memory), states, batch, self.max_length + 1)
        else:
            beam = tf.maximum(beam, 1)
            tiled = None if memory is None else [tile_beams(part, beam) for part in memory]
            found = beam_search(self.step_function(tiled), states, batch, beam,
                                self.max_length + 1)
        lengths = found["lengths"]
        before_end = tf.sequence_mask(lengths, tf.shape(found["tokens"])[1])  # (batch, T)
        tokens = tf.where(before_end, tf.gather(self.target_tokens, found["tokens"]), "")
        words = tf.RaggedTensor.from_tensor(tokens, lengths=lengths)
        out = {"texts": tf.strings.reduce_join(words, axis=1, separator=self.separator),
               "tokens": tokens, "source_tokens": source_tokens, "scores": found["scores"]}
        if self.attention:
            weights = found["emitted"] * tf.cast(before_end, tf.float32)[:, :, None]
            if self.reverse_source:  # columns back in the order the source was written
                weights = tf.reverse_sequence(weights, source_lengths, seq_axis=2,
                                              batch_axis=0)
            out["attention"] = weights  # (batch, T, S)
        return out

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def translate(self, texts):
        return self.decode(texts)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string),
                                  tf.TensorSpec([], tf.int32)])
    def translate_beam(self, texts, beam):
        return self.decode(texts, beam)

    def signatures(self):
        return {"serving_default": self.translate, "translate": self.translate,
                "translate_beam": self.translate_beam}
