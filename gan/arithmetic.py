"""Latent vector arithmetic (Radford et al. 2016, section 6.3): `arithmetic --a --b --c`.

    python -m gan.dcgan arithmetic --run_dir runs/dcgan --a 3 8 12 --b 5 9 --c 21 --out sum.png
    python -m gan.dcgan arithmetic --run_dir runs/dcgan --data_dir ../shared/data/mnist \
        --a class:7 --b class:1 --c class:4 --out digits.png

Each group is a few latent points; its mean stands for what they share (the
paper averages three "smiling woman" vectors, because one vector alone gives
unstable results). The picture decodes mean(a) - mean(b) + mean(c), laid out
like the lecture's glasses slide: one row per group (its images, then the
image of its mean), then the result.

A group is either seeds (the latent point of seed S is the noise of
`generate --num 1 --seed S`) or one `class:K`: the mean of the points, among
--class_samples drawn with --seed (the grid `generate --num N --seed S`
draws), whose images the scoring classifier (gan.metrics, trained on the
data set's training split) calls K with probability >= --confidence.
"""

import argparse
import dataclasses

import numpy as np
from PIL import Image, ImageDraw

from common.argtypes import seed_int
from common.cli import UsageError
from common.outputs import check_out_file
from gan.data import DATASETS, load_dataset, resize_images
from gan.grids import save_png
from gan.sampling import images_from_noise, noise_for_seed

GROUPS = ("a", "b", "c")
SIGNS = {"a": "", "b": "- ", "c": "+ "}
NUM_CLASSES = 10  # MNIST and Fashion-MNIST, the scorer's data sets
MAX_GROUP = 256  # seeds in one group
SHOWN = 8  # member images drawn per row


@dataclasses.dataclass(frozen=True)
class ClassMeans:
    """Where `class:K` groups come from: the labelled data, the scoring classifier, the pool.

    The fields are the `arithmetic` flags of the same names (gan.generative_flags).
    """

    data_dir: str | None  # the labelled data the scoring classifier learns
    dataset: str | None  # None: the data set the run was trained on
    max_bytes: int  # read limits of the data files and folders
    max_files: int
    classifier: str | None  # a .keras scorer, read if it exists, else trained and saved there
    classifier_epochs: int
    class_samples: int  # latent points drawn with `seed` and classified
    confidence: float  # the class probability a point's image needs to be kept
    seed: int


def latent_member(text):
    """argparse type: a noise seed (an int) or `class:K` (returned as ("class", K))."""
    if text.startswith("class:"):
        label = text[len("class:"):]
        if not label.isdigit() or int(label) >= NUM_CLASSES:
            raise argparse.ArgumentTypeError(
                f"{text}: unknown class; the scorer's data sets have classes 0..{NUM_CLASSES - 1}")
        return ("class", int(label))
    return seed_int(text)


latent_member.__name__ = "seed or class:K"


def confidence(text):
    """argparse type: a probability in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def class_of(group):
    """K if the group is `class:K`, else None (a list of seeds); UsageError if mixed."""
    classes = [m[1] for m in group if isinstance(m, tuple)]
    if classes and len(group) > 1:
        raise UsageError("a group is either seeds or one class:K, not a mix; got "
                         + " ".join(f"class:{m[1]}" if isinstance(m, tuple) else str(m)
                                    for m in group))
    if len(group) > MAX_GROUP:
        raise UsageError(f"a group holds at most {MAX_GROUP} seeds, got {len(group)}")
    return classes[0] if classes else None


def seed_latents(latent_dim, seeds):
    """(len(seeds), latent_dim): row i is the noise of seed i, as `generate --num 1` draws it."""
    return np.concatenate([noise_for_seed(1, latent_dim, seed).numpy() for seed in seeds])


def confident_latents(pool, probabilities, label, threshold):
    """The rows of pool (N, latent_dim) whose images the classifier calls `label` with
    probability >= threshold; probabilities (N, classes)."""
    return pool[probabilities[:, label] >= threshold]


def combine(means):
    """mean(a) - mean(b) + mean(c), each (latent_dim,)."""
    return means["a"] - means["b"] + means["c"]


def draw_sheet(rows, labels, result, tile_shape, padding=2, gap=8):
    """uint8 picture and the (top, left) of the result tile.

    rows: {group: (members (n, H, W, C) uint8, mean image (H, W, C))}, drawn as
    one row each, member images then the mean's; result: (H, W, C), drawn
    under the means' column. labels: {group or "result": text at the row's left}.
    """
    height, width, channels = tile_shape
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    label_width = int(max(probe.textlength(text) for text in labels.values())) + 2 * padding
    header = 14  # the "mean" caption above the means' column
    shown = max(min(len(members), SHOWN) for members, _ in rows.values())
    mean_left = label_width + shown * (width + padding) + gap
    canvas = np.zeros((header + 4 * (height + padding) + padding,
                       mean_left + width + padding, channels), np.uint8)

    def place(image, row, left):
        top = header + padding + row * (height + padding)
        canvas[top:top + height, left:left + width] = image
        return top, left

    for row, (name, (members, mean)) in enumerate(rows.items()):
        for column, image in enumerate(members[:SHOWN]):
            place(image, row, label_width + column * (width + padding))
        place(mean, row, mean_left)
    result_box = place(result, 3, mean_left)
    picture = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    draw = ImageDraw.Draw(picture)
    white = 255 if channels == 1 else (255, 255, 255)
    draw.text((mean_left, 1), "mean", fill=white)
    for row, name in enumerate([*rows, "result"]):
        top = header + padding + row * (height + padding) + height // 2 - 5
        draw.text((padding, top), labels[name], fill=white)
    canvas = np.asarray(picture)
    return (canvas[..., None] if channels == 1 else canvas), result_box


def label_for(name, label, count):
    """A row's caption: "- b: 3 seeds", "+ c: class 7, 212"."""
    what = f"class {label}, {count}" if label is not None else f"{count} seed" + "s" * (count > 1)
    return f"{SIGNS[name]}{name}: {what}"


def class_pool(class_means, run_dir, config, generator, labels):
    """(pool (N, latent_dim), class probabilities (N, classes)) of class_means.class_samples
    points."""
    from gan.metrics import classifier_for, features_and_probabilities

    dataset = class_means.dataset or config.get("source")
    if dataset not in DATASETS:
        raise UsageError(f"{run_dir} was trained on {config.get('source')}; class means "
                         f"need a labelled data set: pass --dataset ({', '.join(DATASETS)})")
    if generator.output_shape[-1] != 1:
        raise UsageError("class means use the grayscale scorer; this run makes colour images")
    x_train, y_train, x_test, y_test = load_dataset(dataset, class_means.data_dir,
                                                    class_means.max_bytes,
                                                    class_means.max_files)
    if any(part is None for part in (x_train, y_train, x_test, y_test)):
        raise UsageError("class means need the training and test images and labels (the IDX "
                         "files train-* and t10k-*, or an .npz with x_/y_train and x_/y_test)")
    missing = sorted(set(labels) - set(np.unique(y_train).tolist()))
    if missing:
        raise UsageError(f"class {missing[0]}: no training image of {dataset} has that label")
    size = generator.output_shape[1]
    classifier, _ = classifier_for(resize_images(x_train, size), y_train,
                                   resize_images(x_test, size), y_test, class_means.classifier,
                                   class_means.classifier_epochs, verbose=0)
    pool = noise_for_seed(class_means.class_samples, generator.input_shape[-1],
                          class_means.seed)
    _, probabilities = features_and_probabilities(classifier, images_from_noise(generator, pool))
    return pool.numpy(), probabilities


def run_arithmetic(groups, out, *, scale, run_dir, checkpoint, config, load_generator,
                   class_means):
    """The `arithmetic` verb: checks everything, then decodes a - b + c into the PNG `out`.

    groups: {"a", "b", "c": a list of seeds, or [("class", K)]}; the generator is
    load_generator(run_dir, checkpoint), `config` the run's config; class_means
    (a ClassMeans) says how class:K groups are found. Returns ({group: mean
    latent vector}, the result image).
    """
    labels = {name: class_of(groups[name]) for name in GROUPS}
    wanted = [label for label in labels.values() if label is not None]
    if wanted and not class_means.data_dir:
        name = next(n for n in GROUPS if labels[n] is not None)
        raise UsageError(f"--{name} class:{labels[name]} needs --data_dir (the labelled data "
                         "the scoring classifier learns)")
    # Its folder must exist: arithmetic never made one (generate and interpolate do).
    check_out_file(out, read_runs=[run_dir], make_folder=False)
    if wanted and class_means.classifier:
        check_out_file(class_means.classifier, "--classifier", read_runs=[run_dir],
                       existing="read")
    generator = load_generator(run_dir, checkpoint)
    latent_dim = generator.input_shape[-1]
    pool = class_pool(class_means, run_dir, config, generator, wanted) if wanted else None
    latents = {}
    for name in GROUPS:
        if labels[name] is None:
            latents[name] = seed_latents(latent_dim, groups[name])
            continue
        latents[name] = confident_latents(*pool, labels[name], class_means.confidence)
        if not len(latents[name]):
            raise UsageError(
                f"--{name} class:{labels[name]}: none of {class_means.class_samples} generated "
                f"images is class {labels[name]} with probability >= "
                f"{class_means.confidence}; raise --class_samples or lower --confidence")
    means = {name: vectors.mean(axis=0) for name, vectors in latents.items()}
    # One batch: every group's shown members, the three means and the result.
    noise = np.concatenate([*(latents[n][:SHOWN] for n in GROUPS),
                            np.stack([means[n] for n in GROUPS] + [combine(means)])])
    images = images_from_noise(generator, noise.astype(np.float32))
    rows, start = {}, 0
    for name in GROUPS:
        count = len(latents[name][:SHOWN])
        rows[name] = (images[start:start + count], images[-4 + GROUPS.index(name)])
        start += count
    texts = {n: label_for(n, labels[n], len(latents[n])) for n in GROUPS}
    texts["result"] = "= a - b + c"
    picture, _ = draw_sheet(rows, texts, images[-1], images.shape[1:])
    save_png(picture, out, scale)
    print(f"wrote {out}: " + "; ".join(texts[n] for n in GROUPS) + ", decoded a - b + c")
    return means, images[-1]
