"""DCGAN: builders, train_step, reproducible sampling, resume, export, data loading."""

import dataclasses
import gzip
import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gan import dcgan
from gan.adversarial import build_dcgan
from gan.data import load_dataset, read_idx
from gan.model import PRESETS, build_discriminator, build_generator
from gan.sampling import generate_images, images_from_noise, interpolation_noise
from tests.conftest import run_python

TEST_CONFIG = dataclasses.replace(PRESETS["test"], epochs=1)


def make_images(count=64, size=28, channels=1, seed=0):
    """uint8 (count, size, size, channels): bright squares at random places on black."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size, channels), np.uint8)
    for image in images:
        top, left = rng.integers(0, size // 2, 2)
        image[top:top + size // 3, left:left + size // 3] = 255
    return images


def weights_of(network):
    return [w.numpy().copy() for w in network.weights]


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes(size, channels):
    config = PRESETS["test"]
    generator = build_generator(config, size, channels)
    discriminator = build_discriminator(config, size, channels)
    images = generator(tf.random.normal((3, config.latent_dim)))
    assert images.shape == (3, size, size, channels)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0  # tanh output
    assert discriminator(images).shape == (3, 1)


def test_paper_guidelines_hold():
    """No pooling; batch norm nowhere on G's output or D's input; N(0, 0.02) weights."""
    config = PRESETS["default"]
    generator, discriminator = build_generator(config, 64, 3), build_discriminator(config, 64, 3)
    for network in (generator, discriminator):
        names = [layer.__class__.__name__ for layer in network.layers]
        assert not any("Pooling" in name for name in names)
    assert generator.layers[-1].__class__.__name__ == "Conv2DTranspose"
    d_names = [layer.__class__.__name__ for layer in discriminator.layers]
    assert d_names[1:3] == ["Conv2D", "LeakyReLU"]  # input conv straight into LeakyReLU
    kernel = generator.get_layer("deconv_0").kernel.numpy()
    assert abs(kernel.std() - 0.02) < 0.002


def test_one_train_step_updates_both_networks_and_returns_both_losses():
    model = build_dcgan(PRESETS["test"])
    before_g, before_d = weights_of(model.generator), weights_of(model.discriminator)
    logs = model.train_step(tf.constant(make_images(16), tf.float32) / 127.5 - 1)
    assert {"d_loss", "g_loss"} <= set(logs)
    # At initialisation D outputs ~0.5: d_loss ~ 2 ln 2, g_loss ~ ln 2.
    assert float(logs["d_loss"]) == pytest.approx(2 * np.log(2), abs=0.15)
    assert float(logs["g_loss"]) == pytest.approx(np.log(2), abs=0.15)
    for before, network in ((before_g, model.generator), (before_d, model.discriminator)):
        changed = [not np.array_equal(b, a) for b, a in zip(before, weights_of(network))]
        assert sum(changed) >= len(network.trainable_weights) // 2


def test_training_lowers_the_discriminator_loss():
    model = build_dcgan(PRESETS["test"])
    images = tf.constant(make_images(16), tf.float32) / 127.5 - 1
    data = tf.data.Dataset.from_tensors(images).repeat()
    history = model.fit(data, epochs=4, steps_per_epoch=15, verbose=0).history
    # D learns to tell these squares from G's early output (2 ln 2 = 1.39 at the start).
    assert history["d_loss"][-1] < history["d_loss"][0] - 0.2, history["d_loss"]


def test_run_directory_holds_grids_plot_gif_and_history(trained_gan):
    run_dir = trained_gan[0]
    for name in ("config.json", "state.json", "history.csv", "loss.png", "progress.gif",
                 "samples/epoch-0001.png"):
        assert (tf.io.gfile.exists(f"{run_dir}/{name}")), name
    state = json.load(open(f"{run_dir}/state.json"))
    assert {"d_loss", "g_loss"} <= set(state["history"][0])


def test_fixed_seed_grid_is_reproducible(trained_gan, tmp_path):
    generator = trained_gan[1].generator
    first, again = generate_images(generator, 9, seed=3), generate_images(generator, 9, seed=3)
    assert first.dtype == np.uint8 and first.shape == (9, 28, 28, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, generate_images(generator, 9, seed=4))
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path in paths:
        dcgan.main(["generate", "--run_dir", trained_gan[0], "--num", "9", "--seed", "3",
                    "--out", str(path)])
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_resume_restores_optimizers_and_continues_like_one_run(trained_gan, tmp_path):
    run_dir = tmp_path / "resumed"
    shutil.copytree(trained_gan[0], run_dir)  # one finished epoch, seed 1
    state = json.load(open(run_dir / "state.json"))
    saved = keras.saving.load_model(str(run_dir / state["checkpoint"]))
    assert int(saved.d_optimizer.iterations.numpy()) == 4  # 64 images / batch 16
    for trained, loaded in ((trained_gan[1].g_optimizer, saved.g_optimizer),
                            (trained_gan[1].d_optimizer, saved.d_optimizer)):
        for a, b in zip(trained.variables, loaded.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    two_epochs = dataclasses.replace(TEST_CONFIG, epochs=2)
    resumed, _ = dcgan.train(two_epochs, str(run_dir), make_images(), seed=1, resume=True,
                             verbose=0)
    straight, _ = dcgan.train(two_epochs, str(tmp_path / "straight"), make_images(), seed=1,
                              verbose=0)
    for a, b in zip(straight.weights + straight.g_optimizer.variables,
                    resumed.weights + resumed.g_optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


EXPORT_SCRIPT = r"""
import numpy as np, tensorflow as tf
generate = tf.saved_model.load(EXPORT_DIR).signatures["generate"]
images = generate(count=tf.constant(5), seed=tf.constant(7))["images"].numpy()
np.save(OUT, images)
"""


def test_saved_model_round_trip_without_the_project(trained_gan, tmp_path):
    export_dir = tmp_path / "export"
    dcgan.main(["export", "--run_dir", trained_gan[0], "--export_dir", str(export_dir)])
    script = (EXPORT_SCRIPT.replace("EXPORT_DIR", repr(str(export_dir)))
              .replace("OUT", repr(str(tmp_path / "images.npy"))))
    result = run_python(script, tmp_path, with_project=False)
    assert result.returncode == 0, result.stderr[-3000:]
    exported = np.load(tmp_path / "images.npy")
    assert exported.dtype == np.uint8 and exported.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(exported, generate_images(trained_gan[1].generator, 5, 7))


def write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_and_npz_load_alike(tmp_path):
    images, labels = make_images(10)[..., 0], np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 2051)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 2049)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "train-images-idx3-ubyte.gz")), images)
    x_train, y_train, x_test, _ = load_dataset("mnist", str(tmp_path))
    np.testing.assert_array_equal(x_train[..., 0], images)
    np.testing.assert_array_equal(y_train, labels)
    assert x_test is None
    npz_dir = tmp_path / "npz"
    npz_dir.mkdir()
    np.savez(npz_dir / "mnist.npz", x_train=images, y_train=labels, x_test=images[:3],
             y_test=labels[:3])
    x_train, _, x_test, y_test = load_dataset("fashion_mnist", str(npz_dir))
    assert x_train.shape == (10, 28, 28, 1) and x_test.shape == (3, 28, 28, 1)


def test_interpolation_runs_from_one_seed_to_the_other(trained_gan, tmp_path):
    generator = trained_gan[1].generator
    row = images_from_noise(generator, interpolation_noise(generator.input_shape[-1], 5, 9, 6))
    assert row.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(row[0], generate_images(generator, 1, 5)[0])
    np.testing.assert_array_equal(row[-1], generate_images(generator, 1, 9)[0])
    dcgan.main(["interpolate", "--run_dir", trained_gan[0], "--seed_a", "5", "--seed_b", "9",
                "--steps", "6", "--out", str(tmp_path / "row.png"), "--scale", "1"])
    assert Image.open(tmp_path / "row.png").size == (6 * 30 + 2, 32)  # 2-pixel padding


def test_model_fc_gan_takes_the_course_settings():
    args = dcgan.build_parser().parse_args(["train", "--model", "fc_gan"])
    config = dcgan.config_for(args)
    assert (config.arch, config.batch_size, config.learning_rate) == ("fc_gan", 64, 1e-3)
    generator = build_generator(config)
    assert [w.shape for w in generator.trainable_weights] == [(100, 128), (128,), (128, 784),
                                                              (784,)]
