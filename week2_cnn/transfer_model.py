"""Transfer-learning models: a frozen base network, a new head, and the full classifier.

    base "inception_v3"   keras.applications.InceptionV3 at 299 x 299, average-pooled
                          2048 features; --weights imagenet (downloaded once), none,
                          or a .weights.h5 / .keras file
    base PATH.keras       any classifier with a layer named "logits", e.g. a run of
                          week2_cnn.cifar10: its features are that layer's input

Every model here takes float images with values 0..255 [batch, size, size, 3].
"""

import dataclasses
import hashlib
import os

import keras
from keras import layers

from common.cli import UsageError


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    hidden_units: int = 0          # 0: the head is one softmax layer, as in retrain.py
    dropout_rate: float = 0.0
    learning_rate: float = 1e-3    # Adam, head training
    epochs: int = 20
    batch_size: int = 100
    distort: bool = False          # random flip, crop, scale and brightness (no cache)
    fine_tune_layers: int = 0      # 0: head only; N: also train the base's top N layers;
                                   # -1: the whole network
    fine_tune_epochs: int = 5
    fine_tune_learning_rate: float = 1e-5
    validation_percentage: float = 10.0
    test_percentage: float = 10.0


PRESETS = {"default": TransferConfig(),
           "test": TransferConfig(epochs=3, batch_size=8, fine_tune_epochs=1)}


@dataclasses.dataclass
class Base:
    features: keras.Model   # images [batch, size, size, 3] -> features [batch, n]
    image_size: int
    key: str                # names the bottleneck cache: base and weights


def _file_key(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def check_base_name(base):
    if base != "inception_v3" and not base.endswith(".keras"):
        raise UsageError(f"unknown --base {base!r}; use inception_v3 or a .keras file")


def load_base(base, weights="imagenet"):
    """The frozen feature extractor named by --base / --weights."""
    check_base_name(base)
    if base == "inception_v3":
        return _inception_v3(weights)
    if not os.path.isfile(base):
        raise UsageError(f"--base {base} not found")
    model = keras.saving.load_model(base, compile=False)
    try:
        logits = model.get_layer("logits")
    except ValueError:
        raise UsageError(f"--base {base} has no layer named 'logits'; give a classifier "
                         "trained by week2_cnn.cifar10 (or name its last Dense 'logits')")
    features = keras.Model(model.inputs, logits.input, name="base")
    features.trainable = False
    return Base(features, int(model.inputs[0].shape[1]), f"keras-{_file_key(base)}")


def _inception_v3(weights):
    if weights not in ("imagenet", "none") and not os.path.isfile(weights):
        raise UsageError(f"--weights {weights} not found; use imagenet, none or a weights file")
    try:
        core = keras.applications.InceptionV3(
            include_top=False, pooling="avg", input_shape=(299, 299, 3),
            weights=None if weights == "none" else weights)
    except Exception as error:  # a download without internet fails in many ways
        raise UsageError(f"could not load Inception v3 weights {weights!r} ({error}); "
                         "download them on a machine with internet, or use --weights none "
                         "or --base PATH.keras")
    images = keras.Input((299, 299, 3), name="images")
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(images)  # Inception's [-1, 1] input
    features = keras.Model(images, core(x), name="base")
    features.trainable = False
    key = "inception_v3-" + (weights if weights in ("imagenet", "none") else _file_key(weights))
    return Base(features, 299, key)


def build_head(num_features, num_classes, config):
    """features [batch, num_features] -> logits [batch, num_classes]."""
    features = keras.Input((num_features,), name="features")
    x = features
    if config.hidden_units:
        x = layers.Dense(config.hidden_units, activation="relu")(x)
    if config.dropout_rate:
        x = layers.Dropout(config.dropout_rate)(x)
    return keras.Model(features, layers.Dense(num_classes, name="logits")(x), name="head")


def distortions(image_size):
    """The retrain.py distortions, active only while training: flip, crop/scale, brightness."""
    return keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomZoom((-0.1, 0.1)),           # scale, cropping back to the same size
        layers.RandomTranslation(0.1, 0.1),        # random crop position
        layers.RandomBrightness(0.1, value_range=(0, 255)),
    ], name="distortions")


def build_classifier(base, head, distort=False):
    """images 0..255 [batch, size, size, 3] -> logits: the base and head in one model."""
    images = keras.Input((base.image_size, base.image_size, 3), name="images")
    x = distortions(base.image_size)(images) if distort else images
    # training=False keeps the base's batch norm in inference mode while fine-tuning.
    return keras.Model(images, head(base.features(x, training=False)), name="classifier")


def unfreeze_top(base, count):
    """Makes the last `count` weighted layers of the base trainable (-1: all of them)."""
    base.features.trainable = True
    inner = [layer for layer in _all_layers(base.features) if layer.weights]
    keep_frozen = [] if count < 0 else inner[:max(len(inner) - count, 0)]
    for layer in keep_frozen:
        layer.trainable = False
    return sum(1 for layer in inner if layer.trainable)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer
