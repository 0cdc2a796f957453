"""Sentiment data: the order task, hash splits, the four readers, and end-to-end runs on
tiny folders in the IMDB and NSMC layouts (English and Korean) and on tfds (mocked)."""

import collections
import dataclasses
import json

import numpy as np
import pytest

from common.cli import run_cli
from week3_rnn import sentiment, sentiment_data
from week3_rnn.sentiment_data import NEGATIVE, ORDER_TEMPLATES, POSITIVE, order_sentences
from week3_rnn.sentiment_files import Part, hash_split, load_data_dir, load_text_file
from week3_rnn.sentiment_model import PRESETS

CONFIG = dataclasses.replace(PRESETS["test"], max_examples=0)
GOOD = ["a wonderful film", "great acting and a moving story", "i loved every minute",
        "brilliant, funny and warm", "the best movie this year"]
BAD = ["a boring mess", "awful acting and a dull story", "i hated every minute",
       "a waste of time", "the worst movie this year"]
GOOD_KO = ["정말 재미있어요", "최고의 영화입니다", "배우들의 연기가 훌륭해요", "감동적인 이야기"]
BAD_KO = ["너무 지루해요", "시간 낭비였어요", "최악의 영화", "연기가 어색하고 별로"]


def reviews(good, bad, count, seed):
    """(texts, labels 1 = good) of `count` reviews of two or three phrases each."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    texts = [" ".join(rng.choice(good if label else bad, 2 + i % 2, replace=False))
             + f" ({i})" for i, label in enumerate(labels)]
    return texts, labels


def write_imdb(root, per_class=12, nested=True):
    """An aclImdb-style folder (train/test x pos/neg, plus train/unsup and stray files)."""
    top = root / "aclImdb" if nested else root
    for s, split in enumerate(("train", "test")):
        texts, labels = reviews(GOOD, BAD, 2 * per_class, seed=s)
        for i, (text, label) in enumerate(zip(texts, labels)):
            folder = top / split / ("pos" if label else "neg")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_{7 if label else 2}.txt").write_text(text + "<br /><br />ok.")
        (top / split / "urls_pos.txt").write_text("http://example.com\n")
    (top / "train" / "unsup").mkdir()
    (top / "train" / "unsup" / "0_0.txt").write_text("unlabelled, never read")
    return root


def write_nsmc(root, count=48):
    root.mkdir(parents=True, exist_ok=True)
    for s, name in enumerate(("ratings_train.txt", "ratings_test.txt")):
        texts, labels = reviews(GOOD_KO, BAD_KO, count, seed=s)
        lines = ["id\tdocument\tlabel", "9999\t\t0"]  # NSMC has a few empty documents
        lines += [f"{1000 + i}\t{text}\t{label}" for i, (text, label) in
                  enumerate(zip(texts, labels))]
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_every_bag_of_words_of_the_order_task_occurs_with_both_labels():
    for template in ORDER_TEMPLATES:
        assert template.count("{x}") == template.count("{y}") == 1
        for x in POSITIVE:
            for y in NEGATIVE:  # pos "x , not y" and neg "y , not x": one bag
                assert (collections.Counter(template.format(x=x, y=y).split())
                        == collections.Counter(template.format(x=y, y=x).split()))
    texts, labels = order_sentences(4000, seed=3)
    assert 0.45 < labels.mean() < 0.55
    for text, label in zip(texts, labels):
        words = set(text.split())
        assert words & set(POSITIVE) and words & set(NEGATIVE)
    assert order_sentences(4000, seed=3)[0] == texts  # the seed alone fixes the task
    assert order_sentences(4000, seed=4)[0] != texts


def test_hash_split_depends_on_the_text_alone():
    texts = [f"review {i}" for i in range(400)] + ["review 7"] * 3
    part = Part(texts, np.arange(len(texts)) % 2)
    train, validation, test = hash_split(part, 0.2, 0.1)
    assert len(train) + len(validation) + len(test) == len(texts)
    assert 20 < len(test) < 60 and 50 < len(validation) < 110
    shuffled = Part(texts[::-1], part.labels[::-1])
    assert sorted(hash_split(shuffled, 0.2, 0.1)[2].texts) == sorted(test.texts)
    holding = [name for name, p in zip("tvs", (train, validation, test)) if "review 7" in p.texts]
    assert len(holding) == 1  # duplicates never straddle two parts


def test_a_labelled_file_reads_labels_as_written(tmp_path):
    path = tmp_path / "reviews.tsv"
    rows = ["text\tlabel"] + [f"review {i}\twith a tab\t{'yes' if i % 3 else 'no'}"
                              for i in range(60)]
    path.write_text("\r\n".join(rows + ["   \tyes", ""]), encoding="utf-8")
    data = load_text_file(str(path), dataclasses.replace(CONFIG, max_examples=5))
    assert data.class_names == ["no", "yes"] and data.skipped == 1
    assert data.source == f"file:{path}"
    assert len(data.train) == 5 and len(data.test) <= 5
    assert all("\twith a tab" in text for text in data.train.texts)
    full = load_text_file(str(path), CONFIG)
    assert len(full.train) + len(full.validation) + len(full.test) == 60


@pytest.mark.parametrize("nested", [True, False])
def test_an_imdb_folder_reads_its_class_folders(tmp_path, nested):
    root = write_imdb(tmp_path / "data", nested=nested)
    config = dataclasses.replace(CONFIG, val_fraction=0.25)
    data = load_data_dir(str(root), config)
    assert data.class_names == ["neg", "pos"] and len(data.test) == 24
    assert len(data.train) + len(data.validation) == 24
    assert all("(" in text and "unlabelled" not in text for text in data.train.texts)
    assert data.source == f"imdb:{root / 'aclImdb' if nested else root}"
    # A bound reads both classes in turn.
    bounded = load_data_dir(str(root), dataclasses.replace(config, max_examples=6))
    assert bounded.test.labels.tolist() == [0, 1, 0, 1, 0, 1]


def test_an_nsmc_folder_reads_korean_and_skips_empty_documents(tmp_path):
    data = load_data_dir(str(write_nsmc(tmp_path / "nsmc")), CONFIG)
    assert data.class_names == ["neg", "pos"] and data.skipped == 2
    assert len(data.test) == 48 and any("영화" in text for text in data.test.texts)
    assert data.test.labels.tolist() == [i % 2 for i in range(48)]


def run_end_to_end(tmp_path, capsys, data_flags, texts, extra=()):
    """train (test preset), evaluate and predict through the CLI; (results, lines)."""
    run = tmp_path / "run"
    assert run_cli(sentiment.main, ["train", *data_flags, "--preset", "test", "--out_dir",
                                    str(run), "--verbose", "0", "--epochs", "1",
                                    *extra]) is None
    assert run_cli(sentiment.main, ["evaluate", "--run_dir", str(run)]) is None
    capsys.readouterr()
    assert run_cli(sentiment.main, ["predict", "--run_dir", str(run), *texts]) is None
    lines = capsys.readouterr().out.strip().split("\n")
    return json.loads((run / "results.json").read_text()), [line.split("\t") for line in lines]


def test_an_imdb_folder_trains_evaluates_and_predicts(tmp_path, capsys):
    root = write_imdb(tmp_path / "data")
    results, lines = run_end_to_end(tmp_path, capsys, ["--data_dir", str(root)],
                                    ["a wonderful film", "zebra"])
    assert results["examples"] == 24 and set(results["classes"]) == {"neg", "pos"}
    assert results["data"] == f"held-out test part of imdb:{root / 'aclImdb'}"
    assert len(lines) == 2 and all(label in ("neg", "pos") for label, _ in lines)


def test_an_nsmc_folder_trains_at_character_level(tmp_path, capsys):
    root = write_nsmc(tmp_path / "nsmc")
    results, lines = run_end_to_end(tmp_path, capsys, ["--data_dir", str(root)],
                                    ["정말 재미있어요", "별로"], ["--tokens", "char"])
    assert results["examples"] == 48 and results["unknown_tokens"] >= 0
    vocab = json.loads((tmp_path / "run" / "vocab.json").read_text())
    assert vocab["level"] == "char" and "영" in vocab["tokens"]
    assert len(lines) == 2


def test_a_labelled_file_evaluates_its_own_held_out_part(tmp_path, capsys):
    path = tmp_path / "reviews.tsv"
    texts, labels = reviews(GOOD, BAD, 120, seed=5)
    path.write_text("".join(f"{t}\t{'good' if y else 'bad'}\n" for t, y in zip(texts, labels)))
    results, lines = run_end_to_end(tmp_path, capsys, ["--text", str(path)], ["a boring mess"])
    held_out = load_text_file(str(path), PRESETS["test"]).test
    assert results["examples"] == len(held_out) > 0
    assert lines[0][0] in ("bad", "good")


def test_the_default_tfds_path_builds_and_names_the_imdb_download(tmp_path):
    import tensorflow_datasets as tfds

    builder = tfds.builder(sentiment_data.TFDS_NAME, data_dir=str(tmp_path))
    assert not builder.is_prepared()
    assert any("aclImdb_v1.tar.gz" in url for url in builder.url_infos)
    assert builder.info.features["label"].names == ["neg", "pos"]


def test_the_default_tfds_path_trains_on_what_tfds_gives(tmp_path, monkeypatch, capsys):
    """tfds's own mock of imdb_reviews (random texts) stands in for the download."""
    import tensorflow_datasets as tfds

    monkeypatch.setattr(sentiment_data, "check_reachable", lambda urls: None)
    with tfds.testing.mock_data(num_examples=40):
        assert run_cli(sentiment.main, ["train", "--preset", "test", "--epochs", "1",
                                        "--out_dir", str(tmp_path / "run"), "--verbose",
                                        "0"]) is None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["source"] == "tfds:imdb_reviews" and config["data"]["test"] == 40
