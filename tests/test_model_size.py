"""A model too big for the machine is refused before it is built (common.model_size).

Each command's estimate is pure arithmetic on its config; its parameter count
must match the built model's `count_params()` (within 10%: it is exact
arithmetic) at the test preset and at a bigger setting. Then the real CLI,
given each command's bounded size flags together, prints one `error:` line
naming the estimate, exits 2 within seconds and leaves no run directory. The
machine's memory is injected, so the tests do not depend on this machine's.
regression is left out: its models have at most three weights.
"""

import dataclasses
import importlib
import os

import pytest

from common import lifecycle, model_size
from common.cli import UsageError
from common.model_size import GIB, ModelSize, available_bytes, check_fits
from tests.conftest import call_cli, make_corpus

# --- check_fits and available_bytes -------------------------------------------------------


def test_check_fits_passes_a_model_that_fits_and_refuses_one_that_does_not():
    size = ModelSize(parameters=10_000_000, activations=50_000_000)  # 0.15 + 0.19 GiB
    check_fits(size, "--units", available=GIB)
    with pytest.raises(UsageError) as refused:
        check_fits(size, "--units or --batch_size", available=GIB // 4)
    message = str(refused.value)
    assert "\n" not in message
    assert "10.0M parameters" in message and "0.3 GiB to train" in message
    assert "0.2 GiB of activations" in message and "0.2 GiB this machine" in message
    assert message.endswith("lower --units or --batch_size")


def test_training_memory_counts_the_optimizers_copies_and_frozen_weights():
    assert ModelSize(1000).training_bytes() == 1000 * 4 * 4  # weight, gradient, Adam's two
    assert ModelSize(1000, copies=2).training_bytes() == 1000 * 2 * 4  # plain SGD
    assert ModelSize(0, activations=10, frozen=100).training_bytes() == 110 * 4


def test_nothing_is_checked_where_memory_cannot_be_read(monkeypatch):
    monkeypatch.setattr(model_size, "available_bytes", lambda: None)
    check_fits(ModelSize(10 ** 15), "--units")


def test_available_memory_is_memavailable_lowered_by_a_container_limit(tmp_path, monkeypatch):
    found = available_bytes()
    assert found is None or found > 0
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(f"{3 * GIB}\n")
    usage.write_text(f"{GIB}\n")
    monkeypatch.setattr(model_size, "_meminfo_available", lambda: 64 * GIB)
    monkeypatch.setattr(model_size, "CGROUP_FILES", ((str(limit), str(usage)),))
    assert available_bytes() == 2 * GIB
    limit.write_text("max\n")  # version 2 without a limit
    assert available_bytes() == 64 * GIB


# --- each command's estimate against its built model --------------------------------------


def assert_parameters_match(size, model_or_count):
    built = (model_or_count if isinstance(model_or_count, int)
             else model_or_count.count_params())
    assert abs(size.parameters - built) <= 0.1 * built, (size.parameters, built)


def test_char_rnn_estimate_for_every_cell():
    from week3_rnn.char_model import CELLS, PRESETS, build_char_rnn, estimated_size

    config = PRESETS["test"]
    assert_parameters_match(estimated_size(config, 30), build_char_rnn(config, 30))
    for cell in CELLS:
        bigger = dataclasses.replace(config, cell=cell, num_layers=2, units=48,
                                     dropout_rate=0.2)
        assert_parameters_match(estimated_size(bigger, 70), build_char_rnn(bigger, 70))


@pytest.mark.parametrize("direction", ["bi", "uni"])
def test_spacing_estimate(direction):
    from week3_rnn.spacing_model import PRESETS, build_spacing_model, estimated_size

    for config in (PRESETS["test"], dataclasses.replace(PRESETS["small"], units=64)):
        config = dataclasses.replace(config, direction=direction)
        assert_parameters_match(estimated_size(config, 40), build_spacing_model(config, 40))


def test_ptb_estimate():
    from week3_rnn.ptb_model import PRESETS, build_ptb_model, estimated_size

    for name, vocab in (("test", 30), ("small", 2000), ("tied", 1000)):
        config = PRESETS[name]
        assert_parameters_match(estimated_size(config, vocab), build_ptb_model(config, vocab))


def test_mnist_estimate():
    from week1_basics.mnist_models import PRESETS, build_model, estimated_size

    for name in ("test", "lenet5", "mlp", "dnn_toy"):
        config = PRESETS[name]
        assert_parameters_match(estimated_size(config), build_model(config))
    deeper = dataclasses.replace(PRESETS["mlp"], hidden_units=1024, num_layers=3)
    assert_parameters_match(estimated_size(deeper), build_model(deeper))


def test_autoencoder_estimate():
    from week1_basics.autoencoder_models import (PRESETS, build_autoencoder, estimated_size,
                                                 stacked_layers, stage_model)

    for name in ("test", "autoencoder", "linear"):
        config = PRESETS[name]
        assert_parameters_match(estimated_size(config), build_autoencoder(config)[0])
    config = PRESETS["stacked"]
    parts = stacked_layers(config)
    stage_model("fine_tune", parts, config)  # builds the encoders and the classifier
    stage_model("pretrain1", parts, config)
    stage_model("pretrain2", parts, config)
    assert_parameters_match(estimated_size(config),
                            sum(layer.count_params() for layer in parts.values()))


def test_vae_estimate():
    from gan.vae_model import PRESETS, VAEConfig, build_vae, estimated_size

    for config, shape in ((PRESETS["test"], (28, 28, 1)), (PRESETS["default"], (28, 28, 1)),
                          (VAEConfig(hidden_units=256, num_layers=3), (32, 32, 3))):
        model = build_vae(config, shape)
        built = model.encoder.count_params() + model.decoder.count_params()
        assert_parameters_match(estimated_size(config, shape), built)


@pytest.mark.parametrize("name, loss, size, channels", [
    ("test", "non_saturating", 28, 1), ("default", "wgan_gp", 32, 3),
    ("paper", "non_saturating", 64, 3), ("fc_gan", "non_saturating", 28, 1)])
def test_dcgan_estimate(name, loss, size, channels):
    from gan.model import PRESETS, build_discriminator, build_generator, estimated_size

    config = dataclasses.replace(PRESETS[name], loss=loss)
    built = (build_generator(config, size, channels).count_params()
             + build_discriminator(config, size, channels).count_params())
    assert_parameters_match(estimated_size(config, size, channels), built)


@pytest.mark.parametrize("name", ["test", "resnet", "densenet", "alexnet"])
def test_cifar10_estimate(name):
    from week2_cnn.cifar_models import PRESETS, build_model
    from week2_cnn.model_cost import estimated_size

    config = PRESETS[name]
    if name == "densenet":  # DenseNet-BC-40: the same code path as 100, a third the layers
        config = dataclasses.replace(config, depth=40)
    assert_parameters_match(estimated_size(config), build_model(config))


def test_cifar10_estimate_of_the_other_networks_and_without_batch_norm():
    from week2_cnn.cifar_models import PRESETS, build_model
    from week2_cnn.model_cost import estimated_size

    for config in (dataclasses.replace(PRESETS["resnet"], resnet_version=2, depth=14),
                   dataclasses.replace(PRESETS["fast"], batch_norm=False, dropout_rate=0.1),
                   dataclasses.replace(PRESETS["vgg"], batch_norm=False),
                   dataclasses.replace(PRESETS["tutorial"], width=16),
                   dataclasses.replace(PRESETS["googlenet"], width=8)):
        assert_parameters_match(estimated_size(config), build_model(config))


@pytest.mark.parametrize("name, arch, loss", [("test", "skipgram", "nce"),
                                              ("large", "cbow", "negative_sampling")])
def test_skipgram_estimate(name, arch, loss):
    from word2vec.model import PRESETS, build_word2vec, estimated_size

    config = dataclasses.replace(PRESETS[name], arch=arch, loss=loss)
    counts = list(range(500, 0, -1))
    assert_parameters_match(estimated_size(config, len(counts)),
                            build_word2vec(config, counts))


def test_transfer_estimate_is_the_head():
    from week2_cnn.transfer_model import PRESETS, build_head, estimated_size

    for config in (PRESETS["test"], dataclasses.replace(PRESETS["default"], hidden_units=512,
                                                        dropout_rate=0.2)):
        size = estimated_size(config, 2048, 5, base_parameters=21_802_784)
        assert_parameters_match(size, build_head(2048, 5, config))
        assert size.frozen == 21_802_784


# --- the real CLI refuses each command's bounded maxima together ---------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny offline data of every kind the commands read, made once."""
    from tests.test_cifar_cli import colour_layout
    from tests.test_dcgan_verbs import mnist_like
    from tests.test_ptb import write_corpus
    from tests.test_transfer import make_photo_folder, save_small_base
    from tests.vqa_fixture import write_easy_vqa

    root = tmp_path_factory.mktemp("size_data")
    text = root / "corpus.txt"
    text.write_text(make_corpus(60), encoding="utf-8")
    return {"text": str(text), "mnist": str(mnist_like(root / "mnist")),
            "cifar": str(colour_layout(root / "cifar-10-batches-py")),
            "ptb": str(write_corpus(root / "ptb")),
            "photos": str(make_photo_folder(root / "photos")), "base": save_small_base(root),
            "vqa": str(write_easy_vqa(root / "easy_vqa", 30, 3))}


# Each command's size flags at (or near) their maxima: every flag is in range, the product
# is not. The transfer head on the test base is small, so its case gets a small machine.
ABSURD = {
    "week1_basics.mnist": (["--data_dir", "mnist", "--arch", "mlp", "--hidden_units", "65536",
                            "--num_layers", "64"], "--hidden_units"),
    "week1_basics.autoencoder": (["--data_dir", "mnist", "--hidden_units", "65536",
                                  "--code_size", "65536"], "--hidden_units"),
    "week2_cnn.cifar10": (["--data_dir", "cifar", "--arch", "vgg", "--width", "1024",
                           "--batch_size", "65536"], "--width"),
    "week2_cnn.transfer": (["--image_dir", "photos", "--base", "base", "--weights", "none",
                            "--bottleneck_dir", "", "--hidden_units", "65536", "--batch_size",
                            "65536", "--distort"], "--hidden_units"),
    "week3_rnn.char_rnn": (["--text", "text", "--units", "8192", "--num_layers", "16"],
                           "--units"),
    "week3_rnn.ptb": (["--data_dir", "ptb", "--hidden_size", "8192", "--num_layers", "16"],
                      "--hidden_size"),
    "week3_rnn.spacing": (["--text", "text", "--units", "8192", "--num_layers", "16"],
                          "--units"),
    "word2vec.skipgram": (["--text", "text", "--embedding_dim", "4096", "--batch_size",
                           "1048576", "--loss", "negative_sampling"], "--embedding_dim"),
    "gan.dcgan": (["--data_dir", "mnist", "--generator_filters", "1024",
                   "--discriminator_filters", "1024", "--kernel_size", "15", "--latent_dim",
                   "4096", "--batch_size", "4096"], "--generator_filters"),
    "gan.vae": (["--data_dir", "mnist", "--hidden_units", "65536", "--num_layers", "16"],
                "--hidden_units"),
    "week4_qa.memn2n": (["--embedding_dim", "4096", "--hops", "10", "--batch_size", "65536"],
                        "--embedding_dim"),
    "week3_rnn.sentiment": (["--dataset", "order", "--units", "8192", "--num_layers", "16"],
                            "--units"),
    "week3_rnn.translate": (["--dataset", "reverse", "--units", "8192", "--num_layers", "8"],
                            "--units"),
    "week4_qa.vqa": (["--data_dir", "vqa", "--image_size", "1024", "--cnn_width", "1024",
                      "--batch_size", "65536"], "--image_size"),
    "week5_caption.caption": (["--scenes", "100", "--image_size", "256", "--cnn_width", "1024",
                               "--batch_size", "65536"], "--image_size"),
}


@pytest.mark.parametrize("command", sorted(ABSURD))
def test_the_cli_refuses_a_model_too_big_in_one_line_before_building_it(
        command, data, tmp_path, capsys, monkeypatch):
    flags, lowered = ABSURD[command]
    flags = [data.get(flag, flag) for flag in flags]
    machine = GIB // 4 if command == "week2_cnn.transfer" else 16 * GIB
    monkeypatch.setattr(model_size, "available_bytes", lambda: machine)

    def never(job):
        raise AssertionError("the lifecycle was reached: a model would be built")

    monkeypatch.setattr(lifecycle, "train", never)
    out_dir = tmp_path / "run"
    main = importlib.import_module(command).main
    status, _, stderr = call_cli(main, ["train", "--preset", "test", *flags,
                                        "--out_dir", str(out_dir), "--verbose", "0"], capsys)
    lines = stderr.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "this model needs about" in lines[0] and "M parameters" in lines[0], lines[0]
    assert f"{machine / GIB:,.1f} GiB this machine has available" in lines[0], lines[0]
    assert lowered in lines[0].split("; lower ")[-1], lines[0]
    assert not os.path.lexists(out_dir)  # and `never` shows no model was built


def test_the_test_presets_fit_a_small_machine():
    """The estimates are not so high that a laptop's 4 GiB refuses the test presets."""
    from gan.model import PRESETS as GAN
    from gan.model import estimated_size as gan_size
    from week3_rnn.char_model import PRESETS as CHAR
    from week3_rnn.char_model import estimated_size as char_size
    from week2_cnn.cifar_models import PRESETS as CIFAR
    from week2_cnn.model_cost import estimated_size as cifar_size

    for size in (gan_size(GAN["paper"], 64, 3), char_size(CHAR["large"], 200),
                 cifar_size(CIFAR["fast_long"]), cifar_size(CIFAR["densenet"])):
        check_fits(size, "anything", available=4 * GIB)
