"""Where a sentiment run's data comes from: files, the generated order task, or tfds.

    --text FILE, --data_dir DIR   week3_rnn.sentiment_files (TEXT<TAB>LABEL, IMDB, NSMC)
    --dataset order               generated here (no download): the label needs the order
    nothing (or imdb_reviews)     tensorflow-datasets' imdb_reviews, downloaded once

`load_source` reads what the train flags name; `reload_test` re-reads the test
part of the source a run's config.json records, for `evaluate`. The order
task's test part is cut by a hash of each sentence (sentiment_files.hash_split),
so no test sentence is ever a training sentence, whatever the seed.
"""

import numpy as np

from common.cli import UsageError
from common.downloads import absl_warnings_hidden
from common.files import DEFAULT_MAX_BYTES
from common.folders import DEFAULT_MAX_FILES
from week3_rnn.sentiment_files import Part, finish, load_data_dir, load_text_file

ORDER_EXAMPLES = 20_000  # sentences the order task draws before its parts are cut


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
    with absl_warnings_hidden():
        return _load_tfds(config, parts, data_dir)


def _load_tfds(config, parts, data_dir):
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
