"""word2vec (skip-gram or CBOW with NCE loss) on any text: train, query, evaluate, export.

    python -m word2vec.skipgram train --corpus ../shared/data/word2vec/enwiki_sample.txt \
        --out_dir runs/w2v_enwiki
    python -m word2vec.skipgram train --dataset text8 --out_dir runs/text8   # downloads text8
    python -m word2vec.skipgram train --corpus my_text.txt --out_dir runs/mine --resume
    python -m word2vec.skipgram neighbors --run_dir runs/text8 king france computer
    python -m word2vec.skipgram analogy --run_dir runs/text8 man king woman
    python -m word2vec.skipgram evaluate --run_dir runs/text8 \
        --analogies questions-words.txt --wordsim wordsim353.tsv
    python -m word2vec.skipgram export --run_dir runs/text8 --export_dir exports/text8

A run directory holds config.json, vocab.json (words and counts),
embeddings.npy, vectors.tsv + metadata.tsv (TensorBoard Embedding
Projector), tsne.png (the 500 most frequent words), checkpoints/, history.csv,
loss.png and TensorBoard logs; `evaluate` adds results.json.

Expected results, skip-gram, --preset small (gensim's defaults: dim 100,
window 5, min_count 5, sample 1e-3, 5 epochs), against gensim's skip-gram with
negative sampling in the same run (benchmarks/word2vec_vs_gensim.py; details
in benchmarks/RESULTS.md):

    corpus                         analogies        WordSim-353      words/s
                                   ours / gensim    ours / gensim    ratio to gensim
    enwiki_sample (453k words)     2.49% / 1.83%    0.385 / 0.252    0.35
    enwiki_sample + PTB train      5.46% / 4.94%    0.348 / 0.323    0.35
"""

import dataclasses
import os
import sys

from common.cli import (UsageError, add_config_flags, add_export_flags, add_training_flags,
                        config_from_args, make_parser, non_negative_float, non_negative_int,
                        positive_float, positive_int, quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.runs import RunDir, atomic_write_json  # noqa: E402
from common.training import fit_run, set_seed  # noqa: E402
from word2vec import evaluation  # noqa: E402
from word2vec.corpus import CountedVocab, keep_probabilities, read_corpus, text8_tokens  # noqa: E402
from word2vec.model import (PRESETS, SAMPLERS, build_word2vec,  # noqa: E402
                            compile_for_training)
from word2vec.pairs import MODELS, training_dataset  # noqa: E402
from word2vec.projector import tsne_figure, write_projector_files  # noqa: E402
from word2vec.servable import Word2VecServable  # noqa: E402
from word2vec.vectors import EMBEDDINGS, VOCAB, WordVectors, save_embeddings  # noqa: E402

KIND = "word2vec"
# Settings a resumed run may change; everything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "corpus")


class EpochVectors(keras.callbacks.Callback):
    """After every epoch: embeddings.npy, and the probe words' nearest neighbours printed."""

    def __init__(self, vocab, path, probe_ids, show=True):
        super().__init__()
        self.vocab, self.path, self.probe_ids, self.show = vocab, path, probe_ids, show

    def on_epoch_end(self, epoch, logs=None):
        vectors = self.model.embeddings.numpy()
        if not np.all(np.isfinite(vectors)):
            return  # diverged: keep the last good vectors (fit_run reports the NaN)
        save_embeddings(vectors, self.path)
        if self.show:
            words = WordVectors(vectors, self.vocab)
            for i in self.probe_ids:
                word = self.vocab.words[i]
                near = ", ".join(w for w, _ in words.neighbors(word, 6))
                print(f"  nearest to {word}: {near}", flush=True)


def probe_ids(vocab, probe_words, seed, count=8):
    """The words whose neighbours are shown every epoch: given, or drawn from the top 100."""
    if probe_words:
        return WordVectors(np.zeros((len(vocab), 1)), vocab).ids(probe_words)
    top = min(100, len(vocab) - 1)  # TF's word2vec_basic drew its validation words like this
    return sorted(np.random.default_rng(seed).choice(top, min(count, top), replace=False))


def prepare(config, tokens):
    """(vocab, training ids): every check on the corpus and flags, before any file is written."""
    vocab = CountedVocab.from_tokens(tokens, config.min_count, config.max_vocab or None)
    words = len(vocab) - 1  # <unk> is never a training word
    if words < 2:
        limit = f" and --max_vocab {config.max_vocab}" if config.max_vocab else ""
        raise UsageError(f"only {words} distinct word is left by --min_count "
                         f"{config.min_count}{limit}; word2vec needs at least 2: use a larger "
                         "corpus or lower limits")
    if config.num_sampled >= words:
        raise UsageError(f"--num_sampled {config.num_sampled} must be smaller than the "
                         f"vocabulary ({words:,} words); lower --num_sampled")
    return vocab, vocab.training_ids(tokens)


def train(config, out_dir, tokens, corpus="injected", seed=0, resume=False, verbose=1,
          probe_words=None):
    """Trains (or resumes) on `tokens` (list of str); returns (model, vocab)."""
    vocab, ids = prepare(config, tokens)
    run_dir = RunDir(out_dir)
    vocab_path = run_dir.file(VOCAB)
    if resume and os.path.exists(vocab_path) and CountedVocab.load(vocab_path).words != vocab.words:
        raise UsageError(f"--resume: this corpus's vocabulary differs from the one {out_dir} "
                         "was trained with; use the same corpus or a new --out_dir")
    probes = probe_ids(vocab, probe_words, seed)
    run_config = {"kind": KIND, **dataclasses.asdict(config), "seed": seed, "corpus": corpus}
    state = run_dir.begin(run_config, resume, may_change=RESUMABLE_CHANGES)
    vocab.save(vocab_path)
    set_seed(seed)
    data, steps = training_dataset(ids, keep_probabilities(vocab.counts, config.sample),
                                   config.window, config.model, config.batch_size, seed,
                                   state["epoch"], config.epochs)
    if state["checkpoint"]:
        model = keras.saving.load_model(run_dir.checkpoint_path(state), compile=False)
    else:
        model = build_word2vec(config, vocab.counts, seed)
    compile_for_training(model, config, steps * config.epochs, state["epoch"] * steps)
    print(f"{len(tokens):,} words, {len(ids):,} in the vocabulary of {len(vocab) - 1:,} "
          f"(+ <unk>); {steps:,} batches of {config.batch_size} {config.model} examples per "
          f"epoch; run directory {out_dir}")
    fit_run(model, run_dir, state, data, steps, config.epochs,
            items_per_step=len(tokens) / steps, unit="words", plot_keys=("loss",),
            verbose=verbose, extra_callbacks=[
                EpochVectors(vocab, run_dir.file(EMBEDDINGS), probes, show=verbose > 0)])
    write_outputs(run_dir, model.embeddings.numpy(), vocab, seed)
    return model, vocab


def write_outputs(run_dir, vectors, vocab, seed=0):
    """embeddings.npy, the projector's vectors.tsv + metadata.tsv, and tsne.png."""
    save_embeddings(vectors, run_dir.file(EMBEDDINGS))
    write_projector_files(vectors, vocab.words, run_dir.file("vectors.tsv"),
                          run_dir.file("metadata.tsv"))
    tsne_figure(vectors[:-1], vocab.words[:-1], run_dir.file("tsne.png"), seed=seed)  # no <unk>
    print(f"wrote embeddings.npy, vectors.tsv + metadata.tsv (load them at "
          f"projector.tensorflow.org) and tsne.png to {run_dir.path}")


def evaluate(word_vectors, analogies_path=None, wordsim_path=None,
             restrict_vocab=evaluation.RESTRICT_VOCAB):
    """{"analogy_accuracy", "analogy_sections", "wordsim_spearman", ...} for the given files."""
    if not analogies_path and not wordsim_path:
        raise UsageError("give --analogies FILE, --wordsim FILE or both")
    # Both files are read (and checked) before the slower scoring starts.
    sections = evaluation.read_analogies(analogies_path) if analogies_path else None
    pairs = evaluation.read_word_pairs(wordsim_path) if wordsim_path else None
    vectors, words = word_vectors.vectors, word_vectors.vocab.words
    skip = {word_vectors.vocab.unknown}
    results = {"restrict_vocab": restrict_vocab}
    if sections:
        scores = evaluation.evaluate_analogies(vectors, words, sections, restrict_vocab, skip)
        results.update(analogy_accuracy=scores["accuracy"], analogy_correct=scores["correct"],
                       analogy_total=scores["total"], analogy_skipped=scores["skipped"],
                       analogy_sections=scores["sections"])
    if pairs:
        scores = evaluation.evaluate_word_pairs(vectors, words, pairs, restrict_vocab, skip)
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


def export(word_vectors, export_dir, overwrite=False):
    vocab = word_vectors.vocab
    servable = Word2VecServable(word_vectors.vectors, vocab.words, vocab.unknown)
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


# Flags that override one field of the preset's Word2VecConfig.
CONFIG_FLAGS = {
    "model": (str, "skipgram predicts each context word from the center word, cbow the "
                   "center word from the mean of its context"),
    "embedding_dim": (positive_int, "length of the word vectors"),
    "window": (positive_int, "largest distance between center and context word; each center "
                             "draws its own window in [1, window]"),
    "num_sampled": (positive_int, "negative words per batch for the NCE loss, shared by the "
                                  "batch's examples"),
    "sampler": (str, "negatives drawn from unigram counts ** 0.75 or from a log-uniform "
                     "(Zipf) law over frequency ranks"),
    "min_count": (positive_int, "words seen fewer times are dropped"),
    "max_vocab": (non_negative_int, "keep at most this many words, <unk> included; 0: all"),
    "sample": (non_negative_float, "subsampling threshold: words more frequent than this "
                                   "fraction are randomly skipped; 0: off"),
    "batch_size": (positive_int, "examples per training step"),
    "learning_rate": (positive_float, "SGD learning rate at the start; it falls linearly to "
                                      "1e-4 of that by the last step"),
}


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = parser.formatter_class
    p = commands.add_parser("train", help="train (or --resume) word vectors",
                            formatter_class=formatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", help="any UTF-8 text file; words are separated by "
                                         "whitespace")
    source.add_argument("--dataset", choices=["text8"],
                        help="text8 (17M words of Wikipedia), downloaded once into the "
                             "Keras cache")
    p.add_argument("--preset", choices=PRESETS, default="small",
                   help="test (seconds), small (gensim's defaults), large (text8 and up); "
                        "the flags below override single values")
    add_config_flags(p, CONFIG_FLAGS, PRESETS, choices={"model": MODELS, "sampler": SAMPLERS})
    p.add_argument("--probe_words", nargs="+",
                   help="words whose nearest neighbours are printed after every epoch "
                        "(default: 8 drawn from the 100 most frequent)")
    add_training_flags(p, default_out_dir="runs/word2vec", strategy=False)

    for name, text in [("neighbors", "the nearest words by cosine similarity"),
                       ("analogy", "A is to B as C is to ? (nearest to B - A + C)"),
                       ("evaluate", "analogy accuracy and word-similarity Spearman"),
                       ("export", "write a SavedModel with lookup and neighbors signatures")]:
        p = commands.add_parser(name, help=text, formatter_class=formatter)
        p.add_argument("--run_dir", required=True, help="run directory written by train")
        if name in ("neighbors", "analogy"):
            p.add_argument("--k", type=positive_int, default=8 if name == "neighbors" else 5,
                           help="how many words to show")
        if name == "neighbors":
            p.add_argument("words", nargs="+", help="words to look up")
        elif name == "analogy":
            p.add_argument("words", nargs=3, metavar="WORD", help="A B C")
        elif name == "evaluate":
            p.add_argument("--analogies", help="questions-words.txt: ': section' lines, then "
                                               "lines of 4 words")
            p.add_argument("--wordsim", help="wordsim353.tsv: word1, word2, human score")
            p.add_argument("--restrict_vocab", type=positive_int,
                           default=evaluation.RESTRICT_VOCAB,
                           help="only the most frequent words take part, as in gensim")
        else:
            add_export_flags(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        if args.corpus:
            tokens, corpus = read_corpus(args.corpus), os.path.abspath(args.corpus)
        else:
            tokens, corpus = text8_tokens(), "text8"
        train(config, args.out_dir, tokens, corpus, seed=args.seed, resume=args.resume,
              verbose=args.verbose, probe_words=args.probe_words)
        return
    if args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
    word_vectors = WordVectors.load(args.run_dir)
    if args.command == "neighbors":
        word_vectors.ids(args.words)  # every word checked before any output
        for word in args.words:
            near = word_vectors.neighbors(word, args.k)
            print(f"{word}: " + ", ".join(f"{w} {cosine:.3f}" for w, cosine in near))
    elif args.command == "analogy":
        a, b, c = args.words
        print(f"{a} : {b} = {c} : ?")
        for word, cosine in word_vectors.analogy(a, b, c, args.k):
            print(f"  {word} {cosine:.3f}")
    elif args.command == "evaluate":
        results = evaluate(word_vectors, args.analogies, args.wordsim, args.restrict_vocab)
        print_results(results)
        path = os.path.join(args.run_dir, "results.json")
        atomic_write_json(path, results)
        print(f"wrote {path}")
    else:
        path = export(word_vectors, args.export_dir, args.overwrite)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"m = tf.saved_model.load('{path}'); "
              f"print(m.signatures['neighbors'](words=tf.constant(['{word_vectors.vocab.words[0]}']), "
              f"k=tf.constant(5)))\"")


if __name__ == "__main__":
    sys.exit(run_cli(main))
