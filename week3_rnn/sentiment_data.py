"""Labelled texts for the sentiment command: four readers and the generated order task.

Every reader returns a `Labelled` data set: texts (str) with class ids into
`class_names`, split into train, validation and test parts.

    IMDB folder   DIR/{train,test}/{pos,neg}/*.txt (DIR may also hold aclImdb/);
                  the class names are the folder names; train/unsup is ignored
    NSMC folder   DIR/ratings_{train,test}.txt: `id<TAB>document<TAB>label`
                  after that header line, label 0 (neg) or 1 (pos)
    --text FILE   `text<TAB>label` lines; labels are class names as written
    order         generated (no download): the label needs the word order

The validation part (and, for a single file or the order task, the test part)
is chosen by a hash of each text, not by its position: the same text always
lands in the same part, whatever the seed, the order of the lines or
--max_examples, and duplicates never straddle two parts. `evaluate` re-reads
the source a run's config.json names and gets the same test part.

Pure Python and NumPy: no TensorFlow (the tfds reader imports it when called).
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
ORDER_EXAMPLES = 20_000  # sentences the order task draws before its parts are cut
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
    return [entry.name for entry in scan.entries(split_dir)
            if entry.is_dir() and entry.name != IMDB_UNLABELLED]


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
                             f"each class of train/ ({', '.join(class_names)})")
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
                         f"{', '.join(extra)}")
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
            raise UsageError(f"{path} line {number}: label {columns[2].strip()!r} is not "
                             "0 (negative) or 1 (positive)")
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


# --- the order task -------------------------------------------------------------------------

# Each template asserts one adjective ({x}) and denies one of the other polarity ({y});
# the label is x's polarity. Swapping x and y gives the same bag of words and the
# other label, so a model that ignores word order can do no better than chance.
ORDER_TEMPLATES = (
    "{x} , not {y}",
    "not {y} but {x}",
    "{x} rather than {y}",
    "{x} and never {y}",
    "never {y} , always {x}",
    "i expected {y} but it was {x}",
    "it was {x} , i expected {y}",
    "{y} ? no , {x}",
    "not {y} at all , just {x}",
    "far from {y} , it is {x}",
)
POSITIVE = ("good", "great", "fine", "superb", "lovely", "brilliant", "excellent", "charming")
NEGATIVE = ("bad", "awful", "dull", "boring", "poor", "terrible", "weak", "clumsy")
OPENINGS = ("", "the movie :", "the film ?", "honestly ,", "i think", "overall ,",
            "the plot :", "in short ,")
CLOSINGS = ("", ".", "!", ", really", "in my opinion", "to be honest")
INTENSIFIERS = ("", "", "very", "really", "quite")
ORDER_CLASSES = ["neg", "pos"]


def order_sentences(count, seed):
    """(texts, labels) of `count` order-task sentences drawn with `seed`.

    Every choice except x's polarity is drawn independently of the label, so
    each bag of words occurs with either label equally often.
    """
    rng = np.random.default_rng([seed, 0x5E47])  # a stream of its own for this task
    labels = rng.integers(0, 2, count).astype(np.int32)
    texts = []
    for label in labels:
        asserted, denied = (POSITIVE, NEGATIVE) if label == 1 else (NEGATIVE, POSITIVE)
        x, y = rng.choice(asserted), rng.choice(denied)
        x_word = " ".join(filter(None, (rng.choice(INTENSIFIERS), x)))
        y_word = " ".join(filter(None, (rng.choice(INTENSIFIERS), y)))
        body = rng.choice(ORDER_TEMPLATES).format(x=x_word, y=y_word)
        texts.append(" ".join(filter(None, (rng.choice(OPENINGS), body,
                                             rng.choice(CLOSINGS)))))
    return texts, labels


def load_order_task(config, seed):
    texts, labels = order_sentences(ORDER_EXAMPLES, seed)
    return finish(Part(texts, labels), None, ORDER_CLASSES, "dataset:order", config,
                  test_from_train=True)


# --- tensorflow-datasets' imdb_reviews ------------------------------------------------------

TFDS_NAME = "imdb_reviews"


def check_reachable(urls, timeout=10):
    """UsageError at once when the download's host cannot be reached (offline), instead of
    tfds's retries, minutes of progress bars and warnings ending in the same failure."""
    import socket
    import urllib.parse

    for url in urls:
        parsed = urllib.parse.urlparse(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
        except OSError as error:
            raise UsageError(
                f"{TFDS_NAME} is not downloaded yet and {parsed.hostname} cannot be reached "
                f"({error.strerror or type(error).__name__}); connect to the internet, or "
                "pass --data_dir with a local aclImdb (or NSMC) folder, --text FILE, or "
                "--dataset order (generated, no download)") from None


def load_tfds(config, parts=("train", "test"), data_dir=None):
    """tensorflow-datasets' imdb_reviews (downloaded once into its cache), bounded."""
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(TFDS_NAME, data_dir=data_dir)
        if not builder.is_prepared():
            check_reachable(builder.url_infos or {})
            builder.download_and_prepare()
        splits = builder.as_dataset(split=list(parts), as_supervised=True)
        class_names = builder.info.features["label"].names
    except ModuleNotFoundError as error:  # tfds imports some of its modules lazily
        raise UsageError(f"the default data path (tensorflow-datasets) needs the Python "
                         f"package {error.name!r}, which is not installed; run pip install "
                         "-r requirements.txt, or pass --data_dir or --text") from None
    except UsageError:
        raise
    except Exception as error:  # a download cut off, a damaged cache
        raise UsageError(f"could not load {TFDS_NAME} through tensorflow-datasets "
                         f"({type(error).__name__}: {' '.join(str(error).split())[:160]}); "
                         "pass --data_dir with a local aclImdb folder instead") from None
    read = {}
    for split, dataset in zip(parts, splits):
        bound = config.max_examples
        if bound and split == "train":
            bound = int(bound / (1 - config.val_fraction)) + 1
        if bound:
            dataset = dataset.take(bound)  # tfds stores the reviews shuffled
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text.decode("utf-8", errors="replace"))
            labels.append(int(label))
        read[split] = Part(texts, np.array(labels, np.int32))
    empty = Part([], np.zeros(0, np.int32))
    return finish(read.get("train", empty), read.get("test", empty), class_names,
                  f"tfds:{TFDS_NAME}", config)


# --- the data flags and a run's recorded source ---------------------------------------------

DATASETS = ("imdb_reviews", "order")


def load_source(text, data_dir, dataset, config, seed, max_files=DEFAULT_MAX_FILES,
                max_bytes=DEFAULT_MAX_BYTES):
    """The data the train flags name: one of --text, --data_dir, --dataset (none: tfds)."""
    given = [flag for flag, value in (("--text", text), ("--data_dir", data_dir),
                                      ("--dataset", dataset)) if value is not None]
    if len(given) > 1:
        raise UsageError(f"{' and '.join(given)} name two data sources; pass one of --text "
                         "FILE, --data_dir DIR or --dataset NAME (none: imdb_reviews from "
                         "tensorflow-datasets)")
    if text is not None:
        return load_text_file(text, config, max_bytes)
    if data_dir is not None:
        return load_data_dir(data_dir, config, max_files=max_files, max_bytes=max_bytes)
    if dataset == "order":
        return load_order_task(config, seed)
    return load_tfds(config)


def reload_test(source, config, seed, max_files=DEFAULT_MAX_FILES,
                max_bytes=DEFAULT_MAX_BYTES):
    """The test part of the source a run's config.json records (Labelled, train empty)."""
    kind, _, where = source.partition(":")
    if kind == "file":
        return load_text_file(where, config, max_bytes)
    if kind in ("imdb", "nsmc"):
        return load_data_dir(where, config, ("test",), max_files, max_bytes)
    if source == "dataset:order":
        return load_order_task(config, seed)
    if source == f"tfds:{TFDS_NAME}":
        return load_tfds(config, ("test",))
    raise UsageError(f"the run's data ({source or 'not recorded'}) cannot be read again; "
                     "pass --text FILE or --data_dir DIR to evaluate on")
