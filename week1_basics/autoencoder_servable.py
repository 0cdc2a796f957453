"""The exported autoencoders: uint8 images in, reconstructions and codes out.

    --arch autoencoder
      serving_default(images: uint8 [N, 28, 28, 1])
        -> {"reconstructions": uint8 [N, 28, 28, 1], "codes": float32 [N, code_size]}
    --arch stacked
      serving_default(images) -> {"probabilities": float32 [N, 10],
                                  "codes": float32 [N, code_size]}   (fine-tuned network)
      reconstruct(images)     -> {"reconstructions", "codes"} of the pretrained stacked
                                 autoencoder (only when the run was pretrained)

plus common.export's `metadata()`. The models scale the pixels themselves,
so serving only casts them; reconstructions are rounded back to 0..255.
"""

import tensorflow as tf


def to_pixels(reconstructions):
    """Reconstructions in [0, 1] -> uint8 0..255 (clipped: a linear decoder is unbounded)."""
    return tf.cast(tf.round(tf.clip_by_value(reconstructions, 0.0, 1.0) * 255), tf.uint8)


class AutoencoderServable(tf.Module):
    def __init__(self, autoencoder=None, encoder=None, classifier=None, code_model=None):
        """autoencoder/encoder: images -> reconstructions / codes; classifier/code_model
        (stacked): images -> logits / the fine-tuned codes."""
        super().__init__()
        self.autoencoder, self.encoder = autoencoder, encoder
        self.classifier, self.code_model = classifier, code_model
        spec = tf.TensorSpec([None, 28, 28, 1], tf.uint8, name="images")
        # Only the functions this run can serve are made: save traces every one.
        if autoencoder is not None:
            self.reconstruct = tf.function(self._reconstruct, input_signature=[spec])
        if classifier is not None:
            self.classify = tf.function(self._classify, input_signature=[spec])

    def _reconstruct(self, images):
        x = tf.cast(images, tf.float32)
        return {"reconstructions": to_pixels(self.autoencoder(x, training=False)),
                "codes": self.encoder(x, training=False)}

    def _classify(self, images):
        x = tf.cast(images, tf.float32)
        return {"probabilities": tf.nn.softmax(self.classifier(x, training=False)),
                "codes": self.code_model(x, training=False)}

    def signatures(self):
        if self.classifier is None:
            return {"serving_default": self.reconstruct}
        found = {"serving_default": self.classify}
        if self.autoencoder is not None:
            found["reconstruct"] = self.reconstruct
        return found
