"""The exported MNIST classifier: uint8 images in, class probabilities out.

The same contract as CIFAR-10's export: `serving_default(images: uint8
[N, 28, 28, 1]) -> {"probabilities": float32 [N, 10]}`, `labels() ->
{"class_names"}`, and common.export's `metadata()` with the class names and
the run's config. The model's first layer scales the pixels, so serving only
casts them.
"""

import tensorflow as tf

from week1_basics.mnist_models import IMAGE_SIZE

IMAGE_SPEC = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 1], tf.uint8, name="images")


class MnistServable(tf.Module):
    def __init__(self, model, class_names):
        super().__init__()
        self.model = model
        self.class_names = tf.constant(class_names)

    @tf.function(input_signature=[IMAGE_SPEC])
    def serve(self, images):
        logits = self.model(tf.cast(images, tf.float32), training=False)   # (N, 10)
        return {"probabilities": tf.nn.softmax(logits)}

    @tf.function(input_signature=[])
    def labels(self):
        return {"class_names": self.class_names}

    def signatures(self):
        return {"serving_default": self.serve, "labels": self.labels}

    def probabilities_function(self):
        """serving_default as one concrete function (what the LiteRT converter takes)."""
        return self.serve.get_concrete_function()
