"""week5_caption.caption: teacher forcing equals stepping, beam 1 equals greedy, the reloaded
and exported models caption as the run does, resume equals an uninterrupted run, and the
verbs through the real CLI."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.outputs import is_own_png
from common.runs import RunDir
from common.cli import run_cli
from week5_caption import caption, caption_data, caption_verbs, scene_world
from week5_caption.caption_config import PRESETS
from week5_caption.caption_model import build_caption_model

CONFIG = dataclasses.replace(PRESETS["test"], scenes=200)


def ok(argv, capsys):
    """stdout of a CLI call that must succeed (run_cli returns instead of exiting)."""
    assert run_cli(caption.main, argv) is None
    return capsys.readouterr().out


def scenes(count=8, seed=11, size=32):
    return scene_world.generate(count, seed, size)


@pytest.mark.parametrize("arch", ["show_attend_tell", "show_tell"])
def test_teacher_forcing_equals_stepping_the_decoder(arch):
    """The training loop and decoding share `step`: the same logits, word by word."""
    config = dataclasses.replace(CONFIG, arch=arch)
    tf.keras.utils.set_random_seed(3)
    model = build_caption_model(config, 12)
    images = scenes(3)["images"]
    ids = np.array([[1, 5, 6, 7, 2], [1, 8, 9, 2, 0], [1, 4, 2, 0, 0]], np.int32)
    forced = model({"images": images, "decoder_ids": ids}).numpy()       # (3, 5, 12)
    decoder = model.get_layer("decoder")
    memory, state = decoder.start(decoder.annotations(model.get_layer("encoder")(images)))
    for t in range(ids.shape[1]):
        logits, state, alpha = decoder.step(memory, tf.constant(ids[:, t]), state)
        np.testing.assert_allclose(logits.numpy(), forced[:, t], atol=1e-4)
        assert (alpha is None) == (arch == "show_tell")
        if alpha is not None:
            np.testing.assert_allclose(alpha.numpy().sum(-1), 1.0, atol=1e-5)


def test_the_penalty_is_the_doubly_stochastic_formula():
    config = dataclasses.replace(CONFIG, attention_penalty=0.5)
    decoder = build_caption_model(config, 12).get_layer("decoder")
    alphas = np.array([[[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]]], np.float32)  # (1, T=3, L=2)
    ids = np.array([[1, 5, 2]])  # <start> w <end>: the step after <end> would be left out
    # sum_t alpha = (1.5, 0.5) over the first two steps: (1 - 1.5)^2 + (1 - 0.5)^2 = 0.5,
    # over 2 caption steps, times lambda 0.5.
    assert float(decoder.penalty(alphas, ids)) == pytest.approx(0.5 * 0.5 / 2)


def test_beam_1_equals_greedy_and_a_wider_beam_scores_no_lower(caption_run):
    servable = caption_verbs.load_run(caption_run)[0]
    images = scenes(12)["images"]
    greedy = servable.run(images, 1)[0]
    servable.signatures()
    one = servable.caption_beam(tf.constant(images), tf.constant(1))
    assert np.array_equal(one["tokens"].numpy(), greedy["tokens"])
    np.testing.assert_allclose(one["attention"].numpy(), greedy["attention"], atol=1e-6)
    wide = servable.run(images, 4)[0]
    assert np.all(wide["scores"] >= greedy["scores"] - 1e-4)


def test_the_export_captions_as_the_run_does_without_this_project(caption_run, tmp_path):
    servable = caption_verbs.load_run(caption_run)[0]
    images = scenes(6)["images"]
    expected = servable.run(images, 3)[0]
    path = caption_verbs.export(caption_run, str(tmp_path / "export"))
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["serving_default"](images=tf.constant(images))
    assert got["captions"].numpy().tolist() == expected["captions"].tolist()
    np.testing.assert_allclose(got["attention"].numpy(), expected["attention"], atol=1e-5)
    greedy = loaded.signatures["caption_beam"](images=tf.constant(images),
                                               beam=tf.constant(1))
    assert greedy["captions"].numpy().tolist() == servable.run(images, 1)[0][
        "captions"].tolist()
    assert got["attention"].shape[2:] == (4, 4)  # a 32-pixel image, 3 blocks: a 4x4 grid


def test_resume_equals_an_uninterrupted_run(tmp_path):
    config = dataclasses.replace(CONFIG, arch="show_tell", scenes=80, epochs=2)
    parts = {part: caption_data.read_part({"data": "generated"}, part, config)
             for part in ("train", "validation")}
    settings = {"data": "generated"}
    whole, _, _ = caption_verbs.train(config, str(tmp_path / "whole"), parts, settings,
                                      seed=2, verbose=0)
    caption_verbs.train(dataclasses.replace(config, epochs=1), str(tmp_path / "part"), parts,
                        settings, seed=2, verbose=0)
    resumed, state, _ = caption_verbs.train(config, str(tmp_path / "part"), parts, settings,
                                            seed=2, resume=True, verbose=0)
    assert state["epoch"] == 2
    for a, b in zip(whole.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_evaluate_predict_and_export_through_the_cli(caption_run, tmp_path, capsys):
    out = ok(["evaluate", "--run_dir", caption_run, "--beam", "2"], capsys)
    results = json.loads(open(os.path.join(caption_run, "results.json")).read())
    assert {f"bleu_{n}" for n in range(1, 5)} <= set(results)
    assert results["beam"] == 2 and results["images"] == 50
    assert 0.0 <= results["attention_hit_rate"] <= 1.0 and "attention_scored_words" in results
    assert "exact match" in out
    # The test scenes regenerated from the run's config are the ones evaluate scored.
    part = caption_data.read_part({"data": "generated"}, "test", CONFIG)
    servable = caption_verbs.load_run(caption_run)[0]
    expected = [row.decode() for row in servable.run(part["images"][:2], 3)[0]["captions"]]
    paths = []
    for i, image in enumerate(part["images"][:2]):
        paths.append(str(tmp_path / f"scene{i}.png"))
        Image.fromarray(image).save(paths[-1])
    out = ok(["predict", "--run_dir", caption_run, *paths, "--out",
              str(tmp_path / "maps") + "/"], capsys)
    assert out.splitlines() == expected
    maps = sorted(os.listdir(tmp_path / "maps"))
    assert maps == ["attention-1.png", "attention-2.png"]
    assert all(is_own_png(str(tmp_path / "maps" / name)) for name in maps)
    # Written again over its own maps: allowed.
    ok(["predict", "--run_dir", caption_run, *paths, "--out", str(tmp_path / "maps")], capsys)


def test_train_through_the_cli_records_the_data_and_config(tmp_path, capsys):
    run = tmp_path / "run"
    out = ok(["train", "--preset", "test", "--arch", "show_tell", "--scenes", "64",
              "--epochs", "1", "--out_dir", str(run), "--verbose", "0"], capsys)
    saved = RunDir(str(run)).read_config("caption")
    assert (saved["arch"], saved["data"], saved["scenes"]) == ("show_tell", "generated", 64)
    assert saved["encoder"] == "small_cnn"
    assert "python -m week5_caption.caption evaluate --run_dir" in out


def test_a_flickr8k_run_evaluates_its_test_split_from_the_recorded_folder(tmp_path, capsys):
    from tests.test_caption_data import write_flickr8k

    root = write_flickr8k(tmp_path / "flickr")
    run = str(tmp_path / "run")
    ok(["train", "--preset", "test", "--data_dir", str(root), "--epochs", "1", "--out_dir", run,
        "--verbose", "0"], capsys)
    saved = RunDir(run).read_config("caption")
    assert saved["data"] == "flickr8k" and saved["images"] == {"train": 2, "validation": 1}
    out = ok(["evaluate", "--run_dir", run, "--beam", "1"], capsys)
    results = json.loads(open(os.path.join(run, "results.json")).read())
    assert results["images"] == 1 and results["references"] == 5
    assert "attention_hit_rate" not in results and "exact match" in out
    moved = tmp_path / "moved"
    root.rename(moved)
    ok(["evaluate", "--run_dir", run, "--data_dir", str(moved)], capsys)


@pytest.mark.slow
def test_a_frozen_encoder_is_rebuilt_exactly_on_reload(tmp_path):
    """--encoder mobilenet_v2 --weights none: grids computed once from a seeded encoder; the
    servable rebuilds that encoder from the seed, so its captions are the run's model's."""
    config = dataclasses.replace(CONFIG, encoder="mobilenet_v2", weights="none", scenes=64,
                                 epochs=1)
    parts = {part: caption_data.read_part({"data": "generated"}, part, config)
             for part in ("train", "validation")}
    model, _, _ = caption_verbs.train(config, str(tmp_path / "run"), parts,
                                      {"data": "generated"}, seed=4, verbose=0)
    assert "grid" in model.input and "encoder" not in [layer.name for layer in model.layers]
    images = parts["validation"]["images"][:4]
    grids = caption_verbs.seeded_encoder(config, 4)(images)
    servable = caption_verbs.load_run(str(tmp_path / "run"), "last")[0]
    np.testing.assert_allclose(servable.encoder(images).numpy(), grids.numpy(), atol=1e-5)
    ids = tf.constant([[1, 4, 5]] * 4, tf.int32)
    expected = model({"grid": grids, "decoder_ids": ids}).numpy()
    got = servable.model({"grid": servable.encoder(images), "decoder_ids": ids}).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
