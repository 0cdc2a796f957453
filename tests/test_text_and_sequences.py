"""Text loading, the character vocabulary and the windowed datasets."""

import numpy as np
import pytest

from common.batching import shuffled_batches
from common.cli import UsageError
from common.sequences import make_windows, split_tail, to_pair
from common.text import CharVocab, read_text_file


def test_vocab_round_trip_with_multibyte_characters(tmp_path):
    text = "안녕하세요, world! 한국어 😀"
    vocab = CharVocab.from_text(text)
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = CharVocab.load(path)
    assert loaded == vocab
    ids = loaded.encode(text)
    assert len(ids) == len(text)  # one id per code point, not per UTF-8 byte
    assert loaded.decode(ids) == text
    assert "안" in path.read_text(encoding="utf-8")  # stored readable, not escaped


def test_unknown_characters_are_named():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(UsageError, match="'가'"):
        vocab.encode("ab가")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"  \n\t ", "is empty"),
    (b"\x7fELF\x02\x01\x00\x00binary", "binary"),
    ("한국어".encode("cp949"), "not valid UTF-8"),
])
def test_bad_text_files_are_rejected(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        read_text_file(str(path))


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        read_text_file(str(tmp_path / "nope.txt"))


def test_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeff가나다".encode("utf-8"))
    assert read_text_file(str(path)) == "가나다"


def test_windows_equal_a_plain_reference():
    ids = np.arange(23)
    windows = make_windows(ids, seq_length=5)
    # Reference: inputs ids[5k:5k+5], targets shifted by one.
    assert windows.shape == (4, 6)
    for k, window in enumerate(windows):
        np.testing.assert_array_equal(window, ids[5 * k:5 * k + 6])


def test_text_shorter_than_one_sequence_is_rejected():
    with pytest.raises(UsageError, match="shorter than one training sequence"):
        make_windows(np.arange(10), seq_length=10)


def test_split_tail_holds_out_the_end():
    train, val = split_tail(np.arange(100), 0.1)
    np.testing.assert_array_equal(val, np.arange(90, 100))
    np.testing.assert_array_equal(train, np.arange(90))


def _epoch_batches(windows, first_epoch, num_epochs):
    batches = list(shuffled_batches(windows, batch_size=2, seed=7, first_epoch=first_epoch,
                                    num_epochs=num_epochs, transform=to_pair))
    return [(x.numpy(), y.numpy()) for x, y in batches]


def test_shuffle_depends_only_on_seed_and_epoch():
    windows = make_windows(np.arange(61), seq_length=6)  # 10 windows -> 5 batches/epoch
    full = _epoch_batches(windows, 0, 3)
    resumed = _epoch_batches(windows, 2, 3)
    assert len(full) == 15 and len(resumed) == 5
    for (x_full, y_full), (x_res, y_res) in zip(full[10:], resumed):
        np.testing.assert_array_equal(x_full, x_res)
        np.testing.assert_array_equal(y_full, y_res)
    # Different epochs see different orders, and targets are inputs shifted by one.
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(full[:5], full[5:10]))
    x, y = full[0]
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
