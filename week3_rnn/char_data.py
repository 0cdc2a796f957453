"""Where the char-RNN's text comes from.

  --text FILE                  any UTF-8 text file (Korean included)
  --dataset python_stdlib      the default: source code of the Python standard
                               library read from the running interpreter, the
                               way the lecture trains on Linux kernel source;
                               needs no network and no file from the user
  --dataset tiny_shakespeare   tensorflow-datasets on a machine with internet,
                               or `--data_dir` holding the classic input.txt
"""

import os
import sysconfig

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES
from common.text import read_text_file

DATASETS = ("python_stdlib", "tiny_shakespeare")
STDLIB_MAX_CHARS = 2_000_000


def python_stdlib_text(max_chars=STDLIB_MAX_CHARS):
    """Top-level standard-library modules in name order, up to max_chars."""
    stdlib = sysconfig.get_paths()["stdlib"]
    pieces, total = [], 0
    for name in sorted(os.listdir(stdlib)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(stdlib, name), encoding="utf-8", errors="replace") as f:
            source = f.read()
        pieces.append(source)
        total += len(source)
        if total >= max_chars:
            break
    if not pieces:
        raise UsageError(f"no Python sources found in {stdlib}; pass --text FILE instead")
    return "\n".join(pieces)[:max_chars]


def tiny_shakespeare_text(data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    if data_dir:
        path = data_dir if os.path.isfile(data_dir) else os.path.join(data_dir, "input.txt")
        return read_text_file(path, max_bytes)
    import tensorflow_datasets as tfds  # imported here: it is slow to import

    try:
        splits = tfds.load("tiny_shakespeare", split=["train", "validation", "test"])
    except Exception as error:  # no network, no cache
        raise UsageError(
            f"could not load tiny_shakespeare with tensorflow-datasets ({type(error).__name__}); "
            "pass --data_dir with the folder holding input.txt") from None
    # Each split is a single example; train, validation, test are the file in order.
    return "".join(next(iter(split))["text"].numpy().decode("utf-8") for split in splits)


def load_corpus(text_path=None, dataset="python_stdlib", data_dir=None,
                max_bytes=DEFAULT_MAX_BYTES):
    """Returns (text, source) where source names where the text came from."""
    if text_path is not None:
        return read_text_file(text_path, max_bytes), f"file:{os.path.abspath(text_path)}"
    if dataset == "python_stdlib":
        return python_stdlib_text(), "dataset:python_stdlib"
    if dataset == "tiny_shakespeare":
        return tiny_shakespeare_text(data_dir, max_bytes), "dataset:tiny_shakespeare"
    raise UsageError(f"unknown --dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
