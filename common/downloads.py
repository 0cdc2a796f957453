"""Quieting tensorflow-datasets, for the commands that read a dataset through it
(sentiment's imdb_reviews, caption's coco_captions)."""

import contextlib
import logging


@contextlib.contextmanager
def absl_warnings_hidden():
    """tfds logs warnings through absl (such as 'Variant folder ... has no
    dataset_info.json' for every dataset not yet downloaded), which would put a
    second line before a failure's one `error:` line; its errors still show."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
