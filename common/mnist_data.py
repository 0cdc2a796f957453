"""MNIST and Fashion-MNIST as uint8 arrays: Keras's download, IDX files or an .npz.

    load_dataset("mnist")                        keras.datasets.mnist (downloads once)
    load_dataset("mnist", "data/mnist")          a folder of IDX files and/or an .npz
    load_dataset("fashion_mnist", folder)

`--data_dir` is a folder with the official IDX files
(`train-images-idx3-ubyte[.gz]`, ...) or an `.npz` with `x_train`/`y_train`
(and optionally `x_test`/`y_test`) like Keras's `mnist.npz`. Where a folder
has both, the IDX files win, file by file (the shared MNIST copy has official
IDX test files beside a rebuilt npz). Every file is untrusted: gzip bombs,
truncated IDX files and pickled .npz arrays are refused with a UsageError.

Used by `week1_basics` (the classifiers) and `gan` (DCGAN, VAE) alike; only
NumPy is needed (Keras is imported for the download alone).
"""

import gzip
import io
import math
import os
import zipfile
import zlib

import numpy as np

from common.argtypes import input_path
from common.cli import UsageError, add_input_limit_flag, add_scan_limit_flag
from common.files import DEFAULT_MAX_BYTES, check_regular_file, read_bytes
from common.folders import DEFAULT_MAX_FILES, FolderScan

DATASETS = ("mnist", "fashion_mnist")
IDX_MAGIC = {2049: 1, 2051: 3}  # labels: 1 dimension, images: 3 dimensions
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
# What each label 0..9 means, per data set.
CLASS_NAMES = {
    "mnist": [str(digit) for digit in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"],
}


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


def load_local(data_dir, max_bytes=DEFAULT_MAX_BYTES, max_files=DEFAULT_MAX_FILES):
    """(x_train, y_train, x_test, y_test) from IDX files and/or an .npz in data_dir.

    The .npz files are found by a bounded listing of data_dir (common.folders).
    """
    listing = FolderScan(data_dir, max_files, "--data_dir").entries(data_dir)
    arrays = {}
    for npz_path in [entry.path for entry in listing
                     if entry.name.endswith(".npz") and not entry.name.startswith(".")]:
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


def load_dataset(name, data_dir=None, max_bytes=DEFAULT_MAX_BYTES, max_files=DEFAULT_MAX_FILES):
    """(x_train, y_train, x_test, y_test) uint8 (N, 28, 28, 1) images and labels."""
    if name not in DATASETS:
        raise UsageError(f"unknown --dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir:
        x_train, y_train, x_test, y_test = load_local(data_dir, max_bytes, max_files)
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


def add_data_flags(parser, dataset_default="mnist", dataset_help="which data set"):
    """--dataset, --data_dir, --max_bytes and --max_files, the same for every command on
    these data sets.

    dataset_default=None is for reading verbs: the run's own data set.
    """
    parser.add_argument("--dataset", choices=DATASETS, default=dataset_default,
                        help=dataset_help if dataset_default else
                        "the data set (default: the one the run was trained on)")
    parser.add_argument("--data_dir", type=input_path,
                        help="folder with the official IDX files (.gz or not) or an .npz with "
                             "x_train, y_train (x_test, y_test); default: Keras's download")
    add_input_limit_flag(parser)
    add_scan_limit_flag(parser)

