"""Slow tier: the DCGAN on real MNIST from ../shared/data (skipped when absent)."""

import dataclasses

import numpy as np
import pytest

from gan import dcgan
from gan.adversarial import build_dcgan
from gan.data import load_dataset
from gan.metrics import QualityScorer, classifier_for
from gan.model import PRESETS
from gan.sampling import generate_images
from tests.conftest import shared_data


@pytest.mark.slow
def test_one_epoch_on_mnist_beats_the_untrained_generator(tmp_path):
    x_train, y_train, x_test, y_test = load_dataset("mnist", shared_data("mnist"))
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert set(np.unique(y_test)) == set(range(10))
    classifier, accuracy = classifier_for(x_train[:10000], y_train[:10000], x_test, y_test,
                                          epochs=1, verbose=0)
    assert accuracy > 0.9
    scorer = QualityScorer(classifier, x_test[:2000])
    config = dataclasses.replace(PRESETS["default"], epochs=1)
    untrained = generate_images(build_dcgan(config).generator, 2000, seed=0)
    model, _ = dcgan.train(config, str(tmp_path / "run"), x_train[:20000], verbose=0)
    trained = generate_images(model.generator, 2000, seed=0)
    before, after = scorer.score(untrained), scorer.score(trained)
    assert after["fid"] < before["fid"] / 2, (before, after)
    assert after["inception_score"] > before["inception_score"], (before, after)
