"""`train --arch X` alone builds X at its own size, on every command that has --arch.

Each case runs the real command in-process on tiny offline data with --arch
and only the flags that make it tiny (data, --epochs 1, a small batch or step
count), then checks that a checkpoint was written and that the trained model
has the architecture's published (or documented) structure: DenseNet-BC-100 with
k = 12, ResNet-20 at width 16, the common CIFAR GoogLeNet, the mlp preset's
512-unit layers, the stacked autoencoder's 256 -> 64, and so on. A few cases
also check that the preset still gives the recipe, that the user's size flags
win, and that a run made before arch defaults existed still resumes.
"""

import dataclasses
import json
import os

import numpy as np
import pytest

from common.cli import run_cli
from common.runs import RunDir
from tests.conftest import assert_one_line_error, call_cli
from tests.test_cifar import colour_images
from tests.test_cifar_data import write_python_layout
from tests.test_dcgan_verbs import mnist_like
from tests.test_week1_mnist import write_mnist_like


def trained(main, kind, run, argv, load=True):
    """(saved config, model of the last checkpoint) of `train` run through the real CLI."""
    assert run_cli(main, ["train", *argv, "--out_dir", str(run), "--verbose", "0"]) is None
    run_dir = RunDir(str(run))
    state = run_dir.read_state()
    assert state["epoch"] == 1 and state["history"]
    assert os.path.isfile(run_dir.checkpoint_path(state, "last"))
    config = run_dir.read_config(kind)
    return (config, run_dir.load_model(kind, "last")) if load else config


def spy(function, calls):
    """`function`, appending what it returns to `calls`."""
    def wrapper(*args, **kwargs):
        calls.append(function(*args, **kwargs))
        return calls[-1]
    return wrapper


@pytest.fixture(autouse=True)
def eagerly():
    """Every tf.function runs eagerly: tracing DenseNet-BC-100's training step takes a
    minute of 2 CPU cores, running its one step eagerly a few seconds, and the small
    models' one step is cheaper than their tracing too (the layers are the same)."""
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


def layers_of_type(model, name):
    return [layer for layer in model.layers if type(layer).__name__ == name
            or any(base.__name__ == name for base in type(layer).__mro__)]


# --- week2_cnn.cifar10 -------------------------------------------------------------------

# Each network at its published size (or, for the course's own, its preset's).
CIFAR_DEFAULTS = {
    "alexnet": dict(width=64),         # torchvision's 64-192-384-256-256 channels
    "vgg": dict(width=32),
    "googlenet": dict(width=64),       # the common CIFAR GoogLeNet: 192 stem channels
    "resnet": dict(width=16, depth=20, resnet_version=1),   # ResNet-20
    "densenet": dict(depth=100, growth_rate=12),             # DenseNet-BC-100, k = 12
    "tutorial": dict(width=64),
    "fast": dict(width=32),
}
# Channels of the first trained conv layer (fast's fixed whitening layer aside).
FIRST_CONV = {"alexnet": 64, "vgg": 32, "googlenet": 192, "resnet": 16, "densenet": 24,
              "tutorial": 64, "fast": 32}
# Published parameter counts: ResNet-20 0.27M (He et al., table 6), DenseNet-BC-100
# k = 12 0.8M (Huang et al., table 2), the common CIFAR GoogLeNet 5.9M.
CIFAR_PARAMS = {"resnet": 0.27e6, "densenet": 0.8e6, "googlenet": 5.9e6}


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory):
    """cifar-10-batches-py of flat-colour images: 1 training and 1 test image per class."""
    folder = tmp_path_factory.mktemp("cifar") / "cifar-10-batches-py"
    labels = np.arange(10)
    write_python_layout(folder, [(colour_images(labels, 1), labels),
                                 (colour_images(labels, 2), labels)])
    return str(folder)


def weighted_depth(model):
    """3x3 convs + the dense layers: the depth of a CIFAR ResNet; every conv + dense: a
    DenseNet-BC's (the 1x1 convs are part of its depth, the ResNet's projections are not)."""
    convs = [layer.kernel_size for layer in layers_of_type(model, "Conv2D")]
    dense = len(layers_of_type(model, "Dense"))
    return {"resnet": convs.count((3, 3)) + dense, "densenet": len(convs) + dense}


@pytest.mark.parametrize("arch", list(CIFAR_DEFAULTS))
def test_cifar10_arch_alone_builds_its_own_network(arch, cifar_dir, tmp_path, monkeypatch):
    from week2_cnn import cifar10, cifar10_verbs
    from week2_cnn.cifar_models import PRESETS

    built = []  # the model the command trains (loading DenseNet's checkpoint takes seconds)
    monkeypatch.setattr(cifar10_verbs, "build_model", spy(cifar10_verbs.build_model, built))
    # The closing test-set evaluation reloads best.keras: a third of the time, and not
    # what this test is about (tests/test_cifar_cli.py runs it).
    monkeypatch.setattr(cifar10_verbs, "evaluate", lambda *args, **kwargs: None)
    # The default preset (fast) on 10 images in one batch, no validation split: one step.
    config = trained(cifar10.main, "cifar10", tmp_path / arch,
                     ["--arch", arch, "--data_dir", cifar_dir, "--epochs", "1",
                      "--batch_size", "10", "--val_fraction", "0"], load=False)
    assert {k: config[k] for k in CIFAR_DEFAULTS[arch]} == CIFAR_DEFAULTS[arch]
    assert config["arch"] == arch and config["learning_rate"] == PRESETS["fast"].learning_rate
    [model] = built
    convs = [layer for layer in layers_of_type(model, "Conv2D") if layer.name != "whiten"]
    assert convs[0].filters == FIRST_CONV[arch]
    if arch in ("resnet", "densenet"):
        assert weighted_depth(model)[arch] == CIFAR_DEFAULTS[arch]["depth"]
    if arch in CIFAR_PARAMS:
        assert model.count_params() == pytest.approx(CIFAR_PARAMS[arch], rel=0.025)


def cifar_config(*argv):
    from week2_cnn import cifar10_verbs

    return cifar10_verbs.resolve_preset(cifar10_verbs.build_parser().parse_args(
        ["train", *argv]))


def test_cifar10_flags_win_over_the_arch_defaults_and_the_preset_keeps_its_recipe():
    from week2_cnn.cifar_models import PRESETS

    densenet = cifar_config("--preset", "vgg", "--arch", "densenet", "--depth", "40")
    assert (densenet.depth, densenet.growth_rate) == (40, 12)
    assert densenet.schedule == PRESETS["vgg"].schedule  # the recipe is still vgg's
    assert cifar_config("--arch", "resnet", "--depth", "56", "--width", "8").width == 8
    # Under the test preset (a tiny `fast`) another network keeps its own size too.
    assert cifar_config("--preset", "test", "--arch", "densenet").depth == 100
    # A preset of the same network keeps its own sizes (googlenet's halved width).
    assert (cifar_config("--preset", "googlenet").width
            == cifar_config("--preset", "googlenet", "--arch", "googlenet").width == 32)
    assert cifar_config("--preset", "fast_long", "--arch", "fast").width == 64


def test_cifar10_impossible_depth_is_still_one_error_line(tmp_path, capsys):
    from week2_cnn import cifar10

    status, _, err = call_cli(cifar10.main, ["train", "--arch", "densenet", "--depth", "20",
                                             "--out_dir", str(tmp_path / "run")], capsys)
    assert_one_line_error(status, err, "--depth 20 cannot build a DenseNet-BC")
    assert not (tmp_path / "run").exists()


def test_cifar10_run_made_with_the_presets_sizes_resumes_with_them(tmp_path):
    """Before arch defaults, --arch resnet took the fast preset's width 32: its config.json
    holds it, and --resume with the same flags continues that run, not a width-16 one."""
    from common.configs import config_to_dict
    from week2_cnn.cifar_models import PRESETS

    old = dataclasses.replace(PRESETS["fast"], arch="resnet")
    run = tmp_path / "old"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "cifar10", **config_to_dict(old),
                                                 "seed": 0}))
    assert cifar_config("--arch", "resnet", "--out_dir", str(run), "--resume") == old
    assert cifar_config("--arch", "resnet", "--out_dir", str(run)).width == 16  # a new run
    assert cifar_config("--arch", "resnet", "--out_dir", str(tmp_path / "new"),
                        "--resume").width == 16


# --- week1_basics.mnist ------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    """160 training images: 144 after the validation split, one batch of 128."""
    return str(write_mnist_like(tmp_path_factory.mktemp("mnist") / "mnist", train=160,
                                test=20))


# (Dense hidden layers as (units, activation), dropout rate or None, conv filters)
MNIST_STRUCTURE = {
    "softmax": ([], None, []),
    "dnn": ([(256, "sigmoid")] * 2, None, []),
    "mlp": ([(512, "relu")] * 2, 0.3, []),
    "lenet5": ([(84, "relu")], None, [6, 16, 120]),
}


@pytest.mark.parametrize("arch", list(MNIST_STRUCTURE))
def test_mnist_arch_alone_builds_its_own_network(arch, mnist_dir, tmp_path):
    from week1_basics import mnist, mnist_verbs
    from week1_basics.mnist_models import PRESETS

    config, model = trained(mnist.main, "mnist", tmp_path / arch,
                            ["--arch", arch, "--data_dir", mnist_dir, "--epochs", "1"])
    hidden, dropout, filters = MNIST_STRUCTURE[arch]
    dense = [(layer.units, layer.activation.__name__)
             for layer in layers_of_type(model, "Dense") if layer.name != "logits"]
    assert dense == hidden and config["arch"] == arch
    assert [layer.rate for layer in layers_of_type(model, "Dropout")] == (
        [dropout] * len(hidden) if dropout else [])
    assert [layer.filters for layer in layers_of_type(model, "Conv2D")] == filters
    assert model.get_layer("logits").kernel.shape == (hidden[-1][0] if hidden else 784, 10)
    if arch == "lenet5":
        assert layers_of_type(model, "MaxPooling2D")
    # Under the test preset (a softmax) the network keeps its own preset's sizes.
    tiny = mnist_verbs.resolve_config(mnist_verbs.build_parser().parse_args(
        ["train", "--preset", "test", "--arch", arch]))
    sized = {k: v for k, v in dataclasses.asdict(PRESETS[arch]).items()
             if k in ("arch", "input_size", "num_layers", "activation", "dropout_rate",
                      "pooling") or (k == "hidden_units" and arch in ("dnn", "mlp"))}
    assert {k: getattr(tiny, k) for k in sized} == sized
    assert tiny.batch_size == PRESETS["test"].batch_size  # the recipe is the test preset's


# --- week1_basics.autoencoder ------------------------------------------------------------

@pytest.mark.parametrize("arch, sizes, activation", [("autoencoder", (256, 32), "relu"),
                                                     ("stacked", (256, 64), "sigmoid")])
def test_autoencoder_arch_alone_builds_its_own_network(arch, sizes, activation, mnist_dir,
                                                       tmp_path):
    from week1_basics import autoencoder, autoencoder_verbs
    from week1_basics.autoencoder_models import PRESETS

    steps = (["--fine_tune_epochs", "1", "--min_steps_per_epoch", "1"]
             if arch == "stacked" else [])
    config, model = trained(autoencoder.main, "autoencoder", tmp_path / arch,
                            ["--arch", arch, "--data_dir", mnist_dir, "--epochs", "1", *steps])
    assert (config["hidden_units"], config["code_size"]) == sizes
    assert (config["activation"], config["linear"]) == (activation, False)
    names = ("encoder_hidden", "code") if arch == "autoencoder" else ("encoder1", "encoder2")
    assert [model.get_layer(name).units for name in names] == list(sizes)
    assert model.get_layer(names[0]).activation.__name__ == activation
    # Under the other network's preset (linear: no hidden layer, no activation, which the
    # stacked autoencoder cannot be built with) the network keeps its own sizes.
    for preset in ("linear", "stacked", "test"):
        other = autoencoder_verbs.resolve_config(autoencoder_verbs.build_parser().parse_args(
            ["train", "--preset", preset, "--arch", arch]))
        autoencoder_verbs.check_config(other)
        if PRESETS[preset].arch != arch:
            assert ((other.hidden_units, other.code_size), other.activation,
                    other.linear) == (sizes, activation, False)


def test_week1_runs_made_with_the_presets_sizes_resume_with_them(tmp_path):
    """`--preset test --arch mlp` (or stacked) once took the test preset's 8 (16) units:
    --resume reads them from config.json (a stacked run's from its first stage's)."""
    from common.configs import config_to_dict
    from week1_basics import autoencoder_verbs, mnist_verbs
    from week1_basics.autoencoder_models import PRESETS as AUTOENCODER_PRESETS
    from week1_basics.mnist_models import PRESETS as MNIST_PRESETS

    cases = [(mnist_verbs, "mnist", MNIST_PRESETS, "mlp", ""),
             (autoencoder_verbs, "autoencoder_stage", AUTOENCODER_PRESETS, "stacked",
              "pretrain1")]
    for verbs, kind, presets, arch, stage in cases:
        old = dataclasses.replace(presets["test"], arch=arch)
        folder = tmp_path / kind / stage
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"kind": kind, **config_to_dict(old),
                                                        "seed": 0}))
        argv = ["train", "--preset", "test", "--arch", arch, "--out_dir", str(tmp_path / kind)]
        parser = verbs.build_parser()
        assert verbs.resolve_config(parser.parse_args([*argv, "--resume"])) == old
        new = verbs.resolve_config(parser.parse_args(argv))
        assert new.hidden_units == presets[arch].hidden_units != old.hidden_units


# --- week1_basics.regression -------------------------------------------------------------

@pytest.mark.parametrize("arch, inputs", [("least_squares", 1), ("logistic", 2)])
def test_regression_arch_alone_takes_its_preset(arch, inputs, tmp_path):
    from week1_basics import regression
    from week1_basics.regression_model import PRESETS

    config, model = trained(regression.main, "regression", tmp_path / arch,
                            ["--arch", arch, "--epochs", "1", "--steps_per_epoch", "1"])
    expected = dataclasses.replace(PRESETS[arch], epochs=1, steps_per_epoch=1)
    assert {k: config[k] for k in dataclasses.asdict(expected)} == dataclasses.asdict(expected)
    assert model.input_shape == (None, inputs)


# --- gan.dcgan ---------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["dcgan", "fc_gan"])
def test_dcgan_arch_alone_builds_its_own_network(arch, tmp_path):
    from gan import dcgan
    from gan.model import PRESETS

    data = str(mnist_like(tmp_path / "mnist", train=32, test=8))
    config, gan = trained(dcgan.main, "dcgan", tmp_path / arch,
                          ["--arch", arch, "--data_dir", data, "--epochs", "1",
                           "--batch_size", "32"])
    generator = gan.generator
    if arch == "fc_gan":
        assert generator.get_layer("hidden").units == 128  # the course's GAN
        assert not layers_of_type(generator, "Conv2DTranspose")
    else:
        # The default preset's DCGAN: 4x4 kernels, 24 filters before the last layer.
        assert config["generator_filters"] == PRESETS["default"].generator_filters == 24
        deconvs = layers_of_type(generator, "Conv2DTranspose")
        assert [(d.filters, d.kernel_size) for d in deconvs] == [(24, (4, 4)), (1, (4, 4))]
    assert generator.output_shape == (None, 28, 28, 1)


# --- word2vec.skipgram -------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["skipgram", "cbow"])
def test_skipgram_arch_alone_builds_its_own_model(arch, tmp_path):
    """Both take gensim's (and word2vec.c's) sizes: 100-dimensional vectors, window 5."""
    from word2vec import skipgram

    # 3,000 words drawn from 60: more words than the 32 negatives, each seen 5+ times.
    words = np.random.default_rng(0).integers(0, 60, 3000)
    text = tmp_path / "corpus.txt"
    text.write_text(" ".join(f"w{i}" for i in words), encoding="utf-8")
    config, model = trained(skipgram.main, "word2vec", tmp_path / arch,
                            ["--arch", arch, "--text", str(text), "--epochs", "1"])
    assert (config["arch"], config["embedding_dim"], config["window"]) == (arch, 100, 5)
    vocab = json.loads((tmp_path / arch / "vocab.json").read_text())["words"]
    assert model.arch == arch and model.embeddings.shape == (len(vocab), 100)


# --- week3_rnn.sentiment -----------------------------------------------------------------

@pytest.mark.parametrize("arch", ["lstm", "bilstm", "bow"])
def test_sentiment_arch_alone_builds_its_own_model(arch, tmp_path):
    """The default preset (small): a 128-unit LSTM (one each way for bilstm), or for bow
    the masked mean of the 128-dimensional embeddings and a 128-unit hidden layer."""
    from week3_rnn import sentiment

    config, model = trained(sentiment.main, "sentiment", tmp_path / arch,
                            ["--arch", arch, "--dataset", "order", "--max_examples", "200",
                             "--epochs", "1"])
    assert (config["arch"], config["units"], config["embedding_dim"]) == (arch, 128, 128)
    names = {layer.name for layer in model.layers}
    if arch == "bilstm":
        layer = model.get_layer("bidirectional_0")
        assert layer.forward_layer.units == layer.backward_layer.units == 128
    elif arch == "lstm":
        assert model.get_layer("lstm_0").units == 128 and "bidirectional_0" not in names
    else:
        assert model.get_layer("hidden").units == 128 and "mean_of_embeddings" in names
        assert not layers_of_type(model, "LSTM") and not layers_of_type(model, "Bidirectional")
    assert model.get_layer("embedding").mask_zero and model.output_shape == (None, 2)


# --- week3_rnn.translate -----------------------------------------------------------------

@pytest.mark.parametrize("arch", ["attention", "seq2seq"])
def test_translate_arch_alone_builds_its_own_model(arch, tmp_path):
    """The default preset (small): 256-unit LSTMs, Luong attention only for `attention`."""
    from week3_rnn import translate

    config, model = trained(translate.main, "translate", tmp_path / arch,
                            ["--arch", arch, "--dataset", "reverse", "--max_examples", "300",
                             "--max_length", "8", "--batch_size", "64", "--epochs", "1"])
    assert (config["arch"], config["units"], config["num_layers"]) == (arch, 256, 1)
    names = {layer.name for layer in model.layers}
    assert {"encoder_lstm_0", "decoder_lstm_0", "logits"} <= names
    assert ({"attention", "attention_score", "attention_combine"} <= names) == (
        arch == "attention")
    assert model.get_layer("decoder_lstm_0").units == 256


# --- week4_qa.vqa --------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["vis_lstm", "blind", "attention"])
def test_vqa_arch_alone_builds_its_own_model(arch, tmp_path):
    """The default preset (easy_vqa): a 64-unit question LSTM over 32-dimensional words; the
    small_cnn at widths 16-32-64 for the archs that read the image (blind reads none), the
    image as the LSTM's first step for vis_lstm, a 64-dimensional attention over the grid."""
    from tests.vqa_fixture import write_easy_vqa
    from week4_qa import vqa

    data = write_easy_vqa(tmp_path / "data", 30, 3)
    config, model = trained(vqa.main, "vqa", tmp_path / arch,
                            ["--arch", arch, "--data_dir", str(data), "--epochs", "1"])
    assert (config["arch"], config["units"], config["embedding_dim"]) == (arch, 64, 32)
    assert model.get_layer("question_lstm").units == 64
    names = {layer.name for layer in model.layers}
    assert ("encoder" in names) == (arch != "blind") == ("image" in model.input)
    if arch != "blind":
        widths = [layer.filters for layer in layers_of_type(model.get_layer("encoder"),
                                                            "Conv2D")]
        assert widths == [16, 32, 64]
    assert ("image_step" in names) == (arch == "vis_lstm")
    assert ("grid_attention" in names) == (arch == "attention")
    if arch == "attention":
        assert model.get_layer("cells").units == 64


# --- week5_caption.caption -------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["show_attend_tell", "show_tell"])
def test_caption_arch_alone_builds_its_own_model(arch, tmp_path):
    """The default preset (scenes): a 128-unit LSTM over 64-dimensional words, the small_cnn at
    widths 16-32-64 (an 8x8 grid of 64 px scenes); attention (64-dimensional, with the gating
    scalar and grid positions) for show_attend_tell, the averaged grid's embedding as the
    LSTM's first input for show_tell."""
    from week5_caption import caption

    config, model = trained(caption.main, "caption", tmp_path / arch,
                            ["--arch", arch, "--scenes", "64", "--epochs", "1"])
    assert (config["arch"], config["units"], config["embedding_dim"]) == (arch, 128, 64)
    decoder = model.get_layer("decoder")
    assert type(decoder).__name__ == {"show_tell": "ShowTellDecoder",
                                      "show_attend_tell": "AttendDecoder"}[arch]
    assert decoder.cell.units == 128 and decoder.grid == (8, 8, 64)
    widths = [layer.filters for layer in layers_of_type(model.get_layer("encoder"), "Conv2D")]
    assert widths == [16, 32, 64]
    assert hasattr(decoder, "attend_a") == (arch == "show_attend_tell")
    assert hasattr(decoder, "image_embedding") == (arch == "show_tell")
