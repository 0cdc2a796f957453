"""common.layers.FusedBatchNormalization gives keras.layers.BatchNormalization's numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.layers import FusedBatchNormalization, PartialDirac


@pytest.mark.parametrize("scale", [True, False])
def test_fused_batch_norm_equals_keras_batch_norm(scale):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, size=(8, 5, 6, 4)), tf.float32)
    stock = keras.layers.BatchNormalization(momentum=0.6, scale=scale)
    fused = FusedBatchNormalization(momentum=0.6, scale=scale)
    stock.build(x.shape)
    fused.build(x.shape)
    # Non-trivial gamma / beta, the same in both.
    weights = [w + rng.normal(size=w.shape).astype(np.float32) if i < len(stock.trainable_weights)
               else w for i, w in enumerate(stock.get_weights())]
    stock.set_weights(weights)
    fused.set_weights(weights)
    upstream = tf.constant(rng.normal(size=x.shape), tf.float32)
    results = []
    for layer in (stock, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * upstream)
        grads = tape.gradient(loss, [x] + layer.trainable_weights)
        results.append((y, grads, [w.numpy() for w in layer.non_trainable_weights],
                        layer(x, training=False)))
    (y_a, g_a, moving_a, infer_a), (y_b, g_b, moving_b, infer_b) = results
    np.testing.assert_allclose(y_b, y_a, atol=1e-5)
    for a, b in zip(g_a, g_b):
        np.testing.assert_allclose(b, a, atol=1e-4)
    for a, b in zip(moving_a, moving_b):  # moving mean and (biased) variance
        np.testing.assert_allclose(b, a, rtol=1e-5)
    np.testing.assert_allclose(infer_b, infer_a, atol=1e-5)


def test_fused_batch_norm_survives_saving(tmp_path):
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, FusedBatchNormalization()(inputs))
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 3)).astype(np.float32)
    model(x, training=True)  # moves the moving statistics
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(again.layers[-1], FusedBatchNormalization)
    np.testing.assert_allclose(again(x), model(x), atol=1e-6)


def test_other_shapes_fall_back_to_keras():
    x = np.random.default_rng(2).normal(size=(16, 7)).astype(np.float32)
    stock, fused = keras.layers.BatchNormalization(), FusedBatchNormalization()
    np.testing.assert_allclose(fused(x, training=True), stock(x, training=True), atol=1e-6)


def test_partial_dirac_starts_the_first_filters_as_the_identity():
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False,
                               kernel_initializer=PartialDirac("he_normal"))
    y = keras.ops.convert_to_numpy(conv(x))
    np.testing.assert_allclose(y[..., :3], x, atol=1e-6)  # filter i passes channel i
    assert np.abs(y[..., 3:]).max() > 0.1  # the rest from he_normal
    narrow = keras.layers.Conv2D(2, 3, padding="same", use_bias=False,
                                 kernel_initializer=PartialDirac("glorot_uniform"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(narrow(x)), x[..., :2], atol=1e-6)
    # Serialisable, so a saved model that used it loads.
    again = keras.initializers.deserialize(keras.initializers.serialize(PartialDirac("zeros")))
    assert isinstance(again, PartialDirac) and np.all(again((3, 3, 2, 4))[..., 2:] == 0)
