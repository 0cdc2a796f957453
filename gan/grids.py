"""Image grids, PNGs and the progress GIF (Pillow, which matplotlib depends on).

Every PNG written here carries a tEXt chunk `Software: tfcourse`. That mark
is how `--out` knows a file is this project's: an existing file is replaced
only when it is a PNG with the mark, never anything else.
"""

import glob
import io
import math
import os

import keras
import numpy as np
from PIL import Image, PngImagePlugin

from common.outputs import SOFTWARE, write_bytes

def make_grid(images, columns=None, padding=2):
    """uint8 (N, H, W, C) -> one uint8 (rows*(H+p)+p, cols*(W+p)+p, C) picture."""
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + padding) + padding,
                     columns * (width + padding) + padding, channels), np.uint8)
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


def to_pil(picture):
    """uint8 (H, W, 1 or 3) -> a PIL image (gray or RGB)."""
    return Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)


def save_png(picture, path, scale=1):
    """Writes uint8 (H, W, C) as a marked PNG (atomically), enlarged `scale` times."""
    image = to_pil(picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    mark = PngImagePlugin.PngInfo()
    mark.add_text("Software", SOFTWARE)  # written before the pixels, read without them
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=mark)
    write_bytes(path, buffer.getvalue())


def write_gif(png_paths, path, seconds_per_frame=0.4):
    """An animated GIF of the PNGs in order; the last frame is held longer."""
    frames = [Image.open(p).convert("P", palette=Image.ADAPTIVE) for p in png_paths]
    durations = [int(seconds_per_frame * 1000)] * len(frames)
    durations[-1] *= 5
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:],
                   duration=durations, loop=0)
    write_bytes(path, buffer.getvalue())


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, G's images for the same fixed noise as one PNG.

    Watching one set of latent points move across epochs shows what G learns.
    At the end of training all epochs' grids become `progress.gif`.
    """

    def __init__(self, sample_dir, gif_path, noise, scale=2):
        super().__init__()
        self.sample_dir = sample_dir
        self.gif_path = gif_path
        self.noise = noise  # (count, latent_dim), fixed for the whole run
        self.scale = scale

    def on_epoch_end(self, epoch, logs=None):
        from gan.sampling import images_from_noise

        if not all(math.isfinite(float(value)) for value in (logs or {}).values()):
            return  # a diverged epoch is not checkpointed; its grid is not kept either

        images = images_from_noise(self.model.generator, self.noise)
        save_png(make_grid(images), os.path.join(self.sample_dir, f"epoch-{epoch + 1:04d}.png"),
                 self.scale)

    def on_train_end(self, logs=None):
        pngs = sorted(glob.glob(os.path.join(self.sample_dir, "epoch-*.png")))
        if pngs:
            write_gif(pngs, self.gif_path)
