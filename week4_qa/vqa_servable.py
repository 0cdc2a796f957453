"""A trained VQA model with its encoder, tokenizer and answers, as TensorFlow graphs.

The same tf.functions serve `vqa predict` (uint8 images and strings),
`vqa evaluate` (images and id arrays) and the exported SavedModel, so the
three agree by construction; questions are split into words by
common.tokens.tokenize, the graph training used.
"""

import keras
import tensorflow as tf

from common.image_encoders import is_frozen
from common.tokens import tokenize
from week4_qa.vqa_model import reads_image


class VQAServable(tf.Module):
    """answer(images (n, H, W, 3) uint8, questions (n,) string) ->
        {"answer" (n,) string, "probability" (n,) float32, "attention" (n, h, w) float32}

    Images of another size are resized to the run's image_size (bilinear). Words
    outside the vocabulary are read as <unk>. "attention" is the attention
    over the encoder's grid (arch attention); other archs return zeros (n, 1, 1).
    """

    def __init__(self, model, config, vocab, answers, encoder=None):
        super().__init__()
        self.config = config
        self.size = int(config.image_size)
        self.uses_image = reads_image(config)
        self.frozen = self.uses_image and is_frozen(config.encoder)
        # A frozen encoder is not in the trained model (it read cached grids): the
        # caller builds the same one again (vqa_inputs.frozen_encoder).
        self.encoder = encoder
        outputs = [model.output]
        self.grid_shape = (1, 1)
        if config.arch == "attention":
            layer = model.get_layer("grid_attention")
            outputs.append(layer.output[1])                                 # (B, h*w)
            grid_input = (model.get_layer("encoder").output if not self.frozen
                          else model.input["grid"])
            self.grid_shape = tuple(int(d) for d in grid_input.shape[1:3])
        self.model = keras.Model(model.input, outputs)
        self.table = vocab.lookup_table()
        self.answers = tf.constant(list(answers), tf.string)

    def ids(self, questions):
        """questions (n,) string -> (n, words) int32, padded with 0 (<pad>)."""
        tokens = tokenize(questions, "word")
        return tf.ragged.map_flat_values(self.table.lookup, tokens).to_tensor(0)

    def inputs(self, images, question_ids):
        inputs = {"question": question_ids}
        if self.uses_image:
            images = tf.cast(images, tf.uint8)
            if images.shape[1] != self.size or images.shape[2] != self.size:
                images = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
                    images, [self.size, self.size], antialias=True)), 0, 255), tf.uint8)
            if self.frozen:
                inputs["grid"] = self.encoder(images, training=False)
            else:
                inputs["image"] = images
        return inputs

    def run(self, images, question_ids):
        outputs = self.model(self.inputs(images, question_ids), training=False)
        logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        count = tf.shape(question_ids)[0]
        if self.config.arch == "attention":
            attention = tf.reshape(outputs[1], [count, *self.grid_shape])  # (B, h, w)
        else:
            attention = tf.zeros([count, 1, 1])
        probabilities = tf.nn.softmax(logits)                                # (B, answers)
        answer = tf.argmax(logits, -1, output_type=tf.int32)                 # (B,)
        return answer, tf.reduce_max(probabilities, -1), attention

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8),
                                  tf.TensorSpec([None, None], tf.int32)])
    def answer_ids(self, images, question_ids):
        """For evaluation: images at image_size and question ids -> answer ids (B,),
        their probabilities and the attention."""
        answer, probability, attention = self.run(images, question_ids)
        return {"answer": answer, "probability": probability, "attention": attention}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8),
                                  tf.TensorSpec([None], tf.string)])
    def answer(self, images, questions):
        answer, probability, attention = self.run(images, self.ids(questions))
        return {"answer": tf.gather(self.answers, answer), "probability": probability,
                "attention": attention}

    def signatures(self):
        return {"serving_default": self.answer, "answer": self.answer,
                "answer_ids": self.answer_ids}
