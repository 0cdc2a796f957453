"""Reading user text safely and the JSON character and word vocabularies."""

import collections

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, atomic_write_json, read_bytes, read_json_file


def read_text_file(path, max_bytes=DEFAULT_MAX_BYTES):
    """Returns the UTF-8 text of `path`, or raises UsageError saying what is wrong.

    Anything but a regular file (a folder, a FIFO, a device) is refused before
    it is opened, and files over `max_bytes` are refused unread.
    """
    return decode_text(read_bytes(path, "text file", max_bytes), path)


MAX_TEXTS = 100_000  # texts one predict call reads


def read_lines(path, max_bytes=DEFAULT_MAX_BYTES):
    """The lines of a UTF-8 file (a final line break ends the last line, adds none)."""
    lines = read_text_file(path, max_bytes).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def texts_to_read(texts, input_path, max_bytes, what, max_texts=MAX_TEXTS):
    """The texts a `predict` reads: its TEXT arguments, or the lines of --input FILE.

    `what` is the verb's aim for the message when there is nothing ("space",
    "classify", "translate"). Whether a text may hold a line break is the
    caller's to check (spacing and translate print one line per text and
    refuse one; sentiment reads the text whole).
    """
    if texts and input_path is not None:
        raise UsageError("pass TEXT arguments or --input FILE, not both")
    texts = read_lines(input_path, max_bytes) if input_path is not None else texts
    if not texts:
        raise UsageError(f"nothing to {what}: pass one or more TEXT arguments or --input FILE")
    if len(texts) > max_texts:
        raise UsageError(f"{len(texts):,} texts, more than {max_texts:,} in one call; "
                         "split the input")
    return texts


def decode_text(data, source):
    """Decodes bytes as UTF-8 text; rejects empty, binary and non-UTF-8 input."""
    if not data.strip():
        raise UsageError(f"{source} is empty")
    # A NUL byte never occurs in real text but is common in binary files. The
    # whole input is searched (memchr: a fraction of a second for a GB), so text
    # that turns binary after its first pages is refused too.
    if b"\x00" in data:
        raise UsageError(f"{source} looks like a binary file (it contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{source} is not valid UTF-8 (byte {error.start}); "
            "convert it first, e.g. iconv -f cp949 -t utf-8"
        ) from None
    return text.lstrip("\ufeff")  # drop a byte-order mark if an editor added one


class _JsonVocab:
    """save/load as JSON for a vocabulary whose constructor takes its to_json() fields."""

    kind = "vocabulary"

    def save(self, path):
        atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path):
        data = read_json_file(path)
        try:
            return cls(**data)
        except (TypeError, ValueError):
            raise UsageError(f"{path} is not a {cls.kind} of this project") from None


class CharVocab(_JsonVocab):
    """Maps characters (Unicode code points, so Korean works) to ids and back.

    Ids follow sorted character order, so the same text always gives the same
    vocabulary. Saved as JSON: {"chars": [...]}.
    """

    kind = "character vocabulary"

    def __init__(self, chars):
        self.chars = list(chars)
        self.index = {char: i for i, char in enumerate(self.chars)}
        if len(self.index) != len(self.chars):
            raise ValueError("vocabulary characters must be distinct")

    @classmethod
    def from_text(cls, text):
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def __eq__(self, other):
        return isinstance(other, CharVocab) and self.chars == other.chars

    def unknown_chars(self, text):
        """The distinct characters of `text` that are not in the vocabulary."""
        return sorted(set(text) - self.index.keys())

    def encode(self, text):
        unknown = self.unknown_chars(text)
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise UsageError(f"characters not in the vocabulary: {shown}{more}")
        return [self.index[char] for char in text]

    def decode(self, ids):
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self):
        return {"chars": self.chars}


class WordVocab(_JsonVocab):
    """Maps words to ids and back, most frequent word first.

    Ids follow (-count, word) order, as the TF PTB tutorial's reader builds
    them, so the same corpus always gives the same vocabulary. Words outside
    it map to `unknown` ("<unk>"), which is always in the vocabulary. Saved as
    JSON: {"words": [...], "unknown": "<unk>"}.
    """

    kind = "word vocabulary"

    def __init__(self, words, unknown="<unk>"):
        self.words = list(words)
        self.unknown = unknown
        self.index = {word: i for i, word in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("vocabulary words must be distinct")
        if unknown not in self.index:
            raise ValueError(f"the vocabulary must contain the unknown-word token {unknown!r}")
        self.unknown_id = self.index[unknown]

    @classmethod
    def from_words(cls, words, max_size=None, unknown="<unk>"):
        """The `max_size` most frequent of `words` (all when None), plus `unknown`."""
        counts = collections.Counter(words)
        ordered = sorted(counts, key=lambda word: (-counts[word], word))
        if max_size is not None:
            ordered = ordered[:max_size]
        if unknown not in ordered:
            # Never seen (or cut off): it takes the last place within max_size.
            if max_size is not None and len(ordered) >= max_size:
                ordered = ordered[:max_size - 1]
            ordered.append(unknown)
        return cls(ordered, unknown)

    def __len__(self):
        return len(self.words)

    def __eq__(self, other):
        return (isinstance(other, WordVocab) and self.words == other.words
                and self.unknown == other.unknown)

    def unknown_words(self, words):
        """The words (with repeats) that are not in the vocabulary."""
        return [word for word in words if word not in self.index]

    def encode(self, words):
        """Ids of `words`; words outside the vocabulary get the unknown id."""
        get, unknown_id = self.index.get, self.unknown_id
        return [get(word, unknown_id) for word in words]

    def decode(self, ids):
        return [self.words[int(i)] for i in ids]

    def to_json(self):
        return {"words": self.words, "unknown": self.unknown}
