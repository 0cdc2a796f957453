"""What a translate run's data settings may be, and whether its data fits in memory.

config.json records the data settings train used (dataset, path, tokens, ...);
evaluate and predict read them back, so `check_settings` refuses values train
never writes (an edited file) with one error line instead of a traceback, and
`check_levels` a vocab.json whose token levels are not that data's.
`check_data_fits` runs before any pair is generated or read: the pairs become
Python objects (BYTES_PER_TOKEN), so --max_examples 10^7 would otherwise head
for an out-of-memory kill.
"""

import os

from common.argtypes import SEED_MAX
from common.cli import UsageError
from common.model_size import GIB, available_bytes
from common.tokens import LEVELS
from week3_rnn.translate_data import DATASETS, GENERATED, levels

MAX_MIN_LENGTH, MAX_DIGITS = 1000, 18  # the train flags' own bounds (--min_length, --digits)
# Memory per token while the data is prepared: a Python str per token (source
# and target), its three id lists and the fingerprint's JSON. read_source ->
# prepare -> make_vocabs -> encoded -> fingerprint grew the peak RSS by 44
# bytes per token (reverse, 100k pairs of 20-40 letters) and 78 (dates, 100k);
# 100 leaves a margin for the batches training builds from them.
BYTES_PER_TOKEN = 100
DATE_TOKENS = 30  # source and target of one date: 24 on average (8 phrasings), 39 at most

SETTING_KEYS = ("dataset", "path", "tokens", "keep_stress", "min_length", "digits",
                "data_seed")


def recorded_settings(saved, run_dir):
    """The data settings config.json records (`saved`), checked: read, not trusted."""
    settings = {key: saved[key] for key in SETTING_KEYS if key in saved}
    if "dataset" not in settings:
        raise UsageError(f"{run_dir.config_path} names no dataset; the file was edited "
                         "or is not this project's")
    return check_settings(settings, run_dir.config_path)


def check_settings(settings, where):
    """UsageError unless `settings` (the data settings config.json records) are what train
    writes: they are read back by evaluate and predict, not trusted."""
    def bad(what):
        return UsageError(f"{where}: its {what} is not what train writes (edited or "
                          "damaged); restore it or retrain")

    def whole(key, low, high):
        value = settings.get(key)
        if type(value) is not int or not low <= value <= high:
            raise bad(f"{key} ({value!r})")

    dataset = settings.get("dataset")
    if not isinstance(dataset, str) or dataset not in (*DATASETS, "pairs"):
        raise bad(f"dataset ({dataset!r})")
    if dataset in ("pairs", "cmudict") and not isinstance(settings.get("path"), str):
        raise bad(f"path ({settings.get('path')!r})")
    if dataset == "pairs" and settings.get("tokens") not in LEVELS:
        raise bad(f"tokens ({settings.get('tokens')!r})")
    if dataset == "cmudict" and type(settings.get("keep_stress")) is not bool:
        raise bad(f"keep_stress ({settings.get('keep_stress')!r})")
    if dataset in GENERATED:
        whole("data_seed", 0, SEED_MAX)
    if dataset == "reverse":
        whole("min_length", 1, MAX_MIN_LENGTH)
    if dataset == "addition":
        whole("digits", 1, MAX_DIGITS)
    return settings


def check_data_fits(settings, config, available=None):
    """UsageError (naming the flags to lower) when preparing the data `settings` name
    would take more memory than this machine has; called before anything is generated
    or read, since Python holds each token as an object (BYTES_PER_TOKEN)."""
    dataset = settings["dataset"]
    examples = config.max_examples
    if dataset in ("pairs", "cmudict"):
        try:
            size = os.path.getsize(settings["path"])
        except OSError:
            return  # read_text_file names the problem
        # The whole file as Python strings, then the tokens of the kept pairs.
        needed = 4 * size + BYTES_PER_TOKEN * min(size, examples * 2 * config.max_length)
        lower = "--max_examples or --max_length, or use a smaller file"
    else:
        per_example = {"reverse": settings.get("min_length", 1) + config.max_length,
                       "dates": DATE_TOKENS,
                       "addition": 3 * settings.get("digits", 3) + 2}[dataset]
        needed = BYTES_PER_TOKEN * examples * per_example
        lower = {"reverse": "--max_examples, --max_length or --min_length",
                 "dates": "--max_examples",
                 "addition": "--max_examples or --digits"}[dataset]
    if available is None:
        available = available_bytes()
    if available is not None and needed > available:
        raise UsageError(f"preparing this data ({dataset}, --max_examples {examples:,}) "
                         f"needs about {needed / GIB:,.1f} GiB, more than the "
                         f"{available / GIB:,.1f} GiB this machine has available; "
                         f"lower {lower}")


def check_levels(vocabs, settings, run_dir):
    """UsageError unless the vocabularies split texts as the recorded data does: the
    servable tokenises by the vocabulary's level, so a mismatch would feed the model
    tokens of a kind it never saw, silently."""
    for side, level in zip(("source", "target"), levels(settings)):
        if vocabs[side].level != level:
            raise UsageError(f"{run_dir.path}: vocab.json holds {vocabs[side].level} {side} "
                             f"tokens but config.json's data has {level} tokens (edited, or "
                             "from another run); restore them or retrain")
