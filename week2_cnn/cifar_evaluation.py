"""Scoring a classifier: accuracy, per-class accuracy, confusion matrix, and its servable.

Shared by week2_cnn.cifar10 and week2_cnn.transfer.
"""

import os

import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, check_regular_file
from common.images import load_images
from common.lifecycle import write_results
from common.plots import new_figure, save_figure


def load_query_images(paths, size, max_bytes=DEFAULT_MAX_BYTES):
    """(uint8 [n, size, size, 3], kept indices) of the files to predict.

    A missing file, a folder, a FIFO or a device, or a file over `max_bytes`,
    is an error before any file is decoded; files that do not decode are skipped.
    """
    for path in paths:
        check_regular_file(path, "image file")
        if os.path.getsize(path) > max_bytes:
            raise UsageError(f"{path} is {os.path.getsize(path):,} bytes, more than the limit "
                             f"of {max_bytes:,}; raise it with --max_bytes if this is really "
                             "an image")
    images, kept, _ = load_images(paths, size, 3, progress=False)
    if not len(images):
        raise UsageError(f"none of the {len(paths)} files is a readable image")
    return images, kept


def top_classes(paths, kept, probabilities, class_names, top):
    """[(path, [(class name, probability), ... `top` best])] for each kept file."""
    return [(paths[i], [(class_names[k], float(row[k])) for k in np.argsort(row)[::-1][:top]])
            for i, row in zip(kept, probabilities)]


def accuracy_report(probabilities, labels, class_names):
    """{"test_accuracy", "per_class_accuracy": {name: acc}, "confusion_matrix": rows=true}."""
    predicted = np.argmax(probabilities, axis=1)
    num_classes = len(class_names)
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {"test_accuracy": float(np.mean(predicted == labels)),
            "test_images": int(len(labels)),
            "per_class_accuracy": {name: float(a) for name, a in zip(class_names, per_class)},
            "confusion_matrix": matrix.tolist()}


def format_report(report):
    lines = [f"test accuracy {report['test_accuracy']:.4f} on {report['test_images']:,} images"]
    lines += [f"  {name:12s} {accuracy:.3f}" for name, accuracy in
              report["per_class_accuracy"].items()]
    return "\n".join(lines)


def plot_confusion_matrix(matrix, class_names, path, title):
    """Rows: true class, columns: predicted class; counts written in every cell."""
    matrix = np.asarray(matrix)
    size = max(5.0, 0.6 * len(class_names) + 2)
    fig, ax = new_figure(size, size)
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        ax.text(column, row, str(count), ha="center", va="center", fontsize=7,
                color="white" if count > threshold else "black")
    fig.tight_layout()
    save_figure(fig, path)


def save_report(report, out_dir_file, title, extra=None):
    """results.json (with provenance) and confusion_matrix.png; `out_dir_file(name)` gives
    each path."""
    write_results(out_dir_file("results.json"), {**report, **(extra or {})})
    plot_confusion_matrix(report["confusion_matrix"], list(report["per_class_accuracy"]),
                          out_dir_file("confusion_matrix.png"), title)


class ClassifierServable(tf.Module):
    """Raw uint8 images [N, 32, 32, 3] -> class probabilities [N, classes].

    The model's first layer normalises, so serving only casts; with `tta` the
    mirror image's probabilities are averaged in, as in evaluation.
    """

    def __init__(self, model, class_names, tta):
        super().__init__()
        self.model = model
        self.tta = tta
        self.class_names = tf.constant(class_names)

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.uint8, name="images")])
    def serve(self, images):
        x = tf.cast(images, tf.float32)
        probabilities = tf.nn.softmax(self.model(x, training=False))
        if self.tta:
            mirrored = tf.nn.softmax(self.model(tf.reverse(x, axis=[2]), training=False))
            probabilities = (probabilities + mirrored) / 2
        return {"probabilities": probabilities}

    @tf.function(input_signature=[])
    def labels(self):
        # The signature's name is the one exports have had since the first
        # version; its output is `class_names`, as in the metadata signature.
        return {"class_names": self.class_names}

    def signatures(self):
        return {"serving_default": self.serve, "labels": self.labels}

    def probabilities_function(self):
        """serving_default as one concrete function (what the LiteRT converter takes)."""
        return self.serve.get_concrete_function()
