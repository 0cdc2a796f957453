"""The attention of a VQA answer drawn over its image: what `vqa predict --out` writes."""

import numpy as np
from matplotlib.figure import Figure

from common.plots import save_figure


def plot_attention(image, attention, question, answer, probability, path):
    """One marked PNG: the image, and beside it the image under the attention (h, w),
    each grid cell's weight stretched over the pixels it covers."""
    image = np.asarray(image, np.uint8)                                 # (S, S, 3)
    attention = np.asarray(attention, np.float32)                       # (h, w)
    side = image.shape[0]
    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    axes = figure.subplots(1, 2)
    left, right = axes
    left.imshow(image)
    left.set_title("image", fontsize=9)
    right.imshow(image)
    # Each cell covers side / h pixels ('same'-padded pooling: the last may cover fewer).
    h, w = attention.shape
    right.imshow(attention, cmap="magma", alpha=0.6, interpolation="nearest",
                 extent=(-0.5, w * np.ceil(side / w) - 0.5, h * np.ceil(side / h) - 0.5, -0.5))
    right.set_xlim(-0.5, side - 0.5)
    right.set_ylim(side - 0.5, -0.5)
    right.set_title(f"attention (peak {attention.max():.2f})", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(f"{question}  ->  {answer} ({probability:.2f})", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path, mark=True)
