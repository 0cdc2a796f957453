"""The PTB language model read as a stream, and as a SavedModel-ready module.

`stream_log_probs` reads a whole split (or any text) word by word with the
state carried, as the tutorial's test run does: its mean is the perplexity.

`score` reads sentences the way the model was trained on PTB: each one comes
after an <eos> and ends with one, from a zero state. `generate` samples
sentences from that state, one word at a time, with the state carried (the
sampling rule is generation.sample_next). Both are tf.functions, so the same
graphs serve `ptb score` / `ptb generate` and the exported SavedModel.
`logits` is one step of the bare model with its state passed in and out: the
part that converts to LiteRT (a phone app runs the sampling loop itself).
"""

import tensorflow as tf

from week3_rnn.generation import sample_next
from week3_rnn.ptb_data import EOS


def stream_log_probs(model, ids, chunk_steps=1000):
    """log p(ids[t + 1] | ids[:t + 1]) for every t: (len(ids) - 1,) float32.

    The tutorial's test run reads the split with batch 1 and num_steps 1,
    carrying the state from word to word. Reading it chunk_steps words at a
    time with the state carried between chunks gives the same numbers (the
    LSTM goes through the same states) and does the softmax as large matmuls.
    """
    hidden_size, num_layers = model.hidden_size, model.num_layers

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def run(ids):
        inputs, targets = ids[:-1], ids[1:]
        num_chunks = (tf.size(inputs) + chunk_steps - 1) // chunk_steps
        zeros = tf.zeros([1, hidden_size])
        states = [[zeros, zeros] for _ in range(num_layers)]

        def step(i, states, log_probs):
            window = slice(i * chunk_steps, (i + 1) * chunk_steps)
            logits, states = model(inputs[window][None], states, return_state=True)
            states = [[tf.ensure_shape(s, [1, hidden_size]) for s in pair] for pair in states]
            log_p = -tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=targets[window][None], logits=logits)  # (1, chunk)
            return i + 1, states, log_probs.write(i, log_p[0])

        _, _, log_probs = tf.while_loop(
            lambda i, *_: i < num_chunks, step,
            (tf.constant(0), states, tf.TensorArray(tf.float32, num_chunks, infer_shape=False)))
        return log_probs.concat()

    return run(tf.constant(ids, tf.int32)).numpy()


class PTBServable(tf.Module):
    """The model with its vocabulary, servable without this project.

    score(sentences (batch,) string) -> {"perplexity" (batch,), "word_log_probs"
      (batch, words + 1), "words" (batch, words + 1)}: each sentence is read
      after an <eos> from a zero state and must predict its words and a final
      <eos>; log-probabilities are natural logs, "words" the vocabulary words
      scored, padding 0 / "". A word outside the vocabulary is tried in lower
      case, else counts as <unk>; an empty sentence gives NaN.
    generate(num_sentences, max_words, temperature) -> {"sentences"}, and
    generate_seeded(..., seed) which is reproducible (all int32 but temperature).
    logits(token_ids (batch, time) int32, state (layers, 2, batch, hidden)) ->
      {"logits" (batch, time, vocab), "state"}: start from a zero state (the
      LiteRT export has batch 1, time 1: one word a step).
    """

    def __init__(self, model, vocab):
        super().__init__()
        self.model = model
        self.words = tf.constant(vocab.words)
        self.eos_id = vocab.index[EOS]
        self.unknown_id = vocab.unknown_id
        self.word_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(self.words, tf.range(len(vocab), dtype=tf.int32)),
            default_value=vocab.unknown_id)
        self.logits = self.logits_function()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def score(self, sentences):
        batch = tf.shape(sentences)[0]
        eos = tf.RaggedTensor.from_tensor(tf.fill([batch, 1], EOS))
        words = tf.concat([tf.strings.split(sentences), eos], axis=1)  # ragged (batch, None)
        ids = tf.ragged.map_flat_values(self._lookup, words)
        targets = ids.to_tensor(default_value=self.eos_id)  # (batch, time)
        inputs = tf.concat([tf.fill([batch, 1], self.eos_id), targets[:, :-1]], axis=1)
        mask = tf.sequence_mask(ids.row_lengths(), tf.shape(targets)[1], tf.float32)
        cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=targets, logits=self.model(inputs))  # (batch, time)
        log_probs = tf.where(mask > 0, -cross_entropy, 0.0)
        count = tf.reduce_sum(mask, axis=1)
        perplexity = tf.exp(-tf.reduce_sum(log_probs, axis=1) / count)
        perplexity = tf.where(count > 1, perplexity, float("nan"))  # nothing but <eos>
        return {"perplexity": perplexity, "word_log_probs": log_probs,
                "words": tf.gather(self.words, ids).to_tensor(default_value="")}

    def _lookup(self, words):
        """Ids of words (n,); an unknown word is tried in lower case ("The" -> "the")."""
        ids = self.word_to_id.lookup(words)
        lower_ids = self.word_to_id.lookup(tf.strings.lower(words, encoding="utf-8"))
        return tf.where(ids == self.unknown_id, lower_ids, ids)

    def _generate(self, num_sentences, max_words, temperature, seed):
        tf.debugging.assert_positive(max_words, message="max_words must be positive")
        tf.debugging.assert_positive(temperature, message="temperature must be positive")
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        zeros = tf.zeros([num_sentences, self.model.hidden_size])
        states = [[zeros, zeros] for _ in range(self.model.num_layers)]

        def step(i, ids, states, generated):
            logits, states = self.model(ids[:, None], states, return_state=True)
            ids = sample_next(logits[:, -1], temperature,
                              tf.random.experimental.stateless_fold_in(seed, i))
            return i + 1, ids, states, generated.write(i, ids)

        _, _, _, generated = tf.while_loop(
            lambda i, *_: i < max_words, step,
            (tf.constant(0), tf.fill([num_sentences], self.eos_id), states,
             tf.TensorArray(tf.int32, size=max_words)))
        ids = tf.transpose(generated.stack())  # (num_sentences, max_words)
        # Each sentence ends at its first <eos> (or after max_words words).
        before_eos = tf.cumsum(tf.cast(ids == self.eos_id, tf.int32), axis=1) == 0
        words = tf.ragged.boolean_mask(tf.gather(self.words, ids), before_eos)
        return {"sentences": tf.strings.reduce_join(words, axis=1, separator=" ")}

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)])
    def generate_seeded(self, num_sentences, max_words, temperature, seed):
        return self._generate(num_sentences, max_words, temperature, seed)

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32)])
    def generate(self, num_sentences, max_words, temperature):
        seed = tf.random.uniform([], maxval=2**31 - 1, dtype=tf.int32)
        return self._generate(num_sentences, max_words, temperature, seed)

    def logits_function(self, batch=None, time=None):
        """`logits` for a batch size and a number of steps (None: any).

        LiteRT gets one word of one sequence a step (batch 1, time 1): the
        converter needs the loop's shapes, and its CPU delegate fails to
        resize a loop over a variable number of steps.
        """
        return tf.function(self._logits, input_signature=[
            tf.TensorSpec([batch, time], tf.int32),
            tf.TensorSpec([self.model.num_layers, 2, batch, self.model.hidden_size], tf.float32)])

    def _logits(self, token_ids, state):
        states = [[state[i, 0], state[i, 1]] for i in range(self.model.num_layers)]
        logits, states = self.model(token_ids, states, return_state=True)
        return {"logits": logits, "state": tf.stack([tf.stack(pair) for pair in states])}

    def signatures(self):
        return {"score": self.score, "generate": self.generate,
                "generate_seeded": self.generate_seeded, "logits": self.logits,
                "serving_default": self.score}
