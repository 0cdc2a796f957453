"""common.images on small generated folders: every odd file a real folder holds."""

import io

import numpy as np
import pytest
from PIL import Image

from common.cli import UsageError
from common.images import find_images, find_labelled_images, load_images


def save_image(path, mode, size, color, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, format=fmt)
    return path


def jpeg_bytes(size=(16, 16), color=(200, 30, 40)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def mixed_folder(tmp_path):
    """One good file of each kind plus two bad ones, in two class folders."""
    root = tmp_path / "photos"
    save_image(root / "red" / "a.png", "RGB", (8, 8), (255, 0, 0))
    save_image(root / "red" / "b.JPG", "RGB", (8, 8), (250, 0, 0), fmt="JPEG")
    save_image(root / "red" / "gray.png", "L", (8, 8), 128)
    save_image(root / "blue" / "rgba.png", "RGBA", (8, 8), (0, 0, 255, 100))
    save_image(root / "blue" / "odd.bmp", "RGB", (13, 5), (0, 0, 255))
    (root / "blue" / "truncated.jpg").write_bytes(jpeg_bytes((64, 64))[:200])
    (root / "blue" / "notes.jpg").write_text("not an image at all")
    (root / "blue" / "readme.txt").write_text("ignored: not an image extension")
    (root / "empty_class").mkdir()
    return root


def test_find_images_is_recursive_sorted_and_by_extension(mixed_folder):
    names = [p[len(str(mixed_folder)) + 1:] for p in find_images(str(mixed_folder))]
    assert names == ["blue/notes.jpg", "blue/odd.bmp", "blue/rgba.png", "blue/truncated.jpg",
                     "red/a.png", "red/b.JPG", "red/gray.png"]


def test_find_labelled_images(mixed_folder, capsys):
    paths, labels, class_names = find_labelled_images(str(mixed_folder))
    assert class_names == ["blue", "red"]  # the empty folder is left out, with a note
    assert "empty_class" in capsys.readouterr().out
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1]
    assert all(f"/{class_names[label]}/" in path for path, label in zip(paths, labels))


def test_load_images_converts_and_skips(mixed_folder, capsys):
    paths = find_images(str(mixed_folder))
    images, kept, skipped = load_images(paths, size=4, channels=3, progress=False)
    assert images.shape == (5, 4, 4, 3) and images.dtype == np.uint8
    assert sorted(p.rsplit("/", 1)[1] for p in skipped) == ["notes.jpg", "truncated.jpg"]
    assert [paths[i].rsplit("/", 1)[1] for i in kept] == [
        "odd.bmp", "rgba.png", "a.png", "b.JPG", "gray.png"]
    assert "skipped 2 of 7" in capsys.readouterr().out
    odd, rgba, red_png, red_jpg, gray = images
    assert (odd == [0, 0, 255]).all()  # resized from 13x5, colour unchanged
    assert (rgba == [0, 0, 255]).all()  # alpha dropped
    assert (red_png == [255, 0, 0]).all()
    assert np.abs(red_jpg.astype(int) - [250, 0, 0]).max() <= 3  # JPEG is lossy
    assert (gray == 128).all()  # gray becomes three equal channels


def test_load_images_grayscale_output(mixed_folder):
    images, kept, _ = load_images([str(mixed_folder / "red" / "a.png")], size=6, channels=1,
                                  progress=False)
    assert images.shape == (1, 6, 6, 1) and kept.tolist() == [0]
    assert images[0, 0, 0, 0] == 76  # ITU-R 601 luma of pure red: 0.299 * 255


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        find_images(str(tmp_path / "nowhere"))
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="no images"):
        find_images(str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="no images"):
        find_labelled_images(str(tmp_path / "empty"))
    (tmp_path / "flat").mkdir()
    save_image(tmp_path / "flat" / "a.png", "RGB", (4, 4), (1, 2, 3))
    with pytest.raises(UsageError, match="no sub-folders"):
        find_labelled_images(str(tmp_path / "flat"))


def test_progress_bar_runs(mixed_folder):
    images, _, _ = load_images([str(mixed_folder / "red" / "a.png")], 4, progress=True)
    assert images.shape == (1, 4, 4, 3)
