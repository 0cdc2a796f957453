"""What a VQA run reads, as arrays: decoded images (or their cached grids) and question ids.

Images are decoded once per run into uint8 (images, S, S, 3) and each
question keeps the index of its image, so an image asked ten questions is
held once; a batch gathers its questions' images in the input pipeline. A
frozen encoder's grids are computed once here (common.image_encoders) and
replace the images.
"""

import keras
import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.image_encoders import grid_features, is_frozen
from common.images import MIN_SIDE, check_image_header, load_images
from common.model_size import available_bytes
from common.tokens import TokenVocab, check_vocab_size, tokenize_texts
from week4_qa.vqa_model import build_encoder, encoder_grid_shape, reads_image

MAX_DATA_BYTES = 16 * 1024 ** 3  # decoded images (or grids) kept in memory, at most


def frozen_encoder(config, seed):
    """A frozen application encoder, its random weights (--weights none) drawn from `seed`,
    so that the servable builds the very same one again."""
    keras.utils.set_random_seed(seed)
    return build_encoder(config)


def check_data_fits(count, size, grid_floats=0):
    """UsageError if `count` images of size x size (and their grids of `grid_floats` floats
    each) cannot be held in memory: over MAX_DATA_BYTES or what the machine has free."""
    needed = count * (size * size * 3 + 4 * grid_floats)
    available = available_bytes()
    limit = MAX_DATA_BYTES if available is None else min(MAX_DATA_BYTES, available)
    if needed > limit:
        raise UsageError(f"{count:,} images at {size}x{size}"
                         + (" and their grids" if grid_floats else "")
                         + f" would take {needed / 1024 ** 3:,.1f} GiB of memory, more than "
                         f"the {limit / 1024 ** 3:,.1f} GiB available; lower --image_size or "
                         "use a smaller --encoder")


def decode_split(split, size, verbose=1, grid_floats=0):
    """(images (M, size, size, 3) uint8, Split of the questions whose image decoded, per
    question the row of its image): each image decoded once; unreadable ones are skipped
    (with their questions) and counted."""
    keys, _ = split.images_in_order()
    check_data_fits(len(keys), size, grid_floats)
    paths = [split.image_paths[key] for key in keys]
    for path in paths:  # a header that claims a huge image is refused before decoding
        check_image_header(path, MIN_SIDE)
    images, kept, skipped = load_images(paths, size, progress=verbose > 0)
    if not len(images):
        raise UsageError(f"none of the {len(paths):,} images the questions name is readable")
    row_of = {keys[k]: row for row, k in enumerate(kept)}
    if skipped:
        split = split.subset([key in row_of for key in split.image_keys])
    return images, split, np.array([row_of[key] for key in split.image_keys], np.int32)


def split_pixels(split, config, seed, verbose=1):
    """decode_split, then what the trained model reads: the images, a frozen encoder's
    grids (N, h, w, c) computed once, or nothing (blind)."""
    frozen = reads_image(config) and is_frozen(config.encoder)
    grid_floats = int(np.prod(encoder_grid_shape(config))) if frozen else 0
    images, split, rows = decode_split(split, config.image_size, verbose, grid_floats)
    if frozen:
        print(f"computing the {config.encoder} grids of {len(images):,} images once")
        images = grid_features(frozen_encoder(config, seed), images, progress=verbose > 0)
    elif not reads_image(config):
        images = images[:0]  # the blind model reads no image
    return images, split, rows


def build_vocab(split):
    """Every word of the training questions."""
    vocab = TokenVocab.from_token_lists(tokenize_texts(split.questions, "word"), "word")
    check_vocab_size(vocab, "the training questions")
    return vocab


def question_ids(split, vocab):
    """(list of id lists, number of words outside the vocabulary, read as <unk>)."""
    return vocab.encode_all(tokenize_texts(split.questions, "word"))


def answer_ids(split, answers):
    """(N,) int32 class of each answer; -1 for an answer outside the model's classes."""
    index = {answer: i for i, answer in enumerate(answers)}
    return np.array([index.get(a, -1) for a in split.answers], np.int32)


def arrays(split, vocab, answers, rows):
    """What the batching helpers read: {"image": rows, "question": ids, "answer": ids}."""
    ids, unknown = question_ids(split, vocab)
    return {"image": rows, "question": ids, "answer": answer_ids(split, answers)}, unknown


def as_inputs(pixels, config, key=None):
    """A batch transform: gathers each question's image (or grid) from `pixels` as `key`
    (default: what the trained model reads)."""
    pixels = tf.constant(pixels)
    key = key or ("grid" if is_frozen(config.encoder) else "image")
    with_image = reads_image(config)

    def transform(batch):
        inputs = {"question": batch["question"]}
        if with_image:
            inputs[key] = tf.gather(pixels, batch["image"])
        return inputs, batch["answer"]
    return transform
