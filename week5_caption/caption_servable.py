"""Captioning images with a trained model, as TensorFlow graphs.

    caption(images (B, S, S, 3) uint8)                 beam search, beam DEFAULT_BEAM
    caption_beam(images, beam () int32)                beam search; beam 1 is greedy
    caption_greedy(images)                             greedy decoding
    -> {"captions" (B,) string, "tokens" (B, T) string ("" after the caption),
        "lengths" (B,) int32, "scores" (B,) float32 (summed log-probabilities),
        "attention" (B, T, h, w) float32: show_attend_tell only, each word's weights
        over the encoder's grid}

The encoder runs inside (a small_cnn trained with the model, or the frozen
application rebuilt from its name and weights), so the exported SavedModel
takes uint8 images at the run's image_size. The same functions serve
`caption predict`, `caption evaluate` and the export, so the three agree by
construction; the decoder's `step` is the one training looped over.
"""

import tensorflow as tf

from common.decoding import beam_search, greedy_search, tile_beams

DEFAULT_BEAM = 3


class CaptionServable(tf.Module):
    def __init__(self, model, encoder, vocab, config):
        super().__init__()
        self.model = model  # kept so its variables are saved with the export
        self.encoder = encoder
        self.decoder = model.get_layer("decoder")
        self.words = tf.constant(vocab.tokens, tf.string)
        self.max_length = int(config.max_length)
        self.image_size = int(config.image_size)
        # At most the training batch at once: check_fits sized the run's memory for it, and
        # 128 images of 256 pixels through a wide CNN would not fit where that did.
        self.batch_size = max(1, min(128, int(config.batch_size)))
        self.attention = config.arch == "show_attend_tell"
        self.grid = tuple(self.decoder.grid)

    def step_function(self, memory):
        def step(tokens, state):
            logits, state, alpha = self.decoder.step(memory, tokens, state)
            log_probs = tf.nn.log_softmax(logits)  # (rows, vocab)
            return (log_probs, state) if alpha is None else (log_probs, state, alpha)
        return step

    def decode(self, images, beam=None):
        grid = self.encoder(images, training=False)                     # (B, h, w, c)
        memory, state = self.decoder.start(self.decoder.annotations(grid))
        batch = tf.shape(images)[0]
        steps = self.max_length + 1                                     # the words and <end>
        if beam is None:
            found = greedy_search(self.step_function(memory), state, batch, steps)
        else:
            beam = tf.maximum(beam, 1)
            tiled = None if memory is None else [tile_beams(part, beam) for part in memory]
            found = beam_search(self.step_function(tiled), state, batch, beam, steps)
        lengths = found["lengths"]
        before_end = tf.sequence_mask(lengths, tf.shape(found["tokens"])[1])  # (B, T)
        tokens = tf.where(before_end, tf.gather(self.words, found["tokens"]), "")
        words = tf.RaggedTensor.from_tensor(tokens, lengths=lengths)
        out = {"captions": tf.strings.reduce_join(words, axis=1, separator=" "),
               "tokens": tokens, "lengths": lengths, "scores": found["scores"]}
        if self.attention:
            h, w, _ = self.grid
            weights = found["emitted"] * tf.cast(before_end, tf.float32)[:, :, None]
            out["attention"] = tf.reshape(weights, [batch, -1, h, w])   # (B, T, h, w)
        return out

    def image_spec(self):
        return tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.uint8)

    def signatures(self):
        spec = self.image_spec()
        caption = tf.function(lambda images: self.decode(images, tf.constant(DEFAULT_BEAM)),
                              input_signature=[spec])
        caption_beam = tf.function(lambda images, beam: self.decode(images, beam),
                                   input_signature=[spec, tf.TensorSpec([], tf.int32)])
        caption_greedy = tf.function(lambda images: self.decode(images), input_signature=[spec])
        self.caption, self.caption_beam, self.caption_greedy = (caption, caption_beam,
                                                                caption_greedy)
        return {"serving_default": caption, "caption": caption, "caption_beam": caption_beam,
                "caption_greedy": caption_greedy}

    def run(self, images, beam):
        """Outputs for uint8 images (N, S, S, 3) in batches of at most the training batch
        (and 128), as NumPy dicts per batch."""
        if not hasattr(self, "caption_beam"):
            self.signatures()
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = tf.constant(images[start:start + self.batch_size])
            found = (self.caption_greedy(batch) if beam == 1 else
                     self.caption_beam(batch, tf.constant(beam, tf.int32)))
            out.append({key: value.numpy() for key, value in found.items()})
        return out
