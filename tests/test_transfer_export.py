"""week2_cnn.transfer export: training's pixels, the pixels signature, metadata, LiteRT."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_one_line_error, call_cli
from tests.test_transfer import make_photo_folder, save_small_base
from week2_cnn import transfer


def photo_jpeg(width=500, height=375):
    """A non-square JPEG with smooth gradients, edges and noise: the resize has work to do."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 / width, y * 255 / height, (x + y) % 64 * 4], axis=-1)
    pixels += rng.normal(0, 12, pixels.shape)
    pixels[height // 3:height // 2, width // 4:width // 2] = (250, 20, 20)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    photos = make_photo_folder(root / "photos")
    base = save_small_base(root)
    transfer.main(["train", "--image_dir", str(photos), "--out_dir", str(root / "run"),
                   "--base", base, "--preset", "test", "--bottleneck_dir", "",
                   "--verbose", "0"])
    (root / "photo.jpg").write_bytes(photo_jpeg())
    return root


def test_training_and_serving_pixels_agree_on_a_non_square_jpeg(tmp_path):
    import tensorflow as tf

    from week2_cnn.transfer_data import load_images
    from week2_cnn.transfer_servable import TransferServable

    data = photo_jpeg()
    (tmp_path / "photo.jpg").write_bytes(data)
    trained, kept, _ = load_images([str(tmp_path / "photo.jpg")], 299)
    assert kept.tolist() == [0] and trained.dtype == np.uint8
    model = tf.keras.Sequential([tf.keras.Input((299, 299, 3)), tf.keras.layers.Flatten()])
    served = TransferServable(model, ["a"]).preprocess(tf.constant([data])).numpy()
    assert served.shape == (1, 299, 299, 3)
    assert np.abs(served - trained.astype(np.float32)).max() <= 1.0


def test_saved_model_signatures_outputs_and_metadata(run, tmp_path):
    import tensorflow as tf

    from week2_cnn.transfer_verbs import predict

    export_dir = transfer.export(str(run / "run"), str(tmp_path / "export"))
    loaded = tf.saved_model.load(export_dir)
    assert {"serving_default", "pixels", "class_names", "metadata"} <= set(loaded.signatures)
    data = (run / "photo.jpg").read_bytes()
    out = loaded.signatures["serving_default"](image_bytes=tf.constant([data, data]))
    assert {"probabilities", "scores", "labels"} <= set(out)
    probabilities = out["probabilities"].numpy()
    np.testing.assert_allclose(out["scores"].numpy(), probabilities)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # uint8 pixels of any size, resized inside: the same numbers as from the bytes.
    pixels = tf.io.decode_jpeg(data, channels=3)[None]
    by_pixels = loaded.signatures["pixels"](images=pixels)["probabilities"].numpy()
    np.testing.assert_allclose(by_pixels[0], probabilities[0], atol=1e-5)
    # ...and as predict, which reads the file the way training does.
    top = dict(predict(str(run / "run"), [str(run / "photo.jpg")])[0][1])
    names = [n.decode() for n in loaded.signatures["class_names"]()["class_names"].numpy()]
    np.testing.assert_allclose([top[n] for n in names], probabilities[0], atol=1e-5)
    meta = loaded.signatures["metadata"]()
    info = json.loads(meta["json"].numpy().decode())
    assert info["kind"] == "transfer" and info["class_names"] == names == ["blue", "green", "red"]
    assert info["config"]["kind"] == "transfer" and info["image_size"] == 32
    assert info["signatures"]["pixels"]["images"]["dtype"] == "uint8"
    assert [n.decode() for n in meta["class_names"].numpy()] == names


def test_litert_pixels_matches_tensorflow(run, tmp_path, capsys):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    export_dir = tmp_path / "tfl"
    transfer.main(["export", "--run_dir", str(run / "run"), "--export_dir", str(export_dir),
                   "--format", "litert"])
    assert "pixels.tflite" in capsys.readouterr().out
    meta = json.loads((export_dir / "metadata.json").read_text())
    assert meta["class_names"] == ["blue", "green", "red"] and meta["models"] == ["pixels.tflite"]
    saved = tf.saved_model.load(transfer.export(str(run / "run"), str(tmp_path / "sm")))
    pixels = tf.io.decode_jpeg((run / "photo.jpg").read_bytes(), channels=3)[None].numpy()
    interpreter = Interpreter(model_path=str(export_dir / "pixels.tflite"))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, pixels.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, pixels)
    interpreter.invoke()
    lite = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = saved.signatures["pixels"](images=tf.constant(pixels))["probabilities"].numpy()
    np.testing.assert_allclose(lite, expected, atol=1e-4)


def test_export_refuses_to_replace_what_is_not_an_export(run, tmp_path, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "canary.txt").write_text("keep me")
    for export_dir in (folder, run / "run" / "inside", run / "run", ""):
        status, _, err = call_cli(transfer.main, ["export", "--run_dir", str(run / "run"),
                                                  "--export_dir", str(export_dir),
                                                  "--overwrite"], capsys)
        assert_one_line_error(status, err)
    assert (folder / "canary.txt").read_text() == "keep me"
    assert not (run / "run" / "inside").exists()


def test_export_overwrite_replaces_an_earlier_export(run, tmp_path):
    first = transfer.export(str(run / "run"), str(tmp_path / "export"))
    again = transfer.export(str(run / "run"), str(tmp_path / "export"), overwrite=True,
                            checkpoint="last")
    assert first == again and (tmp_path / "export" / "saved_model.pb").exists()
