"""The week-1 MNIST classifiers: pure builders of a frozen config, and their optimizers.

    softmax  softmax regression: flatten, one Dense to the 10 classes
    dnn      the lecture's DNN: sigmoid hidden layers, softmax output (the
             notes draw 25 -> 3 -> 3 -> 10: preset dnn_toy shrinks the image to
             5x5 = 25 inputs; preset dnn is the real-size one)
    mlp      a ReLU multilayer perceptron with dropout (the same dense builder
             as dnn; the presets differ in activation, width and dropout)
    lenet5   LeNet-5 as the lecture draws it: the 28x28 digit padded to 32x32,
             C1 conv 6@5x5 -> S2 pool -> C3 conv 16@5x5 -> S4 pool ->
             C5 conv 120@5x5 (1x1 left) -> F6 dense 84 -> output dense 10

Every model takes float32 images with values 0..255 [batch, 28, 28, 1] (the
scaling is its first layer) and returns logits [batch, 10]. Optimizers are the
lecture's update rules: sgd (w -= lr g), momentum (v = mu v - lr g; w += v),
nesterov (momentum with the gradient taken at the look-ahead point) and adam.
"""

import dataclasses
import math

import keras
from keras import layers

from common.argtypes import count, fraction, non_negative_float, positive_float, whole_number_in
from common.configs import setting
from common.model_size import Counter

ARCHS = ("softmax", "dnn", "mlp", "lenet5")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
# The learning rate an optimizer gets when --optimizer changes the preset's and
# --learning_rate is not given (and in compare-optimizers): momentum's velocity
# sums about 1 / (1 - mu) = 10 gradients, so its rate is a fifth of plain SGD's.
DEFAULT_LEARNING_RATES = {"sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adam": 1e-3}
IMAGE_SIZE = 28
NUM_CLASSES = 10
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]
MAX_TRANSLATE = 8


@dataclasses.dataclass(frozen=True)
class MnistConfig:
    arch: str = setting("lenet5", "network: softmax, dnn (sigmoid), mlp (ReLU + dropout) or "
                        "lenet5", choices=ARCHS)
    input_size: int = setting(28, "softmax/dnn/mlp: side the image is shrunk to before it "
                              "is flattened (5: the notes' 25 inputs)", count(IMAGE_SIZE))
    hidden_units: int = setting(256, "dnn/mlp: units per hidden layer", count(65_536))
    num_layers: int = setting(2, "dnn/mlp: hidden layers", count(64))
    activation: str = setting("relu", "activation of the hidden (dnn/mlp) or conv and F6 "
                              "(lenet5) layers", choices=("sigmoid", "tanh", "relu"))
    dropout_rate: float = setting(0.0, "dropout after every hidden dense layer", fraction)
    pooling: str = setting("max", "lenet5: max pooling, or average (the 1998 paper's "
                           "subsampling)", choices=("max", "average"))
    translate: int = setting(0, "largest random shift (pixels) of training images; 0: no "
                             "augmentation", whole_number_in(0, MAX_TRANSLATE))
    epochs: int = 10                     # --epochs comes from common.cli.add_training_flags
    batch_size: int = setting(128, "images per training step", count(65_536))
    optimizer: str = setting("adam", "sgd, momentum, nesterov or adam (its learning rate "
                             "follows unless --learning_rate is given)", choices=OPTIMIZERS)
    learning_rate: float = setting(1e-3, "learning rate of the first epoch", positive_float)
    momentum: float = setting(0.9, "momentum/nesterov: the velocity's decay mu", fraction)
    schedule: str = setting("cosine", "learning rate per epoch: constant, or cosine (from "
                            "--learning_rate down towards 0 at the last epoch)",
                            choices=("constant", "cosine"))
    l2: float = setting(0.0, "L2 penalty l2 * |w|^2 on every kernel; 0: off",
                        non_negative_float)
    steps_per_execution: int = setting(10, "training steps per graph call (Keras's "
                                       "steps_per_execution): less Python between small "
                                       "steps; an epoch is cut to whole calls",
                                       count(1000), before=1)
    val_fraction: float = setting(0.1, "fraction of the training images held out (per "
                                  "class) to choose best.keras; 0: none, best by training "
                                  "loss", fraction)


PRESETS = {
    # About 92.5% test accuracy (the TF "for beginners" figure is 92%).
    "softmax": MnistConfig("softmax", epochs=10),
    # The notes' drawing: 25 -> 3 -> 3 -> 10 (a toy: about 50-60%, not a classifier).
    "dnn_toy": MnistConfig("dnn", input_size=5, hidden_units=3, activation="sigmoid",
                           epochs=10, learning_rate=1e-2),
    "dnn": MnistConfig("dnn", hidden_units=256, activation="sigmoid", epochs=10),
    "mlp": MnistConfig("mlp", hidden_units=512, dropout_rate=0.3, epochs=15),
    # The lecture's LeNet-5 widths with ReLU, max pooling and 2-pixel random shifts,
    # Adam with a cosine schedule: about 2.5 minutes on 2 cores (benchmarks/RESULTS.md).
    "lenet5": MnistConfig("lenet5", translate=2, epochs=20, learning_rate=2e-3),
    # Trains in seconds on a few hundred images; for tests only.
    "test": MnistConfig("softmax", hidden_units=8, epochs=2, batch_size=16, val_fraction=0.2),
}

# The fields that size each network (the ones its builder reads). --arch X under
# a preset made for another network (--preset test --arch mlp) takes these from
# X's own preset, its documented recipe; the user's flags win over both.
ARCH_FIELDS = {"softmax": ("input_size",),
               "dnn": ("input_size", "hidden_units", "num_layers", "activation", "dropout_rate"),
               "mlp": ("input_size", "hidden_units", "num_layers", "activation", "dropout_rate"),
               "lenet5": ("activation", "pooling", "dropout_rate")}
ARCH_DEFAULTS = {arch: {name: getattr(PRESETS[arch], name) for name in names}
                 for arch, names in ARCH_FIELDS.items()}


def build_model(config):
    """The config's network: float images 0..255 [batch, 28, 28, 1] -> logits [batch, 10]."""
    if config.arch not in ARCHS:
        raise ValueError(f"unknown arch {config.arch!r}; choose one of {', '.join(ARCHS)}")
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 1), name="images")
    x = images
    if config.translate:
        # Random shifts in training only (an identity at inference, so exports
        # and evaluation see the image itself).
        shift = config.translate / IMAGE_SIZE
        x = layers.RandomTranslation(shift, shift, fill_mode="constant", name="shift")(x)
    if config.arch == "lenet5":
        x = layers.ZeroPadding2D(2, name="pad_to_32")(x)  # black border, as in the paper
    # Pixels to zero mean and unit variance over the training set.
    x = layers.Rescaling(1 / (255 * MNIST_STD), offset=-MNIST_MEAN / MNIST_STD,
                         name="normalize")(x)
    if config.arch == "lenet5":
        x = lenet5_body(x, config)
    else:
        x = dense_body(x, config)
    logits = layers.Dense(NUM_CLASSES, kernel_regularizer=_l2(config), name="logits")(x)
    return keras.Model(images, logits, name=f"mnist_{config.arch}")


def _l2(config):
    return keras.regularizers.L2(config.l2) if config.l2 else None


def dense_body(x, config):
    """Flatten (after shrinking to input_size^2 pixels), then the hidden layers, if any."""
    if config.input_size != IMAGE_SIZE:
        x = layers.Resizing(config.input_size, config.input_size, interpolation="area",
                            name="shrink")(x)
    x = layers.Flatten()(x)                                   # (batch, input_size^2)
    if config.arch == "softmax":
        return x
    for _ in range(config.num_layers):
        x = layers.Dense(config.hidden_units, activation=config.activation,
                         kernel_regularizer=_l2(config))(x)
        if config.dropout_rate:
            x = layers.Dropout(config.dropout_rate)(x)
    return x


def lenet5_body(x, config):
    """C1-S2-C3-S4-C5-F6 on a 32x32 input (the 28x28 digit with a 2-pixel border)."""
    pool = layers.MaxPooling2D if config.pooling == "max" else layers.AveragePooling2D
    for name, filters in (("c1", 6), ("c3", 16)):
        x = layers.Conv2D(filters, 5, activation=config.activation,
                          kernel_regularizer=_l2(config), name=name)(x)  # 32->28, 14->10
        x = pool(2, name=f"s{int(name[1]) + 1}")(x)                       # 28->14, 10->5
    x = layers.Conv2D(120, 5, activation=config.activation, kernel_regularizer=_l2(config),
                      name="c5")(x)                                       # (batch, 1, 1, 120)
    x = layers.Flatten()(x)
    x = layers.Dense(84, activation=config.activation, kernel_regularizer=_l2(config),
                     name="f6")(x)
    if config.dropout_rate:
        x = layers.Dropout(config.dropout_rate)(x)
    return x


# Floats training holds per weight: the weight, its gradient and the optimizer's slots.
TRAINING_COPIES = {"sgd": 2, "momentum": 3, "nesterov": 3, "adam": 4}


def estimated_size(config):
    """The ModelSize of build_model(config) for one training batch, unbuilt."""
    count = Counter()
    count.output(2 * IMAGE_SIZE * IMAGE_SIZE)          # the input, its shifted copy
    if config.arch == "lenet5":
        count.output(2 * 32 * 32)                      # padded, normalized
        channels = 1
        for filters, side in ((6, 28), (16, 10)):      # c1 and c3, each followed by a pool
            channels = count.conv(channels, filters, 5, side * side)
            count.output(side * side * filters + side * side * filters // 4)
        features = count.conv(channels, 120, 5, 1)     # c5: (batch, 1, 1, 120)
        features = count.dense(features, 84)           # f6
        count.output(2 * 84)                           # its activation, dropout
    else:
        features = count.output(config.input_size ** 2)
        for _ in range(config.num_layers if config.arch != "softmax" else 0):
            features = count.dense(features, config.hidden_units)
            count.output(2 * features)                 # its activation, dropout
    count.dense(features, NUM_CLASSES)
    return count.size(config.batch_size, TRAINING_COPIES[config.optimizer])


def make_optimizer(name, learning_rate, momentum=0.9):
    """The lecture's update rules as Keras optimizers (g: the gradient, mu: momentum).

    sgd       w <- w - lr g
    momentum  v <- mu v - lr g;  w <- w + v
    nesterov  Keras stores the look-ahead point w~ = w + mu v, where the
              lecture's NAG takes its gradient: v <- mu v - lr g(w~);
              w~ <- w~ + mu v - lr g(w~) (the same iterates, shifted by mu v)
    adam      m <- b1 m + (1 - b1) g;  s <- b2 s + (1 - b2) g^2;
              w <- w - lr m^ / (sqrt(s^) + eps), with m^, s^ bias-corrected
    """
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name in ("momentum", "nesterov"):
        return keras.optimizers.SGD(learning_rate, momentum=momentum,
                                    nesterov=name == "nesterov")
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def compile_model(model, config, steps_per_execution=1):
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate,
                                           config.momentum),
                  steps_per_execution=steps_per_execution,
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def epoch_learning_rate(config, epoch):
    """The learning rate of 0-based `epoch`: constant, or a cosine from the first epoch's
    rate down to a small fraction of it in the last epoch."""
    if config.schedule == "constant":
        return config.learning_rate
    return config.learning_rate * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
