"""The transfer classifier as a SavedModel: encoded JPEG/PNG bytes in, labels and scores out."""

import tensorflow as tf


class ImageBytesServable(tf.Module):
    """serving_default(image_bytes: string [N]) -> {labels: string [N], scores: [N, classes]}.

    Decoding (any JPEG/PNG/GIF/BMP, gray or RGBA converted to RGB) and resizing
    to the model's input size happen inside, so a client sends file contents.
    The label list is stored in the model: `class_names()` returns it.
    """

    def __init__(self, model, class_names):
        super().__init__()
        self.model = model
        self.size = int(model.inputs[0].shape[1])
        self.class_names = tf.constant(class_names)

    def _decode(self, data):
        image = tf.io.decode_image(data, channels=3, expand_animations=False)  # uint8 (h, w, 3)
        image = tf.image.resize(tf.cast(image, tf.float32), [self.size, self.size],
                                antialias=True)
        return tf.clip_by_value(image, 0.0, 255.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        images = tf.map_fn(self._decode, image_bytes,
                           fn_output_signature=tf.TensorSpec([self.size, self.size, 3],
                                                             tf.float32))
        scores = tf.nn.softmax(self.model(images, training=False))  # (N, classes)
        labels = tf.gather(self.class_names, tf.argmax(scores, axis=1))
        return {"labels": labels, "scores": scores}

    @tf.function(input_signature=[])
    def labels(self):
        return {"class_names": self.class_names}

    def signatures(self):
        return {"serving_default": self.serve, "class_names": self.labels}
