"""MNIST for the classifiers: labelled uint8 arrays, the validation split, tf.data batches.

The files are read by common.mnist_data (Keras's download, or --data_dir with
IDX files or an .npz); this module checks that they hold what a classifier
needs (28x28 images, labels 0..9), holds out the validation images that
choose best.keras from the training images only, and batches them. Query
images for `predict` (any size, colour or gray) are decoded here too.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from common import holdout
from common import images as common_images
from common.batching import shuffled_batches
from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES
from common.folders import DEFAULT_MAX_FILES
from common.mnist_data import CLASS_NAMES, DATASETS, load_dataset
from common.runs import RunDir
from week1_basics.mnist_models import IMAGE_SIZE, NUM_CLASSES


@dataclasses.dataclass
class Mnist:
    x_train: np.ndarray          # uint8 (60000, 28, 28, 1)
    y_train: np.ndarray          # int64 (60000,)
    x_test: np.ndarray           # uint8 (10000, 28, 28, 1), or None when the files lack it
    y_test: np.ndarray
    class_names: list
    dataset: str                 # mnist or fashion_mnist
    source: str                  # the --data_dir, or "keras:<dataset>"


def load_mnist(dataset="mnist", data_dir=None, max_bytes=DEFAULT_MAX_BYTES,
               max_files=DEFAULT_MAX_FILES):
    """The labelled data set; UsageError if it is not 28x28 images with labels 0..9."""
    x_train, y_train, x_test, y_test = load_dataset(dataset, data_dir, max_bytes, max_files)
    where = data_dir or f"the {dataset} download"
    if y_train is None:
        raise UsageError(f"{where} has training images but no training labels "
                         "(train-labels-idx1-ubyte[.gz] or y_train in the .npz)")
    if x_test is not None and y_test is None:
        raise UsageError(f"{where} has test images but no test labels "
                         "(t10k-labels-idx1-ubyte[.gz] or y_test in the .npz)")
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x is None:
            continue
        if x.shape[1:3] != (IMAGE_SIZE, IMAGE_SIZE):
            raise UsageError(f"{where}: the {split} images are {x.shape[1]}x{x.shape[2]}, "
                             f"not {IMAGE_SIZE}x{IMAGE_SIZE}")
        if len(y) != len(x):
            raise UsageError(f"{where}: {len(x):,} {split} images but {len(y):,} labels")
        if len(y) and (y.min() < 0 or y.max() >= NUM_CLASSES):
            raise UsageError(f"{where}: {split} labels outside 0..{NUM_CLASSES - 1}")
    as_labels = (lambda y: None if y is None else np.asarray(y, np.int64))
    return Mnist(x_train, as_labels(y_train), x_test, as_labels(y_test),
                 list(CLASS_NAMES[dataset]), dataset, data_dir or f"keras:{dataset}")


def data_for_run(args, run_dir, kind):
    """The evaluation data of a `kind` run: --dataset/--data_dir, else what and where the
    run trained on (its config.json's dataset and source folder)."""
    saved = RunDir(run_dir).read_config(kind)
    dataset = args.dataset or saved.get("dataset", "mnist")
    if dataset not in DATASETS:
        raise UsageError(f"{run_dir}'s config.json names the data set {dataset!r}; pass "
                         f"--dataset ({', '.join(DATASETS)})")
    data_dir = args.data_dir
    if data_dir is None:
        source = saved.get("source", "")
        if isinstance(source, str) and os.path.isdir(source):
            data_dir = source
    return load_mnist(dataset, data_dir, args.max_bytes, args.max_files)


split_validation = holdout.split_validation  # common/holdout.py, shared with CIFAR-10


def training_dataset(x, y, batch_size, seed, first_epoch, steps_per_epoch=None):
    """Endless batches (float32 images 0..255, int64 labels) from epoch first_epoch on.

    Epoch e is shuffled by (seed, e) alone (common.batching), so a resumed run
    sees the batches an uninterrupted one would; each epoch's ragged rest is dropped
    (steps_per_epoch: batches per epoch, default all whole ones).
    """
    return shuffled_batches((x, y), batch_size, seed, first_epoch, steps_per_epoch,
                            transform=lambda batch: (tf.cast(batch[0], tf.float32), batch[1]))


def evaluation_dataset(x, y, batch_size=1000):
    return (tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
            .map(lambda batch, label: (tf.cast(batch, tf.float32), label)))


def predict_probabilities(model, images, batch_size=1000):
    """Softmax probabilities [N, 10] of uint8 images [N, 28, 28, 1]."""
    logits = model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    return tf.nn.softmax(logits).numpy()


def load_query_images(paths, invert="auto", max_bytes=DEFAULT_MAX_BYTES):
    """(uint8 [n, 28, 28, 1], kept indices) of image files of any size and colour.

    MNIST digits are light on a dark background; a photo or scan of a digit
    is usually dark on light. invert: "auto" inverts an image whose border is
    mostly light, "yes" every image, "no" none. A missing file, a folder or a
    file over `max_bytes` is an error before anything is decoded; files that
    do not decode are skipped (and it is an error when none does).
    """
    images, kept = common_images.load_query_images(paths, IMAGE_SIZE, 1, max_bytes)
    for i, image in enumerate(images):
        border = np.concatenate([image[:2].ravel(), image[-2:].ravel(),
                                 image[:, :2].ravel(), image[:, -2:].ravel()])
        if invert == "yes" or (invert == "auto" and border.mean() > 127):
            images[i] = 255 - image
    return images, kept
