"""Training images for the GAN: MNIST, Fashion-MNIST, or any folder of images.

Every source gives uint8 arrays (N, size, size, channels); `training_batches`
turns them into float batches in [-1, 1] (G's tanh range).

MNIST and Fashion-MNIST come from Keras's download, or from `--data_dir`: a
folder with the official IDX files (`train-images-idx3-ubyte[.gz]`, ...) or an
`.npz` with `x_train`/`y_train` (and optionally `x_test`/`y_test`) like
Keras's `mnist.npz`. Where a folder has both, the IDX files win, file by file
(the shared MNIST copy has official IDX test files beside a rebuilt npz).
"""

import glob
import gzip
import os

import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.images import find_images, load_images
from common.sequences import training_dataset

DATASETS = ("mnist", "fashion_mnist")
IDX_MAGIC = {2049: 1, 2051: 3}  # labels: 1 dimension, images: 3 dimensions


def read_idx(path):
    """An IDX file (optionally gzipped) as a uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    if magic not in IDX_MAGIC:
        raise UsageError(f"{path} is not an IDX image or label file (magic number {magic})")
    dims = IDX_MAGIC[magic]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def _find_idx(data_dir, split, what):
    for name in (f"{split}-{what}", f"{split}-{what}.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    return None


def load_local(data_dir):
    """(x_train, y_train, x_test, y_test) from IDX files and/or an .npz in data_dir."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} not found (or not a folder)")
    arrays = {}
    for npz_path in sorted(glob.glob(os.path.join(data_dir, "*.npz"))):
        with np.load(npz_path) as npz:
            if "x_train" in npz:
                arrays.update({key: npz[key] for key in npz.files})
                break
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for key, what in ((f"x_{split}", "images-idx3-ubyte"), (f"y_{split}", "labels-idx1-ubyte")):
            path = _find_idx(data_dir, prefix, what)
            if path:
                arrays[key] = read_idx(path)
    if "x_train" not in arrays:
        raise UsageError(f"{data_dir} has neither train-images-idx3-ubyte[.gz] nor an .npz "
                         "with x_train; point --data_dir at the MNIST/Fashion-MNIST files")
    return tuple(arrays.get(key) for key in ("x_train", "y_train", "x_test", "y_test"))


def load_dataset(name, data_dir=None):
    """(x_train, y_train, x_test, y_test) uint8 (N, 28, 28, 1) images and labels."""
    if name not in DATASETS:
        raise UsageError(f"unknown --dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir:
        x_train, y_train, x_test, y_test = load_local(data_dir)
    else:
        import keras

        loader = getattr(keras.datasets, name)
        try:
            (x_train, y_train), (x_test, y_test) = loader.load_data()
        except Exception as error:  # no network, a proxy, a broken cache
            raise UsageError(f"could not download {name} ({error.__class__.__name__}); "
                             "pass --data_dir with the IDX files or an .npz") from None
    add_channel = (lambda x: None if x is None else x.reshape(*x.shape[:3], 1))
    return add_channel(x_train), y_train, add_channel(x_test), y_test


def load_image_folder(image_dir, image_size, channels):
    """Every readable image under image_dir as uint8 (N, size, size, channels)."""
    images, _, skipped = load_images(find_images(image_dir), image_size, channels)
    if not len(images):
        raise UsageError(f"none of the {len(skipped)} files under {image_dir} is a readable "
                         "image")
    return images


def resize_images(images, image_size):
    """uint8 (N, h, w, c) -> uint8 (N, size, size, c); a no-op at the same size."""
    if images.shape[1] == image_size:
        return images
    resized = tf.image.resize(images, (image_size, image_size), antialias=True)
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def to_unit_range(images):
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return tf.cast(images, tf.float32) / 127.5 - 1.0


def to_uint8(images):
    """float [-1, 1] -> uint8 [0, 255]."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)


def training_batches(images, batch_size, seed, first_epoch, num_epochs):
    """Float batches for epochs [first_epoch, num_epochs), reshuffled per epoch.

    Epoch e's order depends only on (seed, e), so a resumed run sees the
    batches an uninterrupted one would; the ragged rest of each epoch is dropped.
    """
    if len(images) < batch_size:
        raise UsageError(f"{len(images)} training images are fewer than one batch "
                         f"({batch_size}); add images or lower --batch_size")
    return training_dataset(images, batch_size, seed, first_epoch, num_epochs,
                            transform=to_unit_range)
