"""DCGAN verbs on a trained run: evaluate, generate --out, --checkpoint, export, litert, resume."""

import dataclasses
import gzip
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from gan import dcgan
from gan.adversarial import DCGAN
from common.outputs import is_own_png
from gan.sampling import GeneratorServable, generate_images, noise_for_seed
from tests.conftest import assert_one_line_error, call_cli, snapshot
from tests.test_dcgan import TEST_CONFIG, make_images


def write_idx(path, array):
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with (gzip.open if str(path).endswith(".gz") else open)(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def mnist_like(folder, train=120, test=40):
    """IDX files of bright squares labelled by position (10 classes): a tiny MNIST."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count, seed in (("train", train, 0), ("t10k", test, 1)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", make_images(count, seed=seed)[..., 0])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(count) % 10)
    return folder


def test_evaluate_writes_fid_and_inception_score(trained_gan, tmp_path, capsys):
    run_dir = str(tmp_path / "run")
    shutil.copytree(trained_gan[0], run_dir)  # evaluate writes results.json into the run
    data = mnist_like(tmp_path / "mnist")
    before = snapshot(run_dir)
    classifier = tmp_path / "scorer.keras"
    argv = ["evaluate", "--run_dir", run_dir, "--data_dir", str(data), "--num", "32",
            "--seed", "3", "--dataset", "mnist", "--classifier", str(classifier),
            "--classifier_epochs", "1"]
    dcgan.main(argv)
    results = json.loads(open(f"{run_dir}/results.json").read())
    assert results["fid"] >= 0 and 1.0 <= results["inception_score"] <= 10.0
    assert sum(results["class_counts"]) == 32 and results["num"] == 32
    assert results["dataset"] == "mnist" and "provenance" in results
    assert classifier.exists()  # kept for next time, outside the run directory
    after = snapshot(run_dir)
    assert {k: v for k, v in after.items() if k != "results.json"} == before
    dcgan.main(argv)  # the kept classifier is read back: the same numbers
    again = json.loads(open(f"{run_dir}/results.json").read())
    assert (again["fid"], again["inception_score"]) == (results["fid"],
                                                        results["inception_score"])
    assert "FID-mnist" in capsys.readouterr().out


def test_evaluate_needs_a_data_set_for_a_run_of_images(trained_gan, tmp_path,
                                                       capsys):
    status, _, stderr = call_cli(dcgan.main, ["evaluate", "--run_dir", trained_gan[0],
                                              "--data_dir", str(tmp_path)], capsys)
    assert_one_line_error(status, stderr, "pass --dataset")


def test_evaluate_needs_the_test_split(trained_gan, tmp_path, capsys):
    data = mnist_like(tmp_path / "mnist")
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"):
        os.remove(data / name)
    status, _, stderr = call_cli(dcgan.main, ["evaluate", "--run_dir", trained_gan[0],
                                              "--dataset", "mnist", "--data_dir", str(data)],
                                 capsys)
    assert_one_line_error(status, stderr, "test images")


def test_generate_replaces_only_its_own_png(trained_gan, tmp_path, capsys):
    out = tmp_path / "grid.png"
    argv = ["generate", "--run_dir", trained_gan[0], "--num", "4", "--out", str(out)]
    dcgan.main(argv)
    assert is_own_png(out)
    dcgan.main(argv[:-1] + [str(out)])  # our own PNG: replaced
    canaries = {"photo.png": None, "notes.txt": b"someone's notes\n"}
    Image.fromarray(make_images(1)[0, ..., 0]).save(tmp_path / "photo.png")  # not marked
    (tmp_path / "notes.txt").write_bytes(canaries["notes.txt"])
    for name in canaries:
        canary = tmp_path / name
        before = canary.read_bytes()
        status, _, stderr = call_cli(dcgan.main, argv[:-1] + [str(canary)], capsys)
        assert_one_line_error(status, stderr, "not a PNG written by this project")
        assert canary.read_bytes() == before


@pytest.mark.parametrize("verb", ["generate", "interpolate"])
def test_out_may_not_be_a_folder_or_inside_the_run(trained_gan, tmp_path, capsys,
                                                   verb):
    run_dir = trained_gan[0]
    before = snapshot(run_dir)
    (tmp_path / "folder").mkdir()
    for out, fragment in ((tmp_path / "folder", "directory"),
                          (os.path.join(run_dir, "grid.png"), "run directory")):
        status, _, stderr = call_cli(dcgan.main, [verb, "--run_dir", run_dir, "--out", str(out)],
                                     capsys)
        assert_one_line_error(status, stderr, fragment)
    assert snapshot(run_dir) == before


def test_checkpoint_best_and_last_read_the_same_epoch(trained_gan, tmp_path):
    run_dir = trained_gan[0]
    paths = {which: tmp_path / f"{which}.png" for which in ("best", "last")}
    for which, path in paths.items():
        dcgan.main(["generate", "--run_dir", run_dir, "--num", "4", "--seed", "2",
                    "--checkpoint", which, "--out", str(path)])
    assert paths["best"].read_bytes() == paths["last"].read_bytes()


def test_export_metadata_decode_and_generate_agree(trained_gan, tmp_path):
    run_dir, model = trained_gan
    before = snapshot(run_dir)
    export_dir = tmp_path / "export"
    dcgan.main(["export", "--run_dir", run_dir, "--export_dir", str(export_dir)])
    assert snapshot(run_dir) == before  # export writes nothing into the run directory
    loaded = tf.saved_model.load(str(export_dir))
    assert {"generate", "decode", "metadata", "serving_default"} <= set(loaded.signatures)
    meta = json.loads(loaded.signatures["metadata"]()["json"].numpy().decode())
    assert meta["kind"] == "dcgan" and meta["config"]["arch"] == "dcgan"
    assert meta["image_shape"] == [28, 28, 1] and meta["latent_dim"] == 100
    assert {"generate", "decode", "serving_default"} <= set(meta["signatures"])
    # The signatures' inputs, as a client sees them: int32 count and seed, float32 z.
    inputs = {name: {key: (spec.dtype, spec.shape.as_list()) for key, spec in
                     loaded.signatures[name].structured_input_signature[1].items()}
              for name in ("generate", "decode")}
    assert inputs == {"generate": {"count": (tf.int32, []), "seed": (tf.int32, [])},
                      "decode": {"z": (tf.float32, [None, 100])}}
    images = loaded.signatures["generate"](count=tf.constant(6), seed=tf.constant(5))["images"]
    decoded = loaded.signatures["decode"](z=noise_for_seed(6, 100, 5))["images"]
    assert decoded.dtype == tf.uint8
    np.testing.assert_array_equal(images.numpy(), decoded.numpy())
    np.testing.assert_array_equal(images.numpy(), generate_images(model.generator, 6, 5))


def test_litert_decode_matches_tensorflow(trained_gan, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    run_dir, model = trained_gan
    export_dir = tmp_path / "tfl"
    dcgan.main(["export", "--run_dir", run_dir, "--export_dir", str(export_dir),
                "--format", "litert"])
    meta = json.loads((export_dir / "metadata.json").read_text())
    assert meta["models"] == ["decode.tflite"] and meta["latent_dim"] == 100
    z = np.asarray(noise_for_seed(7, 100, 11))
    interpreter = Interpreter(str(export_dir / "decode.tflite"))
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], z.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], z)
    interpreter.invoke()
    lite = interpreter.get_tensor(out["index"])
    expected = GeneratorServable(model.generator).decode(tf.constant(z))["images"].numpy()
    assert lite.dtype == np.uint8 and lite.shape == (7, 28, 28, 1)
    # uint8 pixels: float differences of ~1e-6 can only flip a rounding by one level.
    assert np.abs(lite.astype(int) - expected.astype(int)).max() <= 1
    assert np.mean(lite == expected) > 0.99


def resumed_copy(trained_gan, tmp_path, edit):
    """A copy of the trained run with its config.json edited, resumed to two epochs."""
    run_dir = tmp_path / "old"
    shutil.copytree(trained_gan[0], run_dir)
    config = json.loads((run_dir / "config.json").read_text())
    edit(config)
    (run_dir / "config.json").write_text(json.dumps(config))
    model, state = dcgan.train(dataclasses.replace(TEST_CONFIG, epochs=2), str(run_dir),
                               make_images(), seed=1, resume=True, verbose=0)
    return run_dir, model, state


def test_resume_a_run_whose_config_lacks_a_field(trained_gan, tmp_path):
    _, _, state = resumed_copy(trained_gan, tmp_path, lambda c: c.pop("hidden_units"))
    assert state["epoch"] == 2


def test_runs_made_with_the_old_model_key_still_resume_and_generate(
        trained_gan, tmp_path):
    def to_old(config):
        config["model"] = config.pop("arch")

    run_dir, _, state = resumed_copy(trained_gan, tmp_path, to_old)
    assert state["epoch"] == 2
    dcgan.main(["generate", "--run_dir", str(run_dir), "--num", "4",
                "--out", str(tmp_path / "g.png")])
    # A checkpoint saved before the rename (gan_config with "model") loads too.
    old = {k: v for k, v in dataclasses.asdict(TEST_CONFIG).items() if k != "arch"}
    assert DCGAN({**old, "model": "fc_gan"}).gan_config["arch"] == "fc_gan"


@pytest.mark.parametrize("name, fragment", [
    ("checkpoints/epoch-0001.keras", "truncated or corrupt"),
    ("config.json", "corrupt or truncated"),
    ("state.json", "corrupt state.json"),
])
def test_corrupt_files_in_a_run_directory(trained_gan, tmp_path, capsys, name,
                                          fragment):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_gan[0], run_dir)
    data = (run_dir / name).read_bytes()
    (run_dir / name).write_bytes(data[:len(data) // 2])
    status, _, stderr = call_cli(dcgan.main, ["generate", "--run_dir", str(run_dir),
                                              "--out", str(tmp_path / "g.png")], capsys)
    assert_one_line_error(status, stderr, fragment)
    assert not (tmp_path / "g.png").exists()


def test_a_classifier_file_of_another_kind_is_refused(trained_gan, tmp_path,
                                                      capsys):
    wrong = tmp_path / "not_a_classifier.keras"
    shutil.copy(os.path.join(trained_gan[0], "checkpoints", "epoch-0001.keras"), wrong)
    status, _, stderr = call_cli(dcgan.main, [
        "evaluate", "--run_dir", trained_gan[0], "--dataset", "mnist", "--num", "8",
        "--data_dir", str(mnist_like(tmp_path / "mnist")), "--classifier", str(wrong)], capsys)
    assert_one_line_error(status, stderr, "not a scoring classifier")
