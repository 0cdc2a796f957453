"""Pictures of a 2-D latent space: the decoded manifold and a scatter of codes.

    manifold.png       decoded images for a grid of z over the prior's bulk
                       (Kingma & Welling, figure 4): z1 left to right, z2 bottom
                       to top, at the standard normal's quantiles 1/2n .. 1-1/2n
    latent_codes.png   the encoder's means mu of labelled images, one colour a class
"""

import statistics

import keras
import numpy as np

from common.plots import new_figure, save_figure
from gan.grids import make_grid, save_png


def manifold_points(side=20):
    """(side*side, 2) float32 latent points, row by row from the top-left corner.

    Quantiles of N(0, 1) rather than an even grid, so each cell covers the
    same prior mass and no point lies in the far tails.
    """
    quantiles = [statistics.NormalDist().inv_cdf((i + 0.5) / side) for i in range(side)]
    return np.array([[z1, z2] for z2 in reversed(quantiles) for z1 in quantiles], np.float32)


def save_manifold(generator, path, side=20, scale=2):
    """manifold.png: `generator` (z (N, 2) -> images in [-1, 1]) on a side x side grid."""
    from gan.sampling import images_from_noise

    images = images_from_noise(generator, manifold_points(side))  # (side*side, H, W, C)
    save_png(make_grid(images, columns=side, padding=0), path, scale)


def save_code_scatter(codes, labels, class_names, path):
    """latent_codes.png: codes (N, 2) as points coloured by integer label."""
    figure, axes = new_figure(7.0, 6.0)
    labels = np.asarray(labels).astype(int)
    num_classes = max(len(class_names), int(labels.max()) + 1)
    cmap = "tab10" if num_classes <= 10 else "viridis"
    points = axes.scatter(codes[:, 0], codes[:, 1], c=labels, s=3, cmap=cmap, alpha=0.7,
                          vmin=-0.5, vmax=num_classes - 0.5)
    colorbar = figure.colorbar(points, ax=axes, ticks=range(num_classes))
    if len(class_names) == num_classes:
        colorbar.ax.set_yticklabels(class_names)
    axes.set_xlabel("z1 (encoder mean)")
    axes.set_ylabel("z2 (encoder mean)")
    axes.set_title(f"codes of {len(codes):,} images")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    save_figure(figure, path)


class LatentMaps(keras.callbacks.Callback):
    """After every epoch of a 2-D VAE: manifold.png and (given labelled images) latent_codes.png.

    `labelled` is (uint8 images, labels, class names) or None.
    """

    def __init__(self, manifold_path, codes_path, labelled=None):
        super().__init__()
        self.manifold_path = manifold_path
        self.codes_path = codes_path
        self.labelled = labelled

    def on_epoch_end(self, epoch, logs=None):
        if not np.all(np.isfinite([float(v) for v in (logs or {}).values()])):
            return  # a diverged epoch is not checkpointed; its pictures are not kept either
        from gan.vae_model import encode_means

        save_manifold(self.model.generator, self.manifold_path)
        if self.labelled is not None:
            images, labels, class_names = self.labelled
            save_code_scatter(encode_means(self.model, images), labels, class_names,
                              self.codes_path)
