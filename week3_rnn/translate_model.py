"""The encoder-decoder translator: configuration, presets, the Keras model and its steps.

Training reads whole pairs with teacher forcing (the decoder reads the true
previous token), so one call computes every step's logits:

    source_ids                      (batch, S)   0 = <pad>, masked everywhere
    source embedding                (batch, S, embedding_dim)
    encoder LSTM layers             (batch, S, units), final states (h, c) per layer
    decoder_ids  <start> y1 .. yT   (batch, T+1)
    target embedding                (batch, T+1, embedding_dim)
    decoder LSTM layers             (batch, T+1, units), layer i starting from the
                                    encoder layer i's final state
    seq2seq:   logits               (batch, T+1, target_vocab)  for y1 .. yT <end>
    attention: scores  h_t . W_a h_s                    (batch, T+1, S)
               weights softmax over the unpadded source (batch, T+1, S)
               context weights @ encoder outputs        (batch, T+1, units)
               tanh(W_c [context; h_t])                 (batch, T+1, units)
               logits                                   (batch, T+1, target_vocab)

`seq2seq` is the lecture's encoder-decoder (Sutskever et al. 2014): all the
decoder knows of the source is the encoder's final state. `attention` is
Luong, Pham & Manning (2015), "Effective Approaches to Attention-based Neural
Machine Translation": global attention with the "general" score, applied to
the decoder LSTM's outputs (no input feeding), so training stays one
parallel pass over the target; `keras.layers.Attention` on the keys W_a h_s.

At inference `encode` runs the encoder once and `decoder_step` advances the
decoder one token (the LSTM cells of the same layers), the step function
that common.decoding's greedy and beam search drive.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import layers

from common.argtypes import count, fraction, non_negative_float, positive_float
from common.configs import setting
from common.metrics import TokenAccuracy
from common.model_size import Counter

ARCHS = ("attention", "seq2seq")
SOURCE_INPUT = {False: "source_ids_forward", True: "source_ids_reversed"}
ENCODERS = ("uni", "bi")


@dataclasses.dataclass(frozen=True)
class TranslateConfig:
    arch: str = setting("attention", "attention: Luong et al. (2015) global attention, "
                        "general score, over the encoder outputs; seq2seq: the encoder's "
                        "final state alone starts the decoder (Sutskever et al. 2014)",
                        choices=ARCHS)
    reverse_source: bool = setting(False, "read each source backwards (Sutskever et al.'s "
                                   "trick: the first target words sit near their source)")
    num_layers: int = setting(1, "stacked LSTM layers in the encoder and in the decoder",
                              count(8))
    encoder: str = setting("uni", "uni: forward LSTM encoder layers; bi: each encoder layer "
                           "is a forward and a backward LSTM of units/2, concatenated, so "
                           "every source position sees the whole source (and the decoder "
                           "starts from both final states)", choices=ENCODERS)
    units: int = setting(256, "hidden units per LSTM", count(8192))
    embedding_dim: int = setting(64, "token embedding size", count(8192))
    dropout_rate: float = setting(0.0, "dropout on every LSTM layer's outputs", fraction)
    max_length: int = setting(40, "longest source and target in tokens: longer training "
                              "pairs are left out (counted), predict refuses longer inputs; "
                              "--dataset reverse draws strings up to this long", count(1000))
    max_examples: int = setting(200_000, "pairs generated (reverse, dates, addition), or at "
                                "most this many sources read from a file (a hashed sample)",
                                count(10_000_000))
    max_vocab_size: int = setting(30_000, "most tokens per vocabulary (the special ones "
                                  "included); rarer tokens read as <unk>", count(1_000_000))
    batch_size: int = setting(128, "pairs per batch", count(65_536))
    epochs: int = 10
    learning_rate: float = setting(2e-3, "Adam learning rate", positive_float)
    lr_decay: float = setting(1.0, "multiply the learning rate by this every epoch after "
                              "--decay_after epochs; 1: constant", positive_float)
    decay_after: int = setting(1, "epochs at the full learning rate", count(100_000))
    grad_clip: float = setting(5.0, "clip gradients to this global norm; 0: off",
                               non_negative_float)
    val_fraction: float = setting(0.05, "fraction of the sources held out for validation "
                                  "(best.keras is chosen on it)", fraction)
    test_fraction: float = setting(0.1, "fraction of the sources held out for evaluate",
                                   fraction)


PRESETS = {
    # Seconds on any source: a few thousand pairs at most, short sequences.
    "test": TranslateConfig(units=32, embedding_dim=16, max_length=12, max_examples=2000,
                            batch_size=32, epochs=2, learning_rate=1e-2),
    "small": TranslateConfig(),
    # benchmarks/translate_reverse.py: strings of 5-30 letters (--min_length 5).
    "reverse": TranslateConfig(units=256, embedding_dim=32, max_length=30,
                               max_examples=100_000, batch_size=128, epochs=3),
    # benchmarks/translate_addition.py: "123+45" -> "168". Reversed operands (as the
    # Keras example reads them) line the digits up with the answer's carries.
    "addition": TranslateConfig(units=128, embedding_dim=32, max_length=8, reverse_source=True,
                                max_examples=100_000, batch_size=32, epochs=7,
                                lr_decay=0.7, decay_after=4),
    # benchmarks/translate_cmudict.py: grapheme-to-phoneme on the CMU dictionary.
    # A bidirectional encoder: how a letter sounds depends on the letters after it.
    "g2p": TranslateConfig(units=256, embedding_dim=64, num_layers=2, encoder="bi",
                           dropout_rate=0.2, max_length=30, max_examples=200_000,
                           batch_size=128, epochs=10, lr_decay=0.8, decay_after=5),
}


def build_translate_model(config, source_vocab_size, target_vocab_size):
    """The compiled training model: [source_ids, decoder_ids] -> logits (batch, T+1, V)."""
    # The input's name records reverse_source, which no weight shows: load_run
    # refuses a config.json whose reverse_source was edited.
    source_ids = keras.Input((None,), dtype="int32",                       # (batch, S)
                             name=SOURCE_INPUT[config.reverse_source])
    decoder_ids = keras.Input((None,), dtype="int32", name="decoder_ids")  # (batch, T+1)
    source_mask = keras.ops.not_equal(source_ids, 0)                       # (batch, S)
    x = layers.Embedding(source_vocab_size, config.embedding_dim, mask_zero=True,
                         name="source_embedding")(source_ids)
    final_states = []
    for i in range(config.num_layers):
        # The mask keeps padded steps from changing the state: the final state is
        # the one after each source's last real token (for the backward half of a bi
        # encoder, after the first token).
        x, h, c = encoder_layer(config, i)(x, mask=source_mask)  # (batch, S, units)
        final_states.append([h, c])
        x = layers.Dropout(config.dropout_rate, name=f"encoder_dropout_{i}")(x)
    encoder_outputs = x  # (batch, S, units)
    y = layers.Embedding(target_vocab_size, config.embedding_dim, mask_zero=True,
                         name="target_embedding")(decoder_ids)
    for i in range(config.num_layers):
        y = layers.LSTM(config.units, return_sequences=True, name=f"decoder_lstm_{i}")(
            y, initial_state=final_states[i])
        y = layers.Dropout(config.dropout_rate, name=f"decoder_dropout_{i}")(y)
    if config.arch == "attention":
        keys = layers.Dense(config.units, use_bias=False, name="attention_score")(
            encoder_outputs)  # W_a h_s, (batch, S, units)
        context = layers.Attention(name="attention")(
            [y, encoder_outputs, keys], mask=[None, source_mask])  # (batch, T+1, units)
        y = layers.Dense(config.units, activation="tanh", name="attention_combine")(
            layers.Concatenate(name="context_and_output")([context, y]))
    logits = layers.Dense(target_vocab_size, name="logits")(y)
    model = keras.Model([source_ids, decoder_ids], logits, name=f"translate_{config.arch}")
    optimizer = keras.optimizers.Adam(config.learning_rate,
                                      global_clipnorm=config.grad_clip or None)
    # ignore_class: padded target steps add nothing to the loss or its mean.
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                  ignore_class=0),
                  metrics=[TokenAccuracy()])
    return model


def encoder_layer(config, i):
    """Encoder layer i: a callable (inputs, mask=) -> [outputs (batch, S, units), h, c]."""
    if config.encoder == "uni":
        return layers.LSTM(config.units, return_sequences=True, return_state=True,
                           name=f"encoder_lstm_{i}")
    return BidirectionalEncoder(config.units, name=f"encoder_lstm_{i}")


@keras.saving.register_keras_serializable(package="tfcourse")
class BidirectionalEncoder(layers.Layer):
    """Forward and backward LSTMs of units/2 each: outputs (batch, S, units) and final
    h, c (batch, units), each the forward half then the backward half."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.supports_masking = True
        self.both = layers.Bidirectional(
            layers.LSTM(units // 2, return_sequences=True, return_state=True),
            merge_mode="concat", name="bidirectional")

    def build(self, input_shape):
        self.both.build(input_shape)

    def call(self, inputs, mask=None):
        outputs, h_forward, c_forward, h_backward, c_backward = self.both(inputs, mask=mask)
        return [outputs, tf.concat([h_forward, h_backward], -1),
                tf.concat([c_forward, c_backward], -1)]

    def compute_mask(self, inputs, mask=None):
        return [mask, None, None]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def num_layers(model):
    return sum(layer.name.startswith("encoder_lstm_") for layer in model.layers)


def has_attention(model):
    return any(layer.name == "attention" for layer in model.layers)


def encode(model, source_ids):
    """source_ids (batch, S) -> (encoder outputs (batch, S, units), source mask (batch, S),
    final [h, c] of each layer)."""
    mask = tf.not_equal(source_ids, 0)
    x = model.get_layer("source_embedding")(source_ids)
    states = []
    for i in range(num_layers(model)):
        x, h, c = model.get_layer(f"encoder_lstm_{i}")(x, mask=mask)
        states.append([h, c])
    return x, mask, states


def attention_memory(model, encoder_outputs):
    """The keys W_a h_s (batch, S, units) the decoder's queries are scored against."""
    return model.get_layer("attention_score")(encoder_outputs)


def decoder_step(model, tokens, states, memory=None):
    """One decoder step: tokens (rows,) -> (logits (rows, V), new states, weights (rows, S)).

    memory: (encoder outputs, keys, source mask) for the attention arch, rows
    first; weights is None for seq2seq.
    """
    # The embedding's table read directly: calling the layer would attach a mask
    # (mask_zero) that the LSTM cells cannot take.
    y = tf.gather(model.get_layer("target_embedding").embeddings, tokens)  # (rows, embedding_dim)
    new_states = []
    for i, state in enumerate(states):
        y, state = model.get_layer(f"decoder_lstm_{i}").cell(y, state)  # (rows, units)
        new_states.append(list(state))
    weights = None
    if memory is not None:
        outputs, keys, mask = memory
        context, weights = model.get_layer("attention")(
            [y[:, None], outputs, keys], mask=[None, mask], return_attention_scores=True)
        combined = model.get_layer("context_and_output")([context[:, 0], y])
        y = model.get_layer("attention_combine")(combined)
        weights = weights[:, 0]  # (rows, S)
    return model.get_layer("logits")(y), new_states, weights


def estimated_size(config, source_vocab_size, target_vocab_size, batch_size=None):
    """The ModelSize of build_translate_model, unbuilt, for a batch of max_length pairs."""
    count, steps = Counter(), config.max_length + 1
    count.weights((source_vocab_size + target_vocab_size) * config.embedding_dim)
    count.output(2 * steps * config.embedding_dim)
    for side in ("encoder", "decoder"):
        features = config.embedding_dim
        for _ in range(config.num_layers):
            if side == "encoder" and config.encoder == "bi":
                for _ in range(2):  # forward, backward
                    count.recurrent(features, config.units // 2, steps)
            else:
                count.recurrent(features, config.units, steps)
            features = config.units
            count.output(steps * config.units)  # dropout
    if config.arch == "attention":
        count.dense(config.units, config.units, bias=False, positions=steps)  # W_a h_s
        count.output(2 * steps * steps + steps * config.units)  # scores, weights, context
        count.dense(2 * config.units, config.units, positions=steps)  # W_c
    count.dense(config.units, target_vocab_size, positions=steps)
    return count.size(batch_size or config.batch_size)
