"""Word-vector quality: analogies (questions-words.txt) and WordSim-353 Spearman.

Both follow gensim's KeyedVectors.evaluate_word_analogies / evaluate_word_pairs,
so the numbers compare directly: only the `restrict_vocab` most frequent words
take part (30,000, as in the original word2vec `compute-accuracy`), matching
is case-insensitive (a word's most frequent spelling wins), and a question or
pair with a word outside that vocabulary is skipped, not counted as wrong.
An analogy "a b c d" is right when d is the nearest word by cosine to
b - a + c (unit vectors), a, b and c themselves excluded.
"""

import math

import numpy as np

from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES
from common.text import read_text_file

RESTRICT_VOCAB = 30_000


def unit_rows(vectors):
    """Rows scaled to length 1 (all-zero rows stay zero): (n, dim) float32."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def case_insensitive_index(words, restrict_vocab=RESTRICT_VOCAB, skip=()):
    """{WORD: id} over the first `restrict_vocab` words; the most frequent spelling wins."""
    index = {}
    for i, word in enumerate(words[:restrict_vocab]):
        if word not in skip:
            index.setdefault(word.upper(), i)
    return index


def read_analogies(path, max_bytes=DEFAULT_MAX_BYTES):
    """[(section, [(a, b, c, d), ...]), ...] from a questions-words.txt-style file."""
    sections = []
    for number, line in enumerate(read_text_file(path, max_bytes).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            sections.append((line[1:].strip() or f"section {len(sections) + 1}", []))
            continue
        words = line.split()
        if len(words) != 4 or not sections:
            problem = ("it needs 4 words per question" if sections else
                       "the first question comes before any ': section' line")
            raise UsageError(f"{path}, line {number}: {line[:60]!r} is not an analogy; "
                             f"{problem} (the questions-words.txt format)")
        sections[-1][1].append(tuple(words))
    if not any(questions for _, questions in sections):
        raise UsageError(f"{path} holds no analogy questions (expected ': section' lines "
                         "followed by lines of 4 words)")
    return sections


def answer_analogies(unit_vectors, a, b, c, allowed, batch_size=512):
    """(q,) id of the word nearest to b - a + c for id arrays a, b, c (q,).

    Only ids < allowed compete; a, b and c are excluded, as in gensim.
    """
    candidates = unit_vectors[:allowed]  # (allowed, dim)
    answers = np.empty(len(a), dtype=np.int64)
    for start in range(0, len(a), batch_size):
        part = slice(start, start + batch_size)
        query = unit_vectors[b[part]] - unit_vectors[a[part]] + unit_vectors[c[part]]
        scores = query @ candidates.T  # (batch, allowed)
        rows = np.arange(len(scores))
        for excluded in (a[part], b[part], c[part]):
            scores[rows, excluded] = -np.inf
        answers[part] = np.argmax(scores, axis=1)
    return answers


def evaluate_analogies(vectors, words, sections, restrict_vocab=RESTRICT_VOCAB, skip=()):
    """{"sections": [{"section", "correct", "total", "accuracy"}], "accuracy", "correct",
    "total", "skipped"}: per-section and overall accuracy over the answerable questions."""
    index = case_insensitive_index(words, restrict_vocab, skip)
    allowed = min(len(words), restrict_vocab)
    unit_vectors = unit_rows(vectors)
    results, skipped = [], 0
    for name, questions in sections:
        ids = [[index.get(w.upper()) for w in q] for q in questions]
        known = np.array([i for i in ids if None not in i], dtype=np.int64).reshape(-1, 4)
        skipped += len(ids) - len(known)
        answers = answer_analogies(unit_vectors, *known[:, :3].T, allowed)
        correct = int(np.sum(answers == known[:, 3]))
        results.append({"section": name, "correct": correct, "total": len(known),
                        "accuracy": correct / len(known) if len(known) else None})
    correct = sum(r["correct"] for r in results)
    total = sum(r["total"] for r in results)
    return {"sections": results, "correct": correct, "total": total, "skipped": skipped,
            "accuracy": correct / total if total else 0.0}


def read_word_pairs(path, max_bytes=DEFAULT_MAX_BYTES):
    """[(word1, word2, score)] from a tab/space separated file; '#' lines are comments.

    A score that is NaN or infinite is refused: it would make the Spearman
    correlation meaningless (NaN), not a result.
    """
    pairs = []
    for number, line in enumerate(read_text_file(path, max_bytes).splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        try:
            pairs.append((fields[0].strip(), fields[1].strip(), float(fields[2])))
        except (IndexError, ValueError):
            raise UsageError(f"{path}, line {number}: {line[:60]!r} is not 'word1 word2 "
                             "score' (the wordsim353.tsv format)") from None
        if not math.isfinite(pairs[-1][2]):
            raise UsageError(f"{path}, line {number}: the score {fields[2].strip()!r} is not a "
                             "finite number")
    if not pairs:
        raise UsageError(f"{path} holds no word pairs")
    return pairs


def average_ranks(values):
    """Ranks 1..n with ties given their mean rank (as scipy.stats.rankdata)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # Each run of equal values gets the mean of the ranks it spans.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    return ranks


def spearman(x, y):
    """Spearman's rank correlation: Pearson's correlation of the (tie-averaged) ranks."""
    return float(np.corrcoef(average_ranks(x), average_ranks(y))[0, 1])


def evaluate_word_pairs(vectors, words, pairs, restrict_vocab=RESTRICT_VOCAB, skip=()):
    """{"spearman", "pairs", "skipped"}: cosine similarity against the human scores."""
    index = case_insensitive_index(words, restrict_vocab, skip)
    unit_vectors = unit_rows(vectors)
    model, human = [], []
    for first, second, score in pairs:
        i, j = index.get(first.upper()), index.get(second.upper())
        if i is not None and j is not None:
            model.append(float(unit_vectors[i] @ unit_vectors[j]))
            human.append(score)
    if len(model) < 2:
        raise UsageError("fewer than 2 word pairs have both words in the vocabulary")
    if len(set(human)) < 2 or len(set(model)) < 2:
        raise UsageError(f"the {len(model)} scored pairs all have the same "
                         f"{'human score' if len(set(human)) < 2 else 'cosine'}; Spearman's "
                         "correlation is undefined (NaN), so there is no result")
    return {"spearman": spearman(model, human), "pairs": len(model),
            "skipped": len(pairs) - len(model)}


def nearest(unit_vectors, query, k, excluded=()):
    """[(id, cosine)] of the k rows nearest to `query` (dim,) by cosine, `excluded` ids skipped."""
    query = np.asarray(query, dtype=np.float32)
    cosines = unit_vectors @ (query / max(float(np.linalg.norm(query)), 1e-12))  # (vocab,)
    cosines[list(excluded)] = -np.inf
    k = min(k, len(cosines) - len(set(excluded)))
    top = np.argpartition(-cosines, k - 1)[:k] if k > 0 else np.array([], dtype=np.int64)
    top = top[np.argsort(-cosines[top], kind="stable")]
    return [(int(i), float(cosines[i])) for i in top]


def evaluate(word_vectors, analogies_path=None, wordsim_path=None,
             restrict_vocab=RESTRICT_VOCAB, max_bytes=DEFAULT_MAX_BYTES):
    """{"analogy_accuracy", "analogy_sections", "wordsim_spearman", ...} for the given files."""
    if not analogies_path and not wordsim_path:
        raise UsageError("give --analogies FILE, --wordsim FILE or both")
    # Both files are read (and checked) before the slower scoring starts.
    sections = read_analogies(analogies_path, max_bytes) if analogies_path else None
    pairs = read_word_pairs(wordsim_path, max_bytes) if wordsim_path else None
    vectors, words = word_vectors.vectors, word_vectors.vocab.words
    skip = {word_vectors.vocab.unknown}
    results = {"restrict_vocab": restrict_vocab}
    if sections:
        scores = evaluate_analogies(vectors, words, sections, restrict_vocab, skip)
        results.update(analogy_accuracy=scores["accuracy"], analogy_correct=scores["correct"],
                       analogy_total=scores["total"], analogy_skipped=scores["skipped"],
                       analogy_sections=scores["sections"])
    if pairs:
        scores = evaluate_word_pairs(vectors, words, pairs, restrict_vocab, skip)
        results.update(wordsim_spearman=scores["spearman"], wordsim_pairs=scores["pairs"],
                       wordsim_skipped=scores["skipped"])
    return results


def print_results(results):
    for section in results.get("analogy_sections", []):
        accuracy = section["accuracy"]
        shown = "-" if accuracy is None else f"{100 * accuracy:5.1f}%"
        print(f"{section['section']:>28s} {shown:>7s} ({section['correct']}/{section['total']})")
    if "analogy_accuracy" in results:
        print(f"{'analogies, overall':>28s} {100 * results['analogy_accuracy']:5.1f}% "
              f"({results['analogy_correct']}/{results['analogy_total']}; "
              f"{results['analogy_skipped']} questions with words outside the top "
              f"{results['restrict_vocab']:,} skipped)")
    if "wordsim_spearman" in results:
        print(f"{'WordSim Spearman':>28s} {results['wordsim_spearman']:.4f} "
              f"({results['wordsim_pairs']} pairs, {results['wordsim_skipped']} skipped)")
