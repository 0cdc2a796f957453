"""word2vec quality and speed: this project (Keras 3 / TF, NCE) against gensim's skip-gram.

Both sides train skip-gram on the same token stream with the same dimension,
window, epochs, min_count and subsampling threshold (gensim's defaults: 100,
5, 5, 5, 1e-3); gensim uses 2 worker threads and negative sampling with
`--negative` noise words per pair. This project's `--loss nce` draws
`--num_sampled` noise words per batch, shared by its examples
(tf.nn.nce_loss), so the two "negatives" settings are not the same quantity;
its `--loss negative_sampling` is gensim's loss, `--num_sampled` per pair.

Both sides' vectors are scored by the same code, gensim's
KeyedVectors.evaluate_word_analogies (restrict_vocab 30,000, case-insensitive)
and evaluate_word_pairs (Spearman), on questions-words.txt and WordSim-353.
Words/second is corpus words x epochs / training seconds (vocabulary building
excluded on both sides). Prints one table per corpus with the ratios.

    pip install -r benchmarks/requirements.txt     # gensim; the project does not need it
    python -m benchmarks.word2vec_vs_gensim --data_dir ../shared/data
    python -m benchmarks.word2vec_vs_gensim --corpora enwiki --embedding_dim 128 \
        --time_to_quality 1 2 3 --rounds 3

--time_to_quality E...: time to gensim's quality. gensim trains its --epochs and
its final analogy accuracy and Spearman are the bar; this project trains runs of
E epochs each (a whole schedule each, the learning rate falling to 1e-4 of its start by its last
step), in alternating rounds with gensim, and the first E whose both numbers reach
the bar gives the time (medians over --rounds), to compare with gensim's seconds.

TensorFlow, gensim and this project's word2vec modules are imported in
`main`, after TensorFlow's start-up chatter is silenced.
"""

import argparse
import dataclasses
import json
import os
import tempfile
import time

from common.cli import quiet_tensorflow

SENTENCE_WORDS = 10_000  # gensim's limit per sentence; text8 is read the same way


def gensim_quality(vectors, words, analogies, wordsim):
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vectors.shape[1])
    keyed.add_vectors(words, vectors)
    accuracy, _ = keyed.evaluate_word_analogies(analogies, restrict_vocab=30_000)
    spearman = keyed.evaluate_word_pairs(wordsim, restrict_vocab=30_000)[1].statistic
    return float(accuracy), float(spearman)


def run_gensim(tokens, args):
    from gensim.models import Word2Vec

    sentences = [tokens[i:i + SENTENCE_WORDS] for i in range(0, len(tokens), SENTENCE_WORDS)]
    model = Word2Vec(vector_size=args.embedding_dim, window=args.window, min_count=args.min_count,
                     sample=args.sample, sg=1, negative=args.negative, workers=args.workers,
                     seed=args.seed)
    model.build_vocab(sentences)
    start = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=args.epochs)
    seconds = time.perf_counter() - start
    return model.wv.vectors, list(model.wv.index_to_key), seconds


def run_tfcourse(tokens, args):
    from word2vec import skipgram
    from word2vec.model import PRESETS

    config = dataclasses.replace(
        PRESETS["small"], embedding_dim=args.embedding_dim, window=args.window,
        min_count=args.min_count, sample=args.sample, epochs=args.epochs,
        loss=args.loss, num_sampled=args.num_sampled, batch_size=args.batch_size,
        learning_rate=args.learning_rate)
    with tempfile.TemporaryDirectory() as run_dir:
        model, vocab = skipgram.train(config, os.path.join(run_dir, "run"), tokens,
                                      seed=args.seed, verbose=0)
        history = json.load(open(os.path.join(run_dir, "run", "state.json")))["history"]
    seconds = sum(row["seconds"] for row in history)
    vectors = model.embeddings.numpy()[:-1]  # <unk> (never trained) left out
    return vectors, vocab.words[:-1], seconds


def compare(name, tokens, args):
    analogies = os.path.join(args.data_dir, "word2vec", "questions-words.txt")
    wordsim = os.path.join(args.data_dir, "word2vec", "wordsim353.tsv")
    rows = {}
    for side, run in (("gensim", run_gensim), ("tfcourse", run_tfcourse)):
        vectors, words, seconds = run(tokens, args)
        accuracy, spearman = gensim_quality(vectors, words, analogies, wordsim)
        rows[side] = (accuracy, spearman, len(tokens) * args.epochs / seconds)
        print(f"  {side}: {len(words):,} words, {seconds:.1f} s", flush=True)
    print(f"\n{name}: {len(tokens):,} words")
    print(f"| {'side':<10} | analogy accuracy | WordSim-353 Spearman | words/s |")
    print("|---|---|---|---|")
    for side, (accuracy, spearman, speed) in rows.items():
        print(f"| {side:<10} | {100 * accuracy:.2f}% | {spearman:.4f} | {speed:,.0f} |")
    (a1, s1, w1), (a0, s0, w0) = rows["tfcourse"], rows["gensim"]
    print(f"| ratio tfcourse / gensim | {a1 / max(a0, 1e-9):.2f} | {s1 / s0:.2f} | "
          f"{w1 / w0:.2f} |\n", flush=True)
    return rows


def time_to_quality(name, tokens, args):
    """gensim's final quality as the bar; this project's seconds for each E in the list."""
    import statistics

    analogies = os.path.join(args.data_dir, "word2vec", "questions-words.txt")
    wordsim = os.path.join(args.data_dir, "word2vec", "wordsim353.tsv")
    gensim_runs, ours = [], {epochs: [] for epochs in args.time_to_quality}
    for _ in range(args.rounds):  # alternating: gensim, then each of ours, per round
        vectors, words, seconds = run_gensim(tokens, args)
        gensim_runs.append((seconds, *gensim_quality(vectors, words, analogies, wordsim)))
        for epochs in args.time_to_quality:
            vectors, words, seconds = run_tfcourse(
                tokens, argparse.Namespace(**{**vars(args), "epochs": epochs}))
            ours[epochs].append((seconds, *gensim_quality(vectors, words, analogies, wordsim)))
            print(f"  round {len(gensim_runs)}: gensim {gensim_runs[-1][0]:.1f} s, tfcourse "
                  f"{epochs} epochs {seconds:.1f} s", flush=True)

    def medians(runs):
        return tuple(statistics.median(r[i] for r in runs) for i in range(3))

    bar_seconds, bar_analogy, bar_spearman = medians(gensim_runs)
    print(f"\n{name}: {len(tokens):,} words; gensim {args.epochs} epochs: "
          f"{bar_seconds:.1f} s, analogy {100 * bar_analogy:.2f}%, Spearman "
          f"{bar_spearman:.4f} (medians of {args.rounds})")
    print("| tfcourse epochs | seconds | analogy | Spearman | reaches gensim | time ratio |")
    print("|---|---|---|---|---|---|")
    for epochs, runs in ours.items():
        seconds, analogy, spearman = medians(runs)
        reached = analogy >= bar_analogy and spearman >= bar_spearman
        print(f"| {epochs} | {seconds:.1f} | {100 * analogy:.2f}% | {spearman:.4f} | "
              f"{'yes' if reached else 'no'} | {bar_seconds / seconds:.2f} |", flush=True)


def main():
    quiet_tensorflow()
    from word2vec.corpus import read_corpus
    from word2vec.model import PRESETS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default="../shared/data",
                        help="folder with word2vec/ and ptb/ (see ../shared/data/README.md)")
    parser.add_argument("--corpora", nargs="+", default=["enwiki", "enwiki+ptb"],
                        choices=["enwiki", "enwiki+ptb"], help="which corpora to run")
    small = PRESETS["small"]
    parser.add_argument("--embedding_dim", type=int, default=small.embedding_dim,
                        help="both sides")
    parser.add_argument("--window", type=int, default=small.window, help="both sides")
    parser.add_argument("--epochs", type=int, default=small.epochs, help="both sides")
    parser.add_argument("--min_count", type=int, default=small.min_count, help="both sides")
    parser.add_argument("--sample", type=float, default=small.sample, help="both sides")
    parser.add_argument("--seed", type=int, default=1, help="both sides")
    parser.add_argument("--negative", type=int, default=5, help="gensim: noise words per pair")
    parser.add_argument("--workers", type=int, default=2, help="gensim: worker threads")
    parser.add_argument("--loss", default=small.loss, choices=["nce", "negative_sampling"],
                        help="tfcourse: the loss (see word2vec/model.py)")
    parser.add_argument("--num_sampled", type=int, default=small.num_sampled,
                        help="tfcourse: noise words per batch (nce) or per pair "
                             "(negative_sampling)")
    parser.add_argument("--batch_size", type=int, default=small.batch_size,
                        help="tfcourse: pairs per step")
    parser.add_argument("--learning_rate", type=float, default=small.learning_rate,
                        help="tfcourse: starting SGD learning rate")
    parser.add_argument("--time_to_quality", type=int, nargs="*", metavar="E",
                        help="time to gensim's quality: runs of E epochs (docstring)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="--time_to_quality: alternating rounds (medians)")
    args = parser.parse_args()
    enwiki = read_corpus(os.path.join(args.data_dir, "word2vec", "enwiki_sample.txt"))
    for name in args.corpora:
        tokens = enwiki
        if name == "enwiki+ptb":
            tokens = enwiki + read_corpus(os.path.join(args.data_dir, "ptb", "ptb.train.txt"))
        if args.time_to_quality:
            time_to_quality(name, tokens, args)
        else:
            compare(name, tokens, args)


if __name__ == "__main__":
    main()
