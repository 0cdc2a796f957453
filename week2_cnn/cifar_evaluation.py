"""Scoring a classifier: accuracy, per-class accuracy, confusion matrix, and its servable.

Shared by week2_cnn.cifar10 and week2_cnn.transfer.
"""


import numpy as np

from common.lifecycle import write_results
from common.plots import new_figure, save_figure


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
