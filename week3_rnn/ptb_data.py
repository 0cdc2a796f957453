"""Penn Treebank as the TF tutorial's reader sees it, and the tutorial's batching.

`ptb.{train,valid,test}.txt` (Mikolov's `simple-examples/data`) hold one
sentence per line, lower case, numbers as N, rare words already <unk>. The
reader turns every line into its words followed by "<eos>", so a split is one
long stream of words. The vocabulary is the training split's words by
(-count, word): exactly 10,000 for PTB.

Batching (the tutorial's `ptb_producer`): the stream of ids is cut into
`batch_size` contiguous rows, data (batch_size, batch_len); batch i is the
column window [i * num_steps, (i + 1) * num_steps) and its target the same
window shifted by one. Row r of batch i + 1 continues row r of batch i, which
is why the LSTM state may be carried from one batch to the next.
"""

import os

import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.text import WordVocab, read_text_file

SPLITS = ("train", "valid", "test")
EOS = "<eos>"
UNK = "<unk>"
ARCHIVE_URL = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz"


def split_path(data_dir, split):
    return os.path.join(data_dir, f"ptb.{split}.txt")


def text_to_words(text):
    """Each line's words followed by <eos>: (num_words,) list of str."""
    words = []
    for line in text.splitlines():
        words.extend(line.split())
        words.append(EOS)
    return words


def download_data_dir():
    """Fetches simple-examples.tgz once into the Keras cache; returns its data folder."""
    import keras

    try:
        path = keras.utils.get_file("simple-examples.tgz", ARCHIVE_URL, extract=True)
    except Exception as error:  # no network, a proxy, a half-written file
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise UsageError(
            f"could not download the Penn Treebank from {ARCHIVE_URL} ({reason}); pass "
            "--data_dir with the folder holding ptb.train.txt, ptb.valid.txt and ptb.test.txt"
        ) from None
    # Keras returns the archive or the folder it was unpacked into, depending
    # on the version; look for the split files under either.
    root = path if os.path.isdir(path) else os.path.dirname(path)
    for folder, _, files in os.walk(root):
        if "ptb.train.txt" in files:
            return folder
    raise UsageError(f"the downloaded archive under {root} has no ptb.train.txt; "
                     "pass --data_dir with the folder holding the ptb.*.txt files")


def read_splits(data_dir=None):
    """{"train": words, "valid": words, "test": words} from `data_dir` (or a download)."""
    if data_dir is None:
        data_dir = download_data_dir()
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} is not a folder")
    missing = [os.path.basename(split_path(data_dir, s)) for s in SPLITS
               if not os.path.isfile(split_path(data_dir, s))]
    if missing:
        raise UsageError(f"--data_dir {data_dir} lacks {', '.join(missing)} (expected "
                         "ptb.train.txt, ptb.valid.txt and ptb.test.txt)")
    # read_text_file rejects empty, binary and non-UTF-8 files, naming the file.
    return {split: text_to_words(read_text_file(split_path(data_dir, split)))
            for split in SPLITS}


def encode_splits(splits, max_vocab_size, report=print):
    """(vocab, {split: int32 ids}); words outside the training vocabulary become <unk>."""
    vocab = WordVocab.from_words(splits["train"], max_vocab_size, unknown=UNK)
    ids = {}
    for split, words in splits.items():
        unknown = vocab.unknown_words(words)
        if unknown:
            # PTB itself has none; other corpora (or a max_vocab_size cut) do.
            report(f"note: the {split} split has {len(unknown):,} words outside the "
                   f"training vocabulary ({len(set(unknown)):,} distinct, e.g. "
                   f"{unknown[0]!r}); they count as {UNK}")
        ids[split] = np.asarray(vocab.encode(words), dtype=np.int32)
    return vocab, ids


def batch_windows(ids, batch_size, num_steps, split="train"):
    """The tutorial's ptb_producer as arrays: x, y of shape (epoch_size, batch, num_steps)."""
    ids = np.asarray(ids, dtype=np.int32)
    batch_len = len(ids) // batch_size
    epoch_size = (batch_len - 1) // num_steps
    if epoch_size < 1:
        raise UsageError(
            f"the {split} split has {len(ids):,} words, fewer than one batch needs "
            f"(batch_size * (num_steps + 1) = {batch_size * (num_steps + 1):,}); "
            "use a smaller --batch_size or --num_steps")
    data = ids[:batch_size * batch_len].reshape(batch_size, batch_len)
    used = epoch_size * num_steps
    # (batch, epoch_size, num_steps) -> (epoch_size, batch, num_steps)
    x = data[:, :used].reshape(batch_size, epoch_size, num_steps).transpose(1, 0, 2)
    y = data[:, 1:used + 1].reshape(batch_size, epoch_size, num_steps).transpose(1, 0, 2)
    return x, y


def epoch_dataset(ids, batch_size, num_steps, split="train", repeat=False):
    """tf.data of ({"ids", "reset"}, targets) batches, in order, one pass (or repeated).

    `reset` is True on the first batch of each pass: the model starts that
    batch from a zero state, every later batch from the previous batch's
    final state (the tutorial's run_epoch). Putting it in the data keeps epoch
    boundaries right through resume and validation without callbacks.
    """
    x, y = batch_windows(ids, batch_size, num_steps, split)
    reset = np.arange(len(x)) == 0  # (epoch_size,)
    data = tf.data.Dataset.from_tensor_slices(({"ids": x, "reset": reset}, y))
    if repeat:
        data = data.repeat()
    return data.prefetch(tf.data.AUTOTUNE)
