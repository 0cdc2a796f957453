"""Image captioning models: the two decoders and the Keras model (config: caption_config).

The encoder (common.image_encoders) maps uint8 images (B, S, S, 3) to a grid
(B, h, w, c) of L = h * w annotation vectors a_i. Training reads a whole
caption with teacher forcing: decoder_ids = <start> y_1 .. y_T (B, T+1) in,
logits for y_1 .. y_T <end> (B, T+1, V) out; id 0 pads, and the loss ignores it.

show_tell (Vinyals et al. 2015): the grid averaged to one vector v (B, c),
embedded to x_-1 = W_I v (B, E), is the LSTM's first input, and only there;
the words follow: h_t = LSTM(W_e y_{t-1}, h_{t-1}), p(y_t) = softmax(W_o h_t).

show_attend_tell (Xu et al. 2015, soft attention): h_0, c_0 = tanh(W (mean_i a_i));
at each step
    e_ti   = w^T tanh(W_a a_i + W_h h_{t-1})       (B, L)   attention scores
    alpha_t = softmax_i(e_ti)                       (B, L)
    z_t    = beta_t * sum_i alpha_ti a_i            (B, c)   beta_t = sigmoid(f(h_{t-1}))
                                                            (the gating scalar, --gating)
    h_t    = LSTM([W_e y_{t-1}; dropout(z_t)], h_{t-1})       (--context_dropout)
    p(y_t) = softmax(L_o(W_e y_{t-1} + L_h h_t + L_z z_t))  (the paper's deep output)
and the doubly stochastic regulariser lambda * sum_i (1 - sum_t alpha_ti)^2 per
caption is added to the loss (--attention_penalty is lambda; it is divided by the
caption's length, since Xu et al. sum the cross-entropy over words and Keras
averages it). A learned embedding per grid cell is added to the a_i
(--grid_positions): with a 14 x 14 VGG grid the paper's features carry their
place implicitly; a small grid trained from scratch needs it to tell "left" from
"right" (measured on the scene world without grain, 10,000 scenes, 3 epochs:
87% exact captions without it, 99.6% with).
--context_dropout drops z_t where the LSTM reads it (not where the output
does), so that a word is read off what its own step attends to rather than
recalled from an earlier glance (measured on a first, unaligned version of the
scene world: the colour words' attention peaked on their object 71% of the time
without it, 81% with 0.5).

Both decoders have one `step`, which training loops over (teacher forcing) and
common.decoding's greedy and beam search call at inference, so the two agree.
"""

import dataclasses

import keras
import tensorflow as tf
from keras import layers

from common.configs import config_from_dict
from common.image_encoders import build_image_encoder, grid_shape, is_frozen
from common.metrics import TokenAccuracy
from common.model_size import Counter
from common.optimizers import WholeBatchClipAdam
from common.tokens import END_ID, PAD_ID
from week5_caption.caption_config import CaptionConfig


class CaptionDecoder(layers.Layer):
    """What both decoders share: teacher forcing over `step`, and their config."""

    def __init__(self, caption_config, vocab_size, grid, **kwargs):
        super().__init__(**kwargs)
        config = config_from_dict(CaptionConfig, caption_config)
        self.caption_config, self.config_ = dataclasses.asdict(config), config
        self.vocab_size, self.grid = vocab_size, tuple(grid)  # grid: (h, w, c)
        self.embedding = layers.Embedding(vocab_size, config.embedding_dim, name="words")
        self.cell = layers.LSTMCell(config.units, name="lstm")
        self.dropout = layers.Dropout(config.dropout_rate, seed=1)
        self.context_dropout = layers.Dropout(config.context_dropout, seed=2)

    def build(self, grid_shape, decoder_ids_shape=None):
        h, w, c = self.grid
        self.embedding.build((None,))
        self.build_parts(h * w, c)
        self.built = True

    def annotations(self, grid, training=False):
        """grid (B, h, w, c) -> annotation vectors a (B, L, c)."""
        h, w, c = self.grid
        return self.dropout(tf.reshape(tf.cast(grid, tf.float32), [-1, h * w, c]),
                            training=training)

    def call(self, grid, decoder_ids, training=False):
        """Teacher forcing: (grid, decoder_ids (B, T)) -> logits (B, T, V)."""
        memory, state = self.start(self.annotations(grid, training))
        ids = tf.transpose(tf.cast(decoder_ids, tf.int32))              # (T, B)
        steps = tf.shape(ids)[0]
        logits_ta = tf.TensorArray(tf.float32, size=steps)
        alpha_ta = tf.TensorArray(tf.float32, size=steps)

        def body(t, state, logits_ta, alpha_ta):
            logits, state, alpha = self.step(memory, ids[t], state, training)
            if alpha is None:
                alpha = tf.zeros([tf.shape(logits)[0], 1])
            return t + 1, state, logits_ta.write(t, logits), alpha_ta.write(t, alpha)

        _, _, logits_ta, alpha_ta = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), state, logits_ta, alpha_ta))
        logits = tf.transpose(logits_ta.stack(), [1, 0, 2])             # (B, T, V)
        if isinstance(self, AttendDecoder) and self.config_.attention_penalty > 0:
            alphas = tf.transpose(alpha_ta.stack(), [1, 0, 2])          # (B, T, L)
            self.add_loss(self.penalty(alphas, decoder_ids))
        return logits

    def get_config(self):
        return dict(super().get_config(), caption_config=self.caption_config,
                    vocab_size=self.vocab_size, grid=list(self.grid))


@keras.saving.register_keras_serializable(package="tfcourse")
class ShowTellDecoder(CaptionDecoder):
    """Vinyals et al.: the averaged grid is the LSTM's first input; no attention."""

    def build_parts(self, cells, channels):
        self.image_embedding = layers.Dense(self.config_.embedding_dim, name="image_embedding")
        self.image_embedding.build((None, channels))
        self.cell.build((None, self.config_.embedding_dim))
        self.output_layer = layers.Dense(self.vocab_size, name="output")
        self.output_layer.build((None, self.config_.units))

    def start(self, a):
        """a (B, L, c) -> (memory: None, LSTM state after reading x_-1 = W_I mean(a))."""
        batch = tf.shape(a)[0]
        zeros = tf.zeros([batch, self.config_.units])
        _, state = self.cell(self.image_embedding(tf.reduce_mean(a, 1)), [zeros, zeros])
        return None, list(state)

    def step(self, memory, tokens, state, training=False):
        """tokens (B,) -> (logits (B, V), state, None)."""
        output, state = self.cell(tf.gather(self.embedding.embeddings, tokens), state)
        return self.output_layer(output), list(state), None


@keras.saving.register_keras_serializable(package="tfcourse")
class AttendDecoder(CaptionDecoder):
    """Xu et al.'s soft attention decoder (module docstring)."""

    def build_parts(self, cells, channels):
        config = self.config_
        self.positions = (self.add_weight((cells, channels), "zeros", name="grid_positions")
                          if config.grid_positions else None)
        parts = {"init_h": (channels, config.units), "init_c": (channels, config.units),
                 "attend_a": (channels, config.attention_dim),
                 "attend_h": (config.units, config.attention_dim),
                 "attend_score": (config.attention_dim, 1),
                 "gate": (config.units, 1), "out_h": (config.units, config.embedding_dim),
                 "out_z": (channels, config.embedding_dim),
                 "logits": (config.embedding_dim, self.vocab_size)}
        for name, (inputs, units) in parts.items():
            layer = layers.Dense(units, use_bias=name not in ("attend_a", "attend_score"),
                                 name=name)
            layer.build((None, inputs))
            setattr(self, name, layer)
        self.cell.build((None, config.embedding_dim + channels))

    def start(self, a):
        """a (B, L, c) -> ((a, W_a a) memory, [h_0, c_0])."""
        if self.positions is not None:
            a = a + self.positions[None]
        mean = tf.reduce_mean(a, 1)                                     # (B, c)
        state = [tf.tanh(self.init_h(mean)), tf.tanh(self.init_c(mean))]
        return (a, self.attend_a(a)), state

    def attend(self, memory, h):
        """(context z (B, c), alpha (B, L)) from memory and h_{t-1} (B, units)."""
        a, keys = memory                                                # (B, L, c), (B, L, k)
        scores = self.attend_score(tf.tanh(keys + self.attend_h(h)[:, None]))[..., 0]
        alpha = tf.nn.softmax(scores)                                   # (B, L)
        z = tf.einsum("bl,blc->bc", alpha, a)
        if self.config_.gating:
            z = z * tf.sigmoid(self.gate(h))                            # beta_t (B, 1)
        return z, alpha

    def step(self, memory, tokens, state, training=False):
        """tokens (B,) -> (logits (B, V), state, alpha (B, L))."""
        z, alpha = self.attend(memory, state[0])
        y = tf.gather(self.embedding.embeddings, tokens)                # (B, E)
        remembered = self.context_dropout(z, training=training)
        h, state = self.cell(tf.concat([y, remembered], -1), state)
        deep = y + self.out_z(z)
        if self.config_.state_to_output:
            deep = deep + self.out_h(h)
        logits = self.logits(deep)
        return logits, list(state), alpha

    def penalty(self, alphas, decoder_ids):
        """lambda * sum_i (1 - sum_t alpha_ti)^2 / T per caption, averaged over the batch;
        alphas (B, T, L); the steps that read <pad> or <end> (which predict no word of the
        caption) are left out."""
        ids = tf.cast(decoder_ids, tf.int32)
        real = tf.cast((ids != PAD_ID) & (ids != END_ID), tf.float32)  # (B, T)
        coverage = tf.reduce_sum(alphas * real[..., None], 1)           # (B, L)
        per_caption = tf.reduce_sum(tf.square(1.0 - coverage), -1) / tf.maximum(
            tf.reduce_sum(real, -1), 1.0)
        return self.config_.attention_penalty * tf.reduce_mean(per_caption)


DECODERS = {"show_tell": ShowTellDecoder, "show_attend_tell": AttendDecoder}


def encoder_grid(config):
    """(h, w, c) of the config's encoder."""
    return grid_shape(config.encoder, config.image_size, config.widths)


def build_encoder(config, seed=0):
    return build_image_encoder(config.encoder, config.image_size,
                               weights=config.weights, widths=config.widths, seed=seed)


def build_caption_model(config, vocab_size, seed=0):
    """The compiled training model: {"images" or "grid", "decoder_ids"} -> logits (B, T, V).

    A small_cnn encoder trains with the decoder, so the model reads uint8 images;
    a frozen application's grids are computed once (caption_verbs), so the model
    reads them instead and the servable runs the encoder in front.
    """
    grid = encoder_grid(config)
    if is_frozen(config.encoder):
        inputs = keras.Input(grid, dtype="float32", name="grid")
        features = inputs
    else:
        inputs = keras.Input((config.image_size, config.image_size, 3), dtype="uint8",
                             name="images")
        features = build_encoder(config, seed)(inputs)
    decoder_ids = keras.Input((None,), dtype="int32", name="decoder_ids")
    decoder = DECODERS[config.arch](dataclasses.asdict(config), vocab_size, grid,
                                    name="decoder")
    logits = decoder(features, decoder_ids)
    model = keras.Model({inputs.name: inputs, "decoder_ids": decoder_ids}, logits,
                        name=f"caption_{config.arch}")
    # The clipping measures the whole batch's gradient under --strategy mirrored and
    # multi_worker too (Keras's Adam clips each replica's part apart).
    model.compile(optimizer=WholeBatchClipAdam(config.learning_rate,
                                               global_clipnorm=config.grad_clip or None),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                  ignore_class=0),
                  metrics=[TokenAccuracy()])
    return model


def estimated_size(config, vocab_size, batch_size=None):
    """The ModelSize of build_caption_model, unbuilt, for captions of max_length words."""
    count, steps = Counter(), config.max_length + 1
    h, w, c = encoder_grid(config)
    frozen = 0
    if not is_frozen(config.encoder):
        side, channels = config.image_size, 3
        for width in config.widths:
            count.conv(channels, width, 3, side * side, bias=False)
            count.output(3 * side * side * width)        # batch norm, ReLU, pooling
            side, channels = (side + 1) // 2, width
    count.weights(vocab_size * config.embedding_dim)
    inputs = config.embedding_dim + (c if config.arch == "show_attend_tell" else 0)
    count.recurrent(inputs, config.units, steps)
    if config.arch == "show_attend_tell":
        count.output(steps * h * w * (config.attention_dim + 3))   # scores, softmax, products
        count.dense(c, config.attention_dim, positions=h * w)
        count.dense(config.units, config.attention_dim, positions=steps)
        count.dense(config.units + c, config.embedding_dim, positions=steps)
        count.weights(h * w * c + 2 * c * config.units)
    count.dense(config.embedding_dim if config.arch == "show_attend_tell" else config.units,
                vocab_size, positions=steps)
    return count.size(batch_size or config.batch_size, frozen=frozen)

