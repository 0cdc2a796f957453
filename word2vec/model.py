"""The word2vec model: an embedding table trained with NCE (tf.nn.nce_loss).

    skip-gram  hidden = embeddings[center]                          (batch, dim)
    CBOW       hidden = mean of embeddings[context] over the window  (batch, dim)
    loss       tf.nn.nce_loss(nce_weights, nce_biases, labels, hidden, num_sampled)

`num_sampled` negative words are drawn once per batch and shared by all its
examples (tf.nn.nce_loss's contract, as in TF's word2vec_basic), from the
unigram distribution raised to 0.75 (word2vec's) or a log-uniform (Zipf)
distribution over frequency-ranked ids. Sharing makes the negative side one
(batch, dim) x (dim, num_sampled) matmul, so large batches are cheap.

Training is plain SGD on the summed loss (so the learning rate means the
same at any batch size, as word2vec.c's per-pair updates), with the learning
rate falling linearly to 1e-4 of its start over the whole run, as word2vec.c
and gensim do. The gradients are IndexedSlices: Keras's SGD applies them with
scatter_sub, touching only the rows in the batch.

Under --strategy multi_worker each worker takes its slice of the global
batch and trains what one process would on the whole batch: the loss needs
no rescaling (it is a sum over examples, and the strategy sums the workers'
gradients), nce's negatives are one set for the global batch (every worker
draws the same set: one graph, one global seed), and negative_sampling's
are each example's own (Word2Vec.draw_negatives). Measured on 158k words of
enwiki, small preset, 2 epochs: the same losses as one process (44.4400 vs
44.4401, then 13.2024). Under mirrored each replica draws its own nce set.

Why batch 1024 and 32 negatives (enwiki_sample, skip-gram, 5 epochs, analogy
accuracy / WordSim-353 Spearman; gensim: 2.1-2.2% / 0.23-0.24):

    batch 1024, 32 negatives, lr 0.025     2.56% / 0.394
    batch 1024, 64 negatives, lr 0.025     3.40% / 0.293
    batch 2048, 32 negatives, lr 0.025     0.58% / 0.348
    batch 4096, 32 negatives, lr 0.0125    0.45% / 0.260
    batch 4096, 64 negatives, lr 0.025     diverged (NaN)

A larger batch applies more updates to the same rows at once: a frequent
word's, and above all a sampled negative's, which gets a gradient from every
example of the batch.
"""

import argparse
import dataclasses

import keras
import numpy as np
import tensorflow as tf

from common.argtypes import count, non_negative_float, positive_float
from common.configs import setting
from common.model_size import Counter
from word2vec.pairs import MODELS

SAMPLERS = ("unigram", "log_uniform")
# nce: tf.nn.nce_loss, negatives shared by the batch (TF's word2vec_basic);
# negative_sampling: word2vec.c's and gensim's loss, negatives drawn per example.
LOSSES = ("nce", "negative_sampling")
# Training steps per graph call (one under a strategy of several replicas, common.training.fit_run).
STEPS_PER_EXECUTION = 20
# The largest value each size flag takes (a typo such as 10**9 is an error, not an OOM kill).
MAX_EMBEDDING_DIM = 4_096
MAX_WINDOW = 100
MAX_NUM_SAMPLED = 100_000
MAX_VOCAB = 10_000_000
MAX_MIN_COUNT = 10 ** 9
MAX_BATCH_SIZE = 1_048_576


def vocab_limit(text):
    """--max_vocab: 0 (no limit) or a count of at most MAX_VOCAB."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_VOCAB:
        raise argparse.ArgumentTypeError(f"must be 0 (no limit) or in 1..{MAX_VOCAB:,}, "
                                         f"got {text}")
    return value


vocab_limit.__name__ = "max_vocab"  # argparse names the type in its messages


@dataclasses.dataclass(frozen=True)
class Word2VecConfig:
    arch: str = setting("skipgram", "skipgram predicts each context word from the center "
                        "word, cbow the center word from the mean of its context",
                        choices=MODELS)
    embedding_dim: int = setting(
        100, f"length of the word vectors (at most {MAX_EMBEDDING_DIM:,})",
        count(MAX_EMBEDDING_DIM))
    window: int = setting(5, "largest distance between center and context word; each center "
                          f"draws its own window in [1, window] (at most {MAX_WINDOW})",
                          count(MAX_WINDOW))
    # A field added later reads its default from an older config.json: "nce" is
    # what every run made before negative sampling was trained with.
    loss: str = setting("nce", "nce: tf.nn.nce_loss, --num_sampled negatives shared by the "
                        "whole batch; negative_sampling: word2vec.c's loss, --num_sampled "
                        "negatives drawn for every example", choices=LOSSES)
    num_sampled: int = setting(32, "negative words: per batch (nce) or per example "
                               f"(negative_sampling) (at most {MAX_NUM_SAMPLED:,})",
                               count(MAX_NUM_SAMPLED))
    sampler: str = setting("unigram", "negatives drawn from unigram counts ** 0.75 or from a "
                           "log-uniform (Zipf) law over frequency ranks", choices=SAMPLERS)
    min_count: int = setting(5, "words seen fewer times are dropped", count(MAX_MIN_COUNT))
    max_vocab: int = setting(0, "keep at most this many words, <unk> included; 0: all (at "
                             f"most {MAX_VOCAB:,})", vocab_limit)
    sample: float = setting(1e-3, "subsampling threshold: words more frequent than this "
                            "fraction are randomly skipped; 0: off", non_negative_float)
    epochs: int = 5  # --epochs comes from common.cli.add_training_flags
    batch_size: int = setting(1024, f"examples per training step (at most "
                              f"{MAX_BATCH_SIZE:,})", count(MAX_BATCH_SIZE))
    learning_rate: float = setting(0.025, "SGD learning rate at the start; it falls linearly "
                                   "to 1e-4 of that by the last step", positive_float)


PRESETS = {
    "test": Word2VecConfig(embedding_dim=16, window=2, num_sampled=8, min_count=1, sample=0.0,
                           epochs=2, batch_size=64, learning_rate=0.05),
    # gensim's defaults (dim 100, window 5, min_count 5, sample 1e-3, 5 epochs).
    "small": Word2VecConfig(),
    # For text8-sized corpora and larger.
    "large": Word2VecConfig(embedding_dim=200, window=8, epochs=15),
}


def negative_cdf(counts, sampler):
    """(vocab,) float64: the cumulative distribution negatives are drawn from.

    unigram: counts ** 0.75 normalised (word2vec.c's); log_uniform: P(k) =
    log((k + 2) / (k + 1)) / log(vocab + 1) over frequency ranks k, as
    tf.random.log_uniform_candidate_sampler. From the last word with a
    non-zero probability on the value is exactly 1, so a draw in [0, 1) never
    lands on a word of probability zero (<unk>, count 0).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sampler == "log_uniform":
        ranks = np.arange(len(counts), dtype=np.float64)
        probabilities = np.log((ranks + 2) / (ranks + 1))
    else:
        probabilities = counts ** 0.75
    cdf = np.cumsum(probabilities) / probabilities.sum()
    cdf[np.flatnonzero(probabilities)[-1]:] = 1.0
    return cdf


@keras.saving.register_keras_serializable(package="tfcourse")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """initial * max(1 - step / total_steps, floor): word2vec's learning-rate schedule."""

    def __init__(self, initial, total_steps, floor=1e-4):
        self.initial, self.total_steps, self.floor = initial, total_steps, floor

    def __call__(self, step):
        progress = tf.cast(step, tf.float32) / float(max(self.total_steps, 1))
        return self.initial * tf.maximum(1.0 - progress, self.floor)

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps, "floor": self.floor}


@keras.saving.register_keras_serializable(package="tfcourse")
class Word2Vec(keras.Model):
    """Input embeddings (the word vectors) plus the NCE output weights and biases.

    `model(ids)` gives the vectors (..., dim) of word ids; `fit` takes
    pairs.training_dataset batches.
    """

    def __init__(self, unigram_counts, embedding_dim=100, num_sampled=64, sampler="unigram",
                 arch="skipgram", seed=0, loss="nce", **kwargs):
        super().__init__(**kwargs)
        if arch not in MODELS or sampler not in SAMPLERS or loss not in LOSSES:
            raise ValueError(f"unknown arch {arch!r}, sampler {sampler!r} or loss {loss!r}")
        self.unigram_counts = [int(c) for c in unigram_counts]
        self.vocab_size = len(self.unigram_counts)
        self.embedding_dim = embedding_dim
        self.num_sampled = num_sampled
        self.sampler = sampler
        self.arch = arch
        self.seed = seed
        self.loss_name = loss  # Keras's compile owns `self.loss`
        # negative_sampling draws ids by binary search in this cumulative
        # distribution (vocab float64s: not built for nce, which never reads it).
        self.negative_cdf = (tf.constant(negative_cdf(self.unigram_counts, sampler))
                             if loss == "negative_sampling" else None)
        # word2vec.c's initialisation: inputs uniform(-0.5/dim, 0.5/dim), outputs zero.
        scale = 0.5 / embedding_dim
        self.embeddings = self.add_weight(
            name="embeddings", shape=(self.vocab_size, embedding_dim),
            initializer=keras.initializers.RandomUniform(-scale, scale, seed=seed))
        self.nce_weights = self.add_weight(name="nce_weights", initializer="zeros",
                                           shape=(self.vocab_size, embedding_dim))
        self.nce_biases = self.add_weight(name="nce_biases", initializer="zeros",
                                          shape=(self.vocab_size,))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, ids):
        return tf.gather(self.embeddings.value, ids)

    def hidden(self, inputs):
        """(batch, dim): the center's vector (skip-gram) or the context mean (CBOW)."""
        if self.arch == "skipgram":
            return tf.gather(self.embeddings.value, inputs)
        contexts, mask = inputs  # (batch, 2 * window) ids and 0/1 weights
        vectors = tf.gather(self.embeddings.value, contexts)  # (batch, 2w, dim)
        total = tf.einsum("bwd,bw->bd", vectors, mask)
        return total / tf.reduce_sum(mask, axis=1, keepdims=True)

    def sample_negatives(self, labels):
        """(sampled (num_sampled,), true_expected (batch, 1), sampled_expected) for nce_loss."""
        common = dict(true_classes=labels, num_true=1, num_sampled=self.num_sampled,
                      unique=True, range_max=self.vocab_size)
        if self.sampler == "log_uniform":
            return tf.random.log_uniform_candidate_sampler(**common)
        return tf.random.fixed_unigram_candidate_sampler(
            **common, distortion=0.75, unigrams=self.unigram_counts)

    def example_losses(self, inputs, labels):
        """(batch,) loss of each example (NCE or negative sampling); labels (batch,) int."""
        if self.loss_name == "negative_sampling":
            return self.negative_sampling_losses(inputs, labels)
        labels = tf.cast(tf.reshape(labels, [-1, 1]), tf.int64)
        return tf.nn.nce_loss(
            weights=self.nce_weights.value, biases=self.nce_biases.value, labels=labels,
            inputs=self.hidden(inputs), num_sampled=self.num_sampled,
            num_classes=self.vocab_size, sampled_values=self.sample_negatives(labels))

    def draw_negatives(self, shape):
        """Word ids of `shape` (batch, num_sampled) drawn independently from the sampler's
        distribution.

        Under a strategy of several replicas each replica draws for the whole
        global batch and keeps its own slice's rows: the workers of a cluster
        run one random stream (one graph, one global seed), so drawing just
        `shape` would give every worker's slice the very negatives the others
        get. Kept this way, each example has its own negatives, as in one process.
        """
        context = tf.distribute.get_replica_context()
        replicas = 1 if context is None else context.num_replicas_in_sync
        batch = shape[0]
        if replicas > 1:  # the global batch (exactly so when it splits evenly)
            shape = tf.stack([batch * replicas, shape[1]])
        uniform = tf.random.uniform([tf.reduce_prod(shape)], dtype=tf.float64)
        ids = tf.searchsorted(self.negative_cdf, uniform, side="right", out_type=tf.int32)
        ids = tf.reshape(ids, shape)
        if replicas == 1:
            return ids
        first = tf.cast(context.replica_id_in_sync_group, tf.int32) * batch
        return ids[first:first + batch]

    def negative_sampling_losses(self, inputs, labels):
        """word2vec.c's loss: -log s(u_o.h + b_o) - sum_k log s(-(u_k.h + b_k)), (batch,).

        Each example gets its own `num_sampled` negatives, so a sampled word's
        output row takes the gradient of the few examples that drew it, not of
        the whole batch as with nce_loss's shared negatives. A negative that
        happens to be the example's true word is skipped, as in word2vec.c.
        """
        labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
        negatives = self.draw_negatives(tf.stack([tf.size(labels), self.num_sampled]))
        words = tf.concat([labels[:, None], negatives], axis=1)  # (batch, 1 + num_sampled)
        outputs = tf.gather(self.nce_weights.value, words)  # (batch, 1 + num_sampled, dim)
        logits = (tf.reduce_sum(outputs * self.hidden(inputs)[:, None, :], axis=2)
                  + tf.gather(self.nce_biases.value, words))
        positive = tf.nn.softplus(-logits[:, 0])
        kept = tf.cast(tf.not_equal(negatives, labels[:, None]), logits.dtype)
        return positive + tf.reduce_sum(kept * tf.nn.softplus(logits[:, 1:]), axis=1)

    def train_step(self, data):
        inputs, labels = data
        with tf.GradientTape() as tape:
            losses = self.example_losses(inputs, labels)
            total = tf.reduce_sum(losses)
        gradients = tape.gradient(total, self.trainable_variables)  # IndexedSlices
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(losses)
        return {"loss": self.loss_tracker.result()}

    def get_config(self):
        return dict(super().get_config(), unigram_counts=self.unigram_counts,
                    embedding_dim=self.embedding_dim, num_sampled=self.num_sampled,
                    sampler=self.sampler, arch=self.arch, seed=self.seed,
                    loss=self.loss_name)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "model" in config:  # checkpoints written before --model became --arch
            config["arch"] = config.pop("model")
        return cls(**config)


def estimated_size(config, vocab_size):
    """The ModelSize of build_word2vec(config, counts of vocab_size words) for one batch, unbuilt.

    SGD on IndexedSlices: training holds the weights once, and gradients only
    for the rows of the batch (counted with the activations).
    """
    count, dim, negatives = Counter(), config.embedding_dim, config.num_sampled
    count.weights(vocab_size * (2 * dim + 1))          # embeddings, NCE weights and biases
    context = 2 * config.window if config.arch == "cbow" else 1
    count.output(context * dim + dim)                  # looked-up vectors, the hidden vector
    if config.loss == "negative_sampling":
        count.output((negatives + 1) * (dim + 1))      # each example's own output rows, logits
    else:
        count.output(dim + negatives + 1)              # the true output row, the logits
    size = count.size(config.batch_size, copies=1)
    shared = negatives * dim if config.loss == "nce" else 0  # the batch's sampled rows
    return dataclasses.replace(size, activations=size.activations + shared)


def build_word2vec(config, unigram_counts, seed=0):
    """A Word2Vec model for a vocabulary with these counts (uncompiled)."""
    return Word2Vec(unigram_counts, config.embedding_dim, config.num_sampled, config.sampler,
                    config.arch, seed, config.loss)


def compile_for_training(model, config, total_steps=1,
                         steps_per_execution=STEPS_PER_EXECUTION):
    """SGD with word2vec's linear decay over `total_steps` (ScheduleSteps sets it per run).

    `steps_per_execution` steps run inside one graph call: a step is only a few
    milliseconds of work, and Keras's per-call overhead would otherwise be a
    large part of it.
    """
    optimizer = keras.optimizers.SGD(LinearDecay(config.learning_rate, total_steps))
    model.compile(optimizer=optimizer, steps_per_execution=steps_per_execution)
    optimizer.build(model.trainable_variables)
    return model


class ScheduleSteps(keras.callbacks.Callback):
    """At the start of `fit`: the decay spans this run's steps, resumed at `finished_steps`.

    The schedule's length depends on --epochs, which a resume may raise, and a
    checkpoint restores the optimizer with the length it was saved with (and,
    after Ctrl-C, the step count of a part-epoch whose data is redone). So the
    schedule and the step count are set here, before the first step is traced,
    as word2vec.c's linear decay over the whole run requires.
    """

    def __init__(self, learning_rate, total_steps, finished_steps):
        super().__init__()
        self.learning_rate, self.total_steps = learning_rate, total_steps
        self.finished_steps = finished_steps

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        optimizer.learning_rate = LinearDecay(self.learning_rate, self.total_steps)
        optimizer.iterations.assign(self.finished_steps)
