"""common.tokens: one tokenizer for training and servables, and the special-token vocabulary."""

import pytest
import tensorflow as tf

from common.cli import UsageError
from common.tokens import (END_ID, PAD_ID, SPECIALS, START_ID, UNK_ID, TokenVocab,
                           check_vocab_size, join_tokens, tokenize, tokenize_texts)


def test_word_tokens_lower_case_and_set_punctuation_apart_in_any_script():
    texts = ["Good movie!<br /><br />It was  GREAT, really.", " 정말 재밌었다!! 최고 ",
             "Ça coûte 10€ l'unité"]
    assert tokenize_texts(texts, "word") == [
        ["good", "movie", "!", "it", "was", "great", ",", "really", "."],
        ["정말", "재밌었다", "!", "!", "최고"],
        ["ça", "coûte", "10", "€", "l", "'", "unité"]]


def test_char_tokens_keep_case_and_one_space_per_run_of_white_space():
    assert tokenize_texts(["Ab  c\t좋다 ", ""], "char") == [
        ["A", "b", " ", "c", " ", "좋", "다"], []]
    assert join_tokens(["A", "b", " ", "c"], "char") == "Ab c"
    assert join_tokens(["good", "movie"], "word") == "good movie"


def test_python_and_graph_tokenisation_agree():
    texts = ["It's 3 o'clock — 세 시야.", "x"]
    graph = tokenize(tf.constant(texts), "word").to_list()
    assert [[t.decode() for t in row] for row in graph] == tokenize_texts(texts, "word")
    with pytest.raises(ValueError):
        tokenize(tf.constant(texts), "byte")


def test_vocabulary_orders_by_count_then_token_after_the_specials():
    vocab = TokenVocab.from_token_lists([["b", "a", "c"], ["a", "c", "d", "<end>"]], "word",
                                        min_count=1)
    assert vocab.tokens == [*SPECIALS, "a", "c", "b", "d"]  # the <end> in the data is no token
    assert TokenVocab.from_token_lists([["b", "a", "c"], ["a", "c", "d"]], "word",
                                       max_size=6).tokens == [*SPECIALS, "a", "c"]
    assert TokenVocab.from_token_lists([["b", "a", "c"], ["a", "c", "d"]], "word",
                                       min_count=2).tokens == [*SPECIALS, "a", "c"]


def test_encode_decode_round_trip_with_unknown_start_and_end():
    vocab = TokenVocab([*SPECIALS, "a", "b"], "char")
    assert vocab.encode(["a", "z", "b"], start=True, end=True) == [START_ID, 4, UNK_ID, 5, END_ID]
    ids, unknown = vocab.encode_all([["a", "z"], ["y", "b"]])
    assert ids == [[4, UNK_ID], [UNK_ID, 5]] and unknown == 2
    # Decoding stops at <end> and leaves out <pad> and <start>.
    assert vocab.decode([START_ID, 4, PAD_ID, 5, END_ID, 4]) == ["a", "b"]
    assert vocab.decode_text([4, 5, UNK_ID]) == "ab<unk>"


def test_lookup_table_matches_encode(tmp_path):
    vocab = TokenVocab.from_token_lists([["좋다", "good", "good"]], "word")
    table = vocab.lookup_table()
    tokens = ["good", "좋다", "never-seen"]
    assert table.lookup(tf.constant(tokens)).numpy().tolist() == vocab.encode(tokens)
    vocab.save(tmp_path / "vocab.json")
    assert TokenVocab.load(tmp_path / "vocab.json") == vocab


def test_a_vocabulary_file_of_another_kind_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text('{"tokens": ["a", "b"], "level": "char"}')
    with pytest.raises(UsageError, match="not a token vocabulary"):
        TokenVocab.load(tmp_path / "vocab.json")
    with pytest.raises(UsageError, match="empty vocabulary"):
        check_vocab_size(TokenVocab.from_token_lists([[]], "char"))
