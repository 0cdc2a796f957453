"""Word-spacing data: a text as characters without spaces, each tagged "a space follows".

    "아버지가 방에"  ->  chars "아버지가방에", tags [0, 0, 0, 1, 0, 0]

`tag_spaces` and `restore_spaces` are inverse on text whose spaces are single
and never lead the text; a run of spaces becomes one space, and spaces before
the first character are dropped (the tag can only say whether a space
follows). Only U+0020 counts as a space: tabs and line breaks are characters
like any other and pass through unchanged.

Pure NumPy: the same arrays feed training windows, evaluation and tests.
"""

import numpy as np

from common.cli import UsageError

SPACE = " "


def tag_spaces(text):
    """(text without spaces, int32 tags): tag 1 where a space followed the character."""
    # One uint32 per code point, so Korean (or any script) is one element per character.
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    is_space = codes == ord(SPACE)
    followed_by_space = np.append(is_space[1:], False)
    tags = followed_by_space[~is_space].astype(np.int32)
    return text.replace(SPACE, ""), tags


def restore_spaces(chars, tags):
    """The text with one space after every character tagged 1."""
    if len(chars) != len(tags):
        raise ValueError(f"{len(chars)} characters but {len(tags)} tags")
    return "".join(char + SPACE if tag else char for char, tag in zip(chars, tags))


def encode(chars, vocab):
    """Model ids of a space-free text: vocabulary index + 1; 0 for characters it lacks.

    Id 0 is the unknown character, so any text can be read (its unknown
    characters pass through predict unchanged).
    """
    index = vocab.index
    return np.fromiter((index.get(char, -1) + 1 for char in chars), np.int32, len(chars))


def windows(ids, tags, window, what="text"):
    """(num_windows, 2, window) int32: non-overlapping windows of ids (row 0) and tags (row 1)."""
    num_windows = len(ids) // window
    if num_windows < 1:
        raise UsageError(f"the {what} has {len(ids):,} characters without its spaces, fewer "
                         f"than one window ({window}); use a longer text or a smaller --window")
    size = num_windows * window
    return np.stack([np.reshape(ids[:size], (num_windows, window)),
                     np.reshape(tags[:size], (num_windows, window))], axis=1).astype(np.int32)


def chunk_starts(length, window):
    """Starts of the chunks that cover `length` characters: (num_chunks,) int.

    Chunks are `window` long (the whole text when shorter) and overlap by
    half: a stride of window // 2, the last chunk ending at the last character.
    """
    if length <= window:
        return np.zeros(1, np.int64)
    stride = max(window // 2, 1)
    num_chunks = (length - window + stride - 1) // stride + 1
    return np.minimum(np.arange(num_chunks) * stride, length - window)


def most_central_chunk(length, window):
    """(chunk, offset) per character: the chunk whose centre is nearest, ties to the earlier.

    The reference definition, by brute force; the servable computes the same
    assignment with a binary search over the midpoints between chunk centres.
    """
    starts = chunk_starts(length, window)
    size = min(length, window)
    chunk = np.zeros(length, np.int64)
    for i in range(length):
        covering = [k for k, s in enumerate(starts) if s <= i < s + size]
        chunk[i] = min(covering, key=lambda k: (abs(i - (starts[k] + (size - 1) / 2)), k))
    return chunk, np.arange(length) - starts[chunk]


def space_scores(true_tags, predicted_tags):
    """Character-level precision, recall and F1 of predicted spaces (0 where undefined)."""
    true_tags = np.asarray(true_tags, bool)
    predicted_tags = np.asarray(predicted_tags, bool)
    tp = int(np.sum(true_tags & predicted_tags))
    fp = int(np.sum(~true_tags & predicted_tags))
    fn = int(np.sum(true_tags & ~predicted_tags))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positives": tp,
            "false_positives": fp, "false_negatives": fn,
            "accuracy": float(np.mean(true_tags == predicted_tags)) if true_tags.size else 0.0}
