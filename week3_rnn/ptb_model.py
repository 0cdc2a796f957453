"""The Penn Treebank word-level LSTM (Zaremba et al. 2014; the TF PTB tutorial).

embedding (vocab, hidden) -> num_layers LSTM(hidden) -> softmax over the
vocabulary, with dropout on the embedding and after every LSTM layer. The
presets are the tutorial's configurations; its names map to ours as
max_epoch -> decay_after, max_max_epoch -> epochs, keep_prob -> 1 - dropout_rate,
max_grad_norm -> grad_clip, vocab_size -> max_vocab_size.

Training is the tutorial's run_epoch: the final LSTM state of each batch is
the initial state of the next (truncated backpropagation through the whole
corpus), kept in a non-trainable variable between `train_step` calls and
reset to zeros on the first batch of every pass (see ptb_data.epoch_dataset).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from common.argtypes import count, fraction, non_negative_float, non_negative_int, positive_float
from common.configs import setting
from common.model_size import Counter
from week3_rnn.fast_lstm import FastLSTM, lstm_sequence_compiled


@dataclasses.dataclass(frozen=True)
class PTBConfig:
    init_scale: float = setting(0.1, "weights start uniform(-s, s)", positive_float)
    learning_rate: float = setting(1.0, "SGD learning rate", positive_float)
    grad_clip: float = setting(5.0, "clip gradients to this global norm (the tutorial's "
                               "max_grad_norm); 0: off", non_negative_float)
    num_layers: int = setting(2, "stacked LSTM layers", count(16))
    num_steps: int = setting(20, "words per batch row (truncated BPTT)", count(10_000))
    hidden_size: int = setting(200, "LSTM units and embedding size", count(8192))
    decay_after: int = setting(4, "epochs at the full learning rate before --lr_decay "
                               "(max_epoch)", non_negative_int)
    epochs: int = 13  # (max_max_epoch); the --epochs flag is every trainer's
    dropout_rate: float = setting(0.0, "dropout on the embedding and after every LSTM layer "
                                  "(1 - keep_prob)", fraction)
    lr_decay: float = setting(0.5, "multiply the learning rate by this every epoch after "
                              "--decay_after", positive_float)
    batch_size: int = setting(20, "rows per batch", count(65_536))
    max_vocab_size: int = setting(10000, "keep the most frequent training words; the rest "
                                  "become <unk>", count(10_000_000))
    # Beyond the tutorial (Press & Wolf 2017; Gal & Ghahramani 2016; Merity et al. 2017):
    tie_embeddings: bool = setting(False, "the softmax reuses the embedding matrix")
    variational_dropout: bool = setting(False, "one dropout mask per sequence instead of one "
                                        "per word")
    weight_drop_rate: float = setting(0.0, "DropConnect on the recurrent weights (one mask "
                                      "per batch)", fraction)


PRESETS = {
    # The tutorial's TestConfig: trains in seconds.
    "test": PTBConfig(grad_clip=1.0, num_layers=1, num_steps=2, hidden_size=2, decay_after=1,
                      epochs=1),
    # Test perplexity in the tutorial's table: 115.91, 82.07, 78.29.
    "small": PTBConfig(),
    "medium": PTBConfig(init_scale=0.05, num_steps=35, hidden_size=650, decay_after=6,
                        epochs=39, dropout_rate=1 - 0.5, lr_decay=0.8),
    "large": PTBConfig(init_scale=0.04, grad_clip=10.0, num_steps=35, hidden_size=1500,
                       decay_after=14, epochs=55, dropout_rate=1 - 0.35, lr_decay=1 / 1.15),
    # Medium size with tied embeddings, variational dropout on the embedding and
    # layer outputs and DropConnect on the recurrent weights. Published numbers
    # for such models at this size are 75-78 (Press & Wolf: 77.7; Inan et al.).
    "tied": PTBConfig(init_scale=0.05, num_steps=35, hidden_size=650, decay_after=6,
                      epochs=39, dropout_rate=0.5, lr_decay=0.8, tie_embeddings=True,
                      variational_dropout=True, weight_drop_rate=0.2),
}


# The PTBConfig fields that shape the model (PTBModel's arguments besides vocab_size, seed).
MODEL_SETTINGS = ("hidden_size", "num_layers", "init_scale", "dropout_rate", "batch_size",
                  "tie_embeddings", "variational_dropout", "weight_drop_rate")


def uniform(scale):
    return keras.initializers.RandomUniform(-scale, scale)


@keras.saving.register_keras_serializable(package="tfcourse")
class PTBModel(keras.Model):
    """Embedding -> stacked LSTM -> logits, with the LSTM state passed in and out.

    `model(ids)` gives logits (batch, time, vocab); `model(ids, states,
    return_state=True)` also returns [[h, c] per layer] after the last step.
    `fit`/`evaluate` take ptb_data.epoch_dataset batches and carry the state
    between them in `carried_state` (num_layers, 2, batch_size, hidden_size).
    """

    def __init__(self, vocab_size, hidden_size=200, num_layers=2, init_scale=0.1,
                 dropout_rate=0.0, batch_size=20, tie_embeddings=False,
                 variational_dropout=False, weight_drop_rate=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.init_scale, self.dropout_rate, self.batch_size = init_scale, dropout_rate, batch_size
        self.tie_embeddings, self.variational_dropout = tie_embeddings, variational_dropout
        self.weight_drop_rate, self.seed = weight_drop_rate, seed
        self.embedding = layers.Embedding(vocab_size, hidden_size, name="embedding",
                                          embeddings_initializer=uniform(init_scale))
        # Forget-gate bias 0 and zero biases, as the tutorial's BasicLSTMCell.
        self.lstm_layers = [
            FastLSTM(hidden_size, return_sequences=True, return_state=True,
                     unit_forget_bias=False, kernel_initializer=uniform(init_scale),
                     recurrent_initializer=uniform(init_scale), name=f"lstm_{i}")
            for i in range(num_layers)]
        if not tie_embeddings:
            self.head = layers.Dense(vocab_size, name="softmax", kernel_initializer=uniform(
                init_scale), bias_initializer=uniform(init_scale))
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def build(self, input_shape=None):
        self.embedding.build((None, None))
        for layer in self.lstm_layers:
            layer.build((None, None, self.hidden_size))
        if self.tie_embeddings:
            self.softmax_bias = self.add_weight(name="softmax_bias", shape=(self.vocab_size,),
                                                initializer=uniform(self.init_scale))
        else:
            self.head.build((None, None, self.hidden_size))
        self.carried_state = self.add_weight(
            name="carried_state", trainable=False, initializer="zeros",
            shape=(self.num_layers, 2, self.batch_size, self.hidden_size))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def _dropout(self, x, training, seed, index):
        """Inverted dropout on (batch, time, features); one mask per sequence if variational."""
        if not training or self.dropout_rate == 0:
            return x
        shape = tf.shape(x)
        if self.variational_dropout:
            shape = tf.stack([shape[0], 1, shape[2]])  # the same mask at every time step
        noise = random_uniform(shape, seed, index)
        return tf.where(noise >= self.dropout_rate, x / (1 - self.dropout_rate), 0.0)

    def _lstm(self, layer, x, initial_state, training, seed, index):
        if not training or self.weight_drop_rate == 0:
            return layer(x, initial_state=initial_state, training=training)
        # DropConnect on U (units, 4 * units): one mask per batch, shared by
        # every step and sequence, so the recurrent connections get dropout
        # without touching FastLSTM's fused loop.
        rate = self.weight_drop_rate
        noise = random_uniform(tf.shape(layer.recurrent_kernel), seed, 100 + index)
        recurrent = tf.where(noise >= rate, layer.recurrent_kernel / (1 - rate), 0.0)
        if initial_state is None:
            zeros = tf.zeros([tf.shape(x)[0], self.hidden_size], x.dtype)
            initial_state = [zeros, zeros]
        outputs, h, c = lstm_sequence_compiled(
            tf.transpose(x, [1, 0, 2]), initial_state[0], initial_state[1],
            tf.convert_to_tensor(layer.kernel), recurrent, tf.convert_to_tensor(layer.bias))
        return tf.transpose(outputs, [1, 0, 2]), h, c

    def features(self, token_ids, states=None, training=False, dropout_seed=None):
        """Top LSTM layer's outputs (batch, time, hidden) and [[h, c] per layer]."""
        x = self._dropout(self.embedding(token_ids), training, dropout_seed, 0)
        new_states = []
        for i, layer in enumerate(self.lstm_layers):
            initial_state = None if states is None else states[i]
            x, h, c = self._lstm(layer, x, initial_state, training, dropout_seed, i)
            new_states.append([h, c])
            x = self._dropout(x, training, dropout_seed, i + 1)  # (batch, time, hidden)
        return x, new_states

    def softmax_weights(self):
        """The softmax's kernel (hidden, vocab) and bias (vocab,)."""
        if self.tie_embeddings:
            return (tf.transpose(self.embedding.embeddings),
                    tf.convert_to_tensor(self.softmax_bias))
        return tf.convert_to_tensor(self.head.kernel), tf.convert_to_tensor(self.head.bias)

    def call(self, token_ids, states=None, training=False, return_state=False,
             dropout_seed=None):
        """Logits (batch, time, vocab) for ids (batch, time); `dropout_seed` (2,) fixes masks."""
        x, new_states = self.features(token_ids, states, training, dropout_seed)
        kernel, bias = self.softmax_weights()
        # One 2-D matmul over all (batch x time) rows.
        shape = tf.shape(x)
        logits = tf.matmul(tf.reshape(x, [-1, self.hidden_size]), kernel) + bias
        logits = tf.reshape(logits, [shape[0], shape[1], self.vocab_size])
        return (logits, new_states) if return_state else logits

    def _start_states(self, reset):
        """The carried state, or zeros on the first batch of a pass."""
        state = tf.where(reset, tf.zeros_like(self.carried_state), self.carried_state)
        return [[state[i, 0], state[i, 1]] for i in range(self.num_layers)]

    def _carry(self, new_states):
        self.carried_state.assign(tf.stack([tf.stack(pair) for pair in new_states]))

    def train_step(self, data):
        inputs, targets = data  # ids, targets (batch, num_steps); reset ()
        states = self._start_states(inputs["reset"])
        # Masks depend only on (seed, step), so a resumed run draws the same ones.
        seed = tf.stack([tf.constant(self.seed, tf.int64),
                         tf.cast(self.optimizer.iterations, tf.int64)])
        with tf.GradientTape() as tape:
            x, new_states = self.features(inputs["ids"], states, training=True,
                                          dropout_seed=seed)
            kernel, bias = self.softmax_weights()
            loss = tf.reduce_mean(softmax_cross_entropy_dense(
                tf.reshape(x, [-1, self.hidden_size]), kernel, bias,
                tf.reshape(tf.cast(targets, tf.int32), [-1])))
            # The tutorial minimises the cross-entropy summed over the num_steps
            # steps (averaged over the batch); lr 1.0 and the clip are tuned to it.
            objective = loss * tf.cast(tf.shape(targets)[1], loss.dtype)
        gradients = tape.gradient(objective, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self._carry(new_states)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        inputs, targets = data
        logits, new_states = self(inputs["ids"], self._start_states(inputs["reset"]),
                                  return_state=True)
        self._carry(new_states)
        self.loss_tracker.update_state(mean_cross_entropy(targets, logits))
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return dict(super().get_config(), vocab_size=self.vocab_size, seed=self.seed,
                    **{name: getattr(self, name) for name in MODEL_SETTINGS})


def random_uniform(shape, seed, index):
    """uniform [0, 1): reproducible from `seed` (2,) and `index`, else from the global RNG."""
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(
        shape, tf.random.experimental.stateless_fold_in(seed, index))


@tf.custom_gradient
def softmax_cross_entropy_dense(hidden, kernel, bias, labels):
    """-log softmax(hidden @ kernel + bias)[labels]: (rows,) from hidden (rows, units).

    The same numbers as a dense layer followed by sparse softmax cross-entropy
    (up to float32 rounding; a loss above -log(float32 tiny) = 87.3 nats is
    reported as 87.3, its gradient stays exact), with a hand-written gradient,
    because with a 10,000-word softmax this head is most of a PTB step:
    - the loss comes from oneDNN's softmax (2 ms for 400 x 10,000 on the
      2-core CPU) and the picked probability, not from TF's fused
      SparseSoftmaxCrossEntropyWithLogits op (15 ms for the same);
    - d loss / d logits = softmax - one_hot, and the two gradient matmuls are
      written on explicitly transposed operands (faster on the CPU this was
      written for; Grappler may fold them back, at no cost on today's).
    """
    logits = tf.matmul(hidden, kernel) + bias  # (rows, vocab)
    probabilities = tf.nn.softmax(logits)
    picked = tf.gather(probabilities, labels, batch_dims=1)  # (rows,)
    losses = -tf.math.log(tf.maximum(picked, np.finfo(np.float32).tiny))

    def gradient(upstream):  # upstream: (rows,)
        rows = tf.range(tf.shape(labels)[0])
        dlogits = tf.tensor_scatter_nd_sub(
            probabilities, tf.stack([rows, tf.cast(labels, rows.dtype)], axis=1),
            tf.ones_like(picked))
        d = dlogits * upstream[:, None]  # (rows, vocab)
        return (tf.matmul(d, tf.transpose(kernel)), tf.matmul(tf.transpose(hidden), d),
                tf.reduce_sum(d, axis=0), None)

    return losses, gradient


def mean_cross_entropy(targets, logits):
    """Mean over batch and time of -log p(target); targets (batch, time)."""
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(targets, tf.int32), logits=logits))


def build_ptb_model(config, vocab_size, seed=0):
    """The compiled model for a PTBConfig: SGD with global-norm clipping."""
    model = PTBModel(vocab_size, seed=seed,
                     **{name: getattr(config, name) for name in MODEL_SETTINGS})
    model.build()
    model.compile(optimizer=keras.optimizers.SGD(
        config.learning_rate, global_clipnorm=config.grad_clip or None))
    return model


def estimated_size(config, vocab_size):
    """The ModelSize of build_ptb_model(config, vocab_size) for one training batch, unbuilt."""
    count, steps, hidden = Counter(), config.num_steps, config.hidden_size
    count.weights(vocab_size * hidden)
    count.output(2 * steps * hidden)                   # embedded ids, their dropout
    for _ in range(config.num_layers):
        count.recurrent(hidden, hidden, steps)
        count.output(steps * hidden)                   # dropout
    if config.tie_embeddings:
        count.weights(vocab_size)                      # the softmax's own bias
        count.output(steps * vocab_size)
    else:
        count.dense(hidden, vocab_size, positions=steps)
    count.output(steps * vocab_size)                   # the softmax, kept for its gradient
    count.weights(config.num_layers * 2 * config.batch_size * hidden)  # the carried state
    return count.size(config.batch_size, copies=2)  # plain SGD: weight and gradient
