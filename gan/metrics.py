"""Sample quality without Inception weights: a small classifier's view of the images.

FID and the inception score normally use an ImageNet Inception network, which
cannot be downloaded here and knows little about digits anyway. Following the
common practice for MNIST, a small CNN trained on the real training set plays
its part:

- Fréchet distance ("FID-MNIST") between Gaussians fitted to its penultimate
  features (128 numbers per image) of two image sets:
      |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))
  0 for identical sets; real train vs real test gives the floor.
- Classifier inception score exp(E_x KL(p(y|x) || p(y))): between 1 and the
  number of classes (10), high when each image is clearly one class and all
  classes appear.
"""

import os

import keras
import numpy as np
from keras import layers

from common.cli import UsageError
from common.outputs import save_model
from common.runs import load_keras_file
from gan.data import resize_images, to_unit_range

FEATURE_LAYER = "features"
MAX_CLASSES = 1_000  # MNIST and Fashion-MNIST have 10


def build_classifier(image_size=28, channels=1, num_classes=10):
    """images in [-1, 1] -> class logits, with a 128-unit feature layer before them."""
    images = keras.Input((image_size, image_size, channels))
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(images)
    x = layers.MaxPooling2D()(x)  # (batch, size/2, size/2, 32)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)  # (batch, size/4, size/4, 64)
    x = layers.Flatten()(x)
    features = layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    logits = layers.Dense(num_classes, name="logits")(layers.Dropout(0.3)(features))
    model = keras.Model(images, logits, name="classifier")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def classifier_for(x_train, y_train, x_test, y_test, cache_path=None, epochs=3, seed=0,
                   verbose=1):
    """(classifier, test accuracy): loaded from cache_path if there, else trained and saved."""
    if cache_path and os.path.exists(cache_path):
        model = load_keras_file(cache_path)
        if not is_classifier_for(model, x_train.shape[1:]):
            raise UsageError(f"{cache_path} is not a scoring classifier for "
                             f"{'x'.join(map(str, x_train.shape[1:]))} images")
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    else:
        if cache_path and not cache_path.endswith(".keras"):
            raise UsageError(f"the classifier file {cache_path} must end in .keras")
        keras.utils.set_random_seed(seed)
        num_classes = int(max(y_train.max(), y_test.max())) + 1
        if min(y_train.min(), y_test.min()) < 0 or num_classes > MAX_CLASSES:
            raise UsageError(f"labels must be class numbers 0..{MAX_CLASSES - 1}")
        model = build_classifier(x_train.shape[1], x_train.shape[3], num_classes)
        model.fit(to_unit_range(x_train), y_train.astype(np.int64), batch_size=128,
                  epochs=epochs, verbose=verbose)
        if cache_path:
            save_model(model, cache_path)
    _, accuracy = model.evaluate(to_unit_range(x_test), y_test.astype(np.int64),
                                 batch_size=512, verbose=0)
    return model, float(accuracy)


def is_classifier_for(model, image_shape):
    """Whether a loaded .keras model is build_classifier's for images of `image_shape`."""
    try:
        return (tuple(model.input_shape) == (None, *image_shape)
                and FEATURE_LAYER in [layer.name for layer in model.layers])
    except (AttributeError, ValueError, TypeError):  # a subclassed model has no input_shape
        return False


def features_and_probabilities(classifier, images, batch_size=512):
    """uint8 images (N, H, W, C) -> (features (N, 128), class probabilities (N, classes))."""
    both = keras.Model(classifier.input,
                       [classifier.get_layer(FEATURE_LAYER).output, classifier.output])
    features, logits = both.predict(to_unit_range(images), batch_size=batch_size, verbose=0)
    logits = logits.astype(np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    return features.astype(np.float64), probabilities / probabilities.sum(axis=1, keepdims=True)


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigh; tiny negatives -> 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two (N, D) feature sets.

    Tr((S_a S_b)^(1/2)) equals Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)), whose inner
    matrix is symmetric, so two symmetric eigendecompositions suffice (no scipy).
    """
    mean_a, mean_b = features_a.mean(axis=0), features_b.mean(axis=0)
    # atleast_2d: np.cov gives a 0-d array for one feature.
    cov_a = np.atleast_2d(np.cov(features_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(features_b, rowvar=False))
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    trace_cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_cross
    return float(max(distance, 0.0))


def inception_score(probabilities, eps=1e-12):
    """exp(mean KL(p(y|x) || p(y))) of (N, classes) probabilities."""
    marginal = probabilities.mean(axis=0, keepdims=True)
    kl = np.sum(probabilities * (np.log(probabilities + eps) - np.log(marginal + eps)), axis=1)
    return float(np.exp(kl.mean()))


class QualityScorer:
    """FID-MNIST against a reference set, and the classifier inception score."""

    def __init__(self, classifier, reference_images):
        self.classifier = classifier
        self.reference_features, _ = features_and_probabilities(classifier, reference_images)

    def score(self, images):
        """Scores of uint8 images (N, H, W, C): inception_score, fid, and class_counts
        (how many images the classifier puts in each class: dropped or favoured
        classes show there, and cost inception score)."""
        features, probabilities = features_and_probabilities(self.classifier, images)
        return {"inception_score": inception_score(probabilities),
                "fid": frechet_distance(features, self.reference_features),
                "class_counts": np.bincount(probabilities.argmax(axis=1),
                                            minlength=probabilities.shape[1]).tolist()}


def score_generator(generator, data, num, seed, classifier_path=None, classifier_epochs=3,
                    verbose=0):
    """QualityScorer's scores of `num` images from `generator` (noise seed `seed`).

    `data` is (x_train, y_train, x_test, y_test) uint8 grayscale: the
    classifier learns the training split, the Fréchet distance is taken to
    the test split (both resized to the generator's image size). The scores
    come with "reference": what they were measured against.
    """
    from gan.sampling import generate_images

    x_train, y_train, x_test, y_test = data
    if any(part is None for part in data):
        raise UsageError("scoring needs the training and test images and labels (the IDX "
                         "files train-* and t10k-*, or an .npz with x_/y_train and x_/y_test)")
    size, channels = generator.output_shape[1], generator.output_shape[3]
    if channels != 1:
        raise UsageError(f"this run makes {channels}-channel images; FID-MNIST scores "
                         "grayscale runs only")
    if num < 2 or len(x_test) < 2 or len(x_train) < 2:
        raise UsageError("scoring needs at least 2 generated, 2 training and 2 test images "
                         "(a covariance)")
    x_train, x_test = resize_images(x_train, size), resize_images(x_test, size)
    classifier, accuracy = classifier_for(x_train, y_train, x_test, y_test, classifier_path,
                                          classifier_epochs, verbose=verbose)
    score = QualityScorer(classifier, x_test).score(generate_images(generator, num, seed))
    score["reference"] = {
        "reference_images": f"test split, {len(x_test):,} images",
        "classifier": classifier_path or (f"trained for this evaluation on {len(x_train):,} "
                                          f"images, {classifier_epochs} epochs, seed 0"),
        "classifier_test_accuracy": accuracy}
    return score
