"""The CIFAR-10 model zoo, the whitening layer and the learning-rate schedule."""

import dataclasses

import numpy as np
import pytest

from week2_cnn.airbench_model import patch_whitening
from week2_cnn.cifar_models import ARCHITECTURES, CIFAR_MEAN, CIFAR_STD, PRESETS, build_model
from week2_cnn.cifar_training import WarmupSchedule, augment


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("batch_norm", [True, False])
def test_every_model_maps_images_to_logits(architecture, batch_norm):
    preset = next(p for p in PRESETS.values() if p.arch == architecture)
    config = dataclasses.replace(preset, width=4, batch_norm=batch_norm, dropout_rate=0.1)
    model = build_model(config, num_classes=7)
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    logits = np.asarray(model(images, training=False))
    assert logits.shape == (3, 7) and np.isfinite(logits).all()
    has_bn = any("batch_normalization" in layer.name for layer in model.layers)
    assert has_bn == batch_norm


def test_presets_build_at_full_size():
    sizes = {name: build_model(config).count_params() for name, config in PRESETS.items()}
    # Reference sizes: a change here is a change of the published recipes.
    assert sizes["resnet"] == pytest.approx(272_000, rel=0.05)
    assert sizes["test"] < sizes["fast"] < sizes["fast_long"]


def test_whitening_layer_is_set_and_frozen():
    from week2_cnn.cifar_models import init_whitening

    model = build_model(PRESETS["test"])
    images = np.random.default_rng(1).integers(0, 256, (50, 32, 32, 3))
    init_whitening(model, images, PRESETS["test"])
    layer = model.get_layer("whiten")
    kernel, bias = layer.get_weights()
    normalised = (images.astype(np.float32) - CIFAR_MEAN) / CIFAR_STD
    np.testing.assert_allclose(kernel, patch_whitening(normalised, centred=True))
    assert not bias.any()
    assert not layer.trainable_weights


@pytest.mark.parametrize("shape, expected", [
    ("triangular", [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]),
    ("cosine", [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]),
    ("constant", [0.0, 0.5, 1.0, 1.0, 1.0, 1.0]),
])
def test_warmup_schedule(shape, expected):
    schedule = WarmupSchedule(peak=2.0, total_steps=10, warmup_steps=2, shape=shape)
    values = [float(schedule(step)) / 2.0 for step in (0, 1, 2, 6, 10, 12)]
    np.testing.assert_allclose(values, expected, atol=1e-6)


def test_augment_flips_and_shifts_without_new_pixels():
    import tensorflow as tf

    image = np.arange(32 * 32 * 3, dtype=np.int64).reshape(32, 32, 3) % 251
    image = image.astype(np.uint8)
    outputs = augment(tf.constant(np.stack([image] * 200)), 2, seed=[0, 0]).numpy()  # one batch
    assert outputs.shape == (200, 32, 32, 3)
    np.testing.assert_array_equal(outputs, np.round(outputs))  # pixels, not blends
    outputs = list(outputs.astype(np.uint8))
    # The centre 28x28 of any output is the original (or its mirror) shifted by <= 2.
    candidates = [np.roll(np.roll(img, dy, 0), dx, 1)[2:30, 2:30]
                  for img in (image, image[:, ::-1]) for dy in range(-2, 3)
                  for dx in range(-2, 3)]
    matches = [[i for i, c in enumerate(candidates) if np.array_equal(o[2:30, 2:30], c)]
               for o in outputs]
    assert all(len(m) == 1 for m in matches)
    # Each image of the batch draws its own flip and shift: of the 50, most occur.
    drawn = {m[0] for m in matches}
    assert len(drawn) >= 30 and min(drawn) < 25 <= max(drawn)  # mirrored and not


def test_augment_without_translation_only_mirrors():
    import tensorflow as tf

    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3)).astype(np.uint8)
    outputs = augment(tf.constant(images), 0, seed=[1, 0]).numpy()
    mirrored = [np.array_equal(o, i[:, ::-1]) for o, i in zip(outputs, images)]
    kept = [np.array_equal(o, i) for o, i in zip(outputs, images)]
    assert all(m or k for m, k in zip(mirrored, kept))
    assert 10 <= sum(mirrored) <= 54  # each image flips on its own draw

