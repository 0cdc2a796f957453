"""The word-spacing tagger: configuration, presets and the Keras model.

Character ids (batch, time) -> embedding (batch, time, embedding_dim) ->
num_layers LSTM layers -> dropout -> a per-character sigmoid (batch, time, 1),
the probability that a space follows the character.

direction "bi": every layer is `keras.layers.Bidirectional`: a forward LSTM
reads the window left to right and a backward LSTM right to left, each giving
(batch, time, units); their outputs are concatenated to (batch, time,
2 * units), so the tag of character t sees the whole window on both sides.
direction "uni": the same layers forward only, (batch, time, units): the tag
of character t sees only characters 0..t.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import layers

from common.argtypes import count, fraction, non_negative_float, positive_float
from common.configs import setting
from common.model_size import Counter
from week3_rnn.fast_lstm import FastLSTM

DIRECTIONS = ("bi", "uni")


@dataclasses.dataclass(frozen=True)
class SpacingConfig:
    direction: str = setting("bi", "bi: bidirectional LSTM layers (the past and the future); "
                             "uni: the same layers forward only", choices=DIRECTIONS)
    num_layers: int = setting(2, "stacked LSTM layers", count(16))
    units: int = setting(128, "hidden units per LSTM (per direction)", count(8192))
    embedding_dim: int = setting(64, "character embedding size", count(8192))
    dropout_rate: float = setting(0.1, "dropout after each LSTM layer", fraction)
    window: int = setting(100, "characters per training window and per prediction chunk "
                          "(longer texts are read in half-overlapping chunks)", count(10_000))
    batch_size: int = setting(64, "windows per batch", count(65_536))
    epochs: int = 5
    learning_rate: float = setting(3e-3, "Adam learning rate", positive_float)
    grad_clip: float = setting(5.0, "clip gradients to this global norm; 0: off",
                               non_negative_float)
    val_fraction: float = setting(0.1, "fraction of the text (its tail) held out for "
                                  "validation and evaluate; 0: none", fraction)


PRESETS = {
    # Trains in seconds; for tests and for trying the commands out. Two layers,
    # so the stacking is exercised too.
    "test": SpacingConfig(num_layers=2, units=16, embedding_dim=8, dropout_rate=0.0,
                          window=24, batch_size=8, epochs=2, learning_rate=1e-2),
    # A few minutes per epoch on tinyshakespeare on two CPU cores.
    "small": SpacingConfig(),
    "medium": SpacingConfig(units=256, embedding_dim=128, dropout_rate=0.2, epochs=10,
                            learning_rate=2e-3),
}


@keras.saving.register_keras_serializable(package="tfcourse")
class SpacingLSTM(FastLSTM):
    """FastLSTM with `go_backwards`, the attribute `keras.layers.Bidirectional` needs.

    Backwards, the layer reads the time axis reversed and returns its outputs
    in that reversed order, as keras.layers.LSTM does; Bidirectional flips
    them back so both directions line up at each character.
    """

    stateful = False

    def __init__(self, units, go_backwards=False, **kwargs):
        super().__init__(units, **kwargs)
        self.go_backwards = go_backwards

    def call(self, inputs, initial_state=None, training=None):
        if self.go_backwards:
            inputs = tf.reverse(inputs, axis=[1])  # (batch, time, features), last step first
        return super().call(inputs, initial_state, training=training)

    def get_config(self):
        return dict(super().get_config(), go_backwards=self.go_backwards)


def build_spacing_model(config, vocab_size):
    """The compiled tagger for `vocab_size` characters (ids 1..vocab_size; 0: unknown)."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")  # (batch, time)
    x = layers.Embedding(vocab_size + 1, config.embedding_dim, name="embedding",
                         embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))(
        token_ids)  # (batch, time, embedding_dim)
    for i in range(config.num_layers):
        lstm = SpacingLSTM(config.units, return_sequences=True, name=f"lstm_{i}")
        if config.direction == "bi":
            # forward and backward (batch, time, units) -> concat (batch, time, 2 * units)
            x = layers.Bidirectional(lstm, merge_mode="concat", name=f"bidirectional_{i}")(x)
        else:
            x = lstm(x)  # (batch, time, units)
        x = layers.Dropout(config.dropout_rate, name=f"dropout_{i}")(x)
    space_probability = layers.Dense(1, activation="sigmoid", name="space_follows")(x)
    model = keras.Model(token_ids, space_probability,  # (batch, time, 1)
                        name=f"spacing_{config.direction}")
    optimizer = keras.optimizers.Adam(config.learning_rate,
                                      global_clipnorm=config.grad_clip or None)
    model.compile(optimizer=optimizer, loss=keras.losses.BinaryCrossentropy(),
                  metrics=[keras.metrics.Precision(name="precision"),
                           keras.metrics.Recall(name="recall")])
    return model


def estimated_size(config, vocab_size, batch_size=None):
    """The ModelSize of build_spacing_model(config, vocab_size), unbuilt, for a training
    batch of `batch_size` windows (default: the config's)."""
    count, steps = Counter(), config.window
    count.weights((vocab_size + 1) * config.embedding_dim)
    count.output(steps * config.embedding_dim)         # (batch, time, embedding_dim)
    features, directions = config.embedding_dim, 2 if config.direction == "bi" else 1
    for _ in range(config.num_layers):
        for _ in range(directions):
            count.recurrent(features, config.units, steps)
        features = directions * config.units           # (batch, time, 2 * units) if bi
        count.output(steps * features)                 # the concatenation, the dropout
    count.dense(features, 1, positions=steps)          # (batch, time, 1)
    return count.size(batch_size or config.batch_size)
