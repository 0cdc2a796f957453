"""Tiny VQA data sets in the real layouts, drawn with PIL, for the default tests.

`write_easy_vqa(root)` writes easy-VQA's layout (answers.txt,
{train,test}/questions.json, {train,test}/images/N.png): one shape of one
colour per image, on a pale background, with easy-VQA's kinds of questions.
`write_vqa_v1(root)` writes VQA v1's JSON files and COCO-named JPEGs.
"""

import json
import random

from PIL import Image, ImageDraw

SHAPES = ("circle", "rectangle", "triangle")
COLOURS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 40, 220),
           "yellow": (230, 210, 20)}


def draw(shape, colour, size, rng):
    """An RGB image (size x size) of one shape of `colour`, placed and sized at random."""
    background = tuple(rng.randint(225, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(image)
    side = rng.randint(size // 3, size // 2)
    x, y = rng.randint(0, size - side - 1), rng.randint(0, size - side - 1)
    fill = COLOURS[colour]
    if shape == "circle":
        pen.ellipse((x, y, x + side, y + side), fill=fill)
    elif shape == "rectangle":
        pen.rectangle((x, y + side // 4, x + side, y + side - side // 4), fill=fill)
    else:
        pen.polygon([(x + side // 2, y), (x, y + side), (x + side, y + side)], fill=fill)
    return image


def questions_about(shape, colour, rng):
    """[(question, answer)]: what shape, what colour, and yes/no ones (both answers)."""
    other_shape = rng.choice([s for s in SHAPES if s != shape])
    other_colour = rng.choice([c for c in COLOURS if c != colour])
    return [("what shape is in the image?", shape),
            (f"what is the {colour} shape?", shape),
            ("what color is the shape?", colour),
            (f"what color is the {shape}?", colour),
            (f"is there a {colour} shape?", "yes"),
            (f"is there a {other_colour} shape?", "no"),
            (f"does the image contain a {shape}?", "yes"),
            (f"does the image contain a {other_shape}?", "no")]


def write_part(root, part, images, size, rng, extension="png"):
    (root / part / "images").mkdir(parents=True)
    rows = []
    for image_id in range(images):
        shape, colour = rng.choice(SHAPES), rng.choice(sorted(COLOURS))
        draw(shape, colour, size, rng).save(root / part / "images" / f"{image_id}.{extension}")
        rows += [[q, a, image_id] for q, a in questions_about(shape, colour, rng)]
    return rows


def write_easy_vqa(root, train_images=160, test_images=40, size=32, seed=0):
    """easy-VQA's layout under `root`; returns root. 8 questions per image."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for part, count in (("train", train_images), ("test", test_images)):
        rows = write_part(root, part, count, size, rng)
        (root / part / "questions.json").write_text(json.dumps(rows))
    answers = ["yes", "no", *SHAPES, *sorted(COLOURS)]
    (root / "answers.txt").write_text("\n".join(answers) + "\n")
    return root


def write_vqa_v1(root, train_images=12, test_images=6, size=32, seed=0):
    """VQA v1's layout (questions, annotations with ten answers each, COCO-named JPEGs)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    question_id = 0
    for year, count in (("train2014", train_images), ("val2014", test_images)):
        (root / year).mkdir()
        questions, annotations = [], []
        for n in range(count):
            image_id = 1000 * (year == "val2014") + n + 1
            shape, colour = rng.choice(SHAPES), rng.choice(sorted(COLOURS))
            draw(shape, colour, size, rng).save(root / year / f"COCO_{year}_{image_id:012d}.jpg")
            for question, answer in questions_about(shape, colour, rng)[::2]:
                question_id += 1
                humans = [answer] * 6 + ["maybe"] * 4  # the most frequent is the answer
                questions.append({"image_id": image_id, "question": question,
                                  "question_id": question_id})
                annotations.append({
                    "question_id": question_id, "image_id": image_id,
                    "question_type": " ".join(question.split()[:2]),
                    "answer_type": "yes/no" if answer in ("yes", "no") else "other",
                    "multiple_choice_answer": answer,
                    "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                for i, a in enumerate(humans)]})
        (root / f"OpenEnded_mscoco_{year}_questions.json").write_text(
            json.dumps({"questions": questions}))
        (root / f"mscoco_{year}_annotations.json").write_text(
            json.dumps({"annotations": annotations}))
    return root
