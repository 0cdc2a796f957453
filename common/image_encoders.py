"""Image encoders that keep the spatial grid: what VQA and captioning attend over.

A classifier ends in one feature vector per image; "show, attend and tell"
and stacked-attention VQA need the feature map before pooling: a grid of
h x w cells, each a c-vector describing one region of the image. Every
encoder here maps uint8 images (batch, S, S, 3) to that grid (batch, h, w, c);
a model that wants one vector averages the grid itself.

  small_cnn      conv-BN-ReLU blocks, each halving the grid, trained from scratch
                 with the model (the default: it works offline and fits 64x64 scenes)
  mobilenet_v2, resnet50, vgg16, inception_v3
                 a Keras application without its classifier, with ImageNet weights
                 (`--weights imagenet`, downloaded once by Keras) or random ones
                 (`--weights none`, offline). It is frozen: its grids are computed
                 once per run with `grid_features`, and only the head trains.
"""

import warnings

import keras
import numpy as np
from keras import layers

from common.cli import UsageError
from common.layers import FusedBatchNormalization

# name -> (keras.applications constructor, input scaling). "tf" scales to [-1, 1];
# "caffe" is BGR with the ImageNet channel means subtracted (what those weights expect).
APPLICATIONS = {
    "mobilenet_v2": ("MobileNetV2", "tf"),
    "resnet50": ("ResNet50", "caffe"),
    "vgg16": ("VGG16", "caffe"),
    "inception_v3": ("InceptionV3", "tf"),
}
ENCODERS = ("small_cnn",) + tuple(APPLICATIONS)
SMALL_CNN_WIDTHS = (32, 64, 128)
# The smallest input each application's strides and valid-padded stem accept.
MIN_IMAGE_SIZE = {"mobilenet_v2": 32, "resnet50": 32, "vgg16": 32, "inception_v3": 75}


def add_encoder_flags(parser, default="small_cnn"):
    parser.add_argument("--encoder", choices=ENCODERS, default=default,
                        help="the image encoder: small_cnn is trained from scratch with the "
                             "model; the others are frozen Keras applications whose grids are "
                             "computed once")
    parser.add_argument("--weights", choices=("imagenet", "none"), default="imagenet",
                        help="weights of an application encoder: imagenet (downloaded by Keras "
                             "on first use; needs internet once) or none (random, offline); "
                             "ignored by small_cnn")


def is_frozen(name):
    """True for the pretrained applications, whose grids are computed once and cached."""
    check_encoder(name)
    return name != "small_cnn"


def check_encoder(name, image_size=None):
    if name not in ENCODERS:
        raise UsageError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    smallest = MIN_IMAGE_SIZE.get(name, 8)
    if image_size is not None and image_size < smallest:
        raise UsageError(f"the {name} encoder needs images of at least {smallest}x{smallest} "
                         f"pixels, not {image_size}")


def grid_shape(name, image_size, widths=SMALL_CNN_WIDTHS):
    """(h, w, c) of the grid `name` makes from S x S images, without building it."""
    if name == "small_cnn":
        side = image_size
        for _ in widths:
            side = (side + 1) // 2  # 'same'-padded max pooling rounds up
        return side, side, widths[-1]
    return tuple(build_image_encoder(name, image_size, weights="none").output.shape[1:])


@keras.saving.register_keras_serializable(package="tfcourse")
class CaffeInput(layers.Layer):
    """uint8 RGB -> the BGR, mean-subtracted floats that ResNet50 and VGG16 weights expect."""

    def call(self, images):
        import tensorflow as tf

        bgr = tf.reverse(tf.cast(images, "float32"), axis=[-1])
        return bgr - tf.constant([103.939, 116.779, 123.68])


def build_image_encoder(name, image_size, weights="none", widths=SMALL_CNN_WIDTHS, seed=0):
    """keras.Model: uint8 images (b, S, S, 3) -> float32 grid (b, h, w, c)."""
    check_encoder(name, image_size)
    images = keras.Input((image_size, image_size, 3), dtype="uint8", name="images")
    if name == "small_cnn":
        return keras.Model(images, _small_cnn(images, widths, seed), name="encoder")
    constructor, scaling = APPLICATIONS[name]
    if scaling == "tf":
        x = layers.Rescaling(1 / 127.5, offset=-1.0)(images)  # casts the uint8 itself
    else:
        x = CaffeInput()(images)
    try:
        # Keras warns on stderr that a size other than 224 loads the 224-pixel weights, which
        # is what is meant (the convolutions fit any size); the warning would be a second
        # line beside a download's one `error:` line.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*input_shape", category=UserWarning)
            core = getattr(keras.applications, constructor)(
                include_top=False, input_shape=(image_size, image_size, 3),
                weights=None if weights == "none" else weights)
    except Exception as error:  # a download without internet fails in many ways
        raise UsageError(f"could not load {name} weights {weights!r} ({error}); download them "
                         "on a machine with internet, or use --weights none or "
                         "--encoder small_cnn") from None
    core.trainable = False
    encoder = keras.Model(images, core(x, training=False), name="encoder")
    encoder.trainable = False
    return encoder


def _small_cnn(images, widths, seed):
    """Each block: 3x3 conv -> batch norm -> ReLU -> 2x2 max pool, so 64x64 -> 8x8 for 3 blocks.

    Batch norm is what lets a from-scratch encoder learn in a few epochs beside
    an LSTM (without it, VQA's image path was ignored in a prototype here).
    """
    x = layers.Rescaling(1 / 255)(images)
    for index, width in enumerate(widths):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False,
                          kernel_initializer=keras.initializers.HeNormal(seed + index),
                          name=f"encoder_conv{index + 1}")(x)
        x = FusedBatchNormalization(momentum=0.9, name=f"encoder_bn{index + 1}")(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D(2, padding="same")(x)
    return x


def grid_features(encoder, images, batch_size=64, progress=True):
    """float32 numpy grids (N, h, w, c) of uint8 `images` (N, S, S, 3), computed in batches.

    For a frozen encoder: computed once per run so that training epochs run
    only the head (an ImageNet ResNet50 on every step would be most of the time).
    """
    if not len(images):
        return np.zeros((0,) + tuple(encoder.output.shape[1:]), dtype=np.float32)
    bar = keras.utils.Progbar(len(images), unit_name="image") if progress else None
    grids = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        grids.append(np.asarray(encoder(batch, training=False), dtype=np.float32))
        if bar is not None:
            bar.update(start + len(batch))
    return np.concatenate(grids)
