"""--layer_lr_decay: per-layer learning rates (week2_cnn/transfer_layer_rates.py)."""

import re

import keras
import numpy as np
import pytest
from keras import layers

from week2_cnn.cifar_training import WarmupSchedule
from week2_cnn.transfer_layer_rates import (LayerRateAdam, LayerRateSGD, depth_groups,
                                            layer_rate_multipliers, with_layer_rates)


def depths(base):
    groups = depth_groups(base)
    return {layer.name: len(groups) - i for i, group in enumerate(groups) for layer in group}


def test_inception_v3_depths_are_its_mixed_blocks_then_the_stem_convs():
    from week2_cnn.transfer_model import load_base

    base = load_base("inception_v3", "none").features
    core = next(layer for layer in base.layers if isinstance(layer, keras.Model))
    found = depths(base)
    names = [layer.name for layer in core.layers]
    mixed = [i for i, name in enumerate(names) if re.fullmatch(r"mixed\d+", name)]
    convs = [layer for layer in core.layers if isinstance(layer, layers.Conv2D)]
    assert len(mixed) == 11 and len(convs) == 94 and len(set(found.values())) == 16
    expected = {}
    for i, conv in enumerate(convs):
        # The five stem convs are depths 16..12; a conv inside mixed block N is
        # 11 - N: the number of mixed concatenations at or above its block.
        expected[conv.name] = 16 - i if i < 5 else sum(
            1 for m in mixed if m > names.index(conv.name))
    for layer in core.layers:
        if isinstance(layer, layers.BatchNormalization):  # the depth of the conv it follows
            expected[layer.name] = expected[layer._inbound_nodes[0].parent_nodes[0]
                                            .operation.name]
    assert found == expected
    assert len(found) == sum(1 for layer in core.layers if layer.weights) == 188


def test_a_residual_block_is_one_depth_and_a_chain_one_per_kernel():
    images = keras.Input((8, 8, 3))
    x = layers.ReLU()(layers.BatchNormalization(name="a_bn")(layers.Conv2D(4, 3, name="a")(
        images)))
    branch = layers.BatchNormalization(name="b_bn")(layers.Conv2D(6, 3, padding="same",
                                                                  name="b")(x))
    x = layers.Add()([branch, layers.Conv2D(6, 1, name="projection")(x)])
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(5, 1, name="c")(x))
    base = keras.Model(images, layers.Dense(3, name="d")(x))
    assert [sorted(layer.name for layer in group) for group in depth_groups(base)] == [
        ["a", "a_bn"], ["b", "b_bn", "projection"], ["c"], ["d"]]


def tiny_classifier(seed):
    """(model, base): 2 -> d1 -> d2 (the base) -> logits, with weights in halves.

    Halves, whole-number inputs and a power-of-two learning rate keep every
    number of a training step exact in float32, so updates compare with ==.
    """
    inputs = keras.Input((2,))
    features = layers.Dense(2, name="d2")(layers.Dense(2, name="d1")(inputs))
    base = keras.Model(inputs, features)
    model = keras.Model(inputs, layers.Dense(1, name="logits")(features))
    rng = np.random.default_rng(seed)
    model.set_weights([rng.integers(-2, 3, w.shape) / 2 for w in model.get_weights()])
    return model, base


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_variable_at_depth_k_gets_decay_to_the_k_times_the_sgd_update(seed):
    import tensorflow as tf

    model, base = tiny_classifier(seed)
    multipliers = layer_rate_multipliers(model, base, 0.5)
    # d1 kernel, bias at depth 2; d2 at depth 1; the head at depth 0.
    assert multipliers == [0.25, 0.25, 0.5, 0.5, 1.0, 1.0]
    rng = np.random.default_rng(seed + 10)
    x = rng.integers(-2, 3, (4, 2)).astype(np.float32)
    y = rng.integers(-2, 3, (4, 1)).astype(np.float32)
    with tf.GradientTape() as tape:  # the hand check: plain SGD moves w by -lr * dL/dw
        loss = tf.reduce_mean(tf.square(model(x) - y))
    gradients = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    before = [v.numpy() for v in model.trainable_variables]
    model.compile(LayerRateSGD(0.125, lr_multipliers=multipliers), "mse")
    model.train_on_batch(x, y)
    for variable, old, gradient, m in zip(model.trainable_variables, before, gradients,
                                          multipliers):
        assert np.array_equal(variable.numpy() - old, -0.125 * m * gradient), variable.path
    assert any(np.any(g != 0) for g in gradients[:2])  # depth 2 really was updated


@pytest.mark.parametrize("make", [
    lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    lambda lr: keras.optimizers.Adam(lr)])
def test_with_momentum_adam_and_the_schedule_each_step_scales_exactly(make):
    """From zero, each variable's whole trajectory is multiplier x the plain one."""
    rng = np.random.default_rng(0)
    gradients = [rng.normal(size=(3, 2)).astype(np.float32) for _ in range(3)]
    runs = []
    for multipliers in ([1.0, 1.0, 1.0], [0.25, 0.5, 1.0]):
        schedule = WarmupSchedule(0.1, total_steps=6, warmup_steps=2)
        optimizer = with_layer_rates(make(schedule), multipliers)
        variables = [keras.Variable(np.zeros((3, 2), np.float32)) for _ in range(3)]
        trajectory = []
        for step in range(5):  # warm-up, peak and decay of the learning rate
            optimizer.apply([g * (step + 1) for g in gradients], variables)
            trajectory.append([v.numpy() for v in variables])
        runs.append(trajectory)
    for plain, scaled in zip(*runs):
        for k, m in enumerate([0.25, 0.5, 1.0]):
            assert np.array_equal(scaled[k], m * plain[k])
    assert np.all(runs[0][-1][0] != 0)


def test_decay_one_updates_equal_plain_adam_bit_for_bit():
    results = []
    for optimizer in (keras.optimizers.Adam(1e-3), LayerRateAdam(1e-3, lr_multipliers=[1.0] * 2)):
        rng = np.random.default_rng(1)  # the same starting values and gradients for both
        variables = [keras.Variable(rng.normal(size=(4,)).astype(np.float32)) for _ in range(2)]
        for _ in range(4):
            optimizer.apply([rng.normal(size=(4,)).astype(np.float32) for _ in range(2)],
                            variables)
        results.append([v.numpy() for v in variables])
    assert all(np.array_equal(a, b) for a, b in zip(*results))


def test_the_multipliers_and_slots_survive_a_keras_save_and_load(tmp_path):
    model, base = tiny_classifier(0)
    x = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
    y = np.ones((4, 1), np.float32)
    schedule = WarmupSchedule(0.05, total_steps=10, warmup_steps=2)
    model.compile(with_layer_rates(keras.optimizers.SGD(schedule, momentum=0.9),
                                   layer_rate_multipliers(model, base, 0.5)), "mse")
    for _ in range(2):
        model.train_on_batch(x, y)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, LayerRateSGD)
    assert loaded.optimizer.lr_multipliers == (0.25, 0.25, 0.5, 0.5, 1.0, 1.0)
    assert int(loaded.optimizer.iterations) == 2
    for _ in range(2):  # the same next steps: schedule, momentum and multipliers all kept
        model.train_on_batch(x, y)
        loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_refused_setups():
    with pytest.raises(ValueError, match="Adam and SGD"):
        with_layer_rates(keras.optimizers.RMSprop(), [1.0])
    with pytest.raises(ValueError, match="weight_decay"):
        LayerRateAdam(weight_decay=0.1, lr_multipliers=[1.0])
    model, _ = tiny_classifier(0)
    model.compile(LayerRateSGD(0.1, lr_multipliers=[1.0]), "mse")
    with pytest.raises(ValueError, match="1 learning-rate multipliers for 6"):
        model.train_on_batch(np.zeros((2, 2)), np.zeros((2, 1)))
