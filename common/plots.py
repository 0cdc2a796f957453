"""PNG plots of training curves.

Figures are made with `matplotlib.figure.Figure` directly rather than pyplot,
so no display and no backend choice are needed (and nothing has to run at
import time to pick one).
"""

import io

from matplotlib.figure import Figure

from common.outputs import SOFTWARE, write_bytes


def new_figure(width, height, dpi=100):
    """(figure, axes) of one plot, without pyplot."""
    figure = Figure(figsize=(width, height), dpi=dpi)
    return figure, figure.subplots()


def save_figure(figure, path, mark=False):
    """Saves a PNG atomically (common.outputs.write_bytes).

    mark: whether it carries the project's mark, so that a later `--out` may
    replace it (the plots a verb writes at `--out`; a run's own plots are
    not marked, so no `--out` ever replaces them).
    """
    buffer = io.BytesIO()
    metadata = {"Software": SOFTWARE} if mark else None  # None: matplotlib's own
    figure.savefig(buffer, format="png", metadata=metadata)
    write_bytes(path, buffer.getvalue())


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
