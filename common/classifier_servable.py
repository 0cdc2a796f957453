"""The exported image classifier, the same for every week: uint8 pixels in, probabilities out.

    serving_default(images: uint8 [N, H, W, C]) -> {"probabilities": float32 [N, classes]}
    single_view(images)  -> the same from one forward pass (only when serving_default
                            averages test-time augmentation's views)
    labels() -> {"class_names": string [classes]}

plus common.export's `metadata()`. The model's first layer scales or
normalises the pixels, so serving only casts them. `logits(model, images)`, when
given, computes the logits instead of one forward pass: CIFAR-10's test-time
augmentation (week2_cnn.cifar_training.tta_logits), as the week's evaluation
does; it costs one forward pass per view, which single_view skips.
"""

import tensorflow as tf


class ClassifierServable(tf.Module):
    def __init__(self, model, class_names, image_shape, logits=None):
        super().__init__()
        self.model = model
        self.logits = logits
        self.class_names = tf.constant(class_names)
        spec = tf.TensorSpec([None, *image_shape], tf.uint8, name="images")
        self.serve = tf.function(self._serve, input_signature=[spec])
        self.single_view = tf.function(self._single_view, input_signature=[spec])

    def _serve(self, images):
        if self.logits is None:
            return self._single_view(images)
        x = tf.cast(images, tf.float32)
        return {"probabilities": tf.nn.softmax(self.logits(self.model, x))}  # (N, classes)

    def _single_view(self, images):
        x = tf.cast(images, tf.float32)
        return {"probabilities": tf.nn.softmax(self.model(x, training=False))}

    @tf.function(input_signature=[])
    def labels(self):
        # The signature's name is the one exports have had since the first
        # version; its output is `class_names`, as in the metadata signature.
        return {"class_names": self.class_names}

    def signatures(self):
        signatures = {"serving_default": self.serve, "labels": self.labels}
        if self.logits is not None:
            signatures["single_view"] = self.single_view
        return signatures

    def probabilities_function(self):
        """serving_default as one concrete function (what the LiteRT converter takes)."""
        return self.serve.get_concrete_function()
