"""PNG plots of training curves.

Figures are made with `matplotlib.figure.Figure` directly rather than pyplot,
so no display and no backend choice are needed (and nothing has to run at
import time to pick one).
"""

import io
import os

from matplotlib.figure import Figure
from PIL import Image

from common.cli import UsageError
from common.files import atomic_write_bytes, check_regular_file, staging_path
from common.runs import check_outside_run

# The PNG text chunk that marks a file as written by this project: `--out`
# replaces an existing file only when it is a PNG with this mark.
SOFTWARE = "tfcourse"


def new_figure(width, height, dpi=100):
    """(figure, axes) of one plot, without pyplot."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    return figure, figure.subplots()


def save_figure(figure, path):
    """Saves a PNG atomically (staging file, then rename)."""
    tmp = staging_path(path)
    try:
        figure.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_marked_figure(figure, path):
    """Saves a PNG atomically with the project's mark, so a later `--out` may replace it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": SOFTWARE})
    atomic_write_bytes(path, buffer.getvalue())


def is_own_png(path):
    """Whether `path` is a PNG this project wrote (it carries the Software mark)."""
    try:
        with Image.open(path) as image:  # reads the header and early chunks only
            return image.format == "PNG" and image.info.get("Software") == SOFTWARE
    except Exception:  # not an image, truncated, a decompression bomb: not ours
        return False


def check_out_file(path, run_dir=None):
    """UsageError unless `--out` may be written: new, or a PNG this project wrote.

    Never inside (or over) the run directory: reading verbs write nothing there.
    """
    if not path or not str(path).strip():
        raise UsageError("--out is empty; name the PNG file to write")
    if run_dir:
        check_outside_run(path, run_dir, "--out")
    if os.path.lexists(path):
        check_regular_file(path, "--out file")
        if not is_own_png(path):
            raise UsageError(f"--out {path} exists and is not a PNG written by this project; "
                             "refusing to replace it (choose another --out or move it)")


def plot_history(history, path, keys, ylabel, title=None, log_y=False):
    """Plots history[key] per epoch for each key present, saved as a PNG.

    Args:
      history: list of per-epoch dicts (as in state.json), with "epoch".
      keys: metric names, e.g. ["loss", "val_loss"].
    """
    fig, ax = new_figure(6.4, 4.0)
    epochs = [row["epoch"] for row in history]
    for key in keys:
        values = [row.get(key) for row in history]
        if any(v is not None for v in values):
            ax.plot(epochs, values, marker="o", markersize=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
