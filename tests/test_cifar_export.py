"""week2_cnn.cifar10 export: the SavedModel's signatures and metadata, and LiteRT."""

import json
import os

import numpy as np
import pytest

from common.cli import run_cli
from tests.conftest import assert_one_line_error, call_cli
from week2_cnn import cifar10
from week2_cnn.cifar_data import CLASS_NAMES
from week2_cnn.cifar_training import predict_probabilities


@pytest.fixture(scope="module")
def trained(cifar_run):
    """(run_dir, images, probabilities) of conftest's CIFAR-10 run: predict's outputs."""
    run_dir, data = cifar_run
    model, config, _ = cifar10.load_run(run_dir)
    return run_dir, data.x_test[:6], predict_probabilities(model, data.x_test[:6], config["tta"])


def test_saved_model_signatures_and_metadata(trained, tmp_path):
    import tensorflow as tf

    run_dir, images, expected = trained
    loaded = tf.saved_model.load(cifar10.export(run_dir, str(tmp_path / "export")))
    # The run averages the test-time flip; single_view is the one forward pass it skips.
    assert sorted(loaded.signatures) == ["labels", "metadata", "serving_default",
                                         "single_view"]
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    assert list(served) == ["probabilities"]
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-5)
    model = cifar10.load_run(run_dir)[0]
    single = loaded.signatures["single_view"](images=tf.constant(images))["probabilities"]
    np.testing.assert_allclose(single.numpy(), predict_probabilities(model, images, False),
                               atol=1e-5)
    names = [n.decode() for n in loaded.signatures["labels"]()["class_names"].numpy()]
    assert names == list(CLASS_NAMES)  # the signature every earlier export had
    metadata = loaded.signatures["metadata"]()
    assert [n.decode() for n in metadata["class_names"].numpy()] == list(CLASS_NAMES)
    info = json.loads(metadata["json"].numpy())
    assert info["kind"] == "cifar10" and info["class_names"] == list(CLASS_NAMES)
    assert info["config"]["arch"] == "fast" and info["config"]["tta"] is True


def test_litert_matches_tensorflow(trained, tmp_path, capsys):
    from ai_edge_litert.interpreter import Interpreter

    run_dir, images, expected = trained
    export_dir = tmp_path / "tflite"
    run_cli(cifar10.main, ["export", "--run_dir", run_dir, "--export_dir", str(export_dir),
                           "--format", "litert"])
    assert "serving_default.tflite" in capsys.readouterr().out
    interpreter = Interpreter(model_path=str(export_dir / "serving_default.tflite"))
    (source,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert source["dtype"] == np.uint8 and list(source["shape_signature"]) == [-1, 32, 32, 3]
    interpreter.resize_tensor_input(source["index"], list(images.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], images)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(result["index"]), expected, atol=1e-4)
    with open(export_dir / "metadata.json") as f:
        assert json.load(f)["class_names"] == list(CLASS_NAMES)


def test_overwrite_replaces_only_an_earlier_export(trained, tmp_path, capsys):
    run_dir = trained[0]
    export_dir = str(tmp_path / "export")
    first = cifar10.export(run_dir, export_dir)
    marker = os.path.join(first, "tfcourse_export.json")
    assert os.path.exists(marker)
    status, _, err = call_cli(cifar10.main, ["export", "--run_dir", run_dir, "--export_dir",
                                             export_dir], capsys)
    assert_one_line_error(status, err, "already exists; pass --overwrite")
    again = cifar10.export(run_dir, export_dir, overwrite=True, checkpoint="last")
    assert again == first and os.path.exists(marker)
