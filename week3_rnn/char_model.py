"""The character-level RNN: configuration, presets and the Keras model.

A character RNN reads ids (batch, time) and predicts the next character at
every position: embedding -> num_layers recurrent layers (with dropout
between them) -> a dense layer giving logits (batch, time, vocab_size).
"""

import dataclasses

import keras
from keras import layers

from common.argtypes import count, fraction, non_negative_float, non_negative_int, positive_float
from common.configs import setting
from common.model_size import Counter
from week3_rnn.cells import LectureGRUCell, LectureLSTMCell, LectureRNNCell
from week3_rnn.fast_lstm import FastLSTM
from week3_rnn.peephole_cell import PeepholeLSTMCell

CELLS = ("lstm", "gru", "rnn", "lecture_lstm", "lecture_gru", "lecture_rnn", "peephole_lstm",
         "keras_lstm")
# The lecture's hand-written cells, each run by keras.layers.RNN.
LECTURE_CELLS = {"lecture_lstm": LectureLSTMCell, "lecture_gru": LectureGRUCell,
                 "lecture_rnn": LectureRNNCell, "peephole_lstm": PeepholeLSTMCell}


@dataclasses.dataclass(frozen=True)
class CharRNNConfig:
    cell: str = setting("lstm", "recurrent cell: lstm (fused, fast on CPUs), gru, rnn, the "
                        "lecture's hand-written lecture_lstm / lecture_gru / lecture_rnn, "
                        "peephole_lstm (gates also see the cell state), or keras_lstm "
                        "(stock Keras)", choices=CELLS)
    num_layers: int = setting(2, "stacked recurrent layers", count(16))
    units: int = setting(256, "hidden units per layer", count(8192))
    embedding_dim: int = setting(64, "character embedding size", count(8192))
    dropout_rate: float = setting(0.0, "dropout after each recurrent layer", fraction)
    seq_length: int = setting(100, "characters per training sequence (backpropagation "
                              "through time)", count(100_000))
    batch_size: int = setting(64, "sequences per batch", count(65_536))
    epochs: int = 20
    learning_rate: float = setting(2e-3, "Adam learning rate", positive_float)
    grad_clip: float = setting(5.0, "clip gradients to this global norm; 0: off",
                               non_negative_float)
    lr_decay: float = setting(1.0, "multiply the learning rate by this every epoch after "
                              "--decay_after epochs", positive_float)
    decay_after: int = setting(0, "epochs at the full learning rate", non_negative_int)
    val_fraction: float = setting(0.1, "fraction of the text (its tail) held out for "
                                  "validation; 0: none", fraction)


PRESETS = {
    # Trains in seconds; for tests and for trying the commands out.
    "test": CharRNNConfig(num_layers=1, units=32, embedding_dim=16, seq_length=20,
                          batch_size=8, epochs=2, learning_rate=1e-2),
    # The lecture's model (and the benchmark's shapes): 2 x 256 LSTM. A high
    # Adam rate, decayed after the first epochs, reaches a low validation loss
    # in few epochs (see benchmarks/RESULTS.md).
    "small": CharRNNConfig(dropout_rate=0.2, epochs=13, learning_rate=5e-3, lr_decay=0.8,
                           decay_after=5),
    "medium": CharRNNConfig(units=512, embedding_dim=128, dropout_rate=0.2, epochs=30),
    "large": CharRNNConfig(num_layers=3, units=512, embedding_dim=128, dropout_rate=0.3,
                           epochs=40, learning_rate=1e-3),
}


def make_recurrent_layer(cell, units, name):
    """One recurrent layer that returns its full sequence and its final state."""
    options = dict(return_sequences=True, return_state=True, name=name)
    if cell == "lstm":
        return FastLSTM(units, **options)
    if cell == "keras_lstm":
        return layers.LSTM(units, **options)
    if cell == "gru":
        return layers.GRU(units, **options)
    if cell == "rnn":
        return layers.SimpleRNN(units, **options)
    if cell in LECTURE_CELLS:
        return layers.RNN(LECTURE_CELLS[cell](units), **options)
    raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")


@keras.saving.register_keras_serializable(package="tfcourse")
class CharRNN(keras.Model):
    """Embedding -> stacked RNN -> logits, with the RNN state passed in and out.

    `model(ids)` gives logits for training; `model(ids, states, return_state=True)`
    also returns the state after the last step, so generation feeds one
    character at a time without re-reading the prefix.
    """

    def __init__(self, vocab_size, cell="lstm", num_layers=2, units=256, embedding_dim=64,
                 dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.cell = cell
        self.num_layers = num_layers
        self.units = units
        self.embedding_dim = embedding_dim
        self.dropout_rate = dropout_rate
        # Unit-variance embeddings (as PyTorch initializes them): Keras's default
        # uniform(-0.05, 0.05) feeds the LSTM almost nothing and stalls early training.
        self.embedding = layers.Embedding(
            vocab_size, embedding_dim, name="embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))
        self.recurrent_layers = [make_recurrent_layer(cell, units, f"{cell}_{i}")
                                 for i in range(num_layers)]
        self.dropout = layers.Dropout(dropout_rate)
        self.head = layers.Dense(vocab_size, name="logits")

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        features = self.embedding_dim
        for layer in self.recurrent_layers:
            layer.build((None, None, features))
            features = self.units
        self.head.build((None, None, self.units))
        self.built = True

    def call(self, token_ids, states=None, training=False, return_state=False):
        x = self.embedding(token_ids)  # (batch, time, embedding_dim)
        return self.from_embeddings(x, states, training, return_state)

    def from_embeddings(self, x, states=None, training=False, return_state=False):
        """The rest of `call` after the embedding lookup, on x (batch, time, embedding_dim).

        Separate so that gradients with respect to the embedded inputs can be
        taken (week3_rnn/gradient_flow.py); `call` is embedding + this.
        """
        new_states = []
        for i, layer in enumerate(self.recurrent_layers):
            initial_state = None if states is None else states[i]
            x, *state = layer(x, initial_state=initial_state, training=training)
            new_states.append(state)  # [h, c] for LSTMs, [h] otherwise
            x = self.dropout(x, training=training)  # (batch, time, units)
        logits = self.head(x)  # (batch, time, vocab_size)
        return (logits, new_states) if return_state else logits

    def get_config(self):
        return dict(super().get_config(), vocab_size=self.vocab_size, cell=self.cell,
                    num_layers=self.num_layers, units=self.units,
                    embedding_dim=self.embedding_dim, dropout_rate=self.dropout_rate)


def build_char_rnn(config, vocab_size):
    """The compiled model for a CharRNNConfig (Adam, cross-entropy on logits)."""
    model = CharRNN(vocab_size, cell=config.cell, num_layers=config.num_layers,
                    units=config.units, embedding_dim=config.embedding_dim,
                    dropout_rate=config.dropout_rate)
    model.build()
    optimizer = keras.optimizers.Adam(
        config.learning_rate, global_clipnorm=config.grad_clip or None)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


# Weights of each cell: gate blocks, biases per gate block, and extra weights per unit
# (the peephole LSTM's three diagonal peepholes; Keras's GRU has two bias vectors).
CELL_SHAPES = {"lstm": (4, 1, 0), "keras_lstm": (4, 1, 0), "lecture_lstm": (4, 1, 0),
               "peephole_lstm": (4, 1, 3), "gru": (3, 2, 0), "lecture_gru": (3, 1, 0),
               "rnn": (1, 1, 0), "lecture_rnn": (1, 1, 0)}


def estimated_size(config, vocab_size, batch_size=None):
    """The ModelSize of build_char_rnn(config, vocab_size), unbuilt, for a training batch
    of `batch_size` sequences (default: the config's)."""
    count, steps = Counter(), config.seq_length
    count.weights(vocab_size * config.embedding_dim)
    count.output(steps * config.embedding_dim)         # embedded ids (batch, time, dim)
    features = config.embedding_dim
    gates, biases, extra = CELL_SHAPES[config.cell]
    for _ in range(config.num_layers):
        features = count.recurrent(features, config.units, steps, gates, biases,
                                   extra * config.units)
        if config.dropout_rate:
            count.output(steps * config.units)
    count.dense(features, vocab_size, positions=steps)  # logits (batch, time, vocab)
    count.output(steps * vocab_size)                    # their softmax, in the loss
    return count.size(batch_size or config.batch_size)
