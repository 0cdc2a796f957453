"""Transfer-learning models: a frozen base network, a new head, and the full classifier.

    base "inception_v3"   keras.applications.InceptionV3 at 299 x 299, average-pooled
                          2048 features; --weights imagenet (downloaded once), none,
                          or a .weights.h5 / .keras file
    base PATH.keras       any classifier with a layer named "logits", e.g. a run of
                          week2_cnn.cifar10: its features are that layer's input

Every model here takes float images with values 0..255 [batch, size, size, 3].
"""

import argparse
import dataclasses
import hashlib
import os

import keras
from keras import layers

from common.argtypes import count, fraction, non_negative_int, percentage, positive_float
from common.cli import UsageError
from common.configs import setting
from common.files import check_regular_file
from common.model_size import Counter
from common.layers import FusedBatchNormalization, PartialDirac
from common.runs import load_keras_file
from week2_cnn.transfer_layer_rates import LayerRateAdam

# The project's own layers a week2_cnn.cifar10 classifier given as --base is made of:
# imported here so that Keras knows them when `python -m week2_cnn.transfer` loads one.
BASE_LAYERS = (FusedBatchNormalization, PartialDirac)
MAX_HIDDEN_UNITS = 65_536
MAX_BATCH_SIZE = 65_536
MAX_FINE_TUNE_EPOCHS = 100_000


def fine_tune_layer_count(text):
    """An argparse type: -1 (the whole base), 0 (off) or how many top layers to train."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < -1:
        raise argparse.ArgumentTypeError(f"must be -1, 0 or a positive whole number, got {text}")
    return value


def hidden_unit_count(text):
    value = non_negative_int(text)
    if value > MAX_HIDDEN_UNITS:
        raise argparse.ArgumentTypeError(f"must be in 0..{MAX_HIDDEN_UNITS:,}, got {text}")
    return value


fine_tune_layer_count.__name__ = "-1, 0 or positive"
def layer_lr_decay(text):
    """An argparse type: the per-layer learning-rate factor D, in (0, 1]; 1 is off."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0.0 < value <= 1.0:  # NaN fails the comparison too
        raise argparse.ArgumentTypeError(f"must be in (0, 1] (1: off), got {text}")
    return value


hidden_unit_count.__name__ = f"in 0..{MAX_HIDDEN_UNITS:,}"
layer_lr_decay.__name__ = "in (0, 1]"


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    hidden_units: int = setting(0, "units of a hidden layer in the head; 0: none "
                                "(retrain.py's single softmax layer)", hidden_unit_count)
    dropout_rate: float = setting(0.0, "dropout before the head's output layer", fraction)
    learning_rate: float = setting(1e-3, "Adam learning rate of the head", positive_float)
    epochs: int = 20  # of head training; --epochs comes from common.cli.add_training_flags
    batch_size: int = setting(100, "images per step", count(MAX_BATCH_SIZE))
    distort: bool = setting(False, "random flips, crops, scaling, brightness (bypasses the "
                            "bottleneck cache)")
    fine_tune_layers: int = setting(0, "after the head: also train the base's top N weighted "
                                    "layers; 0: off; -1: the whole network",
                                    fine_tune_layer_count)
    fine_tune_epochs: int = setting(5, "epochs of fine-tuning", count(MAX_FINE_TUNE_EPOCHS))
    fine_tune_learning_rate: float = setting(1e-5, "Adam learning rate while fine-tuning",
                                             positive_float)
    layer_lr_decay: float = setting(1.0, "D: while fine-tuning, each block of the base "
                                    "learns at D times the rate of the block above it (the "
                                    "head at --fine_tune_learning_rate; blocks: "
                                    "week2_cnn/transfer_layer_rates.py); 1: off",
                                    layer_lr_decay)
    validation_percentage: float = setting(10.0, "percent of the images used for validation "
                                           "(chooses best.keras)", percentage)
    test_percentage: float = setting(10.0, "percent of the images used for the test",
                                     percentage)


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """The fine-tuning phase, trained as its own run in <run>/fine_tune (transfer_training).

    Defaults as TransferConfig's, so a run saved before a field existed resumes.
    """

    epochs: int = 5
    learning_rate: float = 1e-5
    layers: int = 0
    batch_size: int = 100
    distort: bool = False
    layer_lr_decay: float = 1.0

    @classmethod
    def of(cls, config):
        return cls(config.fine_tune_epochs, config.fine_tune_learning_rate,
                   config.fine_tune_layers, config.batch_size, config.distort,
                   config.layer_lr_decay)


PRESETS = {
    "default": TransferConfig(),
    # Head, then the top 20 weighted layers of the base (Inception v3's last block).
    "fine_tune": TransferConfig(fine_tune_layers=20, fine_tune_epochs=5),
    # Trains in seconds on a few dozen images; for tests only.
    "test": TransferConfig(epochs=3, batch_size=8, fine_tune_epochs=1),
}


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


def base_key(base, weights, seed=0):
    """Names the bottleneck cache of a base: the network, its weights (a file by its hash)."""
    check_base_name(base)
    if base != "inception_v3":
        check_regular_file(base, "--base file")
        return f"keras-{_file_key(base)}"
    if weights == "none":  # random weights: the features depend on the seed
        return f"inception_v3-none-seed{seed}"
    if weights == "imagenet":
        return "inception_v3-imagenet"
    check_regular_file(weights, "--weights file")
    return f"inception_v3-{_file_key(weights)}"


def check_base_name(base):
    if base != "inception_v3" and not base.endswith(".keras"):
        raise UsageError(f"unknown --base {base!r}; use inception_v3 or a .keras file")


def load_base(base, weights="imagenet"):
    """The frozen feature extractor named by --base / --weights."""
    check_base_name(base)
    if base == "inception_v3":
        return _inception_v3(weights)
    check_regular_file(base, "--base file")
    try:
        model = load_keras_file(base, compile=False)
    except UsageError as error:
        raise UsageError(f"--base {base}: {error}") from None
    return Base(features_of(model, f"--base {base}"), image_size_of(model, f"--base {base}"),
                f"keras-{_file_key(base)}")


def features_of(model, what):
    """The frozen sub-network of a classifier up to the input of its "logits" layer."""
    kind = ("a classifier trained by week2_cnn.cifar10 (or any Keras classifier whose last "
            "Dense layer is named 'logits')")
    if not isinstance(model, keras.Model) or len(getattr(model, "inputs", None) or []) != 1:
        raise UsageError(f"{what} is not a one-input Keras model; give {kind}")
    image_size_of(model, what)
    try:
        logits = model.get_layer("logits")
    except ValueError:
        raise UsageError(f"{what} has no layer named 'logits'; give {kind}") from None
    try:
        features = keras.Model(model.inputs, logits.input, name="base")
    except (ValueError, TypeError, AttributeError):
        raise UsageError(f"{what}: its 'logits' layer is not reached from its input; "
                         f"give {kind}") from None
    if len(features.output.shape) != 2:
        raise UsageError(f"{what}: the input of its 'logits' layer has shape "
                         f"{tuple(features.output.shape)}, not (batch, features); give {kind}")
    features.trainable = False
    return features


def image_size_of(model, what):
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or not shape[1]:
        raise UsageError(f"{what} takes inputs of shape {shape}, not square RGB images "
                         "(batch, size, size, 3)")
    return int(shape[1])


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
                         "or --base PATH.keras") from None
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


def estimated_size(config, num_features, num_classes, base_parameters=0, image_size=299):
    """The ModelSize of the head phase for one training batch, before the head is built.

    The head is what trains (build_head); the base, a file already loaded,
    only adds its weights once, frozen. With --distort every batch's images
    pass through the base (their copies are counted, not the base's inner
    activations); fine-tuning's unfrozen layers are not counted.
    """
    count = Counter()
    count.output(num_features)                         # the features (batch, num_features)
    features = num_features
    if config.hidden_units:
        features = count.output(count.dense(num_features, config.hidden_units))  # and ReLU
    if config.dropout_rate:
        count.output(features)
    count.dense(features, num_classes)
    if config.distort:
        count.output(2 * image_size * image_size * 3)  # the images, distorted
    return count.size(config.batch_size, frozen=base_parameters)


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


def as_classifier(model, load_base_model):
    """The servable classifier (no distortions) from a checkpoint of either phase.

    A head-phase checkpoint is the head alone (features -> logits) when the
    bottlenecks were cached; it is put on the run's base (`load_base_model()`).
    A checkpoint trained with --distort has the distortion layers, left out here.
    """
    names = {layer.name for layer in model.layers}
    if "base" in names and "head" in names:
        base = model.get_layer("base")
        return build_classifier(Base(base, image_size_of(base, "the checkpoint"), ""),
                                model.get_layer("head"))
    if model.name == "head" or "logits" in names:
        base_model = load_base_model()
        return build_classifier(Base(base_model, image_size_of(base_model, "base.keras"), ""),
                                model)
    raise UsageError(f"the checkpoint {model.name!r} is not a transfer head or classifier")


def compile_classifier(model, learning_rate, lr_multipliers=None):
    """Adam, or with `lr_multipliers` (one per trainable variable) LayerRateAdam."""
    optimizer = (keras.optimizers.Adam(learning_rate) if lr_multipliers is None
                 else LayerRateAdam(learning_rate, lr_multipliers=lr_multipliers))
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def unfreeze_top(base, count):
    """Makes the last `count` weighted layers of the base trainable (-1: all of them)."""
    base.features.trainable = True
    inner = [layer for layer in _all_layers(base.features) if layer.weights]
    keep_frozen = [] if count < 0 else inner[:max(len(inner) - count, 0)]
    for layer in keep_frozen:
        layer.trainable = False
    return sum(1 for layer in inner if layer.trainable)


def trainable_layer_count(features):
    return sum(1 for layer in _all_layers(features) if layer.weights and layer.trainable)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer
