"""CIFAR-10 loading: tfds (mocked), the two official local layouts, image folders."""

import pickle

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError
from week2_cnn.cifar_data import CLASS_NAMES, load_cifar10, split_validation


def random_batch(n, seed):
    """(images uint8 [n, 32, 32, 3], labels [n]) with distinct, known pixels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def planar(images):
    """The official storage: per image 1024 red, then 1024 green, then 1024 blue bytes."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_python_layout(folder, batches):
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, len(batches))] + ["test_batch"]
    for name, (images, labels) in zip(names, batches):
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": planar(images), b"labels": labels.tolist()}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CLASS_NAMES]}, f)


def write_binary_layout(folder, batches):
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}.bin" for i in range(1, len(batches))] + ["test_batch.bin"]
    for name, (images, labels) in zip(names, batches):
        records = np.concatenate([labels[:, None].astype(np.uint8), planar(images)], axis=1)
        records.tofile(folder / name)


def write_image_tree(root, images, labels, split):
    for index, (image, label) in enumerate(zip(images, labels)):
        path = root / split / CLASS_NAMES[label] / f"{index:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)


@pytest.fixture
def batches():
    return [random_batch(20, 1), random_batch(20, 2), random_batch(10, 3)]


def check_same(data, batches):
    train_x = np.concatenate([b[0] for b in batches[:-1]])
    train_y = np.concatenate([b[1] for b in batches[:-1]])
    np.testing.assert_array_equal(data.x_train, train_x)
    np.testing.assert_array_equal(data.y_train, train_y)
    np.testing.assert_array_equal(data.x_test, batches[-1][0])
    np.testing.assert_array_equal(data.y_test, batches[-1][1])
    assert data.class_names == list(CLASS_NAMES)


def test_python_pickles(tmp_path, batches):
    write_python_layout(tmp_path / "cifar-10-batches-py", batches)
    check_same(load_cifar10(str(tmp_path)), batches)  # the parent folder works too
    check_same(load_cifar10(str(tmp_path / "cifar-10-batches-py")), batches)


def test_binary_files(tmp_path, batches):
    write_binary_layout(tmp_path / "cifar-10-batches-bin", batches)
    check_same(load_cifar10(str(tmp_path / "cifar-10-batches-bin")), batches)


def test_image_folder_is_decoded_once_then_cached(tmp_path, batches, capsys):
    images, labels = batches[0][0], np.arange(20) % 10  # every class in both splits
    write_image_tree(tmp_path / "jpg", images, labels, "train")
    write_image_tree(tmp_path / "jpg", batches[2][0], np.arange(10), "test")
    (tmp_path / "jpg" / "test" / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff truncated")
    cache = tmp_path / "cache"
    first = load_cifar10(str(tmp_path / "jpg"), str(cache))
    assert "cached in" in capsys.readouterr().out
    second = load_cifar10(str(tmp_path / "jpg"), str(cache))
    assert "read from the cache" in capsys.readouterr().out
    # PNG is lossless: files are read in sorted (class, name) order, so compare as sets.
    order = np.lexsort([np.arange(len(labels)), labels])
    for data in (first, second):
        np.testing.assert_array_equal(data.x_train, images[order])
        np.testing.assert_array_equal(data.y_train, labels[order])
        assert len(data.x_test) == 10  # the broken file was skipped
    assert first.class_names == list(CLASS_NAMES)  # CIFAR's order is alphabetical


def test_default_is_tfds(monkeypatch):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        data = load_cifar10()
    assert data.x_train.shape == (12, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_test.shape == (12,) and len(data.class_names) == 10
    assert data.source == "tfds:cifar10"


def test_unknown_layout_names_all_three(tmp_path):
    (tmp_path / "something").mkdir()
    with pytest.raises(UsageError, match="cifar-10-batches-py.*cifar-10-batches-bin.*train/"):
        load_cifar10(str(tmp_path / "something"))
    with pytest.raises(UsageError, match="not found"):
        load_cifar10(str(tmp_path / "missing"))


def test_bad_local_files(tmp_path, batches):
    write_python_layout(tmp_path / "py", batches)
    (tmp_path / "py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(UsageError, match="not a readable CIFAR-10 Python batch"):
        load_cifar10(str(tmp_path / "py"))
    write_binary_layout(tmp_path / "bin", batches)
    (tmp_path / "bin" / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(UsageError, match="not a multiple of 3073"):
        load_cifar10(str(tmp_path / "bin"))


def test_image_folder_with_one_class_or_no_images(tmp_path):
    images, labels = random_batch(4, 0)
    write_image_tree(tmp_path / "one", images, np.zeros(4, int), "train")
    write_image_tree(tmp_path / "one", images, np.zeros(4, int), "test")
    with pytest.raises(UsageError, match="single class"):
        load_cifar10(str(tmp_path / "one"), str(tmp_path / "cache"))
    for split in ("train/cat", "test/cat"):
        (tmp_path / "empty" / split).mkdir(parents=True)
        (tmp_path / "empty" / split / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="no images"):
        load_cifar10(str(tmp_path / "empty"), str(tmp_path / "cache"))


def test_validation_split_holds_out_a_tenth_of_each_class():
    labels = (np.arange(50_000) * 7) % 10  # 5,000 per class, classes interleaved
    images = np.arange(50_000)  # stands for the images: which one went where
    x_train, y_train, x_val, y_val = split_validation(images, labels, 0.1)
    assert len(x_val) == 5_000 and np.bincount(y_val).tolist() == [500] * 10
    assert len(x_train) == 45_000 and np.bincount(y_train).tolist() == [4_500] * 10
    assert sorted(np.concatenate([x_train, x_val]).tolist()) == images.tolist()
    np.testing.assert_array_equal(labels[x_val], y_val)  # labels travel with their images
    again = split_validation(images, labels, 0.1)
    np.testing.assert_array_equal(again[2], x_val)  # no random numbers: always the same


def test_a_small_folder_keeps_one_image_per_class_for_validation_and_still_trains():
    labels = np.array([0, 0, 1, 1, 1, 2])  # class 2 has a single image
    x_train, y_train, x_val, y_val = split_validation(np.arange(6), labels, 0.1)
    assert sorted(y_val.tolist()) == [0, 1]
    assert sorted(y_train.tolist()) == [0, 1, 1, 2]
    assert len(split_validation(np.arange(6), labels, 0.0)[2]) == 0  # 0: no validation
