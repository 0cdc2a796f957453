"""VAE: the KL term, the reparameterization trick, training, round trips, export, bad input."""

import dataclasses
import json
import pathlib
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan import dcgan, vae
from gan.latent_maps import manifold_points
from gan.sampling import generate_images
from gan.vae_model import (PRESETS, bernoulli_nll, build_vae, gaussian_nll, kl_divergence,
                           negative_elbo, reparameterize, to_model_input)
from tests.conftest import assert_one_line_error, call_cli, run_python, snapshot
from tests.test_dcgan import make_images
from tests.test_dcgan_verbs import mnist_like

TEST_CONFIG = dataclasses.replace(PRESETS["test"], epochs=1)


def open_text(run_dir, name):
    return (pathlib.Path(run_dir) / name).read_text()


def test_kl_term_equals_the_closed_form_for_a_hand_made_gaussian():
    mu = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]], np.float32)
    sigma = np.array([[1.0, 1.0, 1.0], [0.5, 2.0, 0.1]], np.float32)
    # KL(N(mu, sigma^2) || N(0, 1)) = log(1 / sigma) + (sigma^2 + mu^2) / 2 - 1/2 per unit.
    expected = np.sum(np.log(1.0 / sigma) + (sigma ** 2 + mu ** 2) / 2 - 0.5, axis=1)
    kl = kl_divergence(tf.constant(mu), tf.constant(np.log(sigma ** 2))).numpy()
    assert expected[0] == 0.0
    np.testing.assert_allclose(kl, expected, rtol=1e-5, atol=1e-6)


def test_bernoulli_reconstruction_is_the_summed_cross_entropy():
    rng = np.random.default_rng(0)
    images = (rng.random((3, 4, 4, 1)) > 0.5).astype(np.float32)
    logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    expected = -np.sum(images * np.log(p) + (1 - images) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(bernoulli_nll(tf.constant(images), tf.constant(logits)).numpy(),
                               expected, rtol=1e-5)


def test_gaussian_reconstruction_is_the_normal_log_density():
    images = tf.constant([[[[0.2], [0.9]]]])  # (1, 1, 2, 1)
    logits = tf.constant([[[[0.0], [2.0]]]])
    mean, sigma = 1.0 / (1.0 + np.exp(-np.array([0.0, 2.0]))), 0.1
    expected = np.sum((np.array([0.2, 0.9]) - mean) ** 2 / (2 * sigma ** 2)
                      + np.log(sigma * np.sqrt(2 * np.pi)))
    np.testing.assert_allclose(gaussian_nll(images, logits, sigma).numpy(), [expected],
                               rtol=1e-5)


def test_reparameterized_samples_have_the_right_mean_and_variance():
    model = build_vae(TEST_CONFIG)
    mu = tf.constant([[1.5, -2.0]])
    sigma = np.array([0.5, 2.0], np.float32)
    log_var = tf.constant(np.log(sigma ** 2)[None])
    # The model's own noise, fixed seed: the same numbers every run, so no flakes.
    # 200,000 samples: standard errors sigma / 447 for the mean, about 0.3% for the variance.
    z = reparameterize(mu, log_var, model.sample_eps([200_000, 2], 0, 0)).numpy()
    assert np.all(np.abs(z.mean(axis=0) - [1.5, -2.0]) < 5 * sigma / 447), z.mean(axis=0)
    np.testing.assert_allclose(z.var(axis=0), sigma ** 2, rtol=0.02)
    # Gradients flow through the sample: dz/dmu = 1, dz/dlog_var = sigma * eps / 2.
    eps = tf.constant([[0.3, -1.2]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([mu, log_var])
        sample = reparameterize(mu, log_var, eps)
    np.testing.assert_allclose(tape.gradient(sample, mu).numpy(), [[1.0, 1.0]])
    np.testing.assert_allclose(tape.gradient(sample, log_var).numpy(),
                               sigma[None] * eps.numpy() / 2, rtol=1e-5)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_training_lowers_the_negative_elbo(likelihood):
    keras.utils.set_random_seed(0)
    model = build_vae(dataclasses.replace(TEST_CONFIG, likelihood=likelihood), jit_compile=False)
    images = make_images(64)
    before = negative_elbo(model, images)
    if likelihood == "bernoulli":
        # At the start every pixel is a coin flip: about 784 ln 2 = 543 nats per image.
        assert before["negative_elbo"] == pytest.approx(784 * np.log(2), rel=0.1)
    data = (tf.data.Dataset.from_tensor_slices(to_model_input(images, likelihood))
            .batch(16).repeat())
    model.fit(data, epochs=3, steps_per_epoch=20, verbose=0)
    after = negative_elbo(model, images)
    assert after["negative_elbo"] < before["negative_elbo"] - 100, (before, after)
    assert after["kl"] > 0


def test_run_directory_holds_grids_latent_maps_and_history(trained_vae):
    run_dir = trained_vae[0]
    for name in ("config.json", "history.csv", "loss.png", "progress.gif",
                 "samples/epoch-0001.png", "manifold.png", "latent_codes.png"):
        assert tf.io.gfile.exists(f"{run_dir}/{name}"), name
    state = json.loads(open_text(run_dir, "state.json"))
    assert {"loss", "reconstruction", "kl"} <= set(state["history"][0])
    config = json.loads(open_text(run_dir, "config.json"))
    assert config["kind"] == "vae" and config["image_shape"] == [28, 28, 1]
    assert manifold_points(4).shape == (16, 2)


def test_keras_round_trip_gives_the_same_outputs(trained_vae, tmp_path):
    model = trained_vae[1]
    path = str(tmp_path / "vae.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    inputs = to_model_input(make_images(8, seed=3), "bernoulli")
    np.testing.assert_allclose(loaded(inputs).numpy(), model(inputs).numpy(), atol=1e-6)
    eps = tf.random.stateless_normal([8, 2], seed=[1, 2])
    for a, b in zip(loaded.losses_per_image(inputs, eps), model.losses_per_image(inputs, eps)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(generate_images(loaded.generator, 6, 4),
                                  generate_images(model.generator, 6, 4))
    assert loaded.settings == model.settings and loaded.image_shape == (28, 28, 1)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables) > 2
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # resume keeps Adam's moments


def test_resume_continues_like_one_run(trained_vae, tmp_path):
    run_dir = tmp_path / "resumed"
    shutil.copytree(trained_vae[0], run_dir)  # one finished epoch, seed 1
    two_epochs = dataclasses.replace(TEST_CONFIG, epochs=2)
    resumed, state = vae.train(two_epochs, str(run_dir), make_images(), "mnist", seed=1,
                               resume=True, verbose=0)
    straight, _ = vae.train(two_epochs, str(tmp_path / "straight"), make_images(), "mnist",
                            seed=1, verbose=0)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    for a, b in zip(straight.weights + straight.optimizer.variables,
                    resumed.weights + resumed.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


EXPORT_SCRIPT = r"""
import json, numpy as np, tensorflow as tf
loaded = tf.saved_model.load(EXPORT_DIR)
generate = loaded.signatures["generate"]
first = generate(count=tf.constant(5), seed=tf.constant(7))["images"].numpy()
again = generate(count=tf.constant(5), seed=tf.constant(7))["images"].numpy()
z = tf.random.stateless_normal([5, 2], seed=tf.constant([7, 0]))
decoded = loaded.signatures["decode"](z=z)["images"].numpy()
meta = json.loads(loaded.signatures["metadata"]()["json"].numpy().decode())
np.savez(OUT, first=first, again=again, decoded=decoded, kind=meta["kind"])
"""


def test_saved_model_generate_is_deterministic_uint8_images(trained_vae, tmp_path):
    run_dir, model = trained_vae
    before = snapshot(run_dir)
    export_dir = tmp_path / "export"
    vae.main(["export", "--run_dir", run_dir, "--export_dir", str(export_dir)])
    assert snapshot(run_dir) == before  # export writes nothing into the run directory
    script = (EXPORT_SCRIPT.replace("EXPORT_DIR", repr(str(export_dir)))
              .replace("OUT", repr(str(tmp_path / "out.npz"))))
    result = run_python(script, tmp_path, with_project=False)  # no project code needed
    assert result.returncode == 0, result.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    assert out["first"].dtype == np.uint8 and out["first"].shape == (5, 28, 28, 1)
    assert str(out["kind"]) == "vae"
    np.testing.assert_array_equal(out["first"], out["again"])
    np.testing.assert_array_equal(out["first"], out["decoded"])  # generate = decode(noise)
    np.testing.assert_array_equal(out["first"], generate_images(model.generator, 5, 7))


def test_generate_and_interpolate_write_pngs(trained_vae, tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in paths:
        vae.main(["generate", "--run_dir", trained_vae[0], "--num", "9", "--seed", "3",
                  "--out", str(path)])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    vae.main(["interpolate", "--run_dir", trained_vae[0], "--steps", "5", "--out",
              str(tmp_path / "row.png"), "--checkpoint", "last"])
    assert (tmp_path / "row.png").exists()


def test_evaluate_writes_the_negative_elbo_and_scores(trained_vae, tmp_path):
    run_dir = str(tmp_path / "run")
    shutil.copytree(trained_vae[0], run_dir)  # evaluate writes results.json into the run
    data = mnist_like(tmp_path / "mnist")
    vae.main(["evaluate", "--run_dir", run_dir, "--data_dir", str(data), "--num", "32",
              "--classifier_epochs", "1"])
    results = json.loads(open_text(run_dir, "results.json"))
    assert results["negative_elbo"] == pytest.approx(results["reconstruction"] + results["kl"],
                                                     rel=1e-5)
    assert 0 < results["negative_elbo"] < 784 * np.log(2) * 1.5
    assert results["fid"] >= 0 and 1.0 <= results["inception_score"] <= 10.0
    assert results["dataset"] == "mnist" and results["likelihood"] == "bernoulli"


@pytest.mark.parametrize("value", ["0", "-3"])
def test_latent_dim_must_be_positive(tmp_path, capsys, value):
    status, _, stderr = call_cli(vae.main, ["train", "--latent_dim", value, "--out_dir",
                                            str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "--latent_dim")
    assert not (tmp_path / "run").exists()


def test_a_dcgan_run_cannot_be_resumed_as_a_vae_nor_the_reverse(
        trained_gan, trained_vae, tmp_path, capsys):
    data = str(mnist_like(tmp_path / "mnist"))
    for command, run, kind in ((vae, trained_gan[0], "dcgan"), (dcgan, trained_vae[0], "vae")):
        copy = tmp_path / kind
        shutil.copytree(run, copy)
        before = snapshot(copy)
        status, _, stderr = call_cli(command.main, [
            "train", "--resume", "--out_dir", str(copy), "--data_dir", data, "--preset",
            "test", "--epochs", "2", "--verbose", "0"], capsys)
        assert_one_line_error(status, stderr, f"holds a '{kind}' run")
        assert snapshot(copy) == before


@pytest.mark.slow
def test_default_preset_reaches_100_nats_on_real_mnist(tmp_path):
    from gan.data import load_dataset
    from tests.conftest import shared_data

    x_train, _, x_test, _ = load_dataset("mnist", shared_data("mnist"))
    config = dataclasses.replace(PRESETS["default"], epochs=4)
    model, _ = vae.train(config, str(tmp_path / "run"), x_train, "mnist", verbose=0)
    # 81.33 after 20 epochs (benchmarks/RESULTS.md); that run's training loss was 92.3 after 4.
    assert negative_elbo(model, x_test)["negative_elbo"] <= 100
