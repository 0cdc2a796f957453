"""Image folders: finding image files and decoding them into uint8 arrays.

Used by every week that reads photos from disk (CIFAR-10 as JPEG folders,
transfer learning on your own photos, DCGAN on a folder of faces). Decoding is
done with Pillow (installed with matplotlib), so a folder can be read without
starting TensorFlow. Real folders hold surprises: grayscale or RGBA PNGs,
images of every size, truncated downloads, `Thumbs.db` or a text file renamed
to `.jpg`. Sizes and colours are converted; files that do not decode are
skipped and counted, never a crash.
"""

import os
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, check_regular_file
from common.folders import DEFAULT_MAX_FILES, FolderScan

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
MIN_SIDE = 8                # a query image smaller than this has nothing to see
MAX_PIXELS = 8192 * 8192    # a larger header is refused before anything is decoded


def is_image_name(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def find_images(root, max_files=DEFAULT_MAX_FILES):
    """Every image file under `root` (recursive), sorted; chosen by extension.

    The scan is bounded (common.folders): a system folder is refused, and a
    folder holding more than `max_files` files and folders is an error.
    """
    paths = FolderScan(root, max_files, "image folder").files(root, is_image_name)
    if not paths:
        raise UsageError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {root}")
    return paths


def find_labelled_images(root, max_files=DEFAULT_MAX_FILES):
    """(paths, labels, class_names) from one sub-folder per class.

    class_names are the sub-folder names, sorted; labels[i] is the index of
    paths[i]'s class. Sub-folders without images are left out, with a note.
    One scan of at most `max_files` entries covers all the class folders.
    """
    scan = FolderScan(root, max_files, "image folder")
    subfolders = [entry.name for entry in scan.entries(root)
                  if entry.is_dir() and not entry.name.startswith(".")]
    if not subfolders:
        raise UsageError(f"{root} has no sub-folders; expected one sub-folder of images per "
                         f"class, e.g. {root}/cats/*.jpg, {root}/dogs/*.jpg")
    paths, labels, class_names = [], [], []
    for name in subfolders:
        found = scan.files(os.path.join(root, name), is_image_name)
        if not found:
            print(f"note: {os.path.join(root, name)} holds no images; left out")
            continue
        labels += [len(class_names)] * len(found)
        paths += found
        class_names.append(name)
    if not class_names:
        raise UsageError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found in the class "
                         f"sub-folders of {root}")
    return paths, np.array(labels, dtype=np.int64), class_names


def decode_image(path, size, channels):
    """One file as uint8 [size, size, channels]; raises OSError/ValueError if unreadable.

    Any mode (gray, palette, RGBA, 16-bit) is converted; any size is resized
    (bilinear with antialiasing) to size x size, without keeping the aspect ratio,
    as the TF tutorials do.
    """
    with Image.open(path) as image:
        image.load()  # decodes fully now, so a truncated file fails here
        image = image.convert("L" if channels == 1 else "RGB")
        if image.size != (size, size):
            image = image.resize((size, size), Image.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
    return array.reshape(size, size, channels)


def load_images(paths, size, channels=3, progress=True):
    """Decodes `paths` into (uint8 [N, size, size, channels], kept_indices, skipped_paths).

    kept_indices[i] is the position in `paths` of row i, so labels can be
    filtered to match. Unreadable files are skipped and counted in a message.
    """
    if channels not in (1, 3):
        raise UsageError(f"channels must be 1 or 3, got {channels}")
    images = np.empty((len(paths), size, size, channels), dtype=np.uint8)
    kept, skipped = [], []
    bar = _progress_bar(len(paths)) if progress and paths else None
    for index, path in enumerate(paths):
        try:
            images[len(kept)] = decode_image(path, size, channels)
            kept.append(index)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
            skipped.append(path)
        if bar is not None and (index + 1) % 500 == 0:
            bar.update(index + 1)
    if bar is not None:
        bar.update(len(paths), finalize=True)
    if skipped:
        print(f"skipped {len(skipped)} of {len(paths)} files that are not readable images "
              f"(first: {skipped[0]})")
    return images[:len(kept)], np.array(kept, dtype=np.int64), skipped


def check_image_header(path, min_side=1, max_pixels=MAX_PIXELS):
    """Refuses an image whose header gives a side under `min_side` or more than
    `max_pixels` pixels, reading only the header (a 100,000 x 100,000 PNG of a few
    kilobytes would take 30 GB to decode). A file whose header does not parse is
    left to the decoder, which skips it."""
    try:
        with warnings.catch_warnings():  # the size is checked below, in one error line
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
    except Image.DecompressionBombError:  # over 2 x Image.MAX_IMAGE_PIXELS
        raise UsageError(f"{path} has more than the limit of {max_pixels:,} pixels") from None
    except (OSError, ValueError, UnidentifiedImageError):
        return
    if min(width, height) < min_side:
        raise UsageError(f"{path} is {width}x{height} pixels; an image needs at least "
                         f"{min_side} pixels a side")
    if width * height > max_pixels:
        raise UsageError(f"{path} is {width}x{height} pixels, more than the limit of "
                         f"{max_pixels:,} pixels")


def load_query_images(paths, size, channels=3, max_bytes=DEFAULT_MAX_BYTES, min_side=1,
                      partial=True):
    """(uint8 [n, size, size, channels], kept indices) of the files to predict.

    A missing file, a folder, a FIFO or a device, a file over `max_bytes`, or
    one whose header is smaller than `min_side` a side or over MAX_PIXELS, is
    an error before any file is decoded; files that do not decode are
    skipped with a note (and it is an error when none does). partial=False:
    the first that does not decode is the error, and nothing is noted, for a
    command whose output lines do not name their files (captions, answers).
    """
    for path in paths:
        check_regular_file(path, "image file")
        if os.path.getsize(path) > max_bytes:
            raise UsageError(f"{path} is {os.path.getsize(path):,} bytes, more than the limit "
                             f"of {max_bytes:,}; raise it with --max_bytes if this is really "
                             "an image")
        check_image_header(path, min_side)
    if not partial:
        images = np.empty((len(paths), size, size, channels), dtype=np.uint8)
        for index, path in enumerate(paths):
            try:
                images[index] = decode_image(path, size, channels)
            except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
                raise UsageError(f"{path} is not a readable image (JPEG, PNG, BMP or GIF)"
                                 ) from None
        return images, np.arange(len(paths))
    images, kept, _ = load_images(paths, size, channels, progress=False)
    if not len(images):
        raise UsageError(f"none of the {len(paths)} files is a readable image "
                         "(JPEG, PNG, BMP or GIF)")
    return images, kept


def _progress_bar(total):
    import keras  # only when a bar is wanted, so that decoding alone needs no TensorFlow

    print(f"decoding {total:,} images")
    return keras.utils.Progbar(total, unit_name="image")
