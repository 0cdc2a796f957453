"""The CIFAR-10 model zoo: pure builders of a frozen config.

    alexnet   AlexNet scaled to 32x32: 5 convs (5x5 first), 3 fully connected layers
    vgg       3x3 conv pairs + batch norm + max pool, the lecture's recipe
    googlenet nine Inception modules (1x1 bottlenecks), the CIFAR GoogLeNet layout
    resnet    residual blocks (He et al. 2016, CIFAR variant): --depth 6n+2 (20, 32, 56,
              110), --resnet_version 1 (post-activation) or 2 (pre-activation)
    densenet  DenseNet-BC: --depth 6n+4, --growth_rate k, every layer reads the
              concatenation of all earlier feature maps of its block
    tutorial  the TF tutorial's CNN: two 5x5 conv + pool, two dense layers
    fast      accuracy per CPU minute, after the fastest known CIFAR-10 trainers
              (Page's ResNet-9 for DAWNBench, Keller Jordan's airbench): a fixed
              2x2 patch-whitening first layer, three conv groups with batch norm,
              global max pool, scaled logits; trained with label smoothing, a
              triangular learning rate, flip + translate, and test-time flip
    airbench  airbench94's network and recipe (Keller Jordan 2024), each part named in
              week2_cnn/airbench_model.py and airbench_optimizer.py: 94% in 10 epochs

Every model takes float32 images with values 0..255 [batch, 32, 32, 3] (the
per-channel normalisation is the first layer) and returns logits [batch, classes].
alexnet, googlenet, densenet and ResNet v2 are built in week2_cnn.cifar_zoo_models,
which documents how each was scaled to 32x32; week2_cnn.model_cost counts their
parameters and multiply-accumulates.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

from common.argtypes import count, fraction, non_negative_float, positive_float, whole_number_in
from common.configs import setting
from common.layers import FusedBatchNormalization, PartialDirac
from week2_cnn.airbench_model import (WHITEN_IMAGES, airbench_body, airbench_classifier,
                                      patch_whitening)
from week2_cnn.cifar_layers import conv, conv_bn, dense, l2_regularizer
from week2_cnn.cifar_zoo_models import ZOO_BODIES, architecture_problem, resnet_v2_body

# Per-channel mean and standard deviation of the CIFAR-10 training images (0..255).
CIFAR_MEAN = (125.3, 123.0, 113.9)
CIFAR_STD = (63.0, 62.1, 66.7)
ARCHITECTURES = ("alexnet", "vgg", "googlenet", "resnet", "densenet", "tutorial", "fast",
                 "airbench")
MAX_TRANSLATE = 16  # reflect padding needs fewer pixels than half the 32-pixel image


@dataclasses.dataclass(frozen=True)
class CifarConfig:
    # `arch` was called `architecture` before the one-grammar change; runs that
    # saved the old key are read through RENAMED.
    arch: str = setting("fast", f"network: {', '.join(ARCHITECTURES)}; under a preset made "
                        "for another network it is built at its own size (alexnet width 64; "
                        "vgg 32; googlenet 64, the common CIFAR GoogLeNet, which the "
                        "googlenet preset halves for CPUs; resnet ResNet-20 v1, width 16; "
                        "densenet DenseNet-BC-100, k 12, slow on CPUs; tutorial 64; fast "
                        "32; airbench 64) and the preset gives the rest of the recipe; size "
                        "flags win over both", choices=ARCHITECTURES)
    width: int = setting(64, "channels of the first conv group; later groups scale it",
                         count(1024))
    epochs: int = 10             # --epochs comes from common.cli.add_training_flags
    batch_size: int = setting(512, "images per training step", count(65_536))
    optimizer: str = setting("sgd", "sgd (Nesterov, --momentum), adam, or airbench (Nesterov "
                             "SGD as PyTorch computes it, --l2 on every variable, BN offsets "
                             "at --offset_lr_scale, optional --lookahead: "
                             "week2_cnn/airbench_optimizer.py)",
                             choices=("sgd", "adam", "airbench"))
    learning_rate: float = setting(0.2, "peak learning rate", positive_float)
    schedule: str = setting("triangular", "learning rate after the warm-up: triangular "
                            "(linear to 0), cosine, constant",
                            choices=("triangular", "cosine", "constant"))
    warmup_fraction: float = setting(0.2, "fraction of all steps spent rising linearly to "
                                     "the peak", fraction)
    l2: float = setting(5e-4, "L2 weight decay (l2 * w added to the gradient) on conv and "
                        "dense kernels; with --optimizer airbench on every variable; 0: off",
                        non_negative_float)
    dropout_rate: float = setting(0.0, "dropout before the classifier (and between dense "
                                  "layers)", fraction)
    batch_norm: bool = setting(True, "batch normalisation after every convolution")
    augment: bool = setting(True, "random horizontal flips and translations of the "
                            "training images")
    translate: int = setting(2, "largest random shift in pixels when augmenting",
                             whole_number_in(0, MAX_TRANSLATE))
    label_smoothing: float = setting(0.2, "weight moved from the true label to all classes",
                                     fraction)
    tta: bool = setting(True, "test-time augmentation: average the logits of the image and "
                        "its mirror (and with --tta_translate, of shifted views)")
    activation: str = setting("relu", "activation after every convolution",
                              choices=("relu", "gelu", "elu", "swish"))
    # Added with the validation split; older runs (which had none) read the default.
    val_fraction: float = setting(0.1, "fraction of the training images held out (per "
                                  "class) to choose best.keras; 0: none, best by training "
                                  "loss", fraction)
    # Added with the model zoo; older runs read these defaults, which are the
    # ResNet-20 (v1) every resnet run was before.
    depth: int = setting(20, "resnet and densenet only: layers, 6n+2 for resnet (20, 32, "
                         "56, 110; --arch resnet: 20), 6n+4 for densenet (40, 100, 190; "
                         "--arch densenet: 100)", count(2000))
    resnet_version: int = setting(1, "resnet only: 1, post-activation (conv, BN, ReLU, add, "
                                  "ReLU); 2, pre-activation (BN, ReLU, conv; nothing after "
                                  "the add)", whole_number_in(1, 2))
    growth_rate: int = setting(12, "densenet only: channels each layer adds (k; --arch "
                               "densenet: 12)", count(256))
    # Added with the airbench94 preset; older runs read these defaults, which are
    # what every run did before.
    momentum: float = setting(0.9, "momentum of sgd and airbench", fraction)
    lr_start: float = setting(0.0, "learning rate at the first step, as a fraction of the "
                              "peak (triangular)", fraction)
    lr_end: float = setting(0.0, "learning rate at the last step, as a fraction of the peak "
                            "(triangular)", fraction)
    offset_lr_scale: float = setting(1.0, "optimizer airbench: batch norm offsets train at "
                                     "this times the learning rate, with 1/this of the "
                                     "decay (airbench: 64)", positive_float)
    lookahead: bool = setting(False, "optimizer airbench: Lookahead, slow weights synced "
                              "every 5 steps on airbench's schedule")
    whitening: bool = setting(True, "airbench only: the first layer whitens 2x2 patches and "
                              "is frozen; --no-whitening: an ordinary trained conv")
    whiten_bias_epochs: int = setting(0, "airbench only: epochs the whitening layer's bias "
                                      "trains before it freezes", whole_number_in(0, 10_000))
    dirac_init: bool = setting(True, "airbench only: each conv starts with its first "
                               "filters as the identity")
    flip: str = setting("random", "how training images are mirrored: random (each image, "
                        "each epoch) or alternating (a random half in even epochs, the "
                        "other half in odd ones: every image both ways every 2 epochs)",
                        choices=("random", "alternating"))
    tta_translate: int = setting(0, "with --tta, also average views shifted by this many "
                                 "pixels up-left and down-right (each with its mirror); "
                                 "airbench: 1", whole_number_in(0, 4))


# Config keys renamed since runs were first saved: old name -> new name.
RENAMED = {"architecture": "arch"}

PRESETS = {
    "tutorial": CifarConfig("tutorial", width=64, epochs=30, batch_size=128, optimizer="adam",
                            learning_rate=1e-3, schedule="cosine", warmup_fraction=0.0,
                            l2=1e-4, dropout_rate=0.3, batch_norm=False, label_smoothing=0.0,
                            tta=False),
    "vgg": CifarConfig("vgg", width=32, epochs=30, batch_size=128, learning_rate=0.1,
                       schedule="cosine", warmup_fraction=0.05, dropout_rate=0.2,
                       label_smoothing=0.1, translate=4),
    "resnet": CifarConfig("resnet", width=16, epochs=40, batch_size=128, learning_rate=0.1,
                          schedule="cosine", warmup_fraction=0.05, l2=1e-4,
                          label_smoothing=0.1, translate=4),
    # Page's ResNet-9 hyper-parameters (mean-loss learning rate 0.4, batch 512, L2 5e-4,
    # Nesterov 0.9) on an airbench-shaped network with its identity init; 8 epochs
    # take under 5 minutes on 2 idle CPU cores (85.6-86.1% test accuracy, RESULTS.md).
    "fast": CifarConfig("fast", width=32, epochs=8, learning_rate=0.4),
    # The 2-hour recipe: airbench94's widths (64/256/256, about 4x the compute per
    # image of `fast`) and a longer schedule.
    "fast_long": CifarConfig("fast", width=64, epochs=18, learning_rate=0.4),
    # The lecture's other architectures, each with its paper's optimizer settings
    # shortened to a 30-40 epoch schedule. AlexNet: no batch norm (it predates it),
    # SGD 0.01 with momentum 0.9, weight decay 5e-4, dropout 0.5 in fc6 and fc7.
    "alexnet": CifarConfig("alexnet", width=64, epochs=30, batch_size=128, learning_rate=0.01,
                           schedule="cosine", warmup_fraction=0.05, dropout_rate=0.5,
                           batch_norm=False, label_smoothing=0.0, translate=4, tta=False),
    # GoogLeNet at half the channels of the common CIFAR one (--width 64: 5.9M
    # parameters, 2.9 GFLOPs per image): 1.5M parameters and a quarter of the
    # compute, which 2 CPU cores train at 35 images/s; dropout 0.4 before the
    # classifier, as in the paper.
    "googlenet": CifarConfig("googlenet", width=32, epochs=30, batch_size=128,
                             learning_rate=0.1, schedule="cosine", warmup_fraction=0.05,
                             dropout_rate=0.4, label_smoothing=0.1, translate=4),
    # DenseNet-BC-100 with k = 12, the paper's smallest BC network (0.8M parameters);
    # its recipe: batch 64, Nesterov SGD 0.1, weight decay 1e-4, no dropout.
    "densenet": CifarConfig("densenet", epochs=40, batch_size=64, learning_rate=0.1,
                            schedule="cosine", warmup_fraction=0.05, l2=1e-4,
                            label_smoothing=0.1, translate=4, depth=100, growth_rate=12),
    # airbench94 (Keller Jordan 2024, "94% on CIFAR-10 in 3.29 seconds"): its network,
    # whitening, identity init, label smoothing 0.2, Nesterov SGD at batch 1,024 on a
    # 0.2 -> 1 -> 0.07 triangle (peak at 23%), BN offsets at 64x, Lookahead,
    # alternating flip and 2-pixel translation, 6-view TTA; airbench trains 9.9 epochs
    # on all 50,000 training images (no validation split: best.keras is the last epoch).
    # Rates in Keras's mean-loss units (week2_cnn/airbench_optimizer.py).
    "airbench94": CifarConfig("airbench", width=64, epochs=10, batch_size=1024,
                              optimizer="airbench", learning_rate=1.5, warmup_fraction=0.23,
                              lr_start=0.2, lr_end=0.07, l2=0.0153 / 11.5, momentum=0.85,
                              offset_lr_scale=64.0, lookahead=True, whiten_bias_epochs=3,
                              activation="gelu", label_smoothing=0.2, translate=2,
                              flip="alternating", tta=True, tta_translate=1, val_fraction=0.0),
    # Trains in seconds on a few hundred images; for tests only.
    "test": CifarConfig("fast", width=4, epochs=2, batch_size=32, tta=True),
}


# What each network is when --arch picks it under a preset made for another one
# (--preset fast --arch densenet): the fields it owns take its published size, the
# preset keeps the recipe, and the user's own flags win over both
# (common.configs.config_from_args). A field a network does not read is left alone.
ARCH_DEFAULTS = {
    "alexnet": {"width": 64},        # torchvision's channels: 64, 192, 384, 256, 256
    "vgg": {"width": 32},            # the lecture's 32-64-128 conv pairs
    # The common CIFAR GoogLeNet (5.9M parameters, 2.9 GFLOPs per image); the
    # googlenet preset halves it (1.5M) so that 2 CPU cores train it in minutes.
    "googlenet": {"width": 64},
    "resnet": {"width": 16, "depth": 20, "resnet_version": 1},   # ResNet-20, He et al.
    "densenet": {"depth": 100, "growth_rate": 12},  # DenseNet-BC-100, k = 12 (0.8M)
    "tutorial": {"width": 64},       # the TF tutorial's 64 5x5 filters
    "fast": {"width": 32},           # the fast preset's: airbench94's at half width
    "airbench": {"width": 64},       # airbench94's 64, 256, 256
}


def _classifier(x, config, num_classes):
    if config.dropout_rate:
        x = layers.Dropout(config.dropout_rate)(x)
    return layers.Dense(num_classes, kernel_regularizer=l2_regularizer(config), name="logits")(x)


def tutorial_body(x, config):
    """conv5x5 -> pool -> conv5x5 -> pool -> dense 384 -> dense 192 (the TF 1 tutorial)."""
    for _ in range(2):
        x = conv_bn(x, config.width, config, kernel_size=5)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)   # 32 -> 16 -> 8
    x = layers.Flatten()(x)                                         # (batch, 8 * 8 * width)
    for units in (384, 192):
        x = dense(x, units, config)
        if config.dropout_rate:
            x = layers.Dropout(config.dropout_rate)(x)
    return x


def vgg_body(x, config):
    """Three groups of two 3x3 convs, widths w, 2w, 4w, each ending in a 2x2 max pool."""
    for group in range(3):
        for _ in range(2):
            x = conv_bn(x, config.width * 2 ** group, config)
        x = layers.MaxPooling2D(2)(x)                               # 32 -> 16 -> 8 -> 4
        if config.dropout_rate:
            x = layers.Dropout(config.dropout_rate)(x)
    return layers.GlobalAveragePooling2D()(x)


def resnet_body(x, config):
    """ResNet-(6n+2): three stages of n residual blocks, widths w, 2w, 4w, strided downsampling.

    Version 1 (post-activation, He et al. 2016a) is built here, layer for layer as
    before --depth existed (ResNet-20 by default); version 2 in cifar_zoo_models.
    """
    if config.resnet_version == 2:
        return resnet_v2_body(x, config)
    blocks_per_stage = (config.depth - 2) // 6
    x = conv_bn(x, config.width, config)
    for stage in range(3):
        filters = config.width * 2 ** stage
        for block in range(blocks_per_stage):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            y = conv_bn(x, filters, config, strides=strides)
            y = conv(y, filters, config)
            if config.batch_norm:
                y = FusedBatchNormalization()(y)
            if strides != 1:  # a 1x1 strided projection matches the shortcut's shape
                shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False,
                                         kernel_regularizer=l2_regularizer(config))(x)
            x = layers.Activation(config.activation)(layers.Add()([y, shortcut]))
    return layers.GlobalAveragePooling2D()(x)


def fast_body(x, config):
    """Fixed patch whitening, then three conv groups (conv, pool, BN, act, conv, BN, act)."""
    # 2x2x3 patches -> 24 channels: each whitened component and its negative.
    # Initialised from the data by init_whitening and never trained.
    x = layers.Conv2D(24, 2, padding="valid", name="whiten", trainable=False)(x)  # 31x31
    x = layers.Activation(config.activation)(x)
    for filters in (config.width, 4 * config.width, 4 * config.width):
        # Every conv starts with its first filters as the identity (airbench's
        # init): 85.2% against 84.3% test accuracy after 7 epochs.
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False,
                          kernel_initializer=PartialDirac("glorot_uniform"),
                          kernel_regularizer=l2_regularizer(config))(x)
        x = layers.MaxPooling2D(2)(x)                               # 31 -> 15 -> 7 -> 3
        if config.batch_norm:
            x = FusedBatchNormalization(momentum=0.6, scale=False)(x)
        x = layers.Activation(config.activation)(x)
        x = conv_bn(x, filters, config, initializer=PartialDirac("he_normal"))
    x = layers.GlobalMaxPooling2D()(x)                              # (batch, 4 * width)
    return x


BODIES = {"tutorial": tutorial_body, "vgg": vgg_body, "resnet": resnet_body, "fast": fast_body,
          "airbench": airbench_body, **ZOO_BODIES}


def build_model(config, num_classes=10):
    """The config's network: float images 0..255 [batch, 32, 32, 3] -> logits [batch, classes]."""
    if config.arch not in BODIES:
        raise ValueError(f"unknown architecture {config.arch!r}; "
                         f"choose one of {', '.join(ARCHITECTURES)}")
    problem = architecture_problem(config)
    if problem:
        raise ValueError(problem)
    images = keras.Input((32, 32, 3), name="images")
    x = layers.Normalization(mean=CIFAR_MEAN, variance=np.square(CIFAR_STD), name="normalize")(
        images)
    x = BODIES[config.arch](x, config)
    if config.arch == "airbench":
        return keras.Model(images, airbench_classifier(x, num_classes), name="cifar_airbench")
    logits = _classifier(x, config, num_classes)
    if config.arch == "fast":
        # airbench divides its logits by 9: a lower temperature suits the max-pooled
        # features at initialisation.
        logits = layers.Rescaling(1 / 9, name="logit_scale")(logits)
    return keras.Model(images, logits, name=f"cifar_{config.arch}")


def init_whitening(model, images, config, count=WHITEN_IMAGES):
    """Sets the whitening layer of `fast` (centred patches, a zero bias) or `airbench`
    (airbench's uncentred patches) from training images; others: no-op. Both use
    week2_cnn.airbench_model.patch_whitening.

    The statistics come from `count` images spread evenly over `images`: an image
    folder is read class by class, so its first 5,000 would be all airplanes.
    """
    if not (config.arch == "fast" or (config.arch == "airbench" and config.whitening)):
        return
    images = images[::max(1, len(images) // count)][:count]
    normalised = (np.asarray(images, np.float32) - CIFAR_MEAN) / CIFAR_STD
    if config.arch == "fast":
        kernel = patch_whitening(normalised, centred=True)
        model.get_layer("whiten").set_weights([kernel, np.zeros(24, np.float32)])
    else:
        model.get_layer("whiten").set_weights([patch_whitening(normalised)])
