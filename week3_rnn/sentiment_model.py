"""The many-to-one sentiment classifier: configuration, presets and the Keras model.

Token ids (batch, time), 0 = <pad> after the text's last token ->
Embedding(mask_zero=True) (batch, time, embedding_dim) plus a mask (batch, time) ->

    lstm    num_layers LSTM layers; the last returns the state after the text's
            last real token (Keras's LSTM carries its state unchanged over
            masked steps)                                     (batch, units)
    bilstm  Bidirectional LSTM layers: the forward LSTM's state after the last
            real token and the backward LSTM's after the first (it reads the
            real tokens last to first), concatenated          (batch, 2 * units)
    bow     the masked mean of the embeddings (a bag of words: it cannot see
            the order), then Dense(units, relu)               (batch, units)

-> dropout -> Dense(classes, softmax)                          (batch, classes).

The mask makes padding invisible: a text padded to any length gives the same
probabilities (tests/test_sentiment.py checks 1e-5), so neither the loss nor
the metrics depend on how a batch was padded.
"""

import dataclasses

import keras
from keras import layers, ops

from common.argtypes import count, fraction, non_negative_float, positive_float
from common.argtypes import whole_number_in
from common.configs import setting
from common.model_size import Counter
from common.tokens import LEVELS

ARCHS = ("lstm", "bilstm", "bow")
MAX_LENGTH = 100_000  # the most tokens --max_length may keep per text
MAX_EXAMPLES = 100_000_000


@dataclasses.dataclass(frozen=True)
class SentimentConfig:
    arch: str = setting("bilstm", "lstm: the last state of an LSTM; bilstm: a bidirectional "
                        "LSTM's two final states; bow: the mean of the embeddings, which "
                        "cannot see word order", choices=ARCHS)
    tokens: str = setting("word", "char: characters; word: lower-cased words and "
                          "punctuation marks (any script, Korean included)", choices=LEVELS)
    max_length: int = setting(400, "tokens read per text: a longer text keeps its LAST "
                              "max_length tokens (reviews tend to end with the verdict), in "
                              "training, evaluate, predict and the export alike",
                              count(MAX_LENGTH))
    vocab_size: int = setting(20_000, "most vocabulary entries (the 4 special tokens "
                              "included); rarer tokens become <unk>", count(10_000_000))
    min_count: int = setting(2, "keep tokens seen at least this often in the training part",
                             count(1_000_000))
    num_layers: int = setting(1, "stacked LSTM layers (lstm, bilstm)", count(16))
    units: int = setting(128, "hidden units per LSTM direction (bow: of its hidden layer)",
                         count(8192))
    embedding_dim: int = setting(128, "token embedding size", count(8192))
    dropout_rate: float = setting(0.3, "dropout before the softmax layer", fraction)
    batch_size: int = setting(64, "texts per batch", count(65_536))
    epochs: int = 5
    learning_rate: float = setting(2e-3, "Adam learning rate", positive_float)
    grad_clip: float = setting(5.0, "clip gradients to this global norm; 0: off",
                               non_negative_float)
    val_fraction: float = setting(0.1, "fraction of the training texts (chosen by a hash of "
                                  "each text) held out to pick best.keras", fraction)
    test_fraction: float = setting(0.1, "for --text FILE and --dataset order: fraction of "
                                   "the texts (by hash) held out as the test part",
                                   fraction)
    max_examples: int = setting(0, "read at most this many texts of each part (train, "
                                "validation, test); 0: all",
                                whole_number_in(0, MAX_EXAMPLES))


PRESETS = {
    # Seconds on two CPU cores: at most 2,000 texts a part, short texts, a tiny network.
    "test": SentimentConfig(max_length=64, vocab_size=2_000, min_count=1, units=32,
                            embedding_dim=32, dropout_rate=0.0, batch_size=32, epochs=6,
                            learning_rate=1e-2, max_examples=2_000),
    # IMDB's 25,000 reviews in minutes per epoch on two CPU cores.
    "small": SentimentConfig(),
    "medium": SentimentConfig(max_length=800, vocab_size=50_000, num_layers=2, units=256,
                              embedding_dim=256, dropout_rate=0.4, epochs=10,
                              learning_rate=1e-3),
}


@keras.saving.register_keras_serializable(package="tfcourse")
class MaskedMean(layers.Layer):
    """The mean over time of the unmasked steps: (batch, time, features) -> (batch, features).

    Keras's GlobalAveragePooling1D divides by the number of real steps, which
    is 0 for a text with no token (NaN); here that text's mean is 0.
    """

    supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)[:, :, None]       # (batch, time, 1)
        total = ops.sum(inputs * weights, axis=1)                 # (batch, features)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per text: nothing left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def build_sentiment_model(config, vocab_size, num_classes):
    """The compiled classifier of `vocab_size` token ids (0 = <pad>) into `num_classes`."""
    token_ids = keras.Input((None,), dtype="int32", name="token_ids")  # (batch, time)
    x = layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True,
                         name="embedding")(token_ids)  # (batch, time, embedding_dim) + mask
    if config.arch == "bow":
        x = MaskedMean(name="mean_of_embeddings")(x)  # (batch, embedding_dim)
        x = layers.Dense(config.units, activation="relu", name="hidden")(x)  # (batch, units)
    else:
        for i in range(config.num_layers):
            last = i == config.num_layers - 1
            # Lower layers hand on (batch, time, features) with the mask; the last
            # returns its state after the last real token only.
            lstm = layers.LSTM(config.units, return_sequences=not last, name=f"lstm_{i}")
            x = (layers.Bidirectional(lstm, name=f"bidirectional_{i}")(x)
                 if config.arch == "bilstm" else lstm(x))
    x = layers.Dropout(config.dropout_rate, name="dropout")(x)
    probabilities = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    model = keras.Model(token_ids, probabilities, name=f"sentiment_{config.arch}")
    optimizer = keras.optimizers.Adam(config.learning_rate,
                                      global_clipnorm=config.grad_clip or None)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def estimated_size(config, vocab_size, num_classes, batch_size=None):
    """The ModelSize of build_sentiment_model, unbuilt, for a batch of `batch_size` texts
    of max_length tokens (default: the config's batch size)."""
    count, steps = Counter(), config.max_length
    count.weights(vocab_size * config.embedding_dim)
    count.output(steps * config.embedding_dim)             # (batch, time, embedding_dim)
    features = config.embedding_dim
    if config.arch == "bow":
        features = count.dense(features, config.units)     # (batch, units)
    else:
        directions = 2 if config.arch == "bilstm" else 1
        for _ in range(config.num_layers):
            for _ in range(directions):
                count.recurrent(features, config.units, steps)
            features = directions * config.units
    count.dense(features, num_classes)                     # (batch, classes)
    return count.size(batch_size or config.batch_size)
