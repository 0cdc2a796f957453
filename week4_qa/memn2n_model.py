"""End-To-End Memory Networks (Sukhbaatar et al. 2015): configuration, presets, the model.

Shapes, for a batch of B questions with M memories of at most J words:

    story ids   (B, M, J)   memory slot 0 is the most recent sentence; id 0 pads
    query ids   (B, Jq)
    time        (B, M)      each memory's time index (0: most recent), for TE
    u^1 = sum_j l_j * B q_j                              (B, d)   l: position encoding
    hop k = 1..K:
      m_i = sum_j l_j * A^k x_ij + T_A^k(i)              (B, M, d)  memory inputs
      c_i = sum_j l_j * C^k x_ij + T_C^k(i)              (B, M, d)  memory outputs
      p   = softmax(u^k . m_i) over the story's memories  (B, M)     attention
      u^{k+1} = u^k + sum_i p_i c_i                      (B, d)
    answer logits  u^{K+1} W^T                           (B, vocabulary)

Adjacent weight tying (the paper's section 2.2): A^{k+1} = C^k, B = A^1 and
W = C^K, so K hops hold K + 1 embedding matrices E_0..E_K with A^k = E_{k-1}
and C^k = E_k; the temporal matrices T_A, T_C are tied the same way.
Linear start removes the softmax of every hop (p = u . m_i) while a flag
variable of the model says so; training sets it (memn2n_verbs).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from common.argtypes import EPOCHS_MAX, count, fraction, non_negative_float, positive_float
from common.configs import config_from_dict, setting
from common.model_size import Counter
from common.optimizers import WholeBatchClipSGD

MAX_HOPS = 10
INIT_STDDEV = 0.1  # the paper's N(0, 0.1) initial weights


def validation_fraction(text):
    value = fraction(text)
    if not 0 < value <= 0.5:
        import argparse

        raise argparse.ArgumentTypeError(f"must be in (0, 0.5], got {text}")
    return value


validation_fraction.__name__ = "in (0, 0.5]"


@dataclasses.dataclass(frozen=True)
class MemN2NConfig:
    hops: int = setting(3, "memory hops (K); more hops chain more facts", count(MAX_HOPS))
    embedding_dim: int = setting(20, "embedding size d", count(4096))
    memory_size: int = setting(50, "a question reads its story's most recent sentences, at "
                               "most this many", count(10_000))
    position_encoding: bool = setting(True, "position encoding (PE) of a sentence's words; "
                                      "off: a plain bag of words")
    temporal_encoding: bool = setting(True, "temporal encoding (TE): each memory's age "
                                      "embedded")
    random_noise: float = setting(0.1, "training spreads the memories' time indices as if "
                                  "this fraction of empty memories were inserted (the "
                                  "paper's RN); 0: off", fraction)
    linear_start: bool = setting(True, "linear start (LS): each try starts without the hops' "
                                 "softmax and reinserts it when the validation loss stops "
                                 "falling (at the latest after half its epochs)")
    batch_size: int = setting(32, "questions per batch", count(65_536))
    epochs: int = 100
    learning_rate: float = setting(0.01, "SGD learning rate for the loss summed over a batch "
                                   "(the paper's; the mean loss steps batch_size times it)",
                                   positive_float)
    halve_every: int = setting(25, "halve the learning rate every this many epochs of a "
                               "try", count(EPOCHS_MAX))
    grad_clip: float = setting(40.0, "clip the summed loss's gradients to this global norm; "
                               "0: off",
                               non_negative_float)
    tries: int = setting(1, "train from this many different initial weights, one after "
                         "another in the run, --epochs each; best.keras is the best epoch "
                         "by validation loss over all tries (the paper's best of 10)",
                         count(100))
    val_fraction: float = setting(0.1, "fraction of the training stories held out for "
                                  "validation (the paper's 10%)", validation_fraction)


PRESETS = {
    # Trains generated task 1 (1k) to about 99% in seconds; for tests and trying commands.
    "test": MemN2NConfig(hops=2, memory_size=20, epochs=20, halve_every=10),
    # The paper's settings (section 4.2): 3 hops, d = 20, 100 epochs halving every 25.
    "paper": MemN2NConfig(),
}


def position_encoding(mask, dim):
    """(..., J, dim) weights l_kj = (1 - j/J) - (k/d)(1 - 2j/J) of each word of a sentence.

    mask (..., J): 1 for a sentence's words, 0 for padding; J is each sentence's
    own length (its words), so padding a sentence changes none of its weights.
    j = 1..J counts words, k = 1..d embedding dimensions (the paper's eq. in 4.1).
    """
    mask = tf.cast(mask, tf.float32)
    length = tf.maximum(tf.reduce_sum(mask, -1, keepdims=True), 1.0)     # (..., 1)
    j = tf.range(1, tf.shape(mask)[-1] + 1, dtype=tf.float32) / length   # (..., J): j / J
    k = tf.range(1, dim + 1, dtype=tf.float32) / dim                     # (dim,): k / d
    return (1.0 - j)[..., None] - k * (1.0 - 2.0 * j)[..., None]         # (..., J, dim)


@keras.saving.register_keras_serializable(package="tfcourse")
class MemoryHops(layers.Layer):
    """The K hops with adjacent weight tying: (story, query, time) -> (logits, attention)."""

    def __init__(self, memn2n_config, vocab_size, **kwargs):
        super().__init__(**kwargs)
        config = config_from_dict(MemN2NConfig, memn2n_config)
        self.memn2n_config = dataclasses.asdict(config)
        self.config_ = config
        self.vocab_size = vocab_size
        init = keras.initializers.RandomNormal(stddev=INIT_STDDEV)
        # E_0..E_K: (K + 1, vocabulary, d); T_0..T_K: (K + 1, memory_size, d).
        self.embeddings = self.add_weight(
            (config.hops + 1, vocab_size, config.embedding_dim), init, name="embeddings")
        self.temporal = (self.add_weight((config.hops + 1, config.memory_size,
                                          config.embedding_dim), init, name="temporal")
                         if config.temporal_encoding else None)
        # 1.0 while linear start holds the softmax out; saved with the weights.
        self.linear = self.add_weight((), "zeros", name="linear", trainable=False)

    def sentences(self, k, ids):
        """ids (..., J) -> (..., d): the sentences' words in E_k, position-weighted and summed."""
        mask = tf.cast(ids > 0, tf.float32)                                # (..., J)
        words = tf.gather(self.embeddings[k], ids) * mask[..., None]       # (..., J, d)
        if self.config_.position_encoding:
            words *= position_encoding(mask, self.config_.embedding_dim)
        return tf.reduce_sum(words, -2)

    def call(self, story, query, time):
        story, query, time = (tf.cast(x, tf.int32) for x in (story, query, time))
        memory_mask = tf.reduce_any(story > 0, -1)                          # (B, M)
        u = self.sentences(0, query)                                        # (B, d)
        memories = [self.sentences(k, story) for k in range(self.config_.hops + 1)]
        if self.temporal is not None:  # each memory's age, tied like the embeddings
            memories = [m + tf.gather(self.temporal[k], time)
                        for k, m in enumerate(memories)]                    # (B, M, d) each
        attention = []
        for k in range(self.config_.hops):
            scores = tf.einsum("bmd,bd->bm", memories[k], u)               # (B, M)
            # Padded slots get exactly 0: exp(-1e30 - max) underflows to 0.
            softmax = tf.nn.softmax(tf.where(memory_mask, scores, -1e30)) * tf.cast(
                memory_mask, tf.float32)
            linear = scores * tf.cast(memory_mask, tf.float32)
            p = self.linear * linear + (1.0 - self.linear) * softmax        # (B, M)
            u = u + tf.einsum("bm,bmd->bd", p, memories[k + 1])             # (B, d)
            attention.append(p)
        logits = tf.matmul(u, self.embeddings[self.config_.hops], transpose_b=True)
        return logits, tf.stack(attention, axis=1)                          # (B, V), (B, K, M)

    def get_config(self):
        return dict(super().get_config(), memn2n_config=self.memn2n_config,
                    vocab_size=self.vocab_size)


def sgd(config):
    """The paper's SGD: its learning rate and clipping apply to the loss summed over a batch
    (as in its code), Keras's loss is the batch mean; so the same steps are lr * batch_size
    on the mean's gradient, clipped to norm grad_clip / batch_size (of the whole batch's
    gradient under any strategy: WholeBatchClipSGD)."""
    return WholeBatchClipSGD(config.learning_rate * config.batch_size,
                             global_clipnorm=(config.grad_clip / config.batch_size
                                              if config.grad_clip else None))


def build_memn2n_model(config, vocab_size):
    """The compiled model: (story, query, time) -> answer logits over the vocabulary.

    The hops layer is named "memory"; its second output (B, K, M) is the
    attention, which memn2n_servable reads.
    """
    story = keras.Input((None, None), dtype="int32", name="story")
    query = keras.Input((None,), dtype="int32", name="query")
    time = keras.Input((None,), dtype="int32", name="time")
    logits, _ = MemoryHops(dataclasses.asdict(config), vocab_size, name="memory")(
        story, query, time)
    model = keras.Model({"story": story, "query": query, "time": time}, logits,
                        name=f"memn2n_{config.hops}_hops")
    model.compile(optimizer=sgd(config),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def initial_weights(config, vocab_size, seed):
    """The trainable weights a try starts from, drawn from N(0, 0.1) keyed by `seed` alone.

    [(K + 1, vocabulary, d) embeddings, (K + 1, memory_size, d) temporal if TE].
    """
    rng = np.random.default_rng(seed)
    shapes = [(config.hops + 1, vocab_size, config.embedding_dim)]
    if config.temporal_encoding:
        shapes.append((config.hops + 1, config.memory_size, config.embedding_dim))
    return [rng.normal(0.0, INIT_STDDEV, shape).astype(np.float32) for shape in shapes]


def estimated_size(config, vocab_size, slots, words_per_sentence, batch_size=None):
    """The ModelSize of build_memn2n_model(config, vocab_size), unbuilt, for batches of
    `slots` memories of `words_per_sentence` words (plain SGD: 2 copies per weight)."""
    count = Counter()
    dim = config.embedding_dim
    count.weights((config.hops + 1) * vocab_size * dim)
    if config.temporal_encoding:
        count.weights((config.hops + 1) * config.memory_size * dim)
    count.weights(1)                                         # the linear-start flag
    for _ in range(config.hops + 1):
        count.output(slots * words_per_sentence * dim * 2)  # gathered words, PE-weighted
        count.output(slots * dim)                            # (B, M, d) memories
    count.output(config.hops * slots * 3)                    # scores, softmax, attention
    count.output(vocab_size)                                  # (B, V) logits
    return count.size(batch_size or config.batch_size, copies=2)
