"""Keras metrics shared by the sequence models (translate, caption).

TokenAccuracy: the share of target tokens (not <pad>, id 0) that the model's
argmax predicts right under teacher forcing, over a whole epoch (counts
summed, not per-batch ratios averaged, so a batch of short captions weighs
what its tokens weigh).
"""

import keras
import tensorflow as tf


# Registered as "tfcourse>TokenAccuracy": runs saved when it lived in
# week3_rnn.translate_model load unchanged.
@keras.saving.register_keras_serializable(package="tfcourse")
class TokenAccuracy(keras.metrics.Metric):
    """The fraction of target tokens (not <pad>) predicted right under teacher forcing."""

    def __init__(self, name="token_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), "zeros", "float32", name="correct")
        self.total = self.add_variable((), "zeros", "float32", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = tf.cast(y_true, tf.int32)  # (batch, T+1)
        real = tf.cast(tf.not_equal(y_true, 0), tf.float32)
        right = tf.cast(tf.equal(tf.argmax(y_pred, -1, output_type=tf.int32), y_true),
                        tf.float32)
        self.correct.assign_add(tf.reduce_sum(right * real))
        self.total.assign_add(tf.reduce_sum(real))

    def result(self):
        return tf.math.divide_no_nan(self.correct, self.total)
