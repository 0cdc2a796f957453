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

import dataclasses

import keras
import tensorflow as tf

from word2vec.pairs import MODELS

SAMPLERS = ("unigram", "log_uniform")


@dataclasses.dataclass(frozen=True)
class Word2VecConfig:
    model: str = "skipgram"  # or "cbow"
    embedding_dim: int = 100
    window: int = 5  # largest distance between center and context word
    num_sampled: int = 32  # negative words per batch, shared by its examples
    sampler: str = "unigram"  # unigram^0.75 or log_uniform
    min_count: int = 5  # rarer words are dropped
    max_vocab: int = 0  # 0: no limit; else this many words, <unk> included
    sample: float = 1e-3  # subsampling threshold; 0: off
    epochs: int = 5
    batch_size: int = 1024  # examples per step
    learning_rate: float = 0.025  # at the start; falls linearly to 1e-4 of it


PRESETS = {
    "test": Word2VecConfig(embedding_dim=16, window=2, num_sampled=8, min_count=1, sample=0.0,
                           epochs=2, batch_size=64, learning_rate=0.05),
    # gensim's defaults (dim 100, window 5, min_count 5, sample 1e-3, 5 epochs).
    "small": Word2VecConfig(),
    # For text8-sized corpora and larger.
    "large": Word2VecConfig(embedding_dim=200, window=8, epochs=15),
}


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
                 model="skipgram", seed=0, **kwargs):
        super().__init__(**kwargs)
        if model not in MODELS or sampler not in SAMPLERS:
            raise ValueError(f"unknown model {model!r} or sampler {sampler!r}")
        self.unigram_counts = [int(c) for c in unigram_counts]
        self.vocab_size = len(self.unigram_counts)
        self.embedding_dim = embedding_dim
        self.num_sampled = num_sampled
        self.sampler = sampler
        self.model_kind = model
        self.seed = seed
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
        if self.model_kind == "skipgram":
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
        """(batch,) NCE loss of each example; labels (batch,) int."""
        labels = tf.cast(tf.reshape(labels, [-1, 1]), tf.int64)
        return tf.nn.nce_loss(
            weights=self.nce_weights.value, biases=self.nce_biases.value, labels=labels,
            inputs=self.hidden(inputs), num_sampled=self.num_sampled,
            num_classes=self.vocab_size, sampled_values=self.sample_negatives(labels))

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
                    sampler=self.sampler, model=self.model_kind, seed=self.seed)


def build_word2vec(config, unigram_counts, seed=0):
    """A Word2Vec model for a vocabulary with these counts (uncompiled)."""
    return Word2Vec(unigram_counts, config.embedding_dim, config.num_sampled, config.sampler,
                    config.model, seed)


def compile_for_training(model, config, total_steps, finished_steps=0, steps_per_execution=20):
    """SGD with word2vec's linear decay over `total_steps`, resuming at `finished_steps`.

    `steps_per_execution` steps run inside one graph call: a step is only a few
    milliseconds of work, and Keras's per-call overhead would otherwise be a
    large part of it.
    """
    optimizer = keras.optimizers.SGD(LinearDecay(config.learning_rate, total_steps))
    model.compile(optimizer=optimizer, steps_per_execution=steps_per_execution)
    optimizer.build(model.trainable_variables)
    optimizer.iterations.assign(finished_steps)
    return model
