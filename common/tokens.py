"""Tokens of texts (English, Korean, any script) and their vocabulary with special tokens.

The sequence commands (sentiment, translate, and the weeks after) read texts
as tokens, one of two levels:

    char: "Good movie!"  ->  ["G", "o", "o", "d", " ", "m", ...]     (case kept)
    word: "Good movie!"  ->  ["good", "movie", "!"]    (lower case, punctuation apart)

Tokenisation is TensorFlow string ops (`tokenize`), so training, evaluation
and an exported SavedModel split a text identically by construction: Python
code calls the same graph through `tokenize_texts`.

A TokenVocab numbers its tokens after four special ones:

    0 <pad>    padding; Embedding(mask_zero=True) masks it, losses ignore it
    1 <start>  the first input of a decoder
    2 <end>    what a decoder emits when its output is complete
    3 <unk>    any token the vocabulary lacks (counted, never an error)
"""

import collections

import numpy as np
import tensorflow as tf

from common.cli import UsageError
from common.text import _JsonVocab

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
PAD_ID, START_ID, END_ID, UNK_ID = range(4)
LEVELS = ("char", "word")
TOKENIZE_BATCH = 4096  # texts per tokenizer call in tokenize_texts; bounds its memory

# IMDB reviews keep the HTML line breaks of the web page.
_HTML_BREAK = r"<[bB][rR]\s*/?>"
# A word-level token is a run of letters and digits (any script: \p{L} covers
# Hangul), or one punctuation mark. RE2's \w is ASCII-only, hence \p{L}\p{N}.
_PUNCTUATION = r"([^\p{L}\p{N}\s])"


def tokenize(texts, level):
    """texts (batch,) string -> tokens, ragged (batch, None) string.

    Both levels replace HTML line breaks and every run of white space by one
    space and drop white space at the ends; "word" also lower-cases (Unicode
    aware) and sets each punctuation mark apart.
    """
    texts = tf.strings.regex_replace(texts, _HTML_BREAK, " ")
    texts = tf.strings.strip(tf.strings.regex_replace(texts, r"\s+", " "))
    if level == "char":
        return tf.strings.unicode_split(texts, "UTF-8", errors="replace")
    if level != "word":
        raise ValueError(f"token level must be one of {LEVELS}, not {level!r}")
    texts = tf.strings.lower(texts, encoding="utf-8")
    return tf.strings.split(tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 "))


def tokenize_texts(texts, level):
    """The tokens of each text (a list of str) as a list of lists of str, via `tokenize`."""
    out = []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        part = tokenize(tf.constant(texts[start:start + TOKENIZE_BATCH], tf.string), level)
        out.extend([token.decode("utf-8") for token in row] for row in part.to_list())
    return out


def count_and_keep_last(texts, level, keep_last):
    """(collections.Counter of every token of `texts`, ragged (len(texts), None) string
    tensor of each text's last `keep_last` tokens), by `tokenize`.

    For training sets, where a text may be very long: tokenize_texts makes a
    Python string per token (tens of bytes each), so one 100 MB line would take
    gigabytes. Here the counting and the cut happen in TensorFlow,
    TOKENIZE_BATCH texts at a time, and only distinct tokens become Python
    strings. Read the kept tokens' ids with TokenVocab.lookup.
    """
    counts, kept = collections.Counter(), []
    for start in range(0, len(texts), TOKENIZE_BATCH):
        tokens = tokenize(tf.constant(texts[start:start + TOKENIZE_BATCH], tf.string), level)
        unique, _, found = tf.unique_with_counts(tokens.flat_values)
        counts.update(dict(zip([token.decode("utf-8") for token in unique.numpy()],
                               found.numpy().tolist())))
        kept.append(tokens[:, -keep_last:])
    if not kept:
        return counts, tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.string),
                                                        tf.zeros([0], tf.int64))
    return counts, tf.concat(kept, axis=0)


def join_tokens(tokens, level):
    """The text of `tokens`: characters joined as they are, words with spaces."""
    return ("" if level == "char" else " ").join(tokens)


class TokenVocab(_JsonVocab):
    """Token <-> id, the four SPECIALS first, then the tokens most frequent first.

    Ids after the specials follow (-count, token) order, so the same texts
    always give the same vocabulary. Saved as JSON: {"tokens": [...], "level":
    "char"|"word"}, the specials included.
    """

    kind = "token vocabulary"

    def __init__(self, tokens, level):
        self.tokens = list(tokens)
        self.level = level
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}")
        if tuple(self.tokens[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a token vocabulary starts with {SPECIALS}")
        if not all(isinstance(token, str) and token for token in self.tokens):
            raise ValueError("tokens are non-empty strings")
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary tokens must be distinct")

    @classmethod
    def from_token_lists(cls, token_lists, level, max_size=None, min_count=1):
        """The vocabulary of `token_lists`: tokens seen >= min_count times, at most
        max_size entries in all (the specials included)."""
        counts = collections.Counter(token for tokens in token_lists for token in tokens)
        return cls.from_counts(counts, level, max_size, min_count)

    @classmethod
    def from_counts(cls, counts, level, max_size=None, min_count=1):
        """The vocabulary of tokens counted in `counts` ({token: count}), as from_token_lists."""
        ordered = sorted((token for token, n in counts.items()
                          if n >= min_count and token not in SPECIALS),
                         key=lambda token: (-counts[token], token))
        if max_size is not None:
            ordered = ordered[:max(max_size - len(SPECIALS), 0)]
        return cls([*SPECIALS, *ordered], level)

    def __len__(self):
        return len(self.tokens)

    def __eq__(self, other):
        return (isinstance(other, TokenVocab) and self.tokens == other.tokens
                and self.level == other.level)

    def encode(self, tokens, start=False, end=False):
        """Ids of `tokens` (unknown ones -> UNK_ID), with <start> / <end> added if asked."""
        get = self.index.get
        ids = [get(token, UNK_ID) for token in tokens]
        return [START_ID] * start + ids + [END_ID] * end

    def encode_all(self, token_lists, start=False, end=False):
        """(list of id lists, number of unknown tokens) for many token lists."""
        encoded = [self.encode(tokens, start, end) for tokens in token_lists]
        unknown = sum(ids.count(UNK_ID) for ids in encoded)
        return encoded, unknown

    def decode(self, ids):
        """Tokens of `ids` up to the first <end>; <pad> and <start> are left out."""
        tokens = []
        for i in np.asarray(ids).reshape(-1):
            if i == END_ID:
                break
            if i not in (PAD_ID, START_ID):
                tokens.append(self.tokens[int(i)])
        return tokens

    def decode_text(self, ids):
        return join_tokens(self.decode(ids), self.level)

    def lookup(self, tokens):
        """Ids (int32) of a string tensor of tokens, ragged or not; UNK_ID for the rest."""
        return tf.ragged.map_flat_values(self.lookup_table().lookup, tokens)

    def lookup_table(self):
        """A TensorFlow table token -> id (int32), UNK_ID for the rest: for servables."""
        return tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.tokens, tf.string), tf.range(len(self.tokens))),
            default_value=UNK_ID)

    def to_json(self):
        return {"tokens": self.tokens, "level": self.level}


def check_vocab_size(vocab, what="the training data"):
    """UsageError when `vocab` holds nothing but the special tokens."""
    if len(vocab) <= len(SPECIALS):
        raise UsageError(f"{what} gives an empty vocabulary (no token kept); "
                         "use more data or a smaller --min_count")
