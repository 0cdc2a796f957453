"""Labelled texts read from files: TEXT<TAB>LABEL, IMDB folders and NSMC folders.

Every reader returns a `Labelled` data set: texts (str) with class ids into
`class_names`, split into train, validation and test parts.

    IMDB folder   DIR/{train,test}/{pos,neg}/*.txt (DIR may also hold aclImdb/);
                  the class names are the folder names; train/unsup is ignored
    NSMC folder   DIR/ratings_{train,test}.txt: `id<TAB>document<TAB>label`
                  after that header line, label 0 (neg) or 1 (pos)
    --text FILE   `text<TAB>label` lines; labels are class names as written

The validation part (and, for a single file, the test part) is chosen by a
hash of each text, not by its position: the same text always lands in the
same part, whatever the seed, the order of the lines or --max_examples, and
duplicates never straddle two parts. `evaluate` re-reads the source a run's
config.json names and gets the same test part. Pure Python and NumPy.
"""

import dataclasses
import hashlib
import os

import numpy as np

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, read_bytes
from common.folders import DEFAULT_MAX_FILES, FolderScan, check_scannable
from common.text import read_text_file

MAX_CLASSES = 100        # more distinct values than this is not a label column
MAX_LABEL_CHARS = 64
IMDB_UNLABELLED = "unsup"
NSMC_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
NSMC_HEADER = ["id", "document", "label"]
NSMC_CLASSES = ["neg", "pos"]  # NSMC's label 0 and 1
LAYOUTS = ("an IMDB folder (train/ and test/ holding one folder per class, e.g. aclImdb), "
           "or an NSMC folder (ratings_train.txt and ratings_test.txt)")


@dataclasses.dataclass
class Part:
    texts: list                # str, one per example
    labels: np.ndarray         # (examples,) int32 ids into class_names

    def __len__(self):
        return len(self.texts)

    def first(self, count):
        """The first `count` examples (all when count is 0)."""
        if not count or count >= len(self):
            return self
        return Part(self.texts[:count], self.labels[:count])


@dataclasses.dataclass
class Labelled:
    train: Part
    validation: Part
    test: Part
    class_names: list
    source: str                # what config.json records: "file:/abs", "imdb:/abs", ...
    skipped: int = 0           # empty texts left out


def text_hash(text):
    """A number in [0, 1) from the text alone: where the text falls in the hash split."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


def hash_split(part, val_fraction, test_fraction=0.0):
    """(train, validation, test) of `part`, each text placed by text_hash alone."""
    where = np.array([text_hash(text) for text in part.texts])
    test = where < test_fraction
    validation = ~test & (where < test_fraction + val_fraction)
    train = ~(test | validation)

    def pick(mask):
        return Part([t for t, keep in zip(part.texts, mask) if keep], part.labels[mask])

    return pick(train), pick(validation), pick(test)


def test_digest(part):
    """A short fingerprint of a test part, to tell evaluate the source has changed."""
    h = hashlib.sha256()
    for text, label in zip(part.texts, part.labels):
        h.update(f"{int(label)}\t{text}\n".encode("utf-8"))
    return h.hexdigest()[:16]


def finish(train, test, class_names, source, config, skipped=0, test_from_train=False):
    """The Labelled data: validation (and test) parts cut by hash, each bounded."""
    test_fraction = config.test_fraction if test_from_train else 0.0
    train, validation, held_out = hash_split(train, config.val_fraction, test_fraction)
    if test_from_train:
        test = held_out
    bound = config.max_examples
    return Labelled(train.first(bound), validation.first(bound), test.first(bound),
                    list(class_names), source, skipped)


# --- text<TAB>label files -------------------------------------------------------------------

def check_label_column(labels, where):
    """UsageError unless `labels` (str, one per example) look like a small set of classes."""
    names = sorted(set(labels))
    long = [name for name in names if len(name) > MAX_LABEL_CHARS]
    if long or len(names) > MAX_CLASSES or 2 * len(names) > len(labels):
        raise UsageError(
            f"{where}: the label column has {len(names):,} different values in "
            f"{len(labels):,} lines, so it is not a label (a small set such as pos/neg or "
            f"0/1, at most {MAX_CLASSES}, each on two lines or more); every line is "
            "TEXT<TAB>LABEL with the label after the last tab")
    if len(names) < 2:
        raise UsageError(f"{where}: every line has the label {names[0]!r}; a classifier "
                         "needs at least two classes")
    return names


def read_labelled_lines(path, max_bytes=DEFAULT_MAX_BYTES):
    """(texts, label strings, empty texts skipped) of a `text<TAB>label` file.

    The label is what follows the last tab (so a text may hold tabs); blank
    lines are skipped, and so is a first line whose label is `label` (a header).
    """
    content = read_text_file(path, max_bytes)
    texts, labels, skipped = [], [], 0
    for number, line in enumerate(content.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if "\t" not in line:
            raise UsageError(f"{path} line {number} has no tab; every line is "
                             "TEXT<TAB>LABEL")
        text, label = line.rsplit("\t", 1)
        label = label.strip()
        if not label:
            raise UsageError(f"{path} line {number} has an empty label (after its last tab)")
        if not texts and not skipped and label.lower() == "label":
            continue  # a header line
        if not text.strip():
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
    if not texts:
        raise UsageError(f"{path} holds no TEXT<TAB>LABEL line with a text")
    return texts, labels, skipped


def load_text_file(path, config, max_bytes=DEFAULT_MAX_BYTES):
    """The parts of one `text<TAB>label` file; test and validation parts cut by hash."""
    texts, labels, skipped = read_labelled_lines(path, max_bytes)
    names = check_label_column(labels, path)
    index = {name: i for i, name in enumerate(names)}
    part = Part(texts, np.array([index[label] for label in labels], np.int32))
    return finish(part, None, names, f"file:{os.path.abspath(path)}", config, skipped,
                  test_from_train=True)


# --- IMDB folders ---------------------------------------------------------------------------

def imdb_root(data_dir):
    """The folder holding train/ and test/: data_dir itself or data_dir/aclImdb; else None."""
    for folder in (data_dir, os.path.join(data_dir, "aclImdb")):
        if all(os.path.isdir(os.path.join(folder, split)) for split in ("train", "test")):
            return folder
    return None


def class_folders(scan, split_dir):
    """The class names of an IMDB split: its sub-folders (unsup left out), sorted."""
    names = [entry.name for entry in scan.entries(split_dir)
             if entry.is_dir() and entry.name != IMDB_UNLABELLED]
    if len(names) > MAX_CLASSES:
        raise UsageError(f"--data_dir: {split_dir} holds {len(names):,} class folders, more "
                         f"than {MAX_CLASSES} (as for a label column); is it a folder of "
                         "classes (pos/ and neg/, say)?")
    return names


def shown(names, count=10):
    """`names` for a message: the first `count`, then how many more."""
    more = f" and {len(names) - count:,} more" if len(names) > count else ""
    return ", ".join(names[:count]) + more


def balanced(paths_by_class, count):
    """(path, class id) pairs: the classes taken in turn, so any prefix is balanced."""
    pairs, longest = [], max(map(len, paths_by_class))
    for i in range(longest):
        pairs += [(paths[i], c) for c, paths in enumerate(paths_by_class) if i < len(paths)]
    return pairs[:count] if count else pairs


def read_review(path, max_bytes):
    """The text of one review file ('' when empty); UsageError when it is not text."""
    data = read_bytes(path, "review file", max_bytes)
    if b"\x00" in data:
        raise UsageError(f"{path} looks like a binary file (it contains NUL bytes), not a "
                         "review")
    try:
        return data.decode("utf-8").lstrip("\ufeff").strip()
    except UnicodeDecodeError as error:
        raise UsageError(f"{path} is not valid UTF-8 (byte {error.start})") from None


def read_imdb_split(scan, root, split, class_names, max_examples, max_bytes):
    """(Part, empty reviews skipped) of root/split/<class>/*.txt, balanced if bounded."""
    split_dir = os.path.join(root, split)
    paths_by_class = []
    for name in class_names:
        folder = os.path.join(split_dir, name)
        if not os.path.isdir(folder):
            raise UsageError(f"--data_dir: {folder} is missing; {split}/ needs a folder for "
                             f"each class of train/ ({shown(class_names)})")
        paths_by_class.append(scan.files(folder, keep=lambda n: n.endswith(".txt")))
        if not paths_by_class[-1]:
            raise UsageError(f"--data_dir: {folder} holds no .txt review")
    texts, labels, skipped = [], [], 0
    for path, label in balanced(paths_by_class, max_examples):
        text = read_review(path, max_bytes)
        if not text:
            skipped += 1
            continue
        texts.append(text)
        labels.append(label)
    return Part(texts, np.array(labels, np.int32)), skipped


def load_imdb_folder(root, config, parts, max_files, max_bytes):
    scan = FolderScan(root, max_files, "--data_dir")
    class_names = class_folders(scan, os.path.join(root, "train"))
    if len(class_names) < 2:
        raise UsageError(f"--data_dir: {os.path.join(root, 'train')} needs a folder per "
                         f"class, at least two (pos/ and neg/); found {class_names or 'none'}")
    extra = sorted(set(class_folders(scan, os.path.join(root, "test"))) - set(class_names))
    if extra:
        raise UsageError(f"--data_dir: test/ has class folders train/ lacks: "
                         f"{shown(extra)}")
    read = {}
    for split in parts:
        # The training split is read a little beyond --max_examples: the
        # validation part is cut from it before both are bounded.
        bound = (config.max_examples and
                 int(config.max_examples / (1 - config.val_fraction)) + 1
                 if split == "train" else config.max_examples)
        read[split] = read_imdb_split(scan, root, split, class_names, bound, max_bytes)
    empty = Part([], np.zeros(0, np.int32))
    return finish(read.get("train", (empty, 0))[0], read.get("test", (empty, 0))[0],
                  class_names, f"imdb:{os.path.abspath(root)}", config,
                  sum(skipped for _, skipped in read.values()))


# --- NSMC -----------------------------------------------------------------------------------

def read_nsmc_file(path, max_bytes):
    """(Part, empty documents skipped) of ratings_*.txt: id<TAB>document<TAB>label lines."""
    lines = read_text_file(path, max_bytes).split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if header != NSMC_HEADER:
        raise UsageError(f"{path} line 1 is not NSMC's header id<TAB>document<TAB>label; "
                         "is this a ratings_train.txt / ratings_test.txt of NSMC?")
    texts, labels, skipped = [], [], 0
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) != 3:
            raise UsageError(f"{path} line {number} has {len(columns)} tab-separated "
                             "columns, not 3 (id, document, label)")
        if columns[2].strip() not in ("0", "1"):
            raise UsageError(f"{path} line {number}: label {columns[2].strip()[:40]!r} is "
                             "not 0 (negative) or 1 (positive)")
        if not columns[1].strip():
            skipped += 1  # NSMC has a few empty documents
            continue
        texts.append(columns[1])
        labels.append(int(columns[2]))
    return Part(texts, np.array(labels, np.int32)), skipped


def load_nsmc_folder(data_dir, config, parts, max_bytes):
    read, skipped = {}, 0
    for split in parts:
        path = os.path.join(data_dir, NSMC_FILES[split])
        if not os.path.exists(path):
            raise UsageError(f"--data_dir: {path} is missing; an NSMC folder holds "
                             f"{' and '.join(NSMC_FILES.values())}")
        read[split], count = read_nsmc_file(path, max_bytes)
        skipped += count
        # NSMC's files are in no class order: a prefix is a fair sample.
    empty = Part([], np.zeros(0, np.int32))
    train = read.get("train", empty)
    if config.max_examples and len(train):
        train = train.first(int(config.max_examples / (1 - config.val_fraction)) + 1)
    return finish(train, read.get("test", empty), NSMC_CLASSES,
                  f"nsmc:{os.path.abspath(data_dir)}", config, skipped)


def load_data_dir(data_dir, config, parts=("train", "test"), max_files=DEFAULT_MAX_FILES,
                  max_bytes=DEFAULT_MAX_BYTES):
    """An IMDB or NSMC folder, whichever layout `data_dir` has."""
    check_scannable(data_dir, "--data_dir")  # not /, /usr, /proc/..., the home folder
    if os.path.exists(os.path.join(data_dir, NSMC_FILES["train"])):
        return load_nsmc_folder(data_dir, config, parts, max_bytes)
    root = imdb_root(data_dir)
    if root is None:
        raise UsageError(f"--data_dir {data_dir} matches no known layout; expected {LAYOUTS}")
    return load_imdb_folder(root, config, parts, max_files, max_bytes)
