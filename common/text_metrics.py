"""Scores of generated token sequences against references: BLEU and edit-distance rates.

Every function takes token lists (a hypothesis: ["AE", "B", "AH", "T"]) and,
per hypothesis, one or more references, so any sequence task (translation,
grapheme-to-phoneme, captions) is scored over its own tokens:

    corpus_bleu(hypotheses, references)    corpus BLEU-4, 0..100, by sacrebleu
                                           (max_order=n: BLEU-n, as captioning reports 1..4)
    edit_distances(hypotheses, references) token-level Levenshtein distance to the
                                           closest reference, by tf.edit_distance
    error_rate(distances, lengths)         sum of distances / sum of reference lengths
                                           (the phoneme / word / character error rate)

BLEU is sacrebleu's corpus BLEU (Post 2018, the implementation papers
report) with tokenize="none": the tokens are joined with spaces and scored as
they are, so the figure is BLEU over this task's tokens (characters,
phonemes or words), not over sacrebleu's own word tokenisation. A token that
is white space (the space of character-level text) is written "▁" first, or
joining with spaces would lose it. A hypothesis with several references is
scored against all of them (sacrebleu's variable reference count).
"""

import numpy as np

SPACE_MARK = "\u2581"  # "▁", as SentencePiece writes a space


def _joined(tokens):
    return " ".join(SPACE_MARK if not token.strip() else token for token in tokens)


def corpus_bleu(hypotheses, references, max_order=4):
    """Corpus BLEU (0..100) of token lists against lists of reference token lists, over
    n-grams up to `max_order` (4: BLEU-4; captioning papers also give BLEU-1..3)."""
    from sacrebleu.metrics import BLEU  # here: commands that never score import nothing of it

    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("one or more references per hypothesis, and at least one hypothesis")
    most = max(len(refs) for refs in references)
    streams = [[_joined(refs[i]) if i < len(refs) else None for refs in references]
               for i in range(most)]
    bleu = BLEU(tokenize="none", force=True, max_ngram_order=max_order)
    return bleu.corpus_score([_joined(h) for h in hypotheses], streams).score


def _ragged(token_lists):
    """A (n, None) string RaggedTensor of token lists (empty lists allowed)."""
    import tensorflow as tf

    flat = [token for tokens in token_lists for token in tokens]
    return tf.RaggedTensor.from_row_lengths(tf.constant(flat, tf.string, shape=[len(flat)]),
                                            [len(tokens) for tokens in token_lists])


def edit_distances(hypotheses, references):
    """(distances, reference lengths) as int arrays (n,): each hypothesis's Levenshtein
    distance (insertions, deletions, substitutions of whole tokens) to its closest
    reference, and that reference's length (the first of equally close ones)."""
    import tensorflow as tf

    owners = [i for i, refs in enumerate(references) for _ in refs]
    flat_refs = [ref for refs in references for ref in refs]
    if not flat_refs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    hyps = _ragged([hypotheses[i] for i in owners]).to_sparse()
    truth = _ragged(flat_refs).to_sparse()
    # normalize=False: the raw count of edits (TensorFlow's own, tested op).
    distances = tf.edit_distance(hyps, truth, normalize=False).numpy().astype(np.int64)
    lengths = np.array([len(ref) for ref in flat_refs], np.int64)
    best_distance = np.zeros(len(hypotheses), np.int64)
    best_length = np.zeros(len(hypotheses), np.int64)
    seen = np.zeros(len(hypotheses), bool)
    for owner, distance, length in zip(owners, distances, lengths):
        if not seen[owner] or distance < best_distance[owner]:
            best_distance[owner], best_length[owner], seen[owner] = distance, length, True
    return best_distance, best_length


def error_rate(distances, lengths):
    """Sum of edit distances over the sum of reference lengths (0 when there is none)."""
    total = int(np.sum(lengths))
    return float(np.sum(distances)) / total if total else 0.0
