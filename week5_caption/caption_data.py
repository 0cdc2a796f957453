"""Where a caption run's images and captions come from: the scene world, Flickr8k or COCO.

Every source gives, per part ("train", "validation", "test"), a dict

    images    (N, S, S, 3) uint8, resized to the config's image_size
    captions  [[str, ...], ...]   N lists: the reference captions of each image
    boxes     (N, 2, 4) int32     scene world only: each named object's x0, y0, x1, y1

- generated (no --data_dir): scene_world, seeded apart per part (TRAIN_SEED ...),
  so evaluate regenerates the test scenes from the run's config alone;
- Flickr8k (--data_dir): Flicker8k_Dataset/*.jpg (the release's spelling),
  Flickr8k.token.txt ("NAME.jpg#k<TAB>caption", 5 per image) and the official
  Flickr_8k.{train,dev,test}Images.txt splits (6,000 / 1,000 / 1,000 images);
- COCO (--dataset coco_captions): tensorflow-datasets' coco_captions, for
  users who have it; offline it fails at once with one line.
"""

import hashlib
import json
import os
import re

import numpy as np

from common.cli import UsageError
from common.downloads import absl_warnings_hidden
from common.files import DEFAULT_MAX_BYTES
from common.images import check_image_header, load_images
from common.text import read_text_file
from common.tokens import TokenVocab, check_vocab_size, tokenize_texts
from week5_caption import scene_world

TRAIN_SEED, VALIDATION_SEED, TEST_SEED = 1, 2, 3
TEST_SCENES = 1000
FLICKR_IMAGES = "Flicker8k_Dataset"
FLICKR_TOKENS = "Flickr8k.token.txt"
FLICKR_SPLITS = {"train": "Flickr_8k.trainImages.txt", "validation": "Flickr_8k.devImages.txt",
                 "test": "Flickr_8k.testImages.txt"}
PARTS = ("train", "validation", "test")
COCO = "coco_captions"
_TOKEN_LINE = re.compile(r"^([^\t#]+)#(\d+)\t(.*)$")


def scene_counts(scenes):
    """{part: scenes}: validation a tenth of training (at most 1,000), test 1,000 or fewer."""
    return {"train": scenes, "validation": max(1, min(1000, scenes // 10)),
            "test": max(1, min(TEST_SCENES, scenes // 4))}


def generated_part(part, scenes, image_size):
    seeds = {"train": TRAIN_SEED, "validation": VALIDATION_SEED, "test": TEST_SEED}
    data = scene_world.generate(scene_counts(scenes)[part], seeds[part], image_size)
    return {"images": data["images"], "captions": [[c] for c in data["captions"]],
            "boxes": data["boxes"]}


# --- Flickr8k ----------------------------------------------------------------------------

def read_flickr_tokens(path, max_bytes=DEFAULT_MAX_BYTES):
    """{image name: [caption, ...]} of Flickr8k.token.txt; a malformed line is an error."""
    captions = {}
    for number, line in enumerate(read_text_file(path, max_bytes).splitlines(), 1):
        if not line.strip():
            continue
        match = _TOKEN_LINE.match(line)
        if not match or not match.group(3).strip():
            raise UsageError(f"{path} line {number} is not 'IMAGE.jpg#N<TAB>caption' "
                             f"(Flickr8k.token.txt's format): {line[:60]!r}")
        captions.setdefault(match.group(1).strip(), []).append(match.group(3).strip())
    if not captions:
        raise UsageError(f"{path} holds no captions")
    return captions


def read_split(path, captions, max_bytes=DEFAULT_MAX_BYTES):
    """The image names of a split file, each one the captions file knows."""
    names = [line.strip() for line in read_text_file(path, max_bytes).splitlines()
             if line.strip()]
    # A name is joined to the images folder: '../../etc/passwd' would read outside it.
    outside = [name for name in names if name in (".", "..") or "/" in name or "\\" in name]
    if outside:
        raise UsageError(f"{path} names {outside[0]!r}, not a file name in {FLICKR_IMAGES}/ "
                         "(Flickr8k's names are like 1000268201_693b08cb0e.jpg)")
    unknown = [name for name in names if name not in captions]
    if unknown:
        raise UsageError(f"{path} names {len(unknown):,} images that {FLICKR_TOKENS} has no "
                         f"captions for (first: {unknown[0]!r}); the files are not from one "
                         "Flickr8k release")
    return names


def flickr_files(data_dir):
    """(images folder, tokens file, {part: split file}), each checked to exist."""
    files = {"images": os.path.join(data_dir, FLICKR_IMAGES),
             "tokens": os.path.join(data_dir, FLICKR_TOKENS),
             **{part: os.path.join(data_dir, name) for part, name in FLICKR_SPLITS.items()}}
    for key, path in files.items():
        found = os.path.isdir(path) if key == "images" else os.path.isfile(path)
        if os.path.exists(path) and not found:
            raise UsageError(f"{data_dir} is not a Flickr8k folder: its "
                             f"{os.path.basename(path)} is "
                             f"{'not a folder' if key == 'images' else 'not a regular file'}")
        if not found:
            raise UsageError(f"{data_dir} is not a Flickr8k folder: it has no "
                             f"{os.path.basename(path)} (expected {FLICKR_IMAGES}/, "
                             f"{FLICKR_TOKENS} and {', '.join(FLICKR_SPLITS.values())})")
    return files


def flickr_digest(data_dir, part, max_bytes=DEFAULT_MAX_BYTES):
    """A short fingerprint of one part of a Flickr8k folder (its image names, their
    captions and file sizes), so that evaluate and --resume tell that it changed."""
    files = flickr_files(data_dir)
    captions = read_flickr_tokens(files["tokens"], max_bytes)
    digest = hashlib.sha256()
    for name in read_split(files[part], captions, max_bytes):
        path = os.path.join(files["images"], name)
        size = os.path.getsize(path) if os.path.isfile(path) else -1
        digest.update(json.dumps([name, size, captions[name]]).encode("utf-8") + b"\n")
    return digest.hexdigest()[:16]


def read_flickr_part(data_dir, part, image_size, max_images, max_bytes=DEFAULT_MAX_BYTES):
    """One part of Flickr8k (the module docstring's dict), at most `max_images` images."""
    files = flickr_files(data_dir)
    captions = read_flickr_tokens(files["tokens"], max_bytes)
    names = read_split(files[part], captions, max_bytes)[:max_images]
    if not names:
        raise UsageError(f"{files[part]} names no images")
    paths = [os.path.join(files["images"], name) for name in names]
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        raise UsageError(f"{len(missing):,} images of {FLICKR_SPLITS[part]} are not in "
                         f"{files['images']} (first: {missing[0]})")
    for path in paths:
        check_image_header(path)  # a huge header is refused before anything is decoded
    images, kept, _ = load_images(paths, image_size, progress=len(paths) > 500)
    if not len(images):
        raise UsageError(f"none of the {len(paths)} images of {FLICKR_SPLITS[part]} decodes")
    return {"images": images, "captions": [captions[names[i]] for i in kept]}


# --- COCO through tensorflow-datasets -----------------------------------------------------

def check_reachable(urls, timeout=10):
    """UsageError at once when the download's host cannot be reached (as sentiment's tfds)."""
    import socket
    import urllib.parse

    for url in urls:
        parsed = urllib.parse.urlparse(url)
        try:
            socket.create_connection((parsed.hostname, parsed.port or 443), timeout).close()
        except OSError as error:
            raise UsageError(f"{COCO} is not downloaded yet and {parsed.hostname} cannot be "
                             f"reached ({error.strerror or type(error).__name__}); connect to "
                             "the internet, or pass --data_dir with Flickr8k, or train on "
                             "the generated scene world (no --dataset)") from None


def read_coco_part(part, image_size, max_images):
    """One part of tfds coco_captions (Karpathy's splits: train, val, test)."""
    split = {"train": "train", "validation": "val", "test": "test"}[part]
    try:
        with absl_warnings_hidden():
            import tensorflow as tf
            import tensorflow_datasets as tfds

            builder = tfds.builder(COCO)
            if not builder.is_prepared():
                check_reachable(builder.url_infos or {})
                builder.download_and_prepare()
            dataset = builder.as_dataset(split=split).take(max_images)
            images, captions = [], []
            for example in dataset:
                image = tf.image.resize(example["image"], (image_size, image_size))
                images.append(np.asarray(tf.cast(tf.round(image), tf.uint8)))
                captions.append([t.decode("utf-8") for t in
                                 example["captions"]["text"].numpy()])
    except UsageError:
        raise
    except ModuleNotFoundError as error:
        raise UsageError(f"{COCO} needs the Python package {error.name!r}; pip install -r "
                         "requirements.txt") from None
    except Exception as error:  # a cut download, a damaged cache
        raise UsageError(f"could not load {COCO} through tensorflow-datasets "
                         f"({type(error).__name__}: {' '.join(str(error).split())[:160]})"
                         ) from None
    return {"images": np.stack(images), "captions": captions}


# --- reading a part by the run's settings, and the tokens ----------------------------------

def read_part(settings, part, config, max_bytes=DEFAULT_MAX_BYTES):
    """The part `part` of the data the settings name ({"data": generated|flickr8k|coco})."""
    if settings["data"] == "generated":
        return generated_part(part, config.scenes, config.image_size)
    if settings["data"] == "flickr8k":
        return read_flickr_part(settings["data_dir"], part, config.image_size,
                                config.max_images, max_bytes)
    return read_coco_part(part, config.image_size, config.max_images)


def caption_tokens(captions, max_length):
    """Per image, its captions as word lists cut to max_length words (empty ones left out)."""
    flat = tokenize_texts([text for refs in captions for text in refs], "word")
    out, start = [], 0
    for refs in captions:
        out.append([tokens[:max_length] for tokens in flat[start:start + len(refs)] if tokens])
        start += len(refs)
    return out


def build_vocab(token_lists, config):
    vocab = TokenVocab.from_token_lists([t for refs in token_lists for t in refs], "word",
                                        config.max_vocab_size, config.min_count)
    check_vocab_size(vocab)
    return vocab


def training_pairs(token_lists, vocab):
    """{"image": (M,) int32 image index, "ids": M lists <start> w.. <end>}: one per caption."""
    image, ids = [], []
    for index, refs in enumerate(token_lists):
        for tokens in refs:
            image.append(index)
            ids.append(vocab.encode(tokens, start=True, end=True))
    return {"image": np.asarray(image, np.int32), "ids": ids}
