"""The exported image classifier, the same for every week: uint8 pixels in, probabilities out.

    serving_default(images: uint8 [N, H, W, C]) -> {"probabilities": float32 [N, classes]}
    labels() -> {"class_names": string [classes]}

plus common.export's `metadata()`. The model's first layer scales or
normalises the pixels, so serving only casts them; with `tta` the mirror
image's probabilities are averaged in, as the week's evaluation does.
"""

import tensorflow as tf


class ClassifierServable(tf.Module):
    def __init__(self, model, class_names, image_shape, tta=False):
        super().__init__()
        self.model = model
        self.tta = tta
        self.class_names = tf.constant(class_names)
        spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
        self.serve = tf.function(self._serve, input_signature=[spec])

    def _serve(self, images):
        x = tf.cast(images, tf.float32)
        probabilities = tf.nn.softmax(self.model(x, training=False))   # (N, classes)
        if self.tta:
            mirrored = tf.nn.softmax(self.model(tf.reverse(x, axis=[2]), training=False))
            probabilities = (probabilities + mirrored) / 2
        return {"probabilities": probabilities}

    @tf.function(input_signature=[])
    def labels(self):
        # The signature's name is the one exports have had since the first
        # version; its output is `class_names`, as in the metadata signature.
        return {"class_names": self.class_names}

    def signatures(self):
        return {"serving_default": self.serve, "labels": self.labels}

    def probabilities_function(self):
        """serving_default as one concrete function (what the LiteRT converter takes)."""
        return self.serve.get_concrete_function()
