"""PNG plots of training curves (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_history(history, path, keys, ylabel, title=None, log_y=False):
    """Plots history[key] per epoch for each key present, saved as a PNG.

    Args:
      history: list of per-epoch dicts (as in state.json), with "epoch".
      keys: metric names, e.g. ["loss", "val_loss"].
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
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
    fig.savefig(path)
    plt.close(fig)
