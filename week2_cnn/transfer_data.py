"""Transfer-learning data: a stable split by file name, and the bottleneck cache.

The split follows TensorFlow's original `retrain.py`: a file goes to training,
validation or test by a SHA-1 hash of its name, so adding photos later never
moves existing ones between sets; everything after `_nohash_` in a name is
ignored, so `bob_nohash_1.jpg` and `bob_nohash_2.jpg` (the same subject) always
land in the same set.

Images are decoded and resized by TensorFlow, with `decode_image` and
`resize_images` below, in training and in the exported servable alike: the
same code gives the same pixels (Pillow's decoder and its antialiased resize
differed from TensorFlow's by up to 4.9 grey levels on a 500 x 375 JPEG). The
resize is plain bilinear without antialiasing, the op LiteRT and TF.js have;
photos much larger than the base's input alias a little, as in retrain.py.

Bottlenecks (the base network's pooled features of each image) are cached as
one .npy per image under --bottleneck_dir/<base key>-tf/, named by a hash of
the image's bytes; any later run with the same base reuses them. ("-tf": the
features of the TensorFlow-resized pixels; caches of the earlier Pillow resize
are not mixed in.)
"""

import contextlib
import functools
import hashlib
import io
import os
import re
import stat
import sys

import numpy as np

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, read_bytes
from common.folders import DEFAULT_MAX_FILES
from common.images import find_labelled_images

MAX_IMAGES_PER_CLASS = 2 ** 27 - 1  # retrain.py's constant; keeps old splits unchanged
DEFAULT_BOTTLENECK_DIR = os.path.join(os.path.expanduser("~"), ".cache", "tfcourse",
                                      "bottlenecks")
SPLITS = ("train", "validation", "test")


def split_of(path, validation_percentage, test_percentage):
    """'train', 'validation' or 'test' for one file, stable across runs and machines."""
    name = re.sub(r"_nohash_.*$", "", os.path.basename(path))
    digest = int(hashlib.sha1(name.encode("utf-8")).hexdigest(), 16)
    percentage = (digest % (MAX_IMAGES_PER_CLASS + 1)) * (100.0 / MAX_IMAGES_PER_CLASS)
    if percentage < validation_percentage:
        return "validation"
    if percentage < validation_percentage + test_percentage:
        return "test"
    return "train"


def find_split_images(image_dir, validation_percentage, test_percentage,
                      max_files=DEFAULT_MAX_FILES):
    """{split: (paths, labels)} and class names, from one sub-folder per label; the scan
    stops with an error past `max_files` files and folders (common.folders)."""
    paths, labels, class_names = find_labelled_images(image_dir, max_files)
    if len(class_names) < 2:
        raise UsageError(f"{image_dir} has a single class ({class_names[0]}); transfer "
                         "learning needs at least two sub-folders of images, one per label")
    splits = {name: ([], []) for name in SPLITS}
    for path, label in zip(paths, labels):
        split = splits[split_of(path, validation_percentage, test_percentage)]
        split[0].append(path)
        split[1].append(int(label))
    if not splits["train"][0]:
        raise UsageError(f"{image_dir}: no image fell into the training set; lower "
                         "--validation_percentage / --test_percentage or add images")
    return {k: (p, np.array(y, dtype=np.int64)) for k, (p, y) in splits.items()}, class_names


def resize_images(images, size):
    """uint8 or float [..., h, w, 3] -> float32 [..., size, size, 3], whole grey levels 0..255.

    The one resize of training and serving: bilinear with half-pixel centres,
    no antialiasing (LiteRT's RESIZE_BILINEAR), rounded so that the uint8
    pixels training keeps and the float pixels a servable feeds are equal.
    """
    import tensorflow as tf

    x = tf.image.resize(tf.cast(images, tf.float32), [size, size], method="bilinear",
                        antialias=False)
    return tf.clip_by_value(tf.round(x), 0.0, 255.0)


def decode_image(data, size):
    """Encoded JPEG/PNG/GIF/BMP bytes (a string scalar) -> float32 [size, size, 3].

    Gray and RGBA are converted to RGB, an animation gives its first frame.
    """
    import tensorflow as tf

    image = tf.io.decode_image(data, channels=3, expand_animations=False)  # uint8 (h, w, 3)
    return resize_images(image, size)


@functools.lru_cache(maxsize=4)
def _decoder(size):
    import tensorflow as tf

    return tf.function(lambda data: tf.cast(decode_image(data, size), tf.uint8),
                       input_signature=[tf.TensorSpec([], tf.string)])


@contextlib.contextmanager
def _quiet_c_stderr():
    """libjpeg prints a line to file descriptor 2 for every broken JPEG; keep it quiet."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _header_ok(data):
    """Whether Pillow recognises the image and its size is below its decompression-bomb limit."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Exception:  # Pillow raises many kinds for files that are not images
        return False
    return 0 < width * height <= (Image.MAX_IMAGE_PIXELS or 2 ** 31)


def load_images(paths, size, max_bytes=DEFAULT_MAX_BYTES, progress=False):
    """(uint8 [n, size, size, 3], kept indices into `paths`, skipped paths).

    Files that are not regular files, are larger than `max_bytes`, are not
    images or do not decode are skipped (the caller counts them).
    """
    import tensorflow as tf

    decode = _decoder(size)
    images = np.empty((len(paths), size, size, 3), np.uint8)
    kept, skipped = [], []
    if progress and paths:
        print(f"decoding {len(paths):,} images", flush=True)
    with _quiet_c_stderr():
        for index, path in enumerate(paths):
            try:
                data = read_bytes(path, "image file", max_bytes)
                if not _header_ok(data):
                    raise ValueError(path)
                images[len(kept)] = decode(tf.constant(data)).numpy()
                kept.append(index)
            except (UsageError, ValueError, tf.errors.OpError):
                skipped.append(path)
    return images[:len(kept)], np.array(kept, np.int64), skipped


def file_digest(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class BottleneckCache:
    """Features of images under one base model, cached by image content.

    `compute(images uint8 [n, size, size, 3]) -> float32 [n, num_features]` runs
    the base. Counts of computed and cached bottlenecks are kept for the log.
    """

    def __init__(self, root, base_key, image_size, compute, num_features,
                 max_bytes=DEFAULT_MAX_BYTES):
        self.folder = os.path.join(root, f"{base_key}-tf") if root else None
        self.max_bytes, self.num_features = max_bytes, num_features
        self.image_size = image_size
        self.compute = compute
        self.computed = self.cached = self.skipped = 0

    def features(self, paths, labels, batch_size=64):
        """(float32 [n, features], labels [n]) for the readable files among `paths`."""
        rows, kept_labels = [], []
        missing = []  # (position in rows, path) still to compute
        for path, label in zip(paths, labels):
            cached = self._load(path)
            if cached is None:
                missing.append((len(rows), path))
            else:
                self.cached += 1
            rows.append(cached)
            kept_labels.append(label)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start:start + batch_size]
            images, kept, _ = load_images([p for _, p in chunk], self.image_size,
                                          self.max_bytes)
            values = self.compute(images) if len(images) else []
            for (row, path), value in zip([chunk[k] for k in kept], values):
                rows[row] = value
                self._save(path, value)
            self.computed += len(kept)
            self.skipped += len(chunk) - len(kept)
            if len(missing) > batch_size:
                done = min(start + batch_size, len(missing))
                print(f"\r  bottlenecks computed {done:,}/{len(missing):,}", end="", flush=True)
        if len(missing) > batch_size:
            print()
        keep = [i for i, row in enumerate(rows) if row is not None]
        if not keep:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        return (np.stack([rows[i] for i in keep]).astype(np.float32),
                np.array([kept_labels[i] for i in keep], dtype=np.int64))

    def summary(self):
        text = f"bottlenecks: {self.computed:,} computed, {self.cached:,} from the cache"
        if self.folder:
            text += f" ({self.folder})"
        if self.skipped:
            text += f"; {self.skipped:,} unreadable image files skipped"
        return text

    def _path(self, image_path):
        return os.path.join(self.folder, file_digest(image_path) + ".npy")

    def _load(self, image_path):
        """The cached features, or None (not cached, damaged, or a file load_images skips)."""
        if not self.folder:
            return None
        try:
            info = os.stat(image_path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_bytes:
                return None  # never opened (a FIFO would block); load_images skips it
            path = self._path(image_path)
            value = np.load(path) if os.path.exists(path) else None
        except (OSError, ValueError):
            return None  # a damaged cache entry is recomputed
        if value is None or value.shape != (self.num_features,):
            return None
        return value

    def _save(self, image_path, value):
        if not self.folder:
            return
        os.makedirs(self.folder, exist_ok=True)
        path = self._path(image_path)
        tmp = f"{path}.tmp-{os.getpid()}.npy"
        np.save(tmp, np.asarray(value, np.float32))
        os.replace(tmp, path)
