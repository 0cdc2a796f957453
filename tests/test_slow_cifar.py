"""Slow tier: CIFAR-10 from ../shared/data/cifar10_jpg.tar (skipped when absent)."""

import dataclasses
import tarfile

import numpy as np
import pytest

from tests.conftest import shared_data
from week2_cnn import cifar10
from week2_cnn.cifar_data import load_cifar10
from week2_cnn.cifar_models import PRESETS


@pytest.mark.slow
def test_one_fast_epoch_on_the_jpeg_tree(tmp_path):
    with tarfile.open(shared_data("cifar10_jpg.tar")) as archive:
        archive.extractall(tmp_path / "data", filter="data")  # a temp folder, never the repo
    roots = [p for p in (tmp_path / "data").rglob("train") if p.is_dir()]
    data = load_cifar10(str(roots[0].parent), cache_dir=str(tmp_path / "cache"))
    assert data.x_train.shape == (50000, 32, 32, 3) and data.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    config = dataclasses.replace(PRESETS["fast"], epochs=1)
    _, report = cifar10.train(config, str(tmp_path / "run"), data, verbose=0)
    # One full epoch of the `fast` recipe reached 59% in benchmarks/RESULTS.md; chance is 10%.
    assert report["test_accuracy"] > 0.45
