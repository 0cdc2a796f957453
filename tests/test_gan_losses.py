"""GAN losses (gan.losses, --loss): formulas on hand-made outputs, the gradient penalty's
closed form, the wgan_gp critic, training without NaN, the default unchanged, resume."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan import dcgan
from gan.adversarial import DCGAN, build_dcgan
from gan.losses import LOSS_NAMES, LOSSES, gradient_penalty
from gan.model import PRESETS, build_discriminator
from tests.conftest import assert_one_line_error, call_cli, run_on_two_cpus, snapshot
from tests.test_dcgan import TEST_CONFIG, make_images
from tests.test_dcgan_verbs import mnist_like

# D's outputs (batch 2, 1 unit) on real images and on G's images.
REAL = np.array([[2.0], [-1.0]], np.float32)
FAKE = np.array([[0.5], [-3.0]], np.float32)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# Each loss written out by hand in NumPy, as in the papers: (D's loss, G's loss).
HAND = {
    "minimax": (-np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1 - sigmoid(FAKE))),
                np.mean(np.log(1 - sigmoid(FAKE)))),
    "non_saturating": (-np.mean(np.log(sigmoid(REAL))) - np.mean(np.log(1 - sigmoid(FAKE))),
                       -np.mean(np.log(sigmoid(FAKE)))),
    # 1/2 ((2-1)^2 + (-1-1)^2)/2 + 1/2 (0.5^2 + 3^2)/2;  1/2 ((0.5-1)^2 + (-3-1)^2)/2
    "lsgan": (0.5 * (1 + 4) / 2 + 0.5 * (0.25 + 9) / 2, 0.5 * (0.25 + 16) / 2),
    # mean D(G(z)) - mean D(x) = -1.25 - 0.5 (the penalty is separate);  -mean D(G(z))
    "wgan_gp": (-1.25 - 0.5, 1.25),
    # mean(relu(1 - [2, -1])) + mean(relu(1 + [0.5, -3])) = 1 + 0.75
    "hinge": (1.75, 1.25),
}


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_each_loss_equals_its_formula(name):
    loss = LOSSES[name]
    d_hand, g_hand = HAND[name]
    assert float(loss.discriminator(tf.constant(REAL), tf.constant(FAKE))) == pytest.approx(
        d_hand, rel=1e-5)
    assert float(loss.generator(tf.constant(FAKE))) == pytest.approx(g_hand, rel=1e-5)


def test_only_wgan_gp_has_a_penalty_and_the_logistic_losses_read_probabilities():
    assert {n for n in LOSS_NAMES if LOSSES[n].penalty_weight} == {"wgan_gp"}
    assert LOSSES["wgan_gp"].penalty_weight == 10.0
    assert {n for n in LOSS_NAMES if LOSSES[n].probabilities} == {"minimax", "non_saturating"}
    assert float(LOSSES["minimax"].reading(tf.constant(REAL))) == pytest.approx(
        np.mean(sigmoid(REAL)))
    assert float(LOSSES["hinge"].reading(tf.constant(REAL))) == pytest.approx(0.5)


def test_gradient_penalty_of_a_linear_critic_is_the_closed_form():
    """D(x) = w.x + b has gradient w at every x: penalty (||w|| - 1)^2, and its
    gradient with respect to w is 2 (||w|| - 1) w / ||w||."""
    critic = keras.Sequential([keras.Input((2, 2, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1)])
    w = np.array([[0.1], [-0.4], [0.2], [0.2]], np.float32)  # ||w|| = 0.5
    critic.layers[-1].set_weights([w, np.array([0.3], np.float32)])
    rng = np.random.default_rng(0)
    real, fake = (tf.constant(rng.normal(size=(3, 2, 2, 1)), tf.float32) for _ in range(2))
    mix = tf.constant([0.0, 0.3, 1.0], shape=(3, 1, 1, 1))
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(critic, real, fake, mix)
    assert float(penalty) == pytest.approx((0.5 - 1.0) ** 2, rel=1e-5)
    grad = tape.gradient(penalty, critic.layers[-1].kernel)
    np.testing.assert_allclose(grad.numpy(), 2 * (0.5 - 1.0) * w / 0.5, rtol=1e-5)


def test_gradient_penalty_is_taken_per_image_at_the_interpolates():
    """D(x) = sum(x^2): gradient 2 x_hat, x_hat = mix * ones + (1 - mix) * zeros, so
    image i's gradient norm is 2 mix_i sqrt(4) (four pixels)."""
    def critic(images, training=False):
        return tf.reduce_sum(tf.square(images), axis=[1, 2, 3])[:, None]

    mix = np.array([0.25, 0.5], np.float32)
    penalty = gradient_penalty(critic, tf.ones((2, 2, 2, 1)), tf.zeros((2, 2, 2, 1)),
                               tf.constant(mix.reshape(2, 1, 1, 1)))
    assert float(penalty) == pytest.approx(np.mean((4 * mix - 1) ** 2), rel=1e-5)


@pytest.mark.parametrize("size", [28, 64])
def test_wgan_gp_critic_has_layer_norm_and_no_batch_norm(size):
    def kinds(loss):
        config = dataclasses.replace(PRESETS["default"], loss=loss)
        return [layer.__class__.__name__ for layer in
                build_discriminator(config, size, 1).layers]

    critic = kinds("wgan_gp")
    assert "LayerNormalization" in critic
    assert not any("BatchNormalization" in kind for kind in critic)
    for other in ("non_saturating", "hinge", "lsgan", "minimax"):
        assert "FusedBatchNormalization" in kinds(other)
        assert "LayerNormalization" not in kinds(other)
    # Each image's outputs are its own: the same image alone or in a batch scores the same.
    discriminator = build_discriminator(dataclasses.replace(PRESETS["test"], loss="wgan_gp"),
                                        size, 1)
    images = tf.random.normal((4, size, size, 1))
    together = discriminator(images, training=True).numpy()
    alone = discriminator(images[:1], training=True).numpy()
    np.testing.assert_allclose(together[:1], alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["dcgan", "fc_gan"])
@pytest.mark.parametrize("name", LOSS_NAMES)
def test_each_loss_trains_a_few_steps_without_nan(arch, name):
    keras.utils.set_random_seed(0)
    model = build_dcgan(dataclasses.replace(PRESETS["test"], arch=arch, loss=name))
    before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    images = tf.random.uniform((16, 28, 28, 1), -1.0, 1.0, seed=1)
    history = model.fit(tf.data.Dataset.from_tensors(images).repeat(), epochs=1,
                        steps_per_epoch=3, verbose=0).history
    for key, values in history.items():
        assert np.all(np.isfinite(values)), (key, values)
    assert ("gradient_penalty" in history) == (name == "wgan_gp")
    after = model.discriminator.trainable_weights
    assert not all(np.array_equal(b, a.numpy()) for b, a in zip(before, after))


def old_train_step(model, real_images):
    """The DCGAN's train_step as it was before --loss existed (the reference)."""
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    batch_size = tf.shape(real_images)[0]
    fake_images = model.generator(model.sample_noise(batch_size, 0), training=True)
    with tf.GradientTape() as tape:
        real_logits = model.discriminator(real_images, training=True)
        fake_logits = model.discriminator(fake_images, training=True)
        d_loss = (cross_entropy(tf.ones_like(real_logits), real_logits)
                  + cross_entropy(tf.zeros_like(fake_logits), fake_logits))
    grads = tape.gradient(d_loss, model.discriminator.trainable_variables)
    model.d_optimizer.apply_gradients(zip(grads, model.discriminator.trainable_variables))
    with tf.GradientTape() as tape:
        fake_logits = model.discriminator(
            model.generator(model.sample_noise(batch_size, 1), training=True), training=True)
        g_loss = cross_entropy(tf.ones_like(fake_logits), fake_logits)
    grads = tape.gradient(g_loss, model.generator.trainable_variables)
    model.g_optimizer.apply_gradients(zip(grads, model.generator.trainable_variables))
    return {"d_loss": d_loss, "g_loss": g_loss,
            "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
            "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits))}


@pytest.mark.parametrize("arch", ["dcgan", "fc_gan"])
def test_default_loss_gives_the_numbers_of_the_code_before_it(arch):
    assert all(preset.loss == "non_saturating" for preset in PRESETS.values())
    config = dataclasses.replace(PRESETS["test"], arch=arch)
    old_config = {k: v for k, v in dataclasses.asdict(config).items() if k != "loss"}
    models = []
    for gan_config in (old_config, dataclasses.asdict(config)):  # an old checkpoint's config
        keras.utils.set_random_seed(3)
        models.append(DCGAN(gan_config, seed=5))
        models[-1].build()
    reference, current = models
    assert current.adversarial_loss.name == reference.adversarial_loss.name == "non_saturating"
    for step in range(3):
        images = tf.random.uniform((16, 28, 28, 1), -1.0, 1.0, seed=step)
        old = old_train_step(reference, images)
        new = current.train_step(images)
        if step == 0:  # later logs are averages over the steps so far
            assert {k: float(new[k]) for k in old} == {k: float(v) for k, v in old.items()}
        for a, b in zip(reference.weights + reference.d_optimizer.variables,
                        current.weights + current.d_optimizer.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def train_hinge(run_dir, epochs, resume=False):
    return dcgan.train(dataclasses.replace(TEST_CONFIG, loss="hinge", epochs=epochs),
                       str(run_dir), make_images(), seed=1, resume=resume, verbose=0)


def test_resume_of_a_hinge_run_keeps_hinge(tmp_path, capsys):
    run_dir = tmp_path / "hinge"
    train_hinge(run_dir, 1)
    assert json.loads((run_dir / "config.json").read_text())["loss"] == "hinge"
    # Resuming without --loss hinge would change the loss: refused, the run untouched.
    before = snapshot(run_dir)
    data = mnist_like(tmp_path / "mnist", train=64)
    status, _, stderr = call_cli(dcgan.main, [
        "train", "--data_dir", str(data), "--out_dir", str(run_dir), "--resume",
        "--preset", "test", "--epochs", "2", "--verbose", "0"], capsys)
    assert_one_line_error(status, stderr, "loss: 'hinge' -> 'non_saturating'")
    assert snapshot(run_dir) == before
    resumed, state = train_hinge(run_dir, 2, resume=True)
    assert state["epoch"] == 2 and resumed.adversarial_loss.name == "hinge"
    straight, _ = train_hinge(tmp_path / "straight", 2)
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_wgan_gp_says_once_that_the_critic_uses_layer_norm(tmp_path, capsys):
    data = mnist_like(tmp_path / "mnist", train=64)
    dcgan.main(["train", "--data_dir", str(data), "--out_dir", str(tmp_path / "run"),
                "--preset", "test", "--epochs", "1", "--loss", "wgan_gp", "--verbose", "0"])
    out = capsys.readouterr().out
    assert out.count("layer normalization instead of batch norm") == 1, out
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()[0]
    assert "gradient_penalty" in history


def test_an_unknown_loss_is_one_error_line(tmp_path, capsys):
    status, _, stderr = call_cli(dcgan.main, ["train", "--loss", "wasserstein", "--out_dir",
                                              str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "--loss")
    assert not (tmp_path / "run").exists()


MIRRORED = r"""
import json, dataclasses
from gan import dcgan_verbs
from gan.model import PRESETS
from tests.test_dcgan import make_images
config = dataclasses.replace(PRESETS["test"], epochs=1, loss="wgan_gp")
_, state = dcgan_verbs.train(config, RUN, make_images(), verbose=0, strategy="mirrored")
print(json.dumps(state["history"][0]))
"""


def test_wgan_gp_under_a_mirrored_strategy_reads_as_on_one_device(tmp_path):
    row = json.loads(run_on_two_cpus(MIRRORED, RUN=str(tmp_path / "run"))[-1])
    # A fresh critic's gradients are small, so the penalty starts just under 1 (about 0.84
    # on one device); divided by 2 replicas and not multiplied back it would read ~0.42.
    assert 0.6 < row["gradient_penalty"] <= 1.0, row
    assert row["d_loss"] == pytest.approx(10 * row["gradient_penalty"], abs=0.5), row
