"""Visual question answering data: easy-VQA's and VQA v1's layouts read into one shape.

Two layouts are read (`read_split`), both into a `Split` of parallel lists:

    easy-VQA (Zhou 2020; `pip install easy-vqa` ships it):
        DATA/answers.txt                      one answer per line
        DATA/{train,test}/questions.json      [[question, answer, image_id], ...]
        DATA/{train,test}/images/<image_id>.png
    VQA v1 (Antol et al. 2015, the real images of COCO 2014):
        DATA/OpenEnded_mscoco_{train,val}2014_questions.json   {"questions": [...]}
        DATA/mscoco_{train,val}2014_annotations.json           {"annotations": [...]}
        DATA/{train,val}2014/COCO_{train,val}2014_<12-digit id>.jpg
      train reads train2014 and test reads val2014 (the test answers were never
      released). The course's rules: each question's answer is the most frequent
      of its ten human answers; the K most frequent answers of the training part
      are the classes, and training drops questions whose answer is not one of
      them (the test part keeps them: they count as wrong).

A question's type, for per-type accuracy: easy-VQA's by its answer's class
(yes/no, shape, colour), VQA v1's its annotation's answer_type (yes/no,
number, other). Nothing here needs TensorFlow; images are decoded later
(common.images) once the questions are known to be sound.
"""

import collections
import dataclasses
import hashlib
import os

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, read_json_file

EASY_VQA, VQA_V1 = "easy_vqa", "vqa_v1"
PARTS = ("train", "test")
SHAPES = {"circle", "rectangle", "triangle"}
COLOURS = {"red", "green", "blue", "black", "gray", "teal", "brown", "yellow"}
VQA_PARTS = {"train": "train2014", "test": "val2014"}
MAX_QUESTION_CHARS = 1000
MAX_QUESTIONS = 2_000_000
MAX_ID_DIGITS = 18  # easy-VQA's ids are 0..N-1; VQA v1's COCO ids have at most 12 digits
JSON_LIMIT = 1024 ** 3  # the VQA v1 annotation files are about 350 MB


@dataclasses.dataclass
class Split:
    """The questions of one part, in file order, each with its answer, type and image."""

    questions: list
    answers: list
    types: list
    image_keys: list   # per question: its image's id, as a string
    image_paths: dict  # image id -> file path

    def __len__(self):
        return len(self.questions)

    def subset(self, keep):
        """The questions where keep[i] is true (image_paths kept whole)."""
        pick = lambda values: [v for v, k in zip(values, keep) if k]  # noqa: E731
        return Split(pick(self.questions), pick(self.answers), pick(self.types),
                     pick(self.image_keys), self.image_paths)

    def images_in_order(self):
        """(image ids in first-use order, per question the index of its image among them)."""
        order = {}
        for key in self.image_keys:
            order.setdefault(key, len(order))
        return list(order), [order[key] for key in self.image_keys]


def data_format(data_dir):
    """easy_vqa or vqa_v1, from the files in `data_dir`; UsageError if neither."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"--data_dir {data_dir} is not a folder")
    if os.path.isfile(os.path.join(data_dir, "train", "questions.json")):
        return EASY_VQA
    if os.path.isfile(os.path.join(data_dir, "OpenEnded_mscoco_train2014_questions.json")):
        return VQA_V1
    raise UsageError(f"--data_dir {data_dir} holds neither easy-VQA's train/questions.json "
                     "nor VQA v1's OpenEnded_mscoco_train2014_questions.json")


def question_type(answer):
    """easy-VQA's question type, from the class of its answer."""
    if answer in ("yes", "no"):
        return "yes/no"
    return "shape" if answer in SHAPES else "colour" if answer in COLOURS else "other"


def check_question(text, what="QUESTION"):
    """UsageError unless `text` is a question: some words, then a '?' at its end."""
    stripped = text.strip()
    if len(stripped) > MAX_QUESTION_CHARS:
        raise UsageError(f"{what} is {len(stripped):,} characters long; a question has at "
                         f"most {MAX_QUESTION_CHARS:,}")
    if not stripped.endswith("?") or not any(c.isalnum() for c in stripped):
        raise UsageError(f"{what} {text!r} is not a question: it needs words and a '?' at "
                         "its end, e.g. 'what color is the shape?'")
    return stripped


def _json(path, max_bytes, what):
    if not os.path.isfile(path):
        raise UsageError(f"{what} not found: {path}")
    if os.path.getsize(path) > max_bytes:
        raise UsageError(f"{path} is {os.path.getsize(path):,} bytes, more than the limit of "
                         f"{max_bytes:,}; raise it with --max_bytes")
    return read_json_file(path, what)


def is_image_id(value):
    """Whether `value` is an image id: a whole number >= 0, or a string of its ASCII digits,
    of at most MAX_ID_DIGITS digits (int() refuses other scripts' digits such as '²', and
    strings of more than 4,300 digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return False
    if isinstance(value, int):
        return 0 <= value < 10 ** MAX_ID_DIGITS
    return value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS


def read_easy_vqa(data_dir, part, max_bytes=DEFAULT_MAX_BYTES):
    """The Split of easy-VQA's `part` (train or test)."""
    path = os.path.join(data_dir, part, "questions.json")
    rows = _json(path, max_bytes, f"easy-VQA's {part}/questions.json")
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"{path} is not a list of [question, answer, image_id] rows")
    if len(rows) > MAX_QUESTIONS:
        raise UsageError(f"{path} holds {len(rows):,} questions, more than {MAX_QUESTIONS:,}")
    questions, answers, keys = [], [], []
    for number, row in enumerate(rows, 1):
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                and isinstance(row[1], str) and row[1].strip()
                and is_image_id(row[2])):
            raise UsageError(f"{path}: row {number} is not [question, answer, image_id] "
                             f"(strings and a whole number of at most {MAX_ID_DIGITS} "
                             f"digits): {str(row)[:80]}")
        questions.append(check_question(row[0], f"{path}: row {number}'s question"))
        answers.append(row[1].strip())
        keys.append(str(int(row[2])))
    images = os.path.join(data_dir, part, "images")
    paths = {key: os.path.join(images, f"{key}.png") for key in keys}
    _check_images_exist(paths, path)
    return Split(questions, answers, [question_type(a) for a in answers], keys, paths)


def _check_images_exist(paths, named_in):
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
        raise UsageError(f"{named_in} names {len(missing):,} image(s) that are not there "
                         f"as regular files (first: {missing[0]}; a folder, FIFO or device "
                         "is never read)")


def most_frequent_answer(answers):
    """The most frequent of a VQA question's human answers (ties: the first given), blank
    ones left out (an empty class would make the run's answers.json unreadable)."""
    answers = [a.strip() for a in answers if a.strip()]
    counts = collections.Counter(answers)
    best = max(counts.values())
    return next(a for a in answers if counts[a] == best)


def read_vqa_v1(data_dir, part, max_bytes=JSON_LIMIT):
    """The Split of VQA v1's `part`: train2014 for train, val2014 for test."""
    year = VQA_PARTS[part]
    q_path = os.path.join(data_dir, f"OpenEnded_mscoco_{year}_questions.json")
    a_path = os.path.join(data_dir, f"mscoco_{year}_annotations.json")
    questions = _json(q_path, max_bytes, "VQA v1 questions")
    questions = questions.get("questions") if isinstance(questions, dict) else None
    annotations = _json(a_path, max_bytes, "VQA v1 annotations")
    annotations = annotations.get("annotations") if isinstance(annotations, dict) else None
    if not isinstance(questions, list) or not isinstance(annotations, list):
        raise UsageError(f"{q_path} and {a_path} must hold {{'questions': [...]}} and "
                         "{'annotations': [...]} as VQA v1 releases them")
    try:
        by_id = {a["question_id"]: a for a in annotations}
        out = Split([], [], [], [], {})
        for number, q in enumerate(questions, 1):
            note = by_id.get(q["question_id"])
            if note is None:
                raise UsageError(f"{a_path} has no annotation of question {q['question_id']}")
            humans = [str(a["answer"]) for a in note["answers"]]
            if not any(h.strip() for h in humans):
                raise UsageError(f"{a_path}: question {q['question_id']} has no answer "
                                 "that is not blank")
            answer = most_frequent_answer(humans)
            out.questions.append(check_question(str(q["question"]),
                                                f"{q_path}: question {number}"))
            out.answers.append(answer)
            out.types.append(str(note.get("answer_type", "other")))
            key = str(int(q["image_id"]))
            out.image_keys.append(key)
            out.image_paths[key] = os.path.join(data_dir, year,
                                                f"COCO_{year}_{int(key):012d}.jpg")
    except UsageError:  # a ValueError too, but its message already says what is wrong
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{q_path} or {a_path} is not in VQA v1's layout ({error!r} "
                         "missing or of the wrong type)") from None
    if not out.questions:
        raise UsageError(f"{q_path} holds no questions")
    _check_images_exist(out.image_paths, q_path)
    return out


def read_split(data_dir, part, max_bytes=DEFAULT_MAX_BYTES):
    """(Split, format) of `part` of the data set in `data_dir`, either layout."""
    fmt = data_format(data_dir)
    if fmt == EASY_VQA:
        return read_easy_vqa(data_dir, part, max_bytes), fmt
    return read_vqa_v1(data_dir, part, max(max_bytes, JSON_LIMIT)), fmt


def answer_classes(train, top_answers):
    """The answers the model chooses from: the top_answers most frequent of training."""
    counts = collections.Counter(train.answers)
    return sorted(counts, key=lambda a: (-counts[a], a))[:top_answers]


def in_image_hash_part(key, fraction):
    """Whether image `key` falls in the held-out `fraction`, by a hash of its id alone:
    every question of an image lands on the same side, whatever the file order or
    the seed, so runs of every arch and seed hold out the same images."""
    digest = hashlib.sha256(f"vqa-validation:{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def split_by_image(split, fraction):
    """(training part, validation part): `fraction` of the images held out with all their
    questions."""
    held = [in_image_hash_part(key, fraction) for key in split.image_keys]
    return split.subset([not h for h in held]), split.subset(held)


def digest(split):
    """A short fingerprint of a Split (its questions, answers, image ids and image file
    sizes), to tell evaluate and --resume that the data changed since training."""
    h = hashlib.sha256()
    for q, a, key in zip(split.questions, split.answers, split.image_keys):
        h.update(f"{q}\t{a}\t{key}\n".encode("utf-8"))
    for key in sorted(split.image_paths):
        path = split.image_paths[key]
        size = os.path.getsize(path) if os.path.isfile(path) else -1
        h.update(f"{key}:{size}\n".encode("utf-8"))
    return h.hexdigest()[:16]
