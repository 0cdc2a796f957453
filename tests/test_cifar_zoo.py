"""The CIFAR-10 zoo (alexnet, googlenet, resnet depths and versions, densenet) and
week2_cnn.model_cost's parameter and multiply-accumulate counts."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli
from week2_cnn import cifar10
from week2_cnn.cifar_models import ARCHITECTURES, PRESETS, CifarConfig, build_model
from week2_cnn.model_cost import model_cost

# Each architecture small enough to build and fit in a second or two.
SMALL = {
    "alexnet": dict(width=8, dropout_rate=0.5),
    "vgg": dict(width=8),
    "googlenet": dict(width=8, dropout_rate=0.4),
    "resnet": dict(width=8, depth=8),
    "densenet": dict(depth=10, growth_rate=12),
    "tutorial": dict(width=8),
    "fast": dict(width=8),
    "airbench": dict(width=8),
}


def small_config(arch, **overrides):
    return dataclasses.replace(PRESETS.get(arch, PRESETS["test"]), arch=arch,
                               **{**SMALL[arch], **overrides})


def images(n=4, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, 32, 32, 3)).astype(np.float32)


def inception_macs(bottleneck):
    """(per-conv MACs, output channels) of one Inception module on a 28x28x256 input."""
    import keras

    from week2_cnn.cifar_zoo_models import inception_module
    from week2_cnn.model_cost import layer_macs

    config = CifarConfig(batch_norm=False, l2=0.0)
    inputs = keras.Input((28, 28, 256))
    # The lecture's module: 1x1 128, 3x3 192, 5x5 96, 3x3 max pool; with bottlenecks
    # a 1x1 64 before the 3x3 and the 5x5 and after the pool.
    reductions = (64, 64, 64) if bottleneck else (0, 0, 0)
    outputs = inception_module(inputs, config, 128, reductions[0], 192, reductions[1], 96,
                               reductions[2])
    model = keras.Model(inputs, outputs)
    terms = sorted(layer_macs(layer) for layer in model.layers if layer_macs(layer))
    return terms, outputs.shape[-1], model_cost(model)["macs"]


def test_naive_inception_module_costs_the_lectures_854m_multiplications():
    terms, channels, total = inception_macs(bottleneck=False)
    assert channels == 128 + 192 + 96 + 256 == 672  # the pool passes all 256 channels on
    # The slide's three products: 28x28x128x1x1x256, 28x28x192x3x3x256, 28x28x96x5x5x256.
    assert terms == sorted([28 * 28 * 128 * 256, 28 * 28 * 192 * 9 * 256,
                            28 * 28 * 96 * 25 * 256])
    assert total == sum(terms) == 854_196_224  # "Total: 854M ops"


def test_bottlenecked_inception_module_counts_the_lectures_six_products():
    terms, channels, total = inception_macs(bottleneck=True)
    assert channels == 128 + 192 + 96 + 64 == 480
    slide = [28 * 28 * 64 * 256, 28 * 28 * 64 * 256, 28 * 28 * 128 * 256,
             28 * 28 * 192 * 9 * 64, 28 * 28 * 96 * 25 * 64, 28 * 28 * 64 * 256]
    assert terms == sorted(slide)
    # The slide's six products add up to 271M, not the 358M it prints: 358M is this
    # total with the 3x3 conv's 86.7M counted twice. Either way the bottlenecks cut
    # the naive module's 854M multiplications by more than half (to 32%).
    assert total == sum(slide) == 271_351_808
    assert (total + 28 * 28 * 192 * 9 * 64) / 1e6 == pytest.approx(358, abs=0.5)
    assert total / 854_196_224 == pytest.approx(0.318, abs=0.001)


def test_model_cost_of_dense_depthwise_separable_and_grouped_layers():
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 4))
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(inputs)  # 8x8x8
    x = layers.SeparableConv2D(6, 3, strides=2, padding="same")(x)             # 4x4x6
    x = layers.Conv2D(4, 1, groups=2)(x)                                       # 4x4x4
    x = layers.Dense(5)(x)                                   # per position: 4x4x5
    outputs = layers.Dense(3)(layers.Flatten()(x))           # 80 -> 3
    model = keras.Model(inputs, outputs)
    expected = (8 * 8 * 4 * 2 * 9                   # depthwise: 9 taps per output channel
                + 4 * 4 * 8 * 9 + 4 * 4 * 8 * 6     # separable: depthwise, then 1x1 8 -> 6
                + 4 * 4 * 4 * (6 // 2)              # grouped 1x1: 3 inputs per output
                + 4 * 4 * 5 * 4 + 80 * 3)           # dense at 16 positions, then flat
    cost = model_cost(model)
    assert cost["macs"] == expected and cost["mflops"] == 2 * expected / 1e6
    assert cost["params"] == model.count_params()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_builds_and_outputs_logits(arch):
    model = build_model(small_config(arch))
    logits = np.asarray(model(images(3), training=False))
    assert logits.shape == (3, 10) and np.isfinite(logits).all()


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_short_fit_lowers_the_loss(arch):
    import keras

    keras.utils.set_random_seed(0)
    # No dropout, and the loss measured with batch statistics before and after: the
    # same deterministic function of the weights, so any fall is the training's.
    model = build_model(small_config(arch, dropout_rate=0.0))
    x, y = images(8, seed=1), np.arange(8) % 10
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    before = float(loss(y, model(x, training=True)))
    # Eager: tracing a 190-layer GoogLeNet takes longer than these 8 steps.
    model.compile(keras.optimizers.Adam(3e-3), loss, run_eagerly=True)
    model.fit(x, y, batch_size=8, epochs=8, verbose=0)
    after = float(loss(y, model(x, training=True)))
    # Measured on seeds 0-2: after / before is 0.6 or less for every architecture.
    assert np.isfinite(after) and after < 0.75 * before, (before, after)


@pytest.mark.parametrize("depth", [20, 32, 56, 110])
def test_resnet_depth_is_its_weighted_layers(depth):
    from keras import layers

    for version in (1, 2) if depth <= 32 else (1,):
        model = build_model(dataclasses.replace(PRESETS["resnet"], depth=depth,
                                                resnet_version=version))
        convs = [layer.kernel_size for layer in model.layers
                 if isinstance(layer, layers.Conv2D)]
        dense = [layer for layer in model.layers if isinstance(layer, layers.Dense)]
        # 6n 3x3 convs in the blocks + the first conv + the logits layer = 6n + 2;
        # the two strided 1x1 projections are shortcuts, not counted in the depth.
        assert convs.count((3, 3)) + len(dense) == depth
        assert convs.count((1, 1)) == 2 and len(convs) == depth + 1


@pytest.mark.parametrize("depth, params", [(20, 0.27e6), (32, 0.46e6), (56, 0.85e6),
                                           (110, 1.7e6)])
def test_resnet_sizes_are_the_papers(depth, params):
    """He et al. 2016, table 6 (whose shortcuts add no parameters; ours add 2,560)."""
    model = build_model(dataclasses.replace(PRESETS["resnet"], depth=depth))
    assert model.count_params() == pytest.approx(params, rel=0.025)


def test_published_sizes_of_the_other_presets():
    costs = {name: model_cost(build_model(PRESETS[name]))
             for name in ("alexnet", "googlenet", "densenet", "resnet")}
    # DenseNet-BC-100, k = 12: 0.8M parameters (Huang et al., table 2), about 0.29 GMACs.
    assert costs["densenet"]["params"] == pytest.approx(0.8e6, rel=0.02)
    assert costs["densenet"]["macs"] == pytest.approx(288e6, rel=0.02)
    assert costs["resnet"]["macs"] == pytest.approx(41e6, rel=0.02)  # ResNet-20's 41M
    # Our own scalings (their docstrings): fixed numbers, so a change is seen.
    assert costs["alexnet"]["params"] == 7_706_442 and costs["alexnet"]["macs"] > 200e6
    assert costs["googlenet"]["params"] == 1_482_570


def intermediate(model, names, x):
    import keras

    probe = keras.Model(model.input, [model.get_layer(name).output for name in names])
    return [np.asarray(out) for out in probe(x, training=False)]


def producer(tensor):
    return tensor._keras_history.operation


def test_resnet_v2_is_pre_activation_and_v1_is_not():
    from keras import layers

    for version in (1, 2):
        model = build_model(dataclasses.replace(PRESETS["resnet"], resnet_version=version))
        adds = [layer for layer in model.layers if isinstance(layer, layers.Add)]
        assert len(adds) == 9
        # v2's residual branch ends in its conv (BN and ReLU come before it); v1's in BN.
        # (isinstance: the CIFAR models use common.layers.FusedBatchNormalization, a subclass.)
        ends = layers.Conv2D if version == 2 else layers.BatchNormalization
        assert all(isinstance(producer(add.input[0]), ends) for add in adds)
        # v1 applies the activation to every sum; in v2 nothing follows the addition.
        after_add = [layer for layer in model.layers if isinstance(layer, layers.Activation)
                     and isinstance(producer(layer.input), layers.Add)]
        assert len(after_add) == (9 if version == 1 else 0)
        if version == 2:  # so its block outputs keep negative values
            assert all((out < 0).any()
                       for out in intermediate(model, [a.name for a in adds], images(2)))


def test_densenet_layers_concatenate_every_earlier_feature_map():
    k = 5
    model = build_model(small_config("densenet", depth=22, growth_rate=k))  # 3 per block
    names = ["densenet_stem", "dense1_concat1", "dense1_concat2", "dense1_concat3"]
    stem, *concats = intermediate(model, names, images())
    assert [c.shape[-1] for c in concats] == [2 * k + k, 2 * k + 2 * k, 2 * k + 3 * k]
    # x_3's input holds x_0 (the stem's maps) and x_1, x_2 unchanged.
    np.testing.assert_array_equal(concats[2][..., :2 * k], stem)
    np.testing.assert_array_equal(concats[2][..., :3 * k], concats[0])
    np.testing.assert_array_equal(concats[2][..., :4 * k], concats[1])
    # After a transition (compression 0.5): (5k // 2) channels, then + k per layer.
    block2 = [model.get_layer(f"dense2_concat{i}").output.shape[-1] for i in (1, 2, 3)]
    assert block2 == [5 * k // 2 + k, 5 * k // 2 + 2 * k, 5 * k // 2 + 3 * k]


@pytest.mark.parametrize("arch, overrides", [("alexnet", {}), ("googlenet", {}),
                                             ("densenet", {}),
                                             ("resnet", {"resnet_version": 2})])
def test_keras_file_round_trip_gives_the_same_logits(arch, overrides, tmp_path):
    from common.runs import load_keras_file

    model = build_model(small_config(arch, **overrides))
    path = str(tmp_path / "model.keras")
    model.save(path)
    x = images(5)
    np.testing.assert_allclose(np.asarray(load_keras_file(path)(x, training=False)),
                               np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("argv, fragment", [
    (["--arch", "densenet", "--depth", "41"], "6n+4 layers (10, 22, 40, 100"),
    (["--preset", "resnet", "--resnet_version", "3"], "--resnet_version"),
    (["--preset", "vgg", "--depth", "56"], "--depth is read only by --arch resnet and densenet"),
    (["--preset", "densenet", "--resnet_version", "2"], "--resnet_version is read only"),
])
def test_bad_flag_combinations_are_one_error_line(argv, fragment, tmp_path, capsys):
    out_dir = tmp_path / "run"
    status, _, err = call_cli(cifar10.main, ["train", *argv, "--out_dir", str(out_dir)], capsys)
    assert_one_line_error(status, err, fragment)
    assert not out_dir.exists()


def test_bad_resnet_depth_in_the_real_command(tmp_path):
    out_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "week2_cnn.cifar10", "train", "--arch", "resnet", "--depth",
         "21", "--out_dir", str(out_dir)], cwd=REPO_ROOT, capture_output=True, text=True,
        env=dict(os.environ, PYTHONPATH=REPO_ROOT), timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert_one_line_error(result.returncode, result.stderr,
                          "--depth 21 cannot build a CIFAR ResNet: it has 6n+2 layers")
    assert "20, 32, 44, 56, 110" in result.stderr and not out_dir.exists()


def test_runs_without_the_zoo_fields_read_resnet_20_v1():
    from common.configs import config_from_dict

    saved = {"arch": "resnet", "width": 16}  # a config.json from before --depth
    config = config_from_dict(CifarConfig, saved)
    assert (config.depth, config.resnet_version) == (20, 1)
    assert build_model(config).count_params() == build_model(PRESETS["resnet"]).count_params()


def test_the_zoo_benchmark_runs_from_a_tar_and_writes_its_table(tmp_path, capsys):
    import glob
    import json
    import tarfile
    import tempfile

    from benchmarks import cifar_zoo
    from tests.test_cifar import colour_images
    from tests.test_cifar_data import write_python_layout

    y_train, y_test = np.arange(260) % 10, np.arange(20) % 10
    write_python_layout(tmp_path / "cifar-10-batches-py",
                        [(colour_images(y_train, 1), y_train), (colour_images(y_test, 2), y_test)])
    with tarfile.open(tmp_path / "cifar.tar", "w") as archive:
        archive.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    scratch = set(glob.glob(os.path.join(tempfile.gettempdir(), "cifar_zoo-*")))
    out = tmp_path / "zoo.png"
    cifar_zoo.main(["--data_dir", str(tmp_path / "cifar.tar"), "--archs", "tutorial",
                    "resnet", "--minutes", "0.01", "--out", str(out)])
    table = capsys.readouterr().out.strip().splitlines()
    assert table[-2].startswith("| tutorial | 1.76M | 66 |") and table[-1].startswith("| resnet |")
    rows = json.loads((tmp_path / "zoo.json").read_text())["rows"]
    assert [r["params"] for r in rows] == [build_model(PRESETS[a]).count_params()
                                           for a in ("tutorial", "resnet")]
    assert all(0 <= r["test_accuracy"] <= 1 and r["epochs"] > 0 for r in rows)
    assert out.read_bytes().startswith(b"\x89PNG")
    # The archive was unpacked into a temporary folder, removed at the end.
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "cifar_zoo-*"))) == scratch
