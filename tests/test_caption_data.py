"""week5_caption's data: the scene world's determinism and truth, the attention hit rate
by hand, the Flickr8k reader on a tiny fixture in the release's layout, BLEU-n."""

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError
from common.text_metrics import corpus_bleu
from week5_caption import caption_data, scene_world


def test_the_same_seed_makes_the_same_scenes_and_more_scenes_extend_fewer():
    first, again = scene_world.generate(30, 7, 64), scene_world.generate(30, 7, 64)
    assert np.array_equal(first["images"], again["images"])
    assert first["captions"] == again["captions"]
    assert np.array_equal(first["boxes"], again["boxes"])
    fewer = scene_world.generate(10, 7, 64)
    assert np.array_equal(fewer["images"], first["images"][:10])
    other = scene_world.generate(30, 8, 64)
    assert other["captions"] != first["captions"]


def near(pixel, colour):
    return bool(np.all(np.abs(pixel.astype(int) - colour) <= scene_world.TEXTURE))


def test_each_caption_matches_its_boxes_and_pixels():
    scenes = scene_world.generate(200, 3, 64)
    triangles = []  # per triangle: whether it points up
    for image, caption, boxes in zip(scenes["images"], scenes["captions"], scenes["boxes"]):
        words = caption.split()
        assert words[0] == "a" and len(words) in (9, 10)
        relation = "left of" if words[4] == "left" else "above"
        second = words[-4:]
        assert caption == f"a {' '.join(words[1:4])} {relation} a {' '.join(second[1:])}"
        for (size, colour, shape), (x0, y0, x1, y1) in zip([words[1:4], second[1:]], boxes):
            assert x1 - x0 == y1 - y0 == scene_world.object_side(size, 64)
            # The centre of the box is inside every shape; each pixel is its colour give
            # or take the grain.
            assert near(image[(y0 + y1) // 2, (x0 + x1) // 2], scene_world.COLOURS[colour])
            # A square fills the box's 4 corners, a triangle the 2 of its base, a circle none.
            corners = [image[y, x] for y in (y0, y1 - 1) for x in (x0, x1 - 1)]
            filled = sum(near(p, scene_world.COLOURS[colour]) for p in corners)
            assert filled == {"square": 4, "triangle": 2, "circle": 0}[shape]
            if shape == "triangle":  # pointing up or down: the apex row is nearly empty
                top, bottom = image[y0, x0 + 1:x1 - 1], image[y1 - 1, x0 + 1:x1 - 1]
                filled = [sum(near(p, scene_world.COLOURS[colour]) for p in row)
                          for row in (top, bottom)]
                triangles.append(filled[0] < filled[1])
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
        if relation == "left of":
            assert ax1 < bx0  # the first named object lies wholly left of the second
        else:
            assert ay1 < by0
    assert 0.3 < np.mean(triangles) < 0.7  # about half point up, half down


def test_hit_rate_by_hand():
    # A 64-pixel image, a 2x2 grid: cell (row, column) has its centre at
    # x = 16 + 32 * column, y = 16 + 32 * row.
    words = "a small red circle left of a large blue square".split()
    boxes = np.array([[0, 0, 30, 30],      # the red circle: holds the centre (16, 16)
                      [34, 34, 64, 64]])   # the blue square: holds (48, 48)
    attention = np.zeros((len(words), 2, 2))
    attention[2, 0, 0] = 1.0   # "red" peaks on cell (0, 0): on the circle -> hit
    attention[3, 1, 1] = 0.9   # "circle" peaks on cell (1, 1): the square -> miss
    attention[8, 1, 1] = 0.6   # "blue" peaks on (1, 1) -> hit
    attention[9, 0, 1] = 0.5   # "square" peaks on (0, 1), centre (48, 16) -> miss
    assert scene_world.mentioned_objects(words) == [None, None, 0, 0, None, None, None,
                                                    None, 1, 1]
    assert scene_world.attention_hits(words, attention, boxes, 64) == [True, False, True,
                                                                       False]
    # Widened by one cell (32 px), the square's box reaches (48, 16): "square" is near.
    assert scene_world.attention_hits(words, attention, boxes, 64, margin=1) == [
        True, True, True, True]
    # A wrong caption is scored by what its words say: "above" also starts object 1.
    wrong = "a red square above a blue".split()
    assert scene_world.mentioned_objects(wrong) == [None, 0, 0, None, None, 1]


def test_bleu_of_every_order_is_sacrebleus():
    from sacrebleu.metrics import BLEU

    hypotheses = [["a", "red", "circle", "left", "of", "a", "square"], ["a", "dog", "runs"]]
    references = [[["a", "red", "circle", "left", "of", "a", "blue", "square"]],
                  [["a", "dog", "is", "running"], ["the", "dog", "runs"]]]
    for order in range(1, 5):
        expected = BLEU(tokenize="none", max_ngram_order=order).corpus_score(
            ["a red circle left of a square", "a dog runs"],
            [["a red circle left of a blue square", "a dog is running"],
             [None, "the dog runs"]]).score
        assert corpus_bleu(hypotheses, references, max_order=order) == pytest.approx(expected)


def write_flickr8k(root, names=("1000_a.jpg", "1001_b.jpg", "1002_c.jpg", "1003_d.jpg"),
                   splits=None):
    """A tiny Flickr8k in the release's layout: 4 images, 5 captions each."""
    images = root / caption_data.FLICKR_IMAGES
    images.mkdir(parents=True)
    lines = []
    for index, name in enumerate(names):
        pixels = np.full((20, 30, 3), 40 * index, np.uint8)
        Image.fromarray(pixels).save(images / name)
        lines += [f"{name}#{k}\tA dog number {index} runs {k} times ." for k in range(5)]
    (root / caption_data.FLICKR_TOKENS).write_text("\n".join(lines) + "\n")
    splits = splits or {"train": names[:2], "validation": names[2:3], "test": names[3:]}
    for part, file_name in caption_data.FLICKR_SPLITS.items():
        (root / file_name).write_text("".join(f"{name}\n" for name in splits[part]))
    return root


def test_flickr8k_reader_on_a_fixture(tmp_path):
    root = write_flickr8k(tmp_path / "flickr")
    part = caption_data.read_flickr_part(str(root), "train", 16, 100)
    assert part["images"].shape == (2, 16, 16, 3) and part["images"].dtype == np.uint8
    assert part["captions"][1][3] == "A dog number 1 runs 3 times ."
    assert [len(refs) for refs in part["captions"]] == [5, 5]
    test = caption_data.read_flickr_part(str(root), "test", 16, 100)
    assert int(test["images"][0, 0, 0, 0]) == 120  # the fourth image, grey 3 * 40
    tokens = caption_data.caption_tokens(part["captions"], 4)
    assert tokens[0][0] == ["a", "dog", "number", "0"]  # cut to max_length words
    assert len(caption_data.read_flickr_part(str(root), "train", 16, 1)["images"]) == 1


@pytest.mark.parametrize("damage, message", [
    ("malformed", "is not 'IMAGE.jpg#N<TAB>caption'"),
    ("unknown", "has no captions for"),
    ("missing_image", "are not in"),
    ("no_split", "is not a Flickr8k folder"),
])
def test_flickr8k_damage_is_a_usage_error(tmp_path, damage, message):
    root = write_flickr8k(tmp_path / "flickr")
    if damage == "malformed":
        with open(root / caption_data.FLICKR_TOKENS, "a") as f:
            f.write("this line has no tab or number\n")
    elif damage == "unknown":
        (root / caption_data.FLICKR_SPLITS["train"]).write_text("9999_z.jpg\n")
    elif damage == "missing_image":
        (root / caption_data.FLICKR_IMAGES / "1000_a.jpg").unlink()
    else:
        (root / caption_data.FLICKR_SPLITS["test"]).unlink()
    with pytest.raises(UsageError, match=message):
        caption_data.read_flickr_part(str(root), "train", 16, 100)


def test_training_pairs_hold_one_row_per_caption():
    from common.tokens import END_ID, START_ID, TokenVocab

    tokens = [[["a", "dog"], ["the", "dog", "runs"]], [["a", "cat"]]]
    vocab = TokenVocab.from_token_lists([t for refs in tokens for t in refs], "word")
    pairs = caption_data.training_pairs(tokens, vocab)
    assert pairs["image"].tolist() == [0, 0, 1]
    assert pairs["ids"][1][0] == START_ID and pairs["ids"][1][-1] == END_ID
    assert vocab.decode(pairs["ids"][2][1:]) == ["a", "cat"]
