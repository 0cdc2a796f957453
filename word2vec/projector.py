"""Pictures of the vectors: TensorBoard Embedding Projector files and a t-SNE PNG.

The t-SNE is exact (van der Maaten & Hinton 2008; the gradient and the
gains/momentum schedule of the reference implementation), written in numpy:
for the 500 words of the figure the (500, 500) affinity matrix is small, so
every iteration is a few matrix operations and the whole map takes seconds,
without adding scikit-learn to the project.
"""

import warnings

import numpy as np
from matplotlib import font_manager

from common.outputs import write_text
from common.plots import new_figure, save_figure


def write_projector_files(vectors, words, vectors_path, metadata_path):
    """vectors.tsv (one row of tab-separated numbers per word) and metadata.tsv (the words).

    Load both at https://projector.tensorflow.org ("Load"), or point TensorBoard's
    projector plugin at them. A one-column metadata file has no header line.
    """
    rows = ("\t".join(f"{x:.6g}" for x in row) for row in np.asarray(vectors))
    write_text(vectors_path, "\n".join(rows) + "\n")
    write_text(metadata_path, "\n".join(words) + "\n")


def conditional_probabilities(distances, perplexity, tolerance=1e-5, max_steps=100):
    """(n, n) P(j | i) whose rows each have the given perplexity (binary search on beta)."""
    n = len(distances)
    target = np.log(perplexity)
    probabilities = np.zeros((n, n))
    for i in range(n):
        d = np.delete(distances[i], i)  # (n - 1,) squared distances to the others
        beta, low, high = 1.0, 0.0, np.inf
        for _ in range(max_steps):
            p = np.exp(-(d - d.min()) * beta)
            total = p.sum()
            entropy = np.log(total) + beta * np.sum((d - d.min()) * p) / total
            if abs(entropy - target) < tolerance:
                break
            if entropy > target:  # too flat: narrow the Gaussian
                low, beta = beta, beta * 2 if high == np.inf else (beta + high) / 2
            else:
                high, beta = beta, (beta + low) / 2
        probabilities[i, np.arange(n) != i] = p / total
    return probabilities


def tsne(points, perplexity=30.0, iterations=1000, learning_rate="auto", seed=0):
    """(n, 2) t-SNE map of points (n, features).

    learning_rate "auto" is max(n / 12 / 4, 50) (Belkina et al. 2019, scikit-learn's
    default): the classic fixed 200 overshoots on small sets, where the joint
    probabilities are large, and can throw single points into the wrong cluster.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    if learning_rate == "auto":
        learning_rate = max(n / 12.0 / 4.0, 50.0)
    perplexity = min(perplexity, (n - 1) / 3)
    squared = np.sum(points ** 2, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * points @ points.T, 0)
    p = conditional_probabilities(distances, perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12)  # symmetric joint probabilities
    y = np.random.default_rng(seed).normal(scale=1e-4, size=(n, 2))
    velocity, gains = np.zeros_like(y), np.ones_like(y)
    for step in range(iterations):
        exaggeration = 12.0 if step < 250 else 1.0  # early exaggeration forms clusters
        momentum = 0.5 if step < 250 else 0.8
        sq = np.sum(y ** 2, axis=1)
        kernel = 1 / (1 + np.maximum(sq[:, None] + sq[None, :] - 2 * y @ y.T, 0))  # (n, n)
        np.fill_diagonal(kernel, 0)
        q = np.maximum(kernel / kernel.sum(), 1e-12)
        weights = (exaggeration * p - q) * kernel
        gradient = 4 * (np.diag(weights.sum(axis=1)) - weights) @ y  # (n, 2)
        # Delta-bar-delta gains: grow where the step keeps its direction.
        same_sign = np.sign(gradient) == np.sign(velocity)
        gains = np.maximum(np.where(same_sign, gains * 0.8, gains + 0.2), 0.01)
        velocity = momentum * velocity - learning_rate * gains * gradient
        y = y + velocity
        y -= y.mean(axis=0)
    return y


def _font_for(words):
    """A font that has Hangul when the words need it (DejaVu Sans has none), if installed."""
    if not any("\uac00" <= ch <= "\ud7a3" for word in words for ch in word):
        return None
    for font in font_manager.fontManager.ttflist:
        if any(key in font.name for key in ("CJK", "Nanum", "Malgun", "Gothic", "Unifont")):
            return font.name
    return None


def plot_tsne(points, words, path, title="t-SNE of the most frequent words"):
    """Scatter plot of the (n, 2) map with every point labelled, as the lecture's figure."""
    font = _font_for(words)
    fig, ax = new_figure(18, 18, dpi=80)
    ax.scatter(points[:, 0], points[:, 1], s=6, color="tab:blue")
    for (x, y), word in zip(points, words):
        ax.annotate(word, (x, y), xytext=(3, 2), textcoords="offset points", fontsize=9,
                    fontfamily=font or "sans-serif")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    with warnings.catch_warnings():
        # Without a Hangul font installed, Korean labels show as boxes; say nothing per glyph.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        save_figure(fig, path)


def tsne_figure(vectors, words, path, num_words=500, seed=0):
    """t-SNE of the first `num_words` rows (the most frequent words) to a PNG."""
    count = min(num_words, len(words))
    norms = np.linalg.norm(vectors[:count], axis=1, keepdims=True)
    points = tsne(vectors[:count] / np.maximum(norms, 1e-12), seed=seed)  # cosine geometry
    plot_tsne(points, words[:count], path,
              f"t-SNE of the {count} most frequent words")
    return points
