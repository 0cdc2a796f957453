"""Text generation from a CharRNN, as a compiled loop that carries the state.

The prime is read once; after that every step feeds one character and the
RNN state, never the whole prefix again. The loop is a `tf.function`, so the
same graph serves `char_rnn sample` and the exported SavedModel.

Sampling follows the lecture's three ways:
  weighted  draw every next character from softmax(logits / temperature)
  argmax    always take the most likely character (greedy)
  space     draw only right after a space, otherwise take the most likely
"""

import tensorflow as tf

SAMPLING = ("weighted", "argmax", "space")


def sample_next(logits, temperature, seed):
    """Draws one id per row of logits (batch, vocab) at a temperature.

    Stateless: the same `seed` (shape (2,)) always draws the same ids.
    """
    return tf.random.stateless_categorical(
        logits / temperature, 1, seed=seed, dtype=tf.int32)[:, 0]


def greedy_next(logits):
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def choose_next(sampling, logits, temperature, seed, previous_id, space_id):
    if sampling == "weighted":
        return sample_next(logits, temperature, seed)
    if sampling == "argmax":
        return greedy_next(logits)
    if sampling == "space":
        return tf.where(previous_id == space_id,
                        sample_next(logits, temperature, seed), greedy_next(logits))
    raise ValueError(f"unknown sampling {sampling!r}; choose one of {', '.join(SAMPLING)}")


def generate_ids(model, prime_ids, length, temperature, seed, sampling="weighted",
                 space_id=-1):
    """Continues prime_ids (prime_length,) by `length` ids; returns (length,).

    Meant to run inside a tf.function: the loop is a graph while_loop.
    """
    # Read the prime once; keep only the last step's logits and the state.
    logits, states = model(prime_ids[None, :], return_state=True)
    logits = logits[:, -1, :]  # (1, vocab)
    generated = tf.TensorArray(tf.int32, size=length)

    def step(i, logits, states, previous_id, generated):
        step_seed = tf.random.experimental.stateless_fold_in(seed, i)
        next_id = choose_next(sampling, logits, temperature, step_seed, previous_id, space_id)
        next_id.set_shape(previous_id.shape)  # (1,): tf.where loses the static batch size
        logits, states = model(next_id[:, None], states, return_state=True)
        return i + 1, logits[:, -1, :], states, next_id, generated.write(i, next_id[0])

    _, _, _, _, generated = tf.while_loop(
        lambda i, *_: i < length, step,
        (tf.constant(0), logits, states, tf.reshape(prime_ids[-1], [1]), generated))
    return generated.stack()


class CharRNNServable(tf.Module):
    """The model with its vocabulary and sampling loop, servable on its own.

    Signatures (strings are UTF-8):
      generate(prime, length, temperature) -> {"text"}: a fresh random draw
      generate_seeded(prime, length, temperature, seed) -> {"text"}: reproducible
      logits(token_ids int32 (batch, time)) -> {"logits" (batch, time, vocab)}
    `chars` holds the vocabulary, so ids can be mapped back without this code.
    """

    def __init__(self, model, chars):
        super().__init__()
        self.model = model
        self.chars = tf.constant(list(chars))
        self.space_id = chars.index(" ") if " " in chars else -1
        self._compiled = {}
        self._text_generators = {}
        self.char_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                self.chars, tf.range(len(chars), dtype=tf.int32)), default_value=-1)

    def _compiled_generate_ids(self, sampling):
        """generate_ids compiled by XLA: the whole loop becomes one fused program.

        String handling stays outside (XLA has no string ops); inside, each
        step is a few tiny matmuls, where TF's per-op overhead would dominate.
        """
        if sampling not in self._compiled:
            self._compiled[sampling] = tf.function(
                lambda ids, length, temperature, seed: generate_ids(
                    self.model, ids, length, temperature, seed, sampling, self.space_id),
                jit_compile=True)
        return self._compiled[sampling]

    def text_generator(self, sampling="weighted"):
        """generate_text with one sampling rule, as a tf.function traced once.

        (prime, length, temperature, seed) scalars -> the text. Its input
        signature fixes every argument as a tensor, so any prime, length,
        temperature and seed run the same graph (and the same XLA program for
        the same prime length): `generate --num N` traces it once, not N times.
        """
        if sampling not in SAMPLING:
            raise ValueError(f"unknown sampling {sampling!r}; choose one of "
                             f"{', '.join(SAMPLING)}")
        if sampling not in self._text_generators:
            self._text_generators[sampling] = tf.function(
                lambda prime, length, temperature, seed: self.generate_text(
                    prime, length, temperature, seed, sampling),
                input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
                                 tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)])
        return self._text_generators[sampling]

    def _text_to_ids(self, text):
        ids = self.char_to_id.lookup(tf.strings.unicode_split(text, "UTF-8"))
        tf.debugging.assert_positive(tf.size(ids), message="prime must not be empty")
        tf.debugging.assert_non_negative(
            ids, message="prime has characters outside the vocabulary")
        return ids

    def generate_text(self, prime, length, temperature, seed, sampling="weighted"):
        """prime + `length` generated characters, as a scalar string tensor."""
        tf.debugging.assert_positive(length, message="length must be positive")
        tf.debugging.assert_positive(temperature, message="temperature must be positive")
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        ids = self._compiled_generate_ids(sampling)(
            self._text_to_ids(prime), length, temperature, seed)
        return prime + tf.strings.reduce_join(tf.gather(self.chars, ids))

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)])
    def generate_seeded(self, prime, length, temperature, seed):
        return {"text": self.generate_text(prime, length, temperature, seed)}

    @tf.function(input_signature=[
        tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
        tf.TensorSpec([], tf.float32)])
    def generate(self, prime, length, temperature):
        seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int32)
        return {"text": self.generate_text(prime, length, temperature, seed)}

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def logits(self, token_ids):
        return {"logits": self.model(token_ids)}

    def signatures(self):
        return {"generate": self.generate, "generate_seeded": self.generate_seeded,
                "logits": self.logits, "serving_default": self.generate}
