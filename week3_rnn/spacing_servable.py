"""Spacing a text of any length with a trained tagger, as TensorFlow graphs.

A text longer than the model's window is read in chunks of `window`
characters that overlap by half (spacing_data.chunk_starts); each character
takes its probability from the chunk whose centre is nearest, so it sees at
least a quarter window of context on each side (except at the text's ends).
A text no longer than the window is one chunk: the model reads it whole.

The same tf.functions serve `spacing predict`, `spacing evaluate` and the
exported SavedModel, so the three agree by construction.
"""

import tensorflow as tf

CHUNKS_PER_CALL = 256  # chunks the model reads at once; bounds memory on long texts


def chunk_plan(length, window):
    """(starts (num_chunks,), chunk (length,), offset (length,)) as int32 tensors.

    The chunk of character i is the one whose centre start + (size - 1) / 2 is
    nearest (ties to the earlier chunk): i goes past chunk k exactly when
    2i > start_k + start_{k+1} + size - 1, twice the midpoint of the two
    centres, so a binary search over those doubled midpoints finds it.
    """
    size = tf.minimum(length, window)
    stride = tf.maximum(window // 2, 1)
    num_chunks = tf.where(length <= window, 1, (length - window + stride - 1) // stride + 1)
    starts = tf.minimum(tf.range(num_chunks) * stride, length - size)
    doubled_midpoints = starts[:-1] + starts[1:] + size - 1  # (num_chunks - 1,), increasing
    positions = tf.range(length)
    chunk = tf.searchsorted(doubled_midpoints, 2 * positions, side="left", out_type=tf.int32)
    return starts, chunk, positions - tf.gather(starts, chunk)


def space_probabilities(model, ids, window):
    """P(a space follows) for every character of one text: ids (length,) -> (length,).

    The last character gets 0: nothing follows it, so no space is added there.
    """
    length = tf.size(ids)
    starts, chunk, offset = chunk_plan(length, window)
    size = tf.minimum(length, window)
    chunks = tf.gather(ids, starts[:, None] + tf.range(size)[None, :])  # (num_chunks, size)
    num_chunks = tf.shape(chunks)[0]
    num_calls = (num_chunks + CHUNKS_PER_CALL - 1) // CHUNKS_PER_CALL

    def read(i, probabilities):
        part = chunks[i * CHUNKS_PER_CALL:(i + 1) * CHUNKS_PER_CALL]
        return i + 1, probabilities.write(i, model(part, training=False)[..., 0])

    _, probabilities = tf.while_loop(
        lambda i, _: i < num_calls, read,
        (tf.constant(0), tf.TensorArray(tf.float32, num_calls, infer_shape=False)))
    by_chunk = probabilities.concat()  # (num_chunks, size)
    picked = tf.gather_nd(by_chunk, tf.stack([chunk, offset], axis=1))  # (length,)
    return tf.tensor_scatter_nd_update(picked, [[length - 1]], [0.0])


class SpacingServable(tf.Module):
    """The tagger with its vocabulary and chunking, servable without this project.

    restore(texts (batch,) string) -> {"texts" (batch,) string}: every text
    with its spaces (U+0020) removed and predicted anew, every other character
    unchanged; characters outside the vocabulary are read as the unknown id 0.
    probabilities(text () string) -> {"characters" (length,) string,
    "probabilities" (length,) float32}: the text's characters without spaces
    and the probability that a space follows each.
    """

    def __init__(self, model, chars, window, threshold=0.5):
        super().__init__()
        self.model = model
        self.window = int(window)
        self.threshold = float(threshold)
        # Vocabulary index i is model id i + 1; anything else maps to 0.
        self.char_to_id = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(chars), tf.string), tf.range(1, len(chars) + 1)),
            default_value=0)

    def characters_and_probabilities(self, text):
        chars = tf.strings.unicode_split(text, "UTF-8")
        chars = tf.boolean_mask(chars, tf.not_equal(chars, " "))  # (length,)
        ids = self.char_to_id.lookup(chars)
        probabilities = tf.cond(
            tf.size(ids) > 0,
            lambda: space_probabilities(self.model, ids, self.window),
            lambda: tf.zeros([0], tf.float32))
        return chars, probabilities

    def restore_one(self, text):
        chars, probabilities = self.characters_and_probabilities(text)
        spaced = tf.where(probabilities > self.threshold, chars + " ", chars)
        return tf.strings.reduce_join(spaced)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def restore(self, texts):
        return {"texts": tf.map_fn(self.restore_one, texts,
                                   fn_output_signature=tf.TensorSpec([], tf.string))}

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def probabilities(self, text):
        chars, probabilities = self.characters_and_probabilities(text)
        return {"characters": chars, "probabilities": probabilities}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def ids_probabilities(self, ids):
        """For evaluation: model ids of one space-free text -> (length,) probabilities."""
        return space_probabilities(self.model, ids, self.window)

    def signatures(self):
        return {"restore": self.restore, "probabilities": self.probabilities,
                "serving_default": self.restore}
