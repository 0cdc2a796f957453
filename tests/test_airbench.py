"""airbench94's mechanisms, each against a hand computation: the patch whitening, the
optimizer (PyTorch's Nesterov SGD, coupled decay, the BN-offset rate, the frozen
whitening bias, Lookahead), the triangle schedule, the alternating flip and the
test-time augmentation views; then the preset end to end on small generated data."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.classifier_servable import ClassifierServable
from common.cli import Interrupted
from week2_cnn import cifar10, cifar10_verbs
from week2_cnn.airbench_model import patch_whitening
from week2_cnn.airbench_optimizer import LOOKAHEAD_DECAY, AirbenchSGD
from week2_cnn.cifar_models import CIFAR_MEAN, CIFAR_STD, PRESETS, build_model, init_whitening
from week2_cnn.cifar_training import (WarmupSchedule, predict_probabilities, training_dataset,
                                      tta_logits, tta_views)
from tests.test_cifar import colour_data

TINY = dataclasses.replace(PRESETS["airbench94"], width=8, epochs=2, batch_size=64)


def correlated_images(count=60, seed=0):
    """Smooth images whose neighbouring pixels and channels are strongly correlated."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (count, 16, 16, 1)).repeat(2, axis=1).repeat(2, axis=2)
    return np.clip(120 + 50 * base + rng.normal(0, 10, (count, 32, 32, 3)), 0, 255)


def patches_of(x):
    """(n, 12) 2x2x3 patches in a (2, 2, 3) kernel's order: row, column, channel."""
    return np.stack([x[:, i:i + 31, j:j + 31, :] for i in (0, 1) for j in (0, 1)],
                    axis=3).reshape(-1, 12)


def test_patch_whitening_equals_the_analytic_whitening():
    x = (correlated_images() - CIFAR_MEAN) / CIFAR_STD
    kernel = patch_whitening(x, eps=5e-4).reshape(12, 24)
    patches = patches_of(x)
    moment = patches.T @ patches / len(patches)  # airbench's: not centred
    eigenvalues = np.sort(np.linalg.eigvalsh(moment))[::-1]
    # W^T C W = diag(l / (l + eps)), largest first; the second half is the negation.
    np.testing.assert_allclose(kernel[:, :12].T @ moment @ kernel[:, :12],
                               np.diag(eigenvalues / (eigenvalues + 5e-4)), atol=1e-4)
    np.testing.assert_array_equal(kernel[:, 12:], -kernel[:, :12])
    # The conv the model runs gives the same outputs as the matrix product.
    conv = tf.nn.conv2d(x[:2].astype(np.float32), kernel.reshape(2, 2, 3, 24), 1, "VALID")
    np.testing.assert_allclose(np.asarray(conv).reshape(-1, 24), patches_of(x[:2]) @ kernel,
                               rtol=1e-4, atol=1e-4)


def test_centred_patch_whitening_decorrelates_patches():
    """`fast`'s mode: the patches' covariance, not airbench's uncentred moments."""
    x = (correlated_images(200) - CIFAR_MEAN) / CIFAR_STD
    kernel = patch_whitening(x, centred=True)
    assert kernel.shape == (2, 2, 3, 24)
    outputs = patches_of(x) @ kernel.reshape(12, 24)  # the conv, by hand
    covariance = np.cov(outputs[:, :12], rowvar=False)
    # Unit variance up to the eps regulariser (which damps the noise-only directions).
    np.testing.assert_allclose(covariance, np.eye(12), atol=0.05)
    np.testing.assert_allclose(outputs[:, 12:], -outputs[:, :12], atol=1e-4)


def test_the_whitening_layer_is_frozen_and_its_bias_trains():
    model = build_model(TINY)
    images = correlated_images(20)
    init_whitening(model, images, TINY)
    normalised = (images - CIFAR_MEAN) / CIFAR_STD
    np.testing.assert_allclose(model.get_layer("whiten").get_weights()[0],
                               patch_whitening(normalised), rtol=1e-4, atol=1e-5)
    trained = [v.path for v in model.trainable_variables]
    assert "whiten_bias/bias" in trained and not any(p.startswith("whiten/") for p in trained)
    # --no-whitening: an ordinary trained conv, left as initialised.
    plain = build_model(dataclasses.replace(TINY, whitening=False))
    before = plain.get_layer("whiten").get_weights()[0]
    init_whitening(plain, images, dataclasses.replace(TINY, whitening=False))
    np.testing.assert_array_equal(plain.get_layer("whiten").get_weights()[0], before)
    assert "whiten/kernel" in [v.path for v in plain.trainable_variables]


def apply_steps(optimizer, variables, gradients):
    """Applies each step's gradients; returns the variables' values after every step."""
    values = []
    for step_gradients in gradients:
        optimizer.apply([tf.constant(g, tf.float32) for g in step_gradients], variables)
        values.append([v.numpy().copy() for v in variables])
    return values


def reference_sgd(weights, gradients, rates, momentum, decays, every, total, scales):
    """PyTorch's Nesterov SGD with weight_decay, then airbench's Lookahead, by hand."""
    weights = [np.array(w, np.float64) for w in weights]
    slow = [w.copy() for w in weights]
    buffers = [np.zeros_like(w) for w in weights]
    history = []
    for t, (rate, step_gradients) in enumerate(zip(rates, gradients), start=1):
        for i, g in enumerate(step_gradients):
            g = g + decays[i] * weights[i]
            buffers[i] = momentum * buffers[i] + g
            weights[i] = weights[i] - rate * scales[i] * (g + momentum * buffers[i])
        if every and t % every == 0:
            d = LOOKAHEAD_DECAY * (t / total) ** 3
            for i in range(len(weights)):
                slow[i] = slow[i] + (1 - d) * (weights[i] - slow[i])
                weights[i] = slow[i].copy()
        if every and t == total:
            weights = [s.copy() for s in slow]
        history.append([w.copy() for w in weights])
    return history, slow


@pytest.mark.parametrize("every", [0, 2])
def test_optimizer_equals_hand_computed_sgd_and_lookahead(every):
    rng = np.random.default_rng(5)
    kernel = keras.Variable(rng.normal(size=(3, 2)), name="kernel", dtype="float32")
    beta = keras.Variable(rng.normal(size=(2,)), name="beta", dtype="float32")
    start = [kernel.numpy().copy(), beta.numpy().copy()]
    total = 7
    gradients = [[rng.normal(size=(3, 2)), rng.normal(size=(2,))] for _ in range(total)]
    schedule = WarmupSchedule(0.1, total, 2, "triangular", start=0.2, end=0.07)
    optimizer = AirbenchSGD(schedule, momentum=0.85, decay=0.05, offset_lr_scale=4.0,
                            lookahead_every=every, total_steps=total)
    got = apply_steps(optimizer, [kernel, beta], gradients)
    rates = [float(schedule(step)) for step in range(total)]
    # The offset ("beta") trains at 4x the rate with 1/4 of the decay.
    expected, slow = reference_sgd(start, gradients, rates, 0.85, [0.05, 0.05 / 4], every,
                                   total, [1.0, 4.0])
    for step in range(total):
        for value, reference in zip(got[step], expected[step]):
            np.testing.assert_allclose(value, reference, rtol=2e-5, atol=2e-6)
    if every:  # the slow weights are optimizer variables, and the model ends on them
        for variable, reference in zip(optimizer.slow, slow):
            np.testing.assert_allclose(variable.numpy(), reference, rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(kernel.numpy(), optimizer.slow[0].numpy())


def test_a_frozen_layer_changes_in_its_first_steps_only():
    bias = keras.Variable(np.zeros(3), name="bias", dtype="float32")
    bias._path = "whiten_bias/bias"  # as the layer names it
    other = keras.Variable(np.zeros(3), name="kernel", dtype="float32")
    optimizer = AirbenchSGD(0.1, momentum=0.5, frozen_after={"whiten_bias": 2})
    values = apply_steps(optimizer, [bias, other], [[np.ones(3), np.ones(3)]] * 4)
    frozen = [v[0][0] for v in values]
    assert frozen[0] != 0 and frozen[1] != frozen[0]
    assert frozen[3] == frozen[2] == frozen[1]
    assert values[3][1][0] != values[2][1][0]  # the other variable keeps training


def test_airbench_triangle_schedule():
    """airbench's triangle(steps, start=0.2, end=0.07, peak=0.23) from its own numbers."""
    total = 476
    peak_step = int(0.23 * total)
    xs = np.arange(total + 1)
    expected = np.interp(xs, [0, peak_step, total], [0.2, 1.0, 0.07])
    schedule = WarmupSchedule(1.5, total, peak_step, "triangular", start=0.2, end=0.07)
    np.testing.assert_allclose([float(schedule(x)) for x in xs], 1.5 * expected, rtol=1e-5)


def test_the_preset_says_airbench_numbers_in_keras_units():
    config = PRESETS["airbench94"]
    # airbench: lr 11.5 and weight decay 0.0153 per 1,024 images of a summed loss, with
    # PyTorch's rate lr / (1024 (1 + 1 / (1 - momentum))).
    torch_rate = 11.5 / (1024 * (1 + 1 / (1 - 0.85)))
    assert config.learning_rate == pytest.approx(torch_rate * 1024)  # the mean loss
    torch_decay = 0.0153 * 1024 / (1024 * (1 + 1 / (1 - 0.85))) / torch_rate
    assert config.l2 == pytest.approx(torch_decay / 1024)
    assert (config.batch_size, config.momentum, config.offset_lr_scale) == (1024, 0.85, 64)
    assert build_model(config).count_params() == 1_973_944  # airbench94's 1.97M


def test_alternating_flip_shows_every_image_both_ways_every_two_epochs():
    count = 64
    # Each image is one column index painted at its left edge, so a flip moves it right.
    images = np.zeros((count, 32, 32, 3), np.uint8)
    images[:, :, 0, 0] = np.arange(count)[:, None] + 1
    labels = np.arange(count) % 10
    config = dataclasses.replace(TINY, batch_size=16, translate=0)
    data = training_dataset(images, labels, config, 10, seed=4, first_epoch=0)
    mirrored = {}
    for step, (batch, _) in enumerate(data.take(2 * count // 16)):
        epoch = step // (count // 16)
        batch = batch.numpy()
        left, right = batch[:, :, 0, 0].max(axis=1), batch[:, :, -1, 0].max(axis=1)
        for image, flipped in zip(np.maximum(left, right), right > 0):
            mirrored.setdefault(int(image), []).append((epoch, bool(flipped)))
    assert len(mirrored) == count
    assert all(sorted(f for _, f in seen) == [False, True] for seen in mirrored.values())
    firsts = [dict(seen)[0] for seen in mirrored.values()]
    assert 0 < sum(firsts) < count  # a random half in the first epoch


def linear_model():
    """A model whose logits are a fixed linear function of the pixels (no symmetry)."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Flatten()(inputs)
    dense = keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomNormal(seed=1))
    return keras.Model(inputs, dense(x))


def test_tta_averages_exactly_the_listed_views():
    model = linear_model()
    images = np.random.default_rng(2).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    padded = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    up_left, down_right = padded[:, :32, :32], padded[:, 2:, 2:]
    # airbench's level 2: image and mirror 1/4 each, the two shifts and their mirrors 1/8.
    listed = [(0.25, images), (0.25, images[:, :, ::-1]), (0.125, up_left),
              (0.125, up_left[:, :, ::-1]), (0.125, down_right),
              (0.125, down_right[:, :, ::-1])]
    views = tta_views(tf.constant(images), True, 1)
    assert [w for w, _ in views] == [w for w, _ in listed]
    for (_, view), (_, expected) in zip(views, listed):
        np.testing.assert_array_equal(view.numpy(), expected)
    expected = sum(w * model.predict(v, verbose=0) for w, v in listed)
    np.testing.assert_allclose(tta_logits(model, tf.constant(images), True, 1), expected,
                               rtol=1e-5, atol=1e-4)
    mirror_only = (model.predict(images, verbose=0)
                   + model.predict(images[:, :, ::-1].copy(), verbose=0)) / 2
    np.testing.assert_allclose(tta_logits(model, tf.constant(images), True), mirror_only,
                               rtol=1e-5, atol=1e-4)
    probabilities = predict_probabilities(model, images, True, 1, batch_size=2)
    np.testing.assert_allclose(probabilities, tf.nn.softmax(expected), rtol=1e-5, atol=1e-6)


def test_the_export_serves_tta_and_a_single_view(tmp_path):
    model = linear_model()
    images = np.random.default_rng(3).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    servable = ClassifierServable(model, ["a", "b", "c", "d"], (32, 32, 3),
                                  logits=lambda net, x: tta_logits(net, x, True, 1))
    tf.saved_model.save(servable, str(tmp_path / "m"), signatures=servable.signatures())
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    np.testing.assert_allclose(served["probabilities"],
                               predict_probabilities(model, images, True, 1), atol=1e-6)
    single = loaded.signatures["single_view"](images=tf.constant(images))
    np.testing.assert_allclose(single["probabilities"],
                               predict_probabilities(model, images, False), atol=1e-6)


def test_the_preset_trains_and_resumes_exactly(tmp_path, monkeypatch):
    """Lookahead's slow weights are in the checkpoint: stopped after epoch 1 and resumed,
    the run ends where an uninterrupted one does."""
    data = colour_data()
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    model, _ = cifar10.train(TINY, straight, data, seed=2, verbose=0)
    history = json.load(open(os.path.join(straight, "state.json")))["history"]
    assert history[1]["loss"] < history[0]["loss"]
    assert isinstance(model.optimizer, AirbenchSGD) and model.optimizer.slow

    class StopBeforeEpoch2(cifar10_verbs.TrainingClock):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # what Ctrl-C raises
            super().on_epoch_begin(epoch, logs)

    monkeypatch.setattr(cifar10_verbs, "TrainingClock", StopBeforeEpoch2)
    with pytest.raises(Interrupted):
        cifar10.train(TINY, stopped, data, seed=2, verbose=0)
    monkeypatch.undo()
    assert json.load(open(os.path.join(stopped, "state.json")))["epoch"] == 1
    resumed, _ = cifar10.train(TINY, stopped, data, seed=2, resume=True, verbose=0)
    for a, b in zip(model.weights + model.optimizer.variables,
                    resumed.weights + resumed.optimizer.variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_the_airbench_optimizer_is_the_only_decay():
    """--optimizer airbench decays every variable itself: no kernel regularizer on top,
    whatever the network (a fast network under the airbench94 recipe, say)."""
    for arch in ("airbench", "fast", "vgg"):
        model = build_model(dataclasses.replace(TINY, arch=arch))
        assert not model.losses, arch
    assert build_model(dataclasses.replace(TINY, arch="fast", optimizer="sgd")).losses
