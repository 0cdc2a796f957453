"""Training images for the GAN: MNIST, Fashion-MNIST, or any folder of images.

Every source gives uint8 arrays (N, size, size, channels); `training_batches`
turns them into float batches in [-1, 1] (G's tanh range).

MNIST and Fashion-MNIST (Keras's download, or `--data_dir` with IDX files or
an `.npz`) are read by common.mnist_data, shared with week1_basics; its names
are re-exported here for the callers that import them from gan.data.
"""

import numpy as np
import tensorflow as tf

from common.batching import shuffled_batches
from common.cli import UsageError
from common.folders import DEFAULT_MAX_FILES
from common.images import find_images, load_images
from common.mnist_data import DATASETS, load_dataset, load_local, read_idx, read_npz

__all__ = ["DATASETS", "load_dataset", "load_local", "read_idx", "read_npz",
           "load_image_folder", "resize_images", "to_unit_range", "to_uint8",
           "training_batches"]


def load_image_folder(image_dir, image_size, channels, max_files=DEFAULT_MAX_FILES):
    """Every readable image under image_dir as uint8 (N, size, size, channels); the scan
    stops with an error past `max_files` files and folders (common.folders)."""
    images, _, skipped = load_images(find_images(image_dir, max_files), image_size, channels)
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


def training_batches(images, batch_size, seed, first_epoch):
    """Endless float batches (batch, size, size, channels) in [-1, 1] from epoch first_epoch.

    Epoch e's order depends only on (seed, e) (common.batching), so a resumed
    run sees the batches an uninterrupted one would; each epoch's ragged rest
    is dropped.
    """
    if len(images) < batch_size:
        raise UsageError(f"{len(images)} training images are fewer than one batch "
                         f"({batch_size}); add images or lower --batch_size")
    return shuffled_batches(images, batch_size, seed, first_epoch, transform=to_unit_range)
