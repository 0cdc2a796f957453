"""CIFAR-10 as uint8 arrays, from tensorflow-datasets or one of three local layouts.

    load_cifar10()                          tfds "cifar10" (downloads once)
    load_cifar10("cifar-10-batches-py")     the official Python pickles
    load_cifar10("cifar-10-batches-bin")    the official binary files
    load_cifar10("cifar10_jpg")             an image folder: train/<class>/*, test/<class>/*

Every loader returns a `Cifar` with x_* uint8 [N, 32, 32, 3], y_* int64 [N] and
the class names. Decoding 60,000 JPEGs takes about a minute, so the decoded
arrays of an image folder are cached (an .npz keyed by the folder's path and
file list, under --cache_dir) and reused by later runs; a corrupt cache is
decoded again. The pickles are read with an allow-list (week2_cnn.cifar_pickle),
never with plain `pickle.load`. `split_validation` holds out the validation
images that choose best.keras, from the training images only.
"""

import dataclasses
import hashlib
import io
import os
import zipfile

import numpy as np

from common import holdout
from common.cli import UsageError
from common.files import read_bytes, staging_path
from common.folders import DEFAULT_MAX_FILES, check_scannable
from common.images import find_labelled_images, load_images
from week2_cnn.cifar_pickle import read_pickle_file

IMAGE_SIZE = 32
NUM_CLASSES = 10
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "tfcourse")
LAYOUTS = ("cifar-10-batches-py (data_batch_1..5, test_batch pickles), "
           "cifar-10-batches-bin (data_batch_1..5.bin, test_batch.bin), "
           "or an image folder with train/<class>/* and test/<class>/*")


@dataclasses.dataclass
class Cifar:
    x_train: np.ndarray  # uint8 (50000, 32, 32, 3)
    y_train: np.ndarray  # int64 (50000,)
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    source: str


def load_cifar10(data_dir=None, cache_dir=DEFAULT_CACHE_DIR, max_files=DEFAULT_MAX_FILES):
    """The data set from tfds (data_dir None) or from a local folder in any known layout.

    An image folder's scan stops with an error past `max_files` files and folders
    in train/ (and again in test/); a system folder is refused (common.folders).
    """
    if data_dir is None:
        return load_tfds()
    check_scannable(data_dir, "--data_dir")
    # The folder itself, or the folder an official archive unpacks into.
    for folder in (data_dir, *(os.path.join(data_dir, name) for name in
                               ("cifar-10-batches-py", "cifar-10-batches-bin", "cifar10_jpg"))):
        if os.path.exists(os.path.join(folder, "data_batch_1")):
            return load_python_batches(folder)
        if os.path.exists(os.path.join(folder, "data_batch_1.bin")):
            return load_binary_batches(folder)
        if all(os.path.isdir(os.path.join(folder, split)) for split in ("train", "test")):
            return load_image_folder(folder, cache_dir, max_files)
    raise UsageError(f"--data_dir {data_dir} matches no known CIFAR-10 layout; expected "
                     f"{LAYOUTS}")


def tfds_modules():
    """The modules the default (tfds) path imports; ImportError names a missing package."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.image_classification import cifar

    return tfds, cifar


def load_tfds(data_dir=None):
    try:
        tfds, _ = tfds_modules()
        splits, info = tfds.load("cifar10", split=["train", "test"], as_supervised=True,
                                 with_info=True, data_dir=data_dir)
    except ModuleNotFoundError as error:  # tfds imports some of its modules lazily
        raise UsageError(f"the default data path (tensorflow-datasets) needs the Python "
                         f"package {error.name!r}, which is not installed; run pip install "
                         "-r requirements.txt, or pass --data_dir") from None
    except OSError as error:  # offline, or the download was cut off
        raise UsageError(f"could not download CIFAR-10 through tensorflow-datasets "
                         f"({' '.join(str(error).split())[:160]}); check the connection, or "
                         "pass --data_dir with a local copy") from None
    arrays = []
    for split in splits:
        # Batches of 10,000 rather than batch_size=-1, which needs the split size
        # up front (and crashes under tfds.testing.mock_data).
        batches = list(tfds.as_numpy(split.batch(10000)))
        arrays += [np.concatenate([b[0] for b in batches]),
                   np.concatenate([b[1] for b in batches]).astype(np.int64)]
    return Cifar(*arrays, list(info.features["label"].names), "tfds:cifar10")


def _check_images(x, y, path):
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3) or len(x) != len(y):
        raise UsageError(f"{path}: expected 32x32x3 images with one label each, "
                         f"got images {x.shape} and {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise UsageError(f"{path}: labels outside 0..{NUM_CLASSES - 1}")
    return x, y.astype(np.int64)


def _planar_to_images(rows):
    """(N, 3072) rows stored as 1024 red, 1024 green, 1024 blue -> (N, 32, 32, 3)."""
    return rows.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1).copy()


def _read_pickle(path):
    batch = read_pickle_file(path, "CIFAR-10 Python batch")
    try:
        rows = np.asarray(batch[b"data"])
        labels = np.asarray(batch[b"labels"])
        if rows.dtype.kind not in "ui" or labels.dtype.kind not in "ui":
            raise ValueError("data and labels must be whole numbers")
        if rows.ndim != 2 or rows.shape[1] != 3 * IMAGE_SIZE * IMAGE_SIZE:
            raise ValueError(f"data has shape {rows.shape}, not (N, 3072)")
        if rows.size and (rows.min() < 0 or rows.max() > 255):
            raise ValueError("pixel values outside 0..255")
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise UsageError(f"{path} is not a readable CIFAR-10 Python batch ({error})") from None
    return _check_images(_planar_to_images(rows.astype(np.uint8)), labels, path)


def _read_label_names(path):
    """The class names in batches.meta: a dict whose b"label_names" lists NUM_CLASSES names."""
    meta = read_pickle_file(path, "CIFAR-10 batches.meta")
    names = meta.get(b"label_names", meta.get("label_names")) if isinstance(meta, dict) else None
    if (not isinstance(names, list) or len(names) != NUM_CLASSES
            or not all(isinstance(n, (bytes, str)) and n for n in names)):
        raise UsageError(f"{path} is not a readable CIFAR-10 batches.meta (expected "
                         f"label_names: a list of {NUM_CLASSES} class names)")
    try:
        names = [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError:
        raise UsageError(f"{path}: class names are not UTF-8 text") from None
    if len(set(names)) != NUM_CLASSES:
        raise UsageError(f"{path}: the class names are not distinct")
    return names


def _read_binary(path):
    record = 1 + 3 * IMAGE_SIZE * IMAGE_SIZE  # one label byte, then the planar image
    if not os.path.exists(path):
        raise UsageError(f"{path} is missing; the binary layout needs data_batch_1..5.bin "
                         "and test_batch.bin")
    raw = np.frombuffer(read_bytes(path, "CIFAR-10 binary batch"), dtype=np.uint8)
    if raw.size == 0 or raw.size % record:
        raise UsageError(f"{path} is not a CIFAR-10 binary batch (its size, {raw.size} bytes, "
                         f"is not a multiple of {record})")
    raw = raw.reshape(-1, record)
    return _check_images(_planar_to_images(raw[:, 1:]), raw[:, 0], path)


def _batch_files(folder, suffix=""):
    names = [f"data_batch_{i}{suffix}" for i in range(1, 6)]
    present = [n for n in names if os.path.exists(os.path.join(folder, n))]
    # Tests and small experiments may ship fewer than five training batches.
    return [os.path.join(folder, n) for n in present], os.path.join(folder, f"test_batch{suffix}")


def _concat(parts):
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_python_batches(folder):
    train_files, test_file = _batch_files(folder)
    if not os.path.exists(test_file):
        raise UsageError(f"{test_file} is missing; the Python layout needs data_batch_1..5 "
                         "and test_batch")
    x_train, y_train = _concat([_read_pickle(p) for p in train_files])
    x_test, y_test = _read_pickle(test_file)
    names = list(CLASS_NAMES)
    meta = os.path.join(folder, "batches.meta")
    if os.path.exists(meta):
        names = _read_label_names(meta)
    return Cifar(x_train, y_train, x_test, y_test, names, folder)


def load_binary_batches(folder):
    train_files, test_file = _batch_files(folder, ".bin")
    x_train, y_train = _concat([_read_binary(p) for p in train_files])
    x_test, y_test = _read_binary(test_file)
    names = list(CLASS_NAMES)
    meta = os.path.join(folder, "batches.meta.txt")
    if os.path.exists(meta):
        try:
            text = read_bytes(meta, "batches.meta.txt").decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{meta} is not UTF-8 text") from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
        if len(names) != NUM_CLASSES or len(set(names)) != NUM_CLASSES:
            raise UsageError(f"{meta} does not list {NUM_CLASSES} distinct class names")
    return Cifar(x_train, y_train, x_test, y_test, names, folder)


def _listing_key(folder, paths):
    """A hash of the folder's path and every file's name, size and time: the cache key."""
    digest = hashlib.sha256(os.path.abspath(folder).encode())
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def load_image_folder(folder, cache_dir=DEFAULT_CACHE_DIR, max_files=DEFAULT_MAX_FILES):
    """train/<class>/* and test/<class>/*, decoded once and cached as .npz."""
    train_paths, y_train, train_names = find_labelled_images(os.path.join(folder, "train"),
                                                             max_files)
    test_paths, y_test, test_names = find_labelled_images(os.path.join(folder, "test"),
                                                          max_files)
    if train_names != test_names:
        raise UsageError(f"{folder}: train/ and test/ have different class folders "
                         f"({train_names} vs {test_names})")
    if len(train_names) < 2:
        raise UsageError(f"{folder}: found a single class ({train_names[0]}); "
                         "a classifier needs at least two class folders")
    key = _listing_key(folder, train_paths + test_paths)
    cache_path = os.path.join(cache_dir, "cifar10", f"images-{key}.npz") if cache_dir else None
    arrays = _read_cache(cache_path, len(train_names), len(train_paths), len(test_paths))
    if arrays is not None:
        return Cifar(*arrays, train_names, folder)
    arrays = []
    for paths, labels in ((train_paths, y_train), (test_paths, y_test)):
        images, kept, _ = load_images(paths, IMAGE_SIZE, 3)
        arrays += [images, labels[kept]]
    if not len(arrays[0]) or not len(arrays[2]):
        raise UsageError(f"{folder}: no readable images in train/ or test/")
    if cache_path:
        _write_cache(cache_path, arrays)
    return Cifar(*arrays, train_names, folder)


CACHE_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_cache(cache_path, num_classes, max_train, max_test):
    """The cached arrays, or None (with a note) when the cache is missing or corrupt."""
    if not cache_path or not os.path.lexists(cache_path):
        return None
    try:
        with np.load(io.BytesIO(read_bytes(cache_path, "image cache"))) as cached:
            arrays = [cached[k] for k in CACHE_KEYS]
        for x, y, most in ((arrays[0], arrays[1], max_train), (arrays[2], arrays[3], max_test)):
            if (x.dtype != np.uint8 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3)
                    or y.shape != (len(x),) or not 0 < len(x) <= most or y.dtype != np.int64
                    or y.min() < 0 or y.max() >= num_classes):
                raise ValueError("unexpected arrays")
    except (UsageError, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        print(f"note: the image cache {cache_path} is corrupt or truncated; decoding the "
              "images again to rebuild it")
        return None
    print(f"decoded images read from the cache {cache_path}")
    return arrays


def _write_cache(cache_path, arrays):
    """The decoded arrays as an .npz, atomically (a staging file, then a rename)."""
    os.makedirs(os.path.dirname(cache_path), exist_ok=True)
    tmp = staging_path(cache_path)
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **dict(zip(CACHE_KEYS, arrays)))
        os.replace(tmp, cache_path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    print(f"decoded images cached in {cache_path} (later runs skip decoding)")


split_validation = holdout.split_validation  # common/holdout.py, shared with MNIST