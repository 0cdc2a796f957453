"""bAbI question answering data: one parser of the release's text format, and a generator.

The format (Weston et al. 2015, tasks_1-20_v1-2/{en,en-10k}/qa{N}_*_{train,test}.txt):

    1 Mary moved to the bathroom.
    2 John went to the hallway.
    3 Where is Mary? \tbathroom\t1
    1 Sandra got the apple there.            <- numbering starts again: a new story

Every line is `NUMBER TEXT`, numbered 1, 2, 3, ... within a story; a line
numbered 1 starts the next story. A question line holds two tabs: `question?
<TAB> answer <TAB> supporting line numbers`. An answer is one string, even a
list such as "apple,football" (tasks 8 and 19). A question's memory is every
statement of its story before it (questions are not memories).

Without a path, `generate_text` writes stories in exactly this format for
tasks 1 (single supporting fact), 2 (two supporting facts) and 6 (yes/no
questions), in the release's vocabulary, and `parse_babi` reads them: one
parser for both.
"""

import dataclasses
import os
import re

import numpy as np

from common.cli import UsageError
from common.text import read_text_file

GENERATED_TASKS = (1, 2, 6)
TASKS = range(1, 21)
QUESTIONS_PER_STORY = 5  # as in the release's tasks 1, 2 and 6
_LINE = re.compile(r"(\d{1,9}) (.*)")


@dataclasses.dataclass(frozen=True)
class Line:
    number: int
    text: str                      # statement, or the question (with its "?")
    answer: str = None             # None for a statement
    supporting: tuple = ()         # line numbers of the supporting statements


@dataclasses.dataclass(frozen=True)
class Example:
    """A question with its memory: the story's statements before it, oldest first."""
    statements: tuple              # ((line number, text), ...)
    question: str
    answer: str
    supporting: tuple              # line numbers
    story: int = 0                 # which story of its file (0, 1, ...)


def parse_babi(text, source="the text"):
    """The stories of a bAbI-format text: a list of stories, each a list of Lines.

    UsageError naming `source` and the line for anything not in the format.
    """
    stories = []
    for index, raw in enumerate(text.split("\n"), 1):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        where = f"{source}, line {index}"
        match = _LINE.fullmatch(raw.strip(" "))
        if not match:
            raise UsageError(f"{where} is not in bAbI format ('NUMBER sentence', e.g. "
                             f"'1 Mary moved to the bathroom.'): {raw[:60]!r}")
        number, rest = int(match.group(1)), match.group(2)
        if number == 1:
            stories.append([])
        elif not stories or number != stories[-1][-1].number + 1:
            previous = stories[-1][-1].number if stories else None
            raise UsageError(f"{where} is numbered {number} after {previous}; bAbI numbers a "
                             "story's lines 1, 2, 3, ... and starts each story at 1")
        stories[-1].append(_parse_line(number, rest, stories[-1], where))
    if not stories:
        raise UsageError(f"{source} holds no bAbI lines")
    return stories


def _parse_line(number, rest, story, where):
    if "\t" not in rest:
        if not rest.strip():
            raise UsageError(f"{where}: statement {number} is empty")
        return Line(number, rest.strip())
    parts = rest.split("\t")
    if len(parts) != 3:
        raise UsageError(f"{where}: a question line is 'NUMBER question?<TAB>answer<TAB>"
                         f"supporting numbers', found {len(parts)} tab-separated fields")
    question, answer, supporting = (part.strip() for part in parts)
    check_question(question, where)
    if not answer:
        raise UsageError(f"{where}: the question has an empty answer")
    statements = {line.number for line in story if line.answer is None}
    try:
        numbers = tuple(int(n) for n in supporting.split())
    except ValueError:
        raise UsageError(f"{where}: supporting facts {supporting!r} are not line "
                         "numbers") from None
    for n in numbers:
        if n not in statements:
            raise UsageError(f"{where}: supporting fact {n} is not an earlier statement of "
                             "the story")
    return Line(number, question, answer.lower(), numbers)


def check_question(question, where="the question"):
    """UsageError unless `question` is words followed by a question mark."""
    if not question.strip():
        raise UsageError(f"{where} is empty; ask a question such as 'Where is Mary?'")
    if not question.strip().endswith("?") or not question.strip()[:-1].strip():
        raise UsageError(f"{where} {question.strip()[:60]!r} is not a question: it must be "
                         "words ending with '?', such as 'Where is Mary?'")


def qa_examples(stories):
    """One Example per question line of `stories`."""
    examples = []
    for index, story in enumerate(stories):
        statements = []
        for line in story:
            if line.answer is None:
                statements.append((line.number, line.text))
            else:
                examples.append(Example(tuple(statements), line.text, line.answer,
                                        line.supporting, index))
    return examples


def story_statements(stories, source="the story"):
    """The statements of a story file for `predict`: one story; its questions are ignored."""
    if len(stories) != 1:
        raise UsageError(f"{source} holds {len(stories)} stories (numbering starts at 1 "
                         f"{len(stories)} times); pass a file with one story")
    statements = [(line.number, line.text) for line in stories[0] if line.answer is None]
    if not statements:
        raise UsageError(f"{source} holds no statements, only questions")
    return statements


# --- the release's files -------------------------------------------------------------------

def task_files(data_dir, task):
    """(train path, test path) of task `task` in a folder of the release (en or en-10k)."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} is not a folder; point it at "
                         "tasks_1-20_v1-2/en or tasks_1-20_v1-2/en-10k")
    names = os.listdir(data_dir)
    found = {}
    for split in ("train", "test"):
        pattern = re.compile(rf"qa{task}_[a-z0-9-]+_{split}\.txt")
        matches = sorted(name for name in names if pattern.fullmatch(name))
        if len(matches) != 1:
            what = "no" if not matches else f"{len(matches)}"
            raise UsageError(f"--data_dir {data_dir} holds {what} qa{task}_*_{split}.txt; "
                             "point it at tasks_1-20_v1-2/en or en-10k of the bAbI release")
        found[split] = os.path.join(data_dir, matches[0])
    return found["train"], found["test"]


def read_examples(path, max_bytes):
    return qa_examples(parse_babi(read_text_file(path, max_bytes), path))


# --- the generator -------------------------------------------------------------------------

PEOPLE = ("Mary", "John", "Daniel", "Sandra")
PLACES = ("bathroom", "hallway", "garden", "office", "bedroom", "kitchen")
MOVES = ("moved to", "went to", "went back to", "journeyed to", "travelled to")
OBJECTS = ("football", "apple", "milk")
GRABS = ("got", "picked up", "grabbed", "took")
DROPS = ("dropped", "put down", "discarded", "left")


class _World:
    """Who is where and who holds what, as the generated statements say."""

    def __init__(self, rng):
        self.rng = rng
        self.at = {}          # person -> (place, line of their last move)
        self.holder = {}      # object -> (person, line picked up)
        self.placed = {}      # object -> (place, line dropped, line of the move before)

    def pick(self, items):
        return items[int(self.rng.integers(len(items)))]

    def move(self, number):
        person = self.pick(PEOPLE)
        place = self.pick([p for p in PLACES if p != self.at.get(person, (None,))[0]])
        self.at[person] = (place, number)
        return f"{person} {self.pick(MOVES)} the {place}."

    def handle(self, number):
        """A pick-up or drop statement, or None when nobody can do either."""
        drops = [(o, p) for o, (p, _) in self.holder.items()]
        grabs = [(o, p) for o in OBJECTS if o not in self.holder for p in self.at
                 if o not in self.placed or self.placed[o][0] == self.at[p][0]]
        if drops and (not grabs or self.rng.random() < 0.5):
            thing, person = self.pick(drops)
            del self.holder[thing]
            place, moved = self.at[person]
            self.placed[thing] = (place, number, moved)
            return f"{person} {self.pick(DROPS)} the {thing}."
        if grabs:
            thing, person = self.pick(grabs)
            self.holder[thing] = (person, number)
            self.placed.pop(thing, None)
            return f"{person} {self.pick(GRABS)} the {thing} there."
        return None

    def where_is_thing(self):
        """(question, answer, supporting) about an object whose place is known, or None."""
        known = sorted(set(self.holder) | set(self.placed))
        if not known:
            return None
        thing = self.pick(known)
        if thing in self.holder:
            person, got = self.holder[thing]
            place, moved = self.at[person]
            return f"Where is the {thing}?", place, (got, moved)
        place, dropped, moved = self.placed[thing]
        return f"Where is the {thing}?", place, (dropped, moved)


def _story(task, rng, questions):
    """The lines of one generated story of `task`, with `questions` questions."""
    world, lines = _World(rng), []

    def add(text):
        lines.append(f"{len(lines) + 1} {text}")

    for _ in range(questions):
        asked = None
        while asked is None:
            for _ in range(2 if task != 2 else int(rng.integers(2, 6))):
                number = len(lines) + 1
                text = (world.handle(number) if task != 1 and world.at
                        and rng.random() < (0.45 if task == 2 else 0.2) else None)
                add(text or world.move(number))
            asked = _question(task, world, rng)
        question, answer, supporting = asked
        add(f"{question} \t{answer}\t{' '.join(map(str, supporting))}")
    return lines


def _question(task, world, rng):
    if task == 2:
        return world.where_is_thing()
    person = world.pick(sorted(world.at))
    place, moved = world.at[person]
    if task == 1:
        return f"Where is {person}?", place, (moved,)
    asked = place if rng.random() < 0.5 else world.pick([p for p in PLACES if p != place])
    return f"Is {person} in the {asked}?", "yes" if asked == place else "no", (moved,)


def generate_text(task, questions, seed):
    """`questions` questions of task 1, 2 or 6 (five to a story) in the bAbI text format."""
    if task not in GENERATED_TASKS:
        raise UsageError(f"the built-in generator writes tasks {', '.join(map(str, GENERATED_TASKS))}"
                         f"; for task {task} pass --data_dir with the bAbI release")
    rng = np.random.default_rng([seed, task])
    lines = []
    while questions > 0:
        lines += _story(task, rng, min(QUESTIONS_PER_STORY, questions))
        questions -= QUESTIONS_PER_STORY
    return "\n".join(lines) + "\n"


# --- arrays for the model ------------------------------------------------------------------

def texts_of(examples):
    """Every distinct statement and question text of `examples` (to tokenize once each)."""
    return sorted({text for ex in examples for _, text in ex.statements}
                  | {ex.question for ex in examples})


def encode_examples(examples, token_ids, answer_id, memory_size):
    """The model's arrays for `examples`.

    token_ids: {text: [id, ...]} for every statement and question; answer_id:
    answer string -> id. A question reads its story's last `memory_size`
    statements, most recent first (slot 0), as the model's time index counts.
        story (N, M, J), query (N, Jq), time (N, M), answer (N,): int32
        supporting (N, S) int32: the memory slots of the supporting facts, -1
            for padding and for a fact older than the memory holds.
    M and J are the largest memory and sentence of these examples (at least 1).
    """
    kept = [ex.statements[-memory_size:][::-1] for ex in examples]  # most recent first
    slots = max([len(k) for k in kept] + [1])
    words = max([len(token_ids[text]) for k in kept for _, text in k] + [1])
    query_words = max([len(token_ids[ex.question]) for ex in examples] + [1])
    facts = max([len(ex.supporting) for ex in examples] + [1])
    n = len(examples)
    story = np.zeros((n, slots, words), np.int32)
    query = np.zeros((n, query_words), np.int32)
    supporting = np.full((n, facts), -1, np.int32)
    for i, (ex, memory) in enumerate(zip(examples, kept)):
        slot_of = {}
        for slot, (number, text) in enumerate(memory):
            ids = token_ids[text]
            story[i, slot, :len(ids)] = ids
            slot_of[number] = slot
        ids = token_ids[ex.question]
        query[i, :len(ids)] = ids
        supporting[i, :len(ex.supporting)] = [slot_of.get(n, -1) for n in ex.supporting]
    return {"story": story, "query": query,
            "time": np.tile(np.arange(slots, dtype=np.int32), (n, 1)),
            "answer": np.array([answer_id(ex.answer) for ex in examples], np.int32),
            "supporting": supporting}


def split_by_story(examples, fraction, seed):
    """(train, validation): a `fraction` of the stories, chosen by `seed`, held out whole
    (a story's questions never straddle the split)."""
    stories = sorted({ex.story for ex in examples})
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(stories)[:int(round(fraction * len(stories)))].tolist())
    return ([ex for ex in examples if ex.story not in held],
            [ex for ex in examples if ex.story in held])
