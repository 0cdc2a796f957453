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
import io
import math
import os
import zipfile
import zlib

import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, check_regular_file, read_bytes
from common.images import find_images, load_images
from common.sequences import training_dataset

DATASETS = ("mnist", "fashion_mnist")
IDX_MAGIC = {2049: 1, 2051: 3}  # labels: 1 dimension, images: 3 dimensions
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _gunzip(data, path, max_bytes):
    """The decompressed bytes of a .gz file, stopping past `max_bytes` (a gzip bomb)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error):
        raise UsageError(f"{path} is corrupt or truncated (not a whole gzip file)") from None
    if len(out) > max_bytes:
        raise UsageError(f"{path} unpacks to more than {max_bytes:,} bytes; raise --max_bytes "
                         "if this is really the data")
    return out


def read_idx(path, max_bytes=DEFAULT_MAX_BYTES):
    """An IDX file (optionally gzipped) as a uint8 array; UsageError if it is not whole."""
    data = read_bytes(path, "IDX file", max_bytes)
    if path.endswith(".gz"):
        data = _gunzip(data, path, max_bytes)
    magic = int.from_bytes(data[:4], "big")
    if len(data) < 4 or magic not in IDX_MAGIC:
        raise UsageError(f"{path} is not an IDX image or label file (magic number {magic})")
    dims = IDX_MAGIC[magic]
    offset = 4 + 4 * dims
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    if len(data) < offset or len(data) - offset != math.prod(shape):
        raise UsageError(f"{path} is truncated or corrupt: its header promises "
                         f"{'x'.join(map(str, shape))} bytes of data, it holds "
                         f"{max(len(data) - offset, 0):,}")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)


def read_npz(path, max_bytes=DEFAULT_MAX_BYTES):
    """The MNIST arrays of an .npz ({} without x_train); UsageError if it is corrupt.

    No pickles (np.load's default), and every array's unpacked size is
    checked against `max_bytes` before it is read.
    """
    check_regular_file(path, ".npz file")
    corrupt = UsageError(f"{path} is corrupt or truncated (not a readable .npz of arrays)")
    try:
        npz = np.load(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        raise corrupt from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise corrupt
    with npz:
        if "x_train" not in npz.files:
            return {}
        arrays = {}
        for key in (k for k in NPZ_KEYS if k in npz.files):
            if npz.zip.getinfo(f"{key}.npy").file_size > max_bytes:
                raise UsageError(f"{path}: {key} unpacks to more than {max_bytes:,} bytes; "
                                 "raise --max_bytes if this is really the data")
            try:
                arrays[key] = npz[key]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
                raise corrupt from None
    return arrays


def _find_idx(data_dir, split, what):
    for name in (f"{split}-{what}", f"{split}-{what}.gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    return None


def _check_images(arrays, data_dir):
    """UsageError unless images are uint8 (N, H, W[, 1]) with one integer label per image."""
    for split in ("train", "test"):
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is None:
            continue
        if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] != 1):
            raise UsageError(f"{data_dir}: x_{split} is {x.dtype} {x.shape}, not uint8 "
                             "grayscale images (N, height, width)")
        if y is not None and (y.ndim != 1 or len(y) != len(x) or y.dtype.kind not in "iu"):
            raise UsageError(f"{data_dir}: y_{split} is not one integer label per image")


def load_local(data_dir, max_bytes=DEFAULT_MAX_BYTES):
    """(x_train, y_train, x_test, y_test) from IDX files and/or an .npz in data_dir."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} not found (or not a folder)")
    arrays = {}
    for npz_path in sorted(glob.glob(os.path.join(data_dir, "*.npz"))):
        arrays = read_npz(npz_path, max_bytes)
        if arrays:
            break
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for key, what in ((f"x_{split}", "images-idx3-ubyte"), (f"y_{split}", "labels-idx1-ubyte")):
            path = _find_idx(data_dir, prefix, what)
            if path:
                arrays[key] = read_idx(path, max_bytes)
    if "x_train" not in arrays:
        raise UsageError(f"{data_dir} has neither train-images-idx3-ubyte[.gz] nor an .npz "
                         "with x_train; point --data_dir at the MNIST/Fashion-MNIST files")
    _check_images(arrays, data_dir)
    return tuple(arrays.get(key) for key in NPZ_KEYS)


def load_dataset(name, data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """(x_train, y_train, x_test, y_test) uint8 (N, 28, 28, 1) images and labels."""
    if name not in DATASETS:
        raise UsageError(f"unknown --dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir:
        x_train, y_train, x_test, y_test = load_local(data_dir, max_bytes)
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
