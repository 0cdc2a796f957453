"""The translator's data: pairs files, CMUdict, generated tasks (checked independently), splits."""

import dataclasses
import datetime
import re

import pytest

from common.cli import UsageError
from week3_rnn import translate_data
from week3_rnn.translate_data import (date_pairs, addition_pairs, keep_sample, parse_cmudict,
                                      prepare, read_pairs, reverse_pairs, split_of)
from week3_rnn.translate_model import PRESETS

CMUDICT = """\
;;; a comment line of the old format
abbott AE1 B AH0 T
abbott(2) AE1 B AH0 T # the same but for stress: one pronunciation without it
abbott(3) AE1 B AO0 T
aalborg AO1 L B AO0 R G # place, danish
read R EH1 D
read(2) R IY1 D
"""


def test_cmudict_drops_stress_and_gathers_alternates():
    words = parse_cmudict(CMUDICT)
    assert words == {"abbott": [["AE", "B", "AH", "T"], ["AE", "B", "AO", "T"]],
                     "aalborg": [["AO", "L", "B", "AO", "R", "G"]],
                     "read": [["R", "EH", "D"], ["R", "IY", "D"]]}


def test_cmudict_keeps_stress_when_asked():
    words = parse_cmudict(CMUDICT, keep_stress=True)
    assert words["abbott"] == [["AE1", "B", "AH0", "T"], ["AE1", "B", "AO0", "T"]]
    assert words["read"][1] == ["R", "IY1", "D"]


@pytest.mark.parametrize("text, fragment", [("word\n", "line 1 has a word but no"),
                                            ("# only a comment\n", "holds no pronunciation")])
def test_cmudict_that_is_not_one(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        parse_cmudict(text)


def test_pairs_take_two_columns_and_name_a_bad_line():
    text = "Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org\r\n\n안녕\t你好\n"
    assert read_pairs(text, "kor.txt") == [("Go.", "Ve."), ("안녕", "你好")]
    with pytest.raises(UsageError, match=r"spa.txt line 3 has no tab"):
        read_pairs("a\tb\nc\td\nno tab here\n", "spa.txt")
    with pytest.raises(UsageError, match=r"line 2 has an empty target"):
        read_pairs("a\tb\nc\t \n", "f")
    with pytest.raises(UsageError, match="no source<TAB>target"):
        read_pairs("\n\n", "f")


def test_addition_is_right_and_like_the_keras_example():
    pairs = addition_pairs(2000, 3, seed=0)
    for source, target in pairs:
        a, b = source.split("+")
        assert 1 <= len(a) <= 3 and 1 <= len(b) <= 3 and int(target) == int(a) + int(b)
    assert pairs == addition_pairs(2000, 3, seed=0) != addition_pairs(2000, 3, seed=1)
    assert max(len(s) for s, _ in pairs) == 7


ENGLISH_FORMATS = ["%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%A, %B %d, %Y"]


def parse_date(text):
    """The date a phrasing names, read by the standard library and a regular expression
    (not by the generator's own code)."""
    korean = re.fullmatch(r"(\d{4})년 (\d{1,2})월 (\d{1,2})일( [월화수목금토일]요일)?", text)
    dotted = re.fullmatch(r"(\d{4})\. (\d{1,2})\. (\d{1,2})\.", text)
    for match in (korean, dotted):
        if match:
            date = datetime.date(*map(int, match.groups()[:3]))
            if korean and match.group(4):  # the weekday must be the date's
                assert match.group(4).strip()[0] == "월화수목금토일"[date.weekday()]
            return date
    for pattern in ENGLISH_FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern).date()  # checks the weekday
        except ValueError:
            continue
    raise AssertionError(f"no format reads {text!r}")


def test_dates_name_the_iso_date_in_every_phrasing():
    pairs = date_pairs(3000, seed=0)
    for source, target in pairs:
        assert parse_date(source).isoformat() == target
    assert len({re.sub(r"\d+", "0", s) for s, _ in pairs}) >= 8 + 12  # formats x months
    assert any("년" in s for s, _ in pairs) and any("," in s for s, _ in pairs)


def test_reverse_draws_lengths_in_range():
    pairs = reverse_pairs(500, 5, 30, seed=0)
    assert all(t == s[::-1] and 5 <= len(s) <= 30 for s, t in pairs)
    assert {len(s) for s, _ in pairs} == set(range(5, 31))


def test_splits_depend_on_the_key_alone():
    keys = [f"word{i}" for i in range(5000)]
    parts = [split_of(key, 0.1, 0.2) for key in keys]
    assert parts == [split_of(key, 0.1, 0.2) for key in reversed(keys)][::-1]
    share = {part: parts.count(part) / len(keys) for part in ("train", "validation", "test")}
    assert share["test"] == pytest.approx(0.2, abs=0.02)
    assert share["validation"] == pytest.approx(0.1, abs=0.02)
    # Growing the test part only moves keys from validation and train into test.
    bigger = [split_of(key, 0.1, 0.3) for key in keys]
    assert all(b == "test" for p, b in zip(parts, bigger) if p == "test")


def test_alternates_of_a_word_never_straddle_the_splits():
    lines = [f"w{i} AH0 B\nw{i}(2) AH1 D\nw{i}(3) EH2 D" for i in range(1500)]
    words = parse_cmudict("\n".join(lines))
    triples = [(w, w, " ".join(p)) for w, ps in words.items() for p in ps]
    config = dataclasses.replace(PRESETS["test"], val_fraction=0.2, test_fraction=0.2)
    parts, left_out = prepare(triples, {"dataset": "cmudict"}, config)
    assert left_out == 0 and sum(map(len, parts.values())) == 3 * 1500
    where = {}
    for part, examples in parts.items():
        for key, source, source_tokens, target_tokens in examples:
            where.setdefault(key, set()).add(part)
            assert source_tokens == list(source) and len(target_tokens) == 2
    assert all(len(found) == 1 for found in where.values())
    assert {part for found in where.values() for part in found} == set(parts)


def test_a_sample_of_keys_is_fixed_and_spread():
    keys = [f"{letter}{i}" for letter in "abcdefghij" for i in range(1000)]
    kept = keep_sample(keys, 500)
    assert kept == keep_sample(list(reversed(keys)), 500) and len(kept) == 500
    assert {key[0] for key in kept} == set("abcdefghij")  # not the first 500 of the file
    assert keep_sample(keys[:10], 500) == set(keys[:10])


def test_prepare_leaves_out_long_pairs_and_tokenises_by_level():
    long = " ".join(["x"] * 13)
    triples = [("Go now.", "Go now.", "Ve ahora."), (long, long, "y")]
    settings = {"dataset": "pairs", "tokens": "word"}
    parts, left_out = prepare(triples, settings, dataclasses.replace(PRESETS["test"],
                                                                     test_fraction=0.0,
                                                                     val_fraction=0.0))
    assert left_out == 1
    assert parts["train"] == [("Go now.", "Go now.", ["go", "now", "."],
                               ["ve", "ahora", "."])]
    assert translate_data.levels({"dataset": "addition"}) == ("char", "char")
    assert translate_data.levels({"dataset": "cmudict"}) == ("char", "word")
