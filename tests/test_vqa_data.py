"""week4_qa.vqa_data: the easy-VQA and VQA v1 readers, the split by image, the fingerprint."""

import json

import pytest

from common.cli import UsageError
from tests.vqa_fixture import COLOURS, SHAPES, write_easy_vqa, write_vqa_v1
from week4_qa import vqa_data


@pytest.fixture(scope="module")
def easy(tmp_path_factory):
    return write_easy_vqa(tmp_path_factory.mktemp("vqa_data") / "easy", 20, 5)


def test_easy_vqa_reader_gives_every_question_with_its_image_and_type(easy):
    split, fmt = vqa_data.read_split(str(easy), "train")
    rows = json.loads((easy / "train" / "questions.json").read_text())
    assert fmt == vqa_data.EASY_VQA and len(split) == len(rows) == 20 * 8
    assert split.questions == [q for q, _, _ in rows]
    assert split.answers == [a for _, a, _ in rows]
    assert split.image_keys == [str(i) for _, _, i in rows]
    assert all(split.image_paths[k].endswith(f"images/{k}.png") for k in split.image_keys)
    kinds = {a: t for a, t in zip(split.answers, split.types)}
    assert all(kinds[s] == "shape" for s in SHAPES if s in kinds)
    assert all(kinds[c] == "colour" for c in COLOURS if c in kinds)
    assert kinds["yes"] == kinds["no"] == "yes/no"
    keys, index = split.images_in_order()
    assert len(keys) == 20 and [keys[i] for i in index] == split.image_keys


def test_vqa_v1_reader_takes_the_most_frequent_answer_and_its_answer_type(tmp_path):
    root = write_vqa_v1(tmp_path / "v1")
    train, fmt = vqa_data.read_split(str(root), "train")
    test, _ = vqa_data.read_split(str(root), "test")
    assert fmt == vqa_data.VQA_V1 and len(train) == 12 * 4 and len(test) == 6 * 4
    assert "maybe" not in train.answers  # 6 of 10 humans gave the fixture's answer
    assert set(train.types) == {"yes/no", "other"}
    assert all(t == ("yes/no" if a in ("yes", "no") else "other")
               for a, t in zip(train.answers, train.types))
    path = train.image_paths[train.image_keys[0]]
    assert path.endswith(f"train2014/COCO_train2014_{int(train.image_keys[0]):012d}.jpg")
    assert vqa_data.most_frequent_answer(["a", "b", "b", "a", "c"]) == "a"  # tie: first


def test_answer_classes_are_the_top_k_of_training():
    split = vqa_data.Split(["q?"] * 6, ["b", "a", "b", "c", "b", "a"], ["x"] * 6,
                           ["1"] * 6, {"1": "1.png"})
    assert vqa_data.answer_classes(split, 2) == ["b", "a"]
    assert vqa_data.answer_classes(split, 10) == ["b", "a", "c"]


def test_the_validation_part_holds_whole_images(easy):
    split, _ = vqa_data.read_split(str(easy), "train")
    train, val = vqa_data.split_by_image(split, 0.25)
    assert len(train) + len(val) == len(split) and len(val) > 0
    assert not set(train.image_keys) & set(val.image_keys)
    again = vqa_data.split_by_image(split, 0.25)[1]
    assert again.questions == val.questions and again.image_keys == val.image_keys


@pytest.mark.parametrize("rows, fragment", [
    ({"not": "a list"}, "not a list"),
    ([], "not a list"),
    ([["what?", "yes"]], "row 1 is not"),
    ([["what?", "yes", "zero"]], "row 1 is not"),
    ([["what?", "yes", -1]], "row 1 is not"),
    ([["what?", "yes", True]], "row 1 is not"),
    ([["what?", "", 0]], "row 1 is not"),
    ([["what is it", "yes", 0]], "not a question"),
    ([["what?", "yes", 99]], "names 1 image(s) that are not there"),
])
def test_a_malformed_questions_json_is_one_usage_error(easy, tmp_path, rows, fragment):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(easy, root)
    (root / "train" / "questions.json").write_text(json.dumps(rows))
    with pytest.raises(UsageError, match=None) as error:
        vqa_data.read_split(str(root), "train")
    assert fragment in str(error.value)


def test_not_json_and_no_layout_are_usage_errors(easy, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(easy, root)
    (root / "train" / "questions.json").write_text("[[\"what?\", \"yes\", 0]")
    with pytest.raises(UsageError, match="not valid JSON"):
        vqa_data.read_split(str(root), "train")
    with pytest.raises(UsageError, match="holds neither"):
        vqa_data.read_split(str(tmp_path), "train")


def test_the_digest_changes_with_a_question_an_answer_or_an_image(easy, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(easy, root)
    before = vqa_data.digest(vqa_data.read_split(str(root), "test")[0])
    assert vqa_data.digest(vqa_data.read_split(str(root), "test")[0]) == before
    rows = json.loads((root / "test" / "questions.json").read_text())
    rows[0][1] = "no" if rows[0][1] == "yes" else "yes"
    (root / "test" / "questions.json").write_text(json.dumps(rows))
    changed = vqa_data.digest(vqa_data.read_split(str(root), "test")[0])
    assert changed != before
    with open(root / "test" / "images" / "0.png", "ab") as f:
        f.write(b"\0")
    assert vqa_data.digest(vqa_data.read_split(str(root), "test")[0]) != changed


@pytest.mark.parametrize("text", ["what is it", "", "   ", "?", " ?? "])
def test_check_question_refuses_non_questions(text):
    with pytest.raises(UsageError, match="not a question"):
        vqa_data.check_question(text)
    assert vqa_data.check_question("  what color is it? ") == "what color is it?"


def test_images_that_cannot_fit_in_memory_are_refused_before_decoding(monkeypatch):
    from week4_qa import vqa_inputs

    monkeypatch.setattr(vqa_inputs, "available_bytes", lambda: 2 * 1024 ** 3)
    vqa_inputs.check_data_fits(10_000, 224)         # 1.4 GiB of images; + 3.7 of grids:
    with pytest.raises(UsageError, match="5.1 GiB of memory, more than the 2.0 GiB"):
        vqa_inputs.check_data_fits(10_000, 224, grid_floats=7 * 7 * 2048)
