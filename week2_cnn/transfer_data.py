"""Transfer-learning data: a stable split by file name, and the bottleneck cache.

The split follows TensorFlow's original `retrain.py`: a file goes to training,
validation or test by a SHA-1 hash of its name, so adding photos later never
moves existing ones between sets; everything after `_nohash_` in a name is
ignored, so `bob_nohash_1.jpg` and `bob_nohash_2.jpg` (the same subject) always
land in the same set.

Bottlenecks (the base network's pooled features of each image) are cached as
one .npy per image under --bottleneck_dir/<base key>/, named by a hash of the
image's bytes; any later run with the same base reuses them.
"""

import hashlib
import os
import re

import numpy as np

from common.cli import UsageError
from common.images import find_labelled_images, load_images

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


def find_split_images(image_dir, validation_percentage, test_percentage):
    """{split: (paths, labels)} and class names, from one sub-folder per label."""
    paths, labels, class_names = find_labelled_images(image_dir)
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


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


class BottleneckCache:
    """Features of images under one base model, cached by image content.

    `compute(images uint8 [n, size, size, 3]) -> float32 [n, features]` runs the
    base. Counts of computed and cached bottlenecks are kept for the log.
    """

    def __init__(self, root, base_key, image_size, compute):
        self.folder = os.path.join(root, base_key) if root else None
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
            images, kept, _ = load_images([p for _, p in chunk], self.image_size, 3,
                                          progress=False)
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
        if not self.folder:
            return None
        path = self._path(image_path)
        try:
            return np.load(path) if os.path.exists(path) else None
        except (OSError, ValueError):
            return None  # a damaged cache entry is recomputed

    def _save(self, image_path, value):
        if not self.folder:
            return
        os.makedirs(self.folder, exist_ok=True)
        path = self._path(image_path)
        tmp = f"{path}.tmp-{os.getpid()}.npy"
        np.save(tmp, np.asarray(value, np.float32))
        os.replace(tmp, path)
