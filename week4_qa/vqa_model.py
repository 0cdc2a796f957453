"""Visual question answering models: configuration, presets, the three architectures.

Shapes, for a batch of B questions of at most T words about images S x S:

    image        (B, S, S, 3) uint8     -> encoder (common.image_encoders)
    grid         (B, h, w, c)           the encoder's spatial grid (small_cnn at 64: 8x8)
    question     (B, T) int32           word ids, 0 pads (masked)
    words        (B, T, E)              Embedding(mask_zero=True)

    blind        q = LSTM(words)                                   (B, U)
    vis_lstm     v = Dense_E(mean of the grid's cells)             (B, E)
                 q = LSTM([v, words...]): the image is the first "word" (the course's,
                     after Ren et al. 2015's VIS+LSTM)             (B, U)
    attention    q = LSTM(words); cells V = Dense_A(grid)          (B, h*w, A)
                 p = softmax_cells(w . tanh(V + Dense_A(q)))       (B, h*w)  (Yang et al.'s
                     stacked attention, one layer)
                 fused = (sum_i p_i V_i) * Dense_A(q)              (B, A)  element-wise
    answer       logits = Dense(answers)(Dense_H relu(fused or q)) (B, answers)

With a frozen encoder (an ImageNet application, is_frozen) the trained model
reads the cached grid itself ("grid" input); with small_cnn it reads the
uint8 image and trains the encoder with it. The blind model reads no image.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import layers

from common.argtypes import count, fraction, positive_float
from common.configs import setting
from common.image_encoders import build_image_encoder, grid_shape, is_frozen
from common.model_size import Counter
from common.optimizers import DenseReplicaAdam

ARCHS = ("vis_lstm", "blind", "attention")


def validation_fraction(text):
    value = fraction(text)
    if not 0 < value <= 0.5:
        import argparse

        raise argparse.ArgumentTypeError(f"must be in (0, 0.5], got {text}")
    return value


validation_fraction.__name__ = "in (0, 0.5]"


@dataclasses.dataclass(frozen=True)
class VQAConfig:
    arch: str = setting("attention", "where the image enters: vis_lstm (as the LSTM's first "
                        "step), blind (not at all: the question-only baseline), attention "
                        "(the question attends over the grid)", choices=ARCHS)
    # --encoder and --weights come from common.image_encoders.add_encoder_flags.
    encoder: str = "small_cnn"
    weights: str = "none"
    image_size: int = setting(64, "images are resized to this many pixels a side",
                              count(1024))
    cnn_width: int = setting(32, "small_cnn: channels of its first block (each of its 3 "
                             "blocks doubles them)", count(1024))
    embedding_dim: int = setting(64, "word embedding size E (and vis_lstm's image step)",
                                 count(4096))
    units: int = setting(128, "LSTM units U of the question encoder", count(4096))
    attention_dim: int = setting(128, "attention: size A of the cells and the question in "
                                 "the attention", count(4096))
    hidden_units: int = setting(128, "hidden ReLU layer of the answer classifier",
                                count(4096))
    dropout_rate: float = setting(0.0, "dropout before the answer classifier", fraction)
    batch_size: int = setting(64, "questions per batch", count(65_536))
    epochs: int = 8
    learning_rate: float = setting(1e-3, "Adam learning rate", positive_float)
    val_fraction: float = setting(0.1, "fraction of the training images held out (with all "
                                  "their questions) for validation", validation_fraction)
    top_answers: int = setting(1000, "VQA v1: the answers the model chooses from, the most "
                               "frequent of training (easy-VQA has 13)", count(100_000))

    @property
    def cnn_widths(self):
        return (self.cnn_width, 2 * self.cnn_width, 4 * self.cnn_width)


PRESETS = {
    # Seconds on the tiny fixture of the tests (1,000 questions about 120 32x32 images:
    # attention reads their colours after 8 epochs); for tests and trying commands.
    "test": VQAConfig(image_size=32, cnn_width=8, embedding_dim=16, units=24,
                      attention_dim=24, hidden_units=24, batch_size=32, epochs=8,
                      learning_rate=5e-3),
    # easy-VQA (64x64 shapes) within minutes on 2 CPU cores (benchmarks/vqa_easy.py).
    "easy_vqa": VQAConfig(cnn_width=16, embedding_dim=32, units=64, attention_dim=64,
                          hidden_units=64),
}


def build_encoder(config):
    """The run's image encoder (small_cnn trains with the model; the others are frozen)."""
    return build_image_encoder(config.encoder, config.image_size, weights=config.weights,
                               widths=config.cnn_widths)


def encoder_grid_shape(config):
    return grid_shape(config.encoder, config.image_size, config.cnn_widths)


@keras.saving.register_keras_serializable(package="tfcourse")
class GridAttention(layers.Layer):
    """(cells (B, N, A), question (B, A)) -> (attended (B, A), weights (B, N)).

    Stacked attention's one layer: p = softmax_i(w . tanh(cells_i + question)).
    """

    def __init__(self, attention_dim, **kwargs):
        super().__init__(**kwargs)
        self.attention_dim = attention_dim
        self.score = layers.Dense(1, name="score")

    def build(self, cells_shape, question_shape=None):
        self.score.build((None, None, self.attention_dim))

    def call(self, cells, question):
        hidden = tf.tanh(cells + question[:, None, :])                  # (B, N, A)
        weights = tf.nn.softmax(self.score(hidden)[..., 0], axis=-1)    # (B, N)
        return tf.einsum("bn,bna->ba", weights, cells), weights

    def get_config(self):
        return dict(super().get_config(), attention_dim=self.attention_dim)


def reads_image(config):
    return config.arch != "blind"


def build_vqa_model(config, vocab_size, num_answers):
    """The compiled model: {"image" or "grid", "question"} -> answer logits (B, answers).

    The attention layer is named "grid_attention" (its second output, (B, h*w),
    is what vqa_servable draws); the encoder, when the model holds one, "encoder".
    """
    question = keras.Input((None,), dtype="int32", name="question")
    inputs = {"question": question}
    words = layers.Embedding(vocab_size, config.embedding_dim, mask_zero=True,
                             name="words")(question)                       # (B, T, E)
    if reads_image(config):
        if is_frozen(config.encoder):
            grid = keras.Input(encoder_grid_shape(config), name="grid")
            inputs["grid"] = grid
        else:
            image = keras.Input((config.image_size, config.image_size, 3), dtype="uint8",
                                name="image")
            inputs["image"] = image
            grid = build_encoder(config)(image)                             # (B, h, w, c)
    if config.arch == "vis_lstm":
        pooled = layers.GlobalAveragePooling2D()(grid)                      # (B, c)
        step = layers.Reshape((1, config.embedding_dim))(
            layers.Dense(config.embedding_dim, name="image_step")(pooled))  # (B, 1, E)
        sequence = layers.Concatenate(axis=1)([step, words])                # (B, 1 + T, E)
        mask = layers.Concatenate(axis=1)([keras.ops.ones_like(question[:, :1]) > 0,
                                           question > 0])                   # (B, 1 + T)
        features = layers.LSTM(config.units, name="question_lstm")(sequence, mask=mask)
    else:
        features = layers.LSTM(config.units, name="question_lstm")(words)   # (B, U)
    if config.arch == "attention":
        cells = layers.Reshape((-1, grid.shape[-1]))(grid)                   # (B, N, c)
        cells = layers.Dense(config.attention_dim, activation="tanh", name="cells")(cells)
        asked = layers.Dense(config.attention_dim, activation="tanh", name="asked")(features)
        attended, _ = GridAttention(config.attention_dim, name="grid_attention")(cells, asked)
        features = layers.Multiply()([attended, asked])                     # (B, A)
    hidden = layers.Dense(config.hidden_units, activation="relu", name="hidden")(features)
    if config.dropout_rate:
        hidden = layers.Dropout(config.dropout_rate)(hidden)
    logits = layers.Dense(num_answers, name="answer")(hidden)
    model = keras.Model(inputs, logits, name=f"vqa_{config.arch}")
    # DenseReplicaAdam: Keras's Adam, but the embedding's gradient is summed densely across
    # replicas (TF's sum of IndexedSlices fails on several replicas; common.optimizers).
    model.compile(optimizer=DenseReplicaAdam(config.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def estimated_size(config, vocab_size, num_answers, words, batch_size=None):
    """The ModelSize of build_vqa_model (Adam: 4 copies per weight) for questions of `words`."""
    count = Counter()
    count.weights(vocab_size * config.embedding_dim)
    count.output(words * config.embedding_dim)
    if reads_image(config) and not is_frozen(config.encoder):
        channels, side = 3, config.image_size
        for width in config.cnn_widths:
            count.conv(channels, width, 3, side * side, bias=False)
            count.output(3 * side * side * width)   # batch norm, ReLU, before pooling
            channels, side = width, (side + 1) // 2
    h, w, c = encoder_grid_shape(config) if reads_image(config) else (0, 0, 0)
    count.recurrent(config.embedding_dim, config.units, words + 1)
    if config.arch == "attention":
        count.dense(c, config.attention_dim, positions=h * w)
        count.dense(config.units, config.attention_dim)
        count.output(3 * h * w * config.attention_dim)
    count.dense(config.attention_dim if config.arch == "attention" else config.units,
                config.hidden_units)
    count.dense(config.hidden_units, num_answers)
    return count.size(batch_size or config.batch_size, copies=4)
