"""gan.metrics: the Fréchet distance and inception score against hand-computed values."""

import keras
import numpy as np
import pytest

from gan.metrics import QualityScorer, build_classifier, frechet_distance, inception_score


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_of_a_shifted_set_is_the_squared_shift():
    # Equal covariances: the trace term vanishes and only |mu_a - mu_b|^2 is left.
    features = np.random.default_rng(1).normal(size=(400, 6)) @ np.diag([1, 2, 3, 1, 1, 5])
    shift = np.array([0.5, -1.0, 2.0, 0.0, 0.25, -0.75])
    assert frechet_distance(features, features + shift) == pytest.approx(np.sum(shift ** 2),
                                                                          rel=1e-6)


def test_frechet_distance_in_one_dimension_matches_the_closed_form():
    # For 1-D Gaussians the distance is (m_a - m_b)^2 + (s_a - s_b)^2.
    rng = np.random.default_rng(2)
    a, b = rng.normal(1.0, 2.0, size=(300, 1)), rng.normal(-0.5, 0.5, size=(200, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


def test_inception_score_runs_from_one_to_the_number_of_classes():
    confident_and_balanced = np.eye(10)[np.arange(1000) % 10]
    assert inception_score(confident_and_balanced) == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.eye(10)[np.zeros(1000, int)]) == pytest.approx(1.0)
    assert inception_score(np.full((1000, 10), 0.1)) == pytest.approx(1.0)
    # Two classes, each image certain: 2.
    assert inception_score(np.eye(10)[np.arange(1000) % 2]) == pytest.approx(2.0, rel=1e-6)


def test_scorer_gives_zero_for_the_reference_and_more_for_noise():
    keras.utils.set_random_seed(0)
    classifier = build_classifier(28, 1, 10)  # untrained: its features still separate sets
    rng = np.random.default_rng(3)
    digits = np.zeros((200, 28, 28, 1), np.uint8)
    for i, image in enumerate(digits):  # bright bars at varying rows: a structured set
        image[4 + i % 20:8 + i % 20, 6:22] = 255
    scorer = QualityScorer(classifier, digits)
    same = scorer.score(digits)
    nearly = scorer.score(np.roll(digits, 1, axis=2))  # every bar one pixel to the right
    noise = scorer.score(rng.integers(0, 256, size=digits.shape, dtype=np.uint8))
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert 0.0 < nearly["fid"] < noise["fid"]
    assert 1.0 <= same["inception_score"] <= 10.0
    # Every image counted once, in one of the 10 classes.
    assert len(same["class_counts"]) == 10 and sum(same["class_counts"]) == 200
