"""The transfer classifier as a SavedModel: image bytes or uint8 pixels in, probabilities out.

    serving_default(image_bytes: string [N]) -> {probabilities [N, classes] float32,
                                                 labels [N] string (the predicted class),
                                                 scores [N, classes] (= probabilities)}
    pixels(images: uint8 [N, H, W, 3])       -> {probabilities [N, classes] float32}
    class_names()                            -> {class_names [classes] string}
    metadata()                               -> {json, class_names} (common.export)

`labels` and `scores` are the names of the first exports, kept so that their
clients keep working; `probabilities` and `class_names` are the names every
week's export uses. The class list is not an output of `serving_default`:
TensorFlow Serving's row format needs every output to have the batch
dimension. Decoding (JPEG/PNG/GIF/BMP, gray or RGBA converted to RGB) and
resizing to the model's input size happen inside, with the functions training
used (week2_cnn.transfer_data), so served and trained pixels are the same.
`pixels` takes any H x W (resized inside, plain bilinear); it is the function
`export --format litert` converts.
"""

import tensorflow as tf

from week2_cnn.transfer_data import decode_image, resize_images


class TransferServable(tf.Module):
    def __init__(self, model, class_names):
        super().__init__()
        self.model = model
        self.size = int(model.inputs[0].shape[1])
        self.class_names = tf.constant(class_names)

    def preprocess(self, image_bytes):
        """Encoded images string [N] -> float32 [N, size, size, 3], as training decodes them."""
        return tf.map_fn(lambda data: decode_image(data, self.size), image_bytes,
                         fn_output_signature=tf.TensorSpec([self.size, self.size, 3],
                                                           tf.float32))

    def _probabilities(self, images):
        return tf.nn.softmax(self.model(images, training=False))  # (N, classes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve(self, image_bytes):
        probabilities = self._probabilities(self.preprocess(image_bytes))
        labels = tf.gather(self.class_names, tf.argmax(probabilities, axis=1))
        return {"probabilities": probabilities, "scores": tf.identity(probabilities),
                "labels": labels}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8,
                                                name="images")])
    def pixels(self, images):
        return {"probabilities": self._probabilities(resize_images(images, self.size))}

    @tf.function(input_signature=[])
    def labels(self):
        return {"class_names": self.class_names}

    def signatures(self):
        return {"serving_default": self.serve, "pixels": self.pixels,
                "class_names": self.labels}


ImageBytesServable = TransferServable  # the name before the pixels signature was added
