"""The week-1 autoencoders: pure builders of a frozen config.

    autoencoder  image -> [hidden] -> code -> [hidden] -> image, trained to
                 reproduce its input (mean squared error on pixels in [0, 1]).
                 With --linear (preset `linear`): no activation anywhere, so the
                 best it can do is PCA's projection on the top `code_size`
                 principal components (Baldi & Hornik, 1989).
    stacked      the notes' stacked autoencoder, built from named layers that
                 the stages share (week1_basics.autoencoder_training):
                   encoder1 + decoder1            on the images
                   encoder2 + decoder2            on encoder1's codes
                   classifier (softmax)           on encoder2's codes
                   encoder1 + encoder2 + classifier, all fine-tuned

Every model takes float32 images with values 0..255 [batch, 28, 28, 1]; the
scaling to [0, 1] is its first layer. Reconstructions are [batch, 28, 28, 1]
in [0, 1] (sigmoid output; unbounded for a linear autoencoder).
"""

import dataclasses
import math
from typing import Optional

import keras
from keras import layers

from common.argtypes import count, fraction, positive_float, whole_number_in
from common.configs import setting
from common.model_size import Counter

ARCHS = ("autoencoder", "stacked")
IMAGE_SIZE = 28
PIXELS = IMAGE_SIZE * IMAGE_SIZE
NUM_CLASSES = 10
MAX_LABELS = 1_000_000
# The stages of the stacked autoencoder, in training order: (name, what trains).
STAGES = ("pretrain1", "pretrain2", "classifier", "fine_tune")


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig:
    arch: str = setting("autoencoder", "autoencoder (encoder/decoder) or stacked (layer-wise "
                        "pretraining, a softmax on the codes, fine-tuning)", choices=ARCHS)
    hidden_units: int = setting(256, "autoencoder: units of the hidden layer on each side of "
                                "the code (0: none); stacked: encoder 1's units",
                                whole_number_in(0, 65_536))
    code_size: int = setting(32, "autoencoder: units of the code; stacked: encoder 2's units",
                             count(65_536))
    activation: str = setting("sigmoid", "activation of the encoders and decoders",
                              choices=("sigmoid", "relu", "tanh"))
    linear: bool = setting(False, "autoencoder: no activation anywhere (a linear "
                           "autoencoder, which can at best equal PCA)")
    epochs: int = 10                     # --epochs comes from common.cli.add_training_flags
    batch_size: int = setting(128, "images per training step", count(65_536))
    learning_rate: float = setting(1e-3, "Adam's learning rate (every stage but fine-tuning)",
                                   positive_float)
    schedule: str = setting("cosine", "learning rate per epoch of every stage: constant, or "
                            "cosine (from the stage's rate down towards 0 at its last epoch; "
                            "a linear autoencoder reaches PCA only as the rate falls)",
                            choices=("constant", "cosine"))
    fine_tune_epochs: int = setting(10, "stacked: epochs of the last stage (fine-tuning, or "
                                    "the whole network with --no-pretrain)", count(100_000))
    # As high as from scratch: at 1e-4 fine-tuning barely moved the encoders, and the
    # pretrained network lost to the one from scratch (benchmarks/RESULTS.md).
    fine_tune_learning_rate: float = setting(1e-3, "stacked: Adam's learning rate while "
                                             "fine-tuning pretrained layers", positive_float)
    labels: Optional[int] = setting(None, "stacked: labelled training images the classifier "
                                    "stages see (default: all); pretraining uses every "
                                    "training image", count(MAX_LABELS))
    pretrain: bool = setting(True, "stacked: layer-wise pretraining first; --no-pretrain "
                             "trains the same network from scratch on the labels")
    min_steps_per_epoch: int = setting(100, "stacked: an epoch of a labelled stage is one pass "
                                       "over the labelled images or this many steps, "
                                       "whichever is more", count(1_000_000))
    val_fraction: float = setting(0.1, "fraction of the training images held out (per "
                                  "class) to choose best.keras", fraction)


PRESETS = {
    # 784 -> 256 -> 32 -> 256 -> 784. ReLU at 3e-3: the sigmoid one at 1e-3 (the notes'
    # activation) ends 10 epochs above PCA's error with the same code (0.0262 vs 0.0168).
    "autoencoder": AutoencoderConfig(activation="relu", epochs=20, learning_rate=3e-3),
    # A linear autoencoder with a 32-unit code: compare its test MSE with PCA's.
    "linear": AutoencoderConfig(hidden_units=0, linear=True, epochs=20, learning_rate=3e-3),
    # The notes' 784 -> 256 -> 64 stack with a softmax on the 64 codes.
    "stacked": AutoencoderConfig("stacked", hidden_units=256, code_size=64, epochs=5,
                                 fine_tune_epochs=10),
    # Trains in seconds on a few hundred images; for tests only.
    "test": AutoencoderConfig(hidden_units=16, code_size=8, epochs=2, batch_size=16,
                              fine_tune_epochs=2, min_steps_per_epoch=4, val_fraction=0.2),
}

# The fields that size each network. --arch X under a preset made for the other
# one (--preset linear --arch stacked) takes these from X's own preset; the
# user's flags win over both.
ARCH_DEFAULTS = {arch: {name: getattr(PRESETS[arch], name)
                        for name in ("hidden_units", "code_size", "activation", "linear")}
                 for arch in ARCHS}


def estimated_size(config):
    """The ModelSize of the config's network for one training batch, unbuilt.

    autoencoder: build_autoencoder's model; stacked: every layer of the stack
    (stacked_layers), which its stages train in turn.
    """
    count = Counter()
    count.output(2 * PIXELS)                          # scaled and flattened images
    hidden, code = config.hidden_units, config.code_size
    if config.arch == "stacked":
        for inputs, units in ((PIXELS, hidden), (hidden, PIXELS), (hidden, code),
                              (code, hidden), (code, NUM_CLASSES)):
            count.output(count.dense(inputs, units))  # and its activation
        return count.size(config.batch_size)
    widths = [PIXELS, hidden, code, hidden, PIXELS] if hidden else [PIXELS, code, PIXELS]
    for inputs, units in zip(widths, widths[1:]):
        count.output(count.dense(inputs, units))      # and its activation
    return count.size(config.batch_size)


def image_input():
    """(images input, flattened pixels in [0, 1]): float 0..255 [b, 28, 28, 1] -> [b, 784]."""
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="images")
    pixels = layers.Flatten()(layers.Rescaling(1 / 255, name="scale")(images))
    return images, pixels


def as_image(x):
    return layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1), name="reconstruction")(x)


def build_autoencoder(config):
    """(autoencoder, encoder): images -> reconstructions [b, 28, 28, 1], images -> codes."""
    if config.arch != "autoencoder":
        raise ValueError(f"build_autoencoder builds arch autoencoder, not {config.arch!r}")
    activation = None if config.linear else config.activation
    images, x = image_input()
    if config.hidden_units:
        x = layers.Dense(config.hidden_units, activation, name="encoder_hidden")(x)
    codes = layers.Dense(config.code_size, activation, name="code")(x)
    x = codes
    if config.hidden_units:
        x = layers.Dense(config.hidden_units, activation, name="decoder_hidden")(x)
    # Pixels lie in [0, 1]: a sigmoid output, except in the linear autoencoder.
    x = layers.Dense(PIXELS, None if config.linear else "sigmoid", name="decoder_output")(x)
    model = keras.Model(images, as_image(x), name="autoencoder")
    return model, keras.Model(images, codes, name="encoder")


def stacked_layers(config):
    """The named layers of the stacked autoencoder, new (randomly initialised)."""
    return {"encoder1": layers.Dense(config.hidden_units, config.activation, name="encoder1"),
            "decoder1": layers.Dense(PIXELS, "sigmoid", name="decoder1"),
            "encoder2": layers.Dense(config.code_size, config.activation, name="encoder2"),
            "decoder2": layers.Dense(config.hidden_units, "sigmoid", name="decoder2"),
            "classifier": layers.Dense(NUM_CLASSES, name="classifier")}


def layers_of(*models):
    """{name: layer} of the stacked layers found in trained stage models (later ones win)."""
    found = {}
    for model in models:
        found.update({layer.name: layer for layer in model.layers
                      if layer.name in ("encoder1", "decoder1", "encoder2", "decoder2",
                                        "classifier")})
    return found


def stage_model(stage, parts, config):
    """The model trained in `stage`, from `parts` ({name: layer}), frozen where the notes say.

    pretrain1   images -> encoder1 -> decoder1 -> reconstructions [b, 28, 28, 1]
    pretrain2   images -> encoder1 (frozen) -> encoder2 -> decoder2 -> encoder1's codes
    classifier  images -> encoder1, encoder2 (frozen) -> classifier -> logits [b, 10]
    fine_tune   the same network, every layer trainable
    """
    if config.hidden_units == 0:
        raise ValueError("the stacked autoencoder needs --hidden_units > 0 (encoder 1)")
    images, x = image_input()
    trainable = {"pretrain1": ("encoder1", "decoder1"), "pretrain2": ("encoder2", "decoder2"),
                 "classifier": ("classifier",),
                 "fine_tune": ("encoder1", "encoder2", "classifier")}[stage]
    for name, layer in parts.items():
        layer.trainable = name in trainable
    x = parts["encoder1"](x)                                         # (batch, hidden_units)
    if stage == "pretrain1":
        return keras.Model(images, as_image(parts["decoder1"](x)), name=f"stage_{stage}")
    x = parts["encoder2"](x)                                         # (batch, code_size)
    if stage == "pretrain2":
        return keras.Model(images, parts["decoder2"](x), name=f"stage_{stage}")
    logits = parts["classifier"](x)                                  # (batch, 10)
    return keras.Model(images, logits, name=f"stage_{stage}")


def stacked_reconstruction(parts):
    """(autoencoder, encoder) of the whole stack: images -> encoder1 -> encoder2 (codes)
    -> decoder2 -> decoder1 -> reconstructions [b, 28, 28, 1]."""
    images, x = image_input()
    codes = parts["encoder2"](parts["encoder1"](x))                  # (batch, code_size)
    x = parts["decoder1"](parts["decoder2"](codes))
    return (keras.Model(images, as_image(x), name="stacked_autoencoder"),
            keras.Model(images, codes, name="stacked_encoder"))


def compile_stage(model, stage, learning_rate):
    """Reconstruction stages: mean squared error; classifier stages: cross-entropy, accuracy."""
    if stage in ("pretrain1", "pretrain2", "autoencoder"):
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    else:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def epoch_learning_rate(schedule, learning_rate, epoch, epochs):
    """The learning rate of 0-based `epoch` of a stage of `epochs`: constant, or a cosine
    from `learning_rate` down to a small fraction of it in the last epoch."""
    if schedule == "constant":
        return learning_rate
    return learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
