"""bAbI data for week4_qa.memn2n: the one parser, the generator (checked by an independent
solver), the model's arrays and the release's file names. No TensorFlow training here."""

import re

import numpy as np
import pytest

from common.cli import UsageError
from week4_qa import babi_data

# The release's format, as in qa8 (a list answer) and qa2 (two supporting facts); the
# question lines keep the space before the tab that the release's files have.
SAMPLE = """1 Mary moved to the bathroom.
2 Sandra journeyed to the bedroom.
3 Mary got the football there.
4 Where is the football? \tbathroom\t3 1
5 Mary picked up the apple there.
6 What is Mary carrying? \tfootball,apple\t3 5
1 John went to the hallway.
2 Is John in the hallway? \tyes\t1
"""


def test_the_parser_reads_the_release_format():
    stories = babi_data.parse_babi(SAMPLE, "sample")
    assert [len(story) for story in stories] == [6, 2]
    assert stories[0][3] == babi_data.Line(4, "Where is the football?", "bathroom", (3, 1))
    examples = babi_data.qa_examples(stories)
    assert [ex.answer for ex in examples] == ["bathroom", "football,apple", "yes"]
    # A question's memory: its story's statements before it, never a question line.
    assert [n for n, _ in examples[1].statements] == [1, 2, 3, 5]
    assert examples[1].supporting == (3, 5) and examples[1].story == 0
    assert examples[2].statements == ((1, "John went to the hallway."),) and examples[2].story == 1


@pytest.mark.parametrize("text, fragment", [
    ("Mary moved to the bathroom.\n", "not in bAbI format"),
    ("1 Mary moved.\n3 John moved.\n", "numbered 3 after 1"),
    ("2 Mary moved.\n", "numbered 2 after None"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom\n", "found 2 tab-separated fields"),
    ("1 Mary moved.\n2 Where is Mary\tbathroom\t1\n", "is not a question"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom\t2\n", "supporting fact 2"),
    ("1 Mary moved.\n2 Where is Mary?\tbathroom\tone\n", "not line numbers"),
    ("1 Mary moved.\n2 Where is Mary?\t\t1\n", "empty answer"),
    ("\n\n", "holds no bAbI lines"),
])
def test_the_parser_names_what_is_wrong(text, fragment):
    with pytest.raises(UsageError, match=re.escape(fragment)):
        babi_data.parse_babi(text, "story.txt")


def test_a_question_needs_words_and_a_question_mark():
    for bad in ("", "  ", "?", "Where is Mary"):
        with pytest.raises(UsageError):
            babi_data.check_question(bad)
    babi_data.check_question("Where is Mary?")


# --- an independent solver: reads the statements with its own patterns --------------------

MOVE = re.compile(r"(\w+) (?:moved|went|went back|journeyed|travelled) to the (\w+)\.")
GRAB = re.compile(r"(\w+) (?:got|picked up|grabbed|took) the (\w+) there\.")
DROP = re.compile(r"(\w+) (?:dropped|put down|discarded|left) the (\w+)\.")


def solve(example):
    """(answer, supporting line numbers) of a generated question, worked out afresh."""
    at, holder, dropped = {}, {}, {}
    for number, text in example.statements:
        if m := MOVE.fullmatch(text):
            at[m[1]] = (m[2], number)
        elif m := GRAB.fullmatch(text):
            holder[m[2]] = (m[1], number)
            dropped.pop(m[2], None)
        elif m := DROP.fullmatch(text):
            person, _ = holder.pop(m[2])
            dropped[m[2]] = (at[person][0], number, at[person][1])
        else:
            raise AssertionError(f"the solver cannot read {text!r}")
    if m := re.fullmatch(r"Where is (\w+)\?", example.question):
        if m[1] in at:
            return at[m[1]][0], {at[m[1]][1]}
        thing = m[1]
    if m := re.fullmatch(r"Where is the (\w+)\?", example.question):
        thing = m[1]
        if thing in holder:
            person, got = holder[thing]
            return at[person][0], {got, at[person][1]}
        place, drop, moved = dropped[thing]
        return place, {drop, moved}
    m = re.fullmatch(r"Is (\w+) in the (\w+)\?", example.question)
    place, moved = at[m[1]]
    return ("yes" if place == m[2] else "no"), {moved}


@pytest.mark.parametrize("task", babi_data.GENERATED_TASKS)
def test_generated_stories_are_the_release_format_and_answers_are_right(task):
    text = babi_data.generate_text(task, 400, seed=3)
    assert text == babi_data.generate_text(task, 400, seed=3)  # deterministic
    for line in text.splitlines():
        assert re.fullmatch(r"\d+ [A-Z][\w ]+[.?]( \t[a-z]+\t\d+( \d+)?)?", line), line
    examples = babi_data.qa_examples(babi_data.parse_babi(text, "generated"))
    assert len(examples) == 400
    for ex in examples:
        answer, supporting = solve(ex)
        assert ex.answer == answer and set(ex.supporting) == supporting, ex
    answers = {ex.answer for ex in examples}
    assert answers == {"yes", "no"} if task == 6 else answers <= set(babi_data.PLACES)
    if task == 6:  # balanced, so "always no" is no solution
        share = np.mean([ex.answer == "yes" for ex in examples])
        assert 0.35 < share < 0.65
    if task == 2:  # two facts, and often a move after the pick-up in between
        assert all(len(ex.supporting) == 2 for ex in examples)


def test_only_tasks_1_2_and_6_are_generated():
    with pytest.raises(UsageError, match="for task 3 pass --data_dir"):
        babi_data.generate_text(3, 10, seed=0)


def test_arrays_hold_the_most_recent_memories_first():
    stories = babi_data.parse_babi(SAMPLE, "sample")
    examples = babi_data.qa_examples(stories)
    texts = babi_data.texts_of(examples)
    vocab = {text: [i + 1] * (i % 3 + 1) for i, text in enumerate(texts)}  # fake word ids
    answers = {"bathroom": 5, "football,apple": 6, "yes": 7}
    arrays = babi_data.encode_examples(examples, vocab, answers.get, memory_size=3)
    story = arrays["story"]
    assert story.shape == (3, 3, 3) and arrays["query"].shape[0] == 3
    first = examples[1]  # statements 1, 2, 3, 5: the memory keeps 5, 3, 2 (newest first)
    for slot, (_, text) in enumerate(reversed(first.statements[-3:])):
        ids = vocab[text]
        assert list(story[1, slot, :len(ids)]) == ids and not story[1, slot, len(ids):].any()
    # Fact 3 is slot 1, fact 5 slot 0; question 1's fact 1 is still in its memory (slot 2).
    assert list(arrays["supporting"][1]) == [1, 0]
    assert list(arrays["supporting"][0]) == [0, 2]
    assert list(arrays["time"][0]) == [0, 1, 2]
    assert not story[2, 1:].any()  # the second story has one statement; the rest is padding
    assert list(arrays["answer"]) == [5, 6, 7]


def test_a_fact_older_than_the_memory_is_slot_minus_one():
    examples = babi_data.qa_examples(babi_data.parse_babi(SAMPLE, "sample"))
    vocab = {text: [1] for text in babi_data.texts_of(examples)}
    arrays = babi_data.encode_examples(examples, vocab, lambda a: 5, memory_size=1)
    assert list(arrays["supporting"][0]) == [0, -1]  # facts 3 and 1; only 3 is kept
    assert list(arrays["supporting"][1]) == [-1, 0]


def test_the_validation_split_keeps_stories_whole():
    text = babi_data.generate_text(1, 200, seed=0)
    examples = babi_data.qa_examples(babi_data.parse_babi(text))
    train, val = babi_data.split_by_story(examples, 0.1, seed=4)
    assert len(val) == 20 and len(train) == 180
    assert not {ex.story for ex in train} & {ex.story for ex in val}
    assert (train, val) == babi_data.split_by_story(examples, 0.1, seed=4)


def test_the_release_files_are_found_by_task(tmp_path):
    for name in ("qa1_single-supporting-fact_train.txt", "qa1_single-supporting-fact_test.txt",
                 "qa11_basic-coreference_train.txt"):
        (tmp_path / name).write_text("1 Mary moved to the bathroom.\n")
    train, test = babi_data.task_files(str(tmp_path), 1)
    assert train.endswith("qa1_single-supporting-fact_train.txt")
    assert test.endswith("qa1_single-supporting-fact_test.txt")
    with pytest.raises(UsageError, match="holds no qa11_\\*_test.txt"):
        babi_data.task_files(str(tmp_path), 11)
    with pytest.raises(UsageError, match="is not a folder"):
        babi_data.task_files(str(tmp_path / "missing"), 1)
