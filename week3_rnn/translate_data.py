"""Source -> target pairs for the translator: files, CMUdict, and generated tasks.

    pairs file   "Go.\tVe.\tCC-BY 2.0 (France) ..."   -> ("Go.", "Ve.")  (Anki / Tatoeba)
    cmudict      "abbott(2) AE1 B AH0 T # name"       -> ("abbott", "AE B AH T")
    reverse      "kqzvb"                              -> "bvzqk"
    dates        "March 5, 2021", "5 Mar 2021", "2021년 3월 5일"  -> "2021-03-05"
    addition     "123+45"                             -> "168"

Splits are made by a hash of each pair's key (its source text; for CMUdict
the word without its `(2)`), so they depend neither on the order of the file
nor on any seed: the same key always lands in the same part, a source never
has targets in two parts, and the alternate pronunciations of a word never
straddle train and test. When a source holds more than `max_examples` keys, a
second hash picks which are kept, so a small sample (the `test` preset's)
still spreads over the whole file.

`read_source` reads what a run's settings name (train, and evaluate again
later); `prepare` tokenises (common.tokens, the graph the servable uses),
leaves out pairs longer than --max_length and splits.
"""

import datetime
import hashlib
import json
import random
import re

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES
from common.text import read_text_file
from common.tokens import END_ID, START_ID, TokenVocab, check_vocab_size, tokenize_texts

GENERATED = ("reverse", "dates", "addition")
PARTS = ("train", "validation", "test")
DATASETS = ("cmudict", *GENERATED)
REVERSE_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
KOREAN_WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
FIRST_DATE, LAST_DATE = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
_STRESS = re.compile(r"[012]$")
_ALTERNATE = re.compile(r"\(\d+\)$")


def read_pairs(text, where):
    """[(source, target)] of a tab-separated text: the first two columns of each line.

    Extra columns (Tatoeba's attribution) are ignored and empty lines skipped;
    a line without a tab, or with an empty source or target, is a UsageError
    naming the line.
    """
    pairs = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise UsageError(f"{where} line {number} has no tab; each line is "
                             "source<TAB>target (extra columns are ignored)")
        source, target = columns[0].strip(), columns[1].strip()
        if not source or not target:
            side = "source" if not source else "target"
            raise UsageError(f"{where} line {number} has an empty {side}")
        pairs.append((source, target))
    if not pairs:
        raise UsageError(f"{where} holds no source<TAB>target line")
    return pairs


def phonemes(pronunciation, keep_stress=False):
    """ARPAbet symbols of "AE1 B AH0 T": stress digits dropped unless kept."""
    symbols = pronunciation.split()
    return symbols if keep_stress else [_STRESS.sub("", symbol) for symbol in symbols]


def parse_cmudict(text, keep_stress=False, where="cmudict.dict"):
    """{word: [pronunciation, ...]} of a cmudict.dict text, each a list of phonemes.

    `word(2)` lines are alternates of `word`; `# ...` comments and `;;;`
    lines are skipped. Without stress, alternates that differ only in stress
    become one pronunciation. UsageError naming the line for a line with a
    word but no phoneme.
    """
    words = {}
    for number, line in enumerate(text.split("\n"), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(";;;"):
            continue
        word, _, pronunciation = line.partition(" ")
        symbols = phonemes(pronunciation, keep_stress)
        if not symbols:
            raise UsageError(f"{where} line {number} has a word but no pronunciation; "
                             "is this the CMU Pronouncing Dictionary (cmudict.dict)?")
        found = words.setdefault(_ALTERNATE.sub("", word), [])
        if symbols not in found:
            found.append(symbols)
    if not words:
        raise UsageError(f"{where} holds no pronunciation")
    return words


def reverse_pairs(count, min_length, max_length, seed):
    """`count` random lower-case strings of min_length..max_length letters, and each reversed."""
    rng = random.Random(f"reverse-{seed}")
    pairs = []
    for _ in range(count):
        text = "".join(rng.choices(REVERSE_ALPHABET, k=rng.randint(min_length, max_length)))
        pairs.append((text, text[::-1]))
    return pairs


def addition_pairs(count, digits, seed):
    """`count` sums "a+b" -> "a+b's value", each operand of 1..digits random digits
    (the Keras addition example's task)."""
    rng = random.Random(f"addition-{seed}")

    def operand():
        return int("".join(rng.choices("0123456789", k=rng.randint(1, digits))))

    pairs = []
    for _ in range(count):
        a, b = operand(), operand()
        pairs.append((f"{a}+{b}", str(a + b)))
    return pairs


def date_phrasing(date, style):
    """One of the phrasings of `date` (datetime.date) that `dates` reads."""
    month, day, year = MONTHS[date.month - 1], date.day, date.year
    return [f"{month} {day}, {year}",                               # March 5, 2021
            f"{month[:3]} {day}, {year}",                           # Mar 5, 2021
            f"{day} {month} {year}",                                # 5 March 2021
            f"{day} {month[:3]} {year}",                            # 5 Mar 2021
            f"{WEEKDAYS[date.weekday()]}, {month} {day}, {year}",   # Friday, March 5, 2021
            f"{year}년 {date.month}월 {day}일",                      # 2021년 3월 5일
            f"{year}년 {date.month}월 {day}일 {KOREAN_WEEKDAYS[date.weekday()]}",
            f"{year}. {date.month}. {day}."][style]                 # 2021. 3. 5.


DATE_STYLES = 8


def date_pairs(count, seed):
    """`count` dates of 1900-2099 in a random phrasing -> "YYYY-MM-DD"."""
    rng = random.Random(f"dates-{seed}")
    first, last = FIRST_DATE.toordinal(), LAST_DATE.toordinal()
    pairs = []
    for _ in range(count):
        date = datetime.date.fromordinal(rng.randint(first, last))
        pairs.append((date_phrasing(date, rng.randrange(DATE_STYLES)), date.isoformat()))
    return pairs


def generate(dataset, count, seed, min_length=5, max_length=30, digits=3):
    """The pairs of a generated task (GENERATED), the same for the same arguments."""
    if dataset == "reverse":
        return reverse_pairs(count, min_length, max_length, seed)
    if dataset == "addition":
        return addition_pairs(count, digits, seed)
    if dataset == "dates":
        return date_pairs(count, seed)
    raise ValueError(f"not a generated task: {dataset!r}")


def key_hash(key, salt=""):
    """A number in [0, 1) fixed by `key` (SHA-256, so the same on every machine)."""
    digest = hashlib.sha256(f"{salt}{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def split_of(key, val_fraction, test_fraction):
    """"test", "validation" or "train": where the pairs of `key` belong."""
    h = key_hash(key)
    if h < test_fraction:
        return "test"
    return "validation" if h < test_fraction + val_fraction else "train"


def keep_sample(keys, max_examples):
    """The set of at most `max_examples` of `keys` (distinct), picked by a second hash."""
    keys = list(dict.fromkeys(keys))
    if len(keys) <= max_examples:
        return set(keys)
    return set(sorted(keys, key=lambda key: key_hash(key, "sample:"))[:max_examples])


def grouped(examples):
    """[(key, source, [target, ...])] of (key, source, target) triples, first-seen order:
    every reference of one source together, as evaluate scores them."""
    groups = {}
    for key, source, target in examples:
        entry = groups.setdefault(key, (source, []))
        if target not in entry[1]:
            entry[1].append(target)
    return [(key, source, targets) for key, (source, targets) in groups.items()]


def read_source(settings, config, max_bytes=DEFAULT_MAX_BYTES):
    """[(key, source, target)] of the data `settings` name, at most config.max_examples keys.

    A CMUdict target is its phonemes joined by spaces; the key of every other
    pair is its source text.
    """
    dataset = settings["dataset"]
    if dataset == "reverse" and settings["min_length"] > config.max_length:
        raise UsageError(f"--min_length {settings['min_length']} is more than "
                         f"--max_length {config.max_length}")
    if dataset == "pairs":
        path = settings["path"]
        triples = [(s, s, t) for s, t in read_pairs(read_text_file(path, max_bytes), path)]
    elif dataset == "cmudict":
        path = settings["path"]
        words = parse_cmudict(read_text_file(path, max_bytes), settings["keep_stress"], path)
        triples = [(word, word, " ".join(p)) for word, ps in words.items() for p in ps]
    else:
        pairs = generate(dataset, config.max_examples, settings["data_seed"],
                         settings.get("min_length", 1), config.max_length,
                         settings.get("digits", 3))
        triples = [(s, s, t) for s, t in pairs]
    kept = keep_sample((key for key, _, _ in triples), config.max_examples)
    return [triple for triple in triples if triple[0] in kept]


def levels(settings):
    """(source token level, target token level) of a dataset."""
    if settings["dataset"] == "pairs":
        return settings["tokens"], settings["tokens"]
    return "char", "word" if settings["dataset"] == "cmudict" else "char"


def tokenized(triples, settings, max_length):
    """([(key, source, source tokens, target tokens)], how many pairs were left out for an
    empty side or more than max_length tokens)."""
    source_level, target_level = levels(settings)
    sources = [source for _, source, _ in triples]
    if settings["dataset"] == "cmudict":
        sources = [source.lower() for source in sources]
    source_tokens = tokenize_texts(sources, source_level)
    targets = ([target.split() for _, _, target in triples] if settings["dataset"] == "cmudict"
               else tokenize_texts([target for _, _, target in triples], target_level))
    kept = [(key, source, src, tgt) for (key, source, _), src, tgt
            in zip(triples, source_tokens, targets)
            if src and tgt and len(src) <= max_length and len(tgt) <= max_length]
    return kept, len(triples) - len(kept)


def prepare(triples, settings, config):
    """{part: [(key, source, source tokens, target tokens)]}, split by key, and how many
    pairs were left out (tokenized)."""
    examples, left_out = tokenized(triples, settings, config.max_length)
    parts = {part: [] for part in PARTS}
    for example in examples:
        parts[split_of(example[0], config.val_fraction, config.test_fraction)].append(example)
    return parts, left_out


def fingerprint(parts):
    """SHA-256 of the prepared examples: evaluate refuses data changed since training."""
    digest = hashlib.sha256()
    for part in PARTS:
        digest.update(json.dumps([part, parts[part]], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def make_vocabs(train, settings, config):
    """(source, target) TokenVocabs of the training part, at most config.max_vocab_size each."""
    source_level, target_level = levels(settings)
    source = TokenVocab.from_token_lists([e[2] for e in train], source_level,
                                         config.max_vocab_size)
    target = TokenVocab.from_token_lists([e[3] for e in train], target_level,
                                         config.max_vocab_size)
    check_vocab_size(source, "the training sources")
    check_vocab_size(target, "the training targets")
    return source, target


def encoded(examples, source_vocab, target_vocab, reverse_source):
    """(source ids, decoder inputs <start> y1..yT, decoder targets y1..yT <end>) lists."""
    sources = [source_vocab.encode(e[2]) for e in examples]
    if reverse_source:
        sources = [ids[::-1] for ids in sources]
    targets = [target_vocab.encode(e[3]) for e in examples]
    return sources, [[START_ID] + ids for ids in targets], [ids + [END_ID] for ids in targets]
