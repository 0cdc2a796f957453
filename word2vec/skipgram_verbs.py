"""What `python -m word2vec.skipgram` does: train, neighbors, analogy, evaluate, export.

The command line and docstring live in word2vec/skipgram.py, which imports
this module only once TensorFlow has been imported quietly.
"""

import os
import shlex

import keras
import numpy as np

from common import distributed, lifecycle
from common.argtypes import count, input_path
from common.cli import (UsageError, add_export_flags, add_input_limit_flag, add_training_flags,
                        command_parser, deprecated)
from common.configs import add_config_flags, config_from_args, upgrade_keys
from common.export import check_export_dir, save_litert, save_servable
from common.model_size import check_fits
from common.runs import RunDir
from common.training import Progress
from word2vec import evaluation
from word2vec.corpus import CountedVocab, keep_probabilities, read_corpus, text8_tokens
from word2vec.model import (PRESETS, STEPS_PER_EXECUTION, ScheduleSteps, Word2VecConfig,
                            build_word2vec, compile_for_training, estimated_size)
from word2vec.pairs import MODELS, epoch_steps, training_dataset
from word2vec.projector import tsne_figure, write_projector_files
from word2vec.servable import STRING_LOOKUP_OPS, Word2VecServable
from word2vec.vectors import EMBEDDINGS, KIND, VOCAB, WordVectors, save_embeddings

# Config keys renamed since older runs were made (old -> new).
RENAMED = {"model": "arch", "corpus": "source"}
MAX_K = 10_000  # neighbours or analogy answers shown per word
MAX_RESTRICT_VOCAB = 10_000_000


class EpochVectors(keras.callbacks.Callback):
    """After every epoch: embeddings.npy, and the probe words' nearest neighbours printed."""

    def __init__(self, vocab, path, probe_ids, show=True):
        super().__init__()
        self.vocab, self.path, self.probe_ids, self.show = vocab, path, probe_ids, show

    def on_epoch_end(self, epoch, logs=None):
        vectors = self.model.embeddings.numpy()
        if not (np.all(np.isfinite(vectors)) and np.isfinite((logs or {}).get("loss", 0.0))):
            return  # diverged: keep the last good vectors (the lifecycle reports the NaN)
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
    check_fits(estimated_size(config, len(vocab)), "--embedding_dim, --max_vocab (or raise "
               "--min_count), --num_sampled or --batch_size")
    return vocab, vocab.training_ids(tokens)


def saved_vocab_json(vocab, out_dir, resume):
    """The vocab.json to keep: on --resume with the same words, the saved one (its counts).

    A resumed run may read a changed corpus with the same vocabulary (as
    before the shared lifecycle); the model's sampler keeps the counts it was
    built with, so the saved file stays as it is.
    """
    path = os.path.join(out_dir, VOCAB)
    if resume and os.path.isfile(path):
        saved = CountedVocab.load(path)
        if saved.words == vocab.words and saved.unknown == vocab.unknown:
            return saved.to_json()
    return vocab.to_json()


def train(config, out_dir, tokens, source="injected", seed=0, resume=False, verbose=1,
          probe_words=None, strategy="default"):
    """Trains (or resumes) on `tokens` (list of str); returns (model, vocab)."""
    vocab, ids = prepare(config, tokens)
    with distributed.run_folder(out_dir, strategy, resume) as folder:
        model = _train(config, folder, tokens, vocab, ids, source, seed, resume, verbose,
                       probe_words, strategy)
    return model, vocab


def _train(config, folder, tokens, vocab, ids, source, seed, resume, verbose, probe_words,
           strategy):
    """The lifecycle run and the files written beside it, in `folder` (distributed.RunFolder)."""
    out_dir = folder.path
    probes = probe_ids(vocab, probe_words, seed)
    keep = keep_probabilities(vocab.counts, config.sample)
    # A whole number of graph calls per epoch, so no epoch runs into the next one's data.
    steps = epoch_steps(ids, keep, config.window, config.arch, config.batch_size,
                        multiple_of=STEPS_PER_EXECUTION)
    run_dir = RunDir(out_dir)
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, settings={"source": source}, renamed=RENAMED,
        metadata={VOCAB: saved_vocab_json(vocab, out_dir, resume)},
        build_model=lambda: compile_for_training(build_word2vec(config, vocab.counts, seed),
                                                 config),
        train_data=lambda first_epoch: training_dataset(
            ids, keep, config.window, config.arch, config.batch_size, seed, first_epoch,
            config.epochs, multiple_of=STEPS_PER_EXECUTION)[0],
        steps_per_epoch=steps,
        progress=Progress(len(tokens) / steps, "words", plot_keys=("loss",)),
        callbacks=lambda state: [
            ScheduleSteps(config.learning_rate, steps * config.epochs, state["epoch"] * steps),
            EpochVectors(vocab, run_dir.file(EMBEDDINGS), probes, show=verbose > 0)],
        describe=lambda model: (f"{len(tokens):,} words, {len(ids):,} in the vocabulary of "
                                f"{len(vocab) - 1:,} (+ <unk>); {steps:,} batches of "
                                f"{config.batch_size} {config.arch} examples per epoch"))
    model, _ = folder.train(job)
    write_outputs(run_dir, model.embeddings.numpy(), vocab, seed)
    return model


def write_outputs(run_dir, vectors, vocab, seed=0):
    """embeddings.npy, the projector's vectors.tsv + metadata.tsv, and tsne.png."""
    save_embeddings(vectors, run_dir.file(EMBEDDINGS))
    write_projector_files(vectors, vocab.words, run_dir.file("vectors.tsv"),
                          run_dir.file("metadata.tsv"))
    tsne_figure(vectors[:-1], vocab.words[:-1], run_dir.file("tsne.png"), seed=seed)  # no <unk>
    print(f"wrote embeddings.npy, vectors.tsv + metadata.tsv (load them at "
          f"projector.tensorflow.org) and tsne.png to {run_dir.path}")


evaluate = evaluation.evaluate  # `from word2vec.skipgram import evaluate` keeps working
print_results = evaluation.print_results


def export(word_vectors, export_dir, overwrite=False, run_dir=None, fmt="saved_model",
           config=None):
    """A SavedModel (lookup, neighbors by word and by id) or LiteRT files (by id)."""
    vocab = word_vectors.vocab
    servable = Word2VecServable(word_vectors.vectors, vocab.words, vocab.unknown)
    info = {"vocabulary": vocab.words, "unknown": vocab.unknown, "config": config or {}}
    if fmt == "litert":
        return save_litert(servable.litert_functions(), export_dir, overwrite, run_dir, KIND,
                           info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def saved_config(run_dir_path):
    """The run's config.json (keys renamed since read under their new names), if any."""
    run_dir = RunDir(run_dir_path)
    return upgrade_keys(run_dir.read_config(KIND), RENAMED) if run_dir.has_run() else {}


def add_reading_flags(parser):
    parser.add_argument("--run_dir", required=True, help="run directory written by train")
    parser.add_argument("--checkpoint", choices=["last"], default="last",
                        help="word2vec has no validation data to pick a best epoch by: the "
                             "vectors of the last finished epoch (embeddings.npy)")


def build_parser():
    parser = command_parser("word2vec.skipgram")
    p = parser.verb("train", help="train (or --resume) word vectors")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", type=input_path,
                        help="any UTF-8 text file; words are separated by whitespace")
    source.add_argument("--corpus", type=input_path,
                        help="the old spelling of --text (same meaning)")
    source.add_argument("--dataset", choices=["text8"],
                        help="text8 (17M words of Wikipedia), downloaded once into the "
                             "Keras cache")
    add_input_limit_flag(p)
    add_config_flags(p, Word2VecConfig, PRESETS)
    p.add_argument("--model", choices=MODELS, dest="old_model",
                   help="the old spelling of --arch (same meaning)")
    p.add_argument("--probe_words", nargs="+",
                   help="words whose nearest neighbours are printed after every epoch "
                        "(default: 8 drawn from the 100 most frequent)")
    add_training_flags(p, "runs/word2vec", PRESETS, "small")

    for name, text in [("neighbors", "the nearest words by cosine similarity"),
                       ("analogy", "A is to B as C is to ? (nearest to B - A + C)"),
                       ("evaluate", "analogy accuracy and word-similarity Spearman; "
                                    "results.json"),
                       ("export", "a SavedModel with lookup and neighbors signatures (or "
                                  ".tflite files by id)")]:
        p = parser.verb(name, help=text)
        add_reading_flags(p)
        if name in ("neighbors", "analogy"):
            p.add_argument("--k", type=count(MAX_K), default=8 if name == "neighbors" else 5,
                           help=f"how many words to show (at most {MAX_K:,})")
        if name == "neighbors":
            p.add_argument("words", nargs="+", help="words to look up")
        elif name == "analogy":
            p.add_argument("words", nargs=3, metavar="WORD", help="A B C")
        elif name == "evaluate":
            p.add_argument("--analogies", type=input_path,
                           help="questions-words.txt: ': section' lines, then "
                                "lines of 4 words")
            p.add_argument("--wordsim", type=input_path,
                           help="wordsim353.tsv: word1, word2, human score")
            p.add_argument("--restrict_vocab", type=count(MAX_RESTRICT_VOCAB),
                           default=evaluation.RESTRICT_VOCAB,
                           help="only the most frequent words take part, as in gensim")
            add_input_limit_flag(p)
        else:
            add_export_flags(p)
    return parser


def old_spellings(args):
    """--corpus and --model (train) as --text and --arch, each with its one note."""
    if args.old_model is not None and args.arch not in (None, args.old_model):
        raise UsageError(f"--model {args.old_model} and --arch {args.arch} disagree; "
                         "give --arch only")
    if args.corpus is not None:
        deprecated("--corpus", "--text")
        args.text = args.corpus
    if args.old_model is not None:
        deprecated("--model", "--arch")
        args.arch = args.old_model


def next_steps(out_dir, vocab):
    return lifecycle.next_commands("word2vec.skipgram", out_dir, [
        ("neighbors", shlex.quote(vocab.words[0])),
        ("evaluate", "--analogies questions-words.txt --wordsim wordsim353.tsv"),
        ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        old_spellings(args)
        config = config_from_args(args, PRESETS)
        if args.text is not None:
            tokens, source = read_corpus(args.text, args.max_bytes), os.path.abspath(args.text)
        else:
            tokens, source = text8_tokens(args.max_bytes), "text8"
        _, vocab = train(config, args.out_dir, tokens, source, seed=args.seed,
                         resume=args.resume, verbose=args.verbose,
                         probe_words=args.probe_words, strategy=args.strategy)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir, vocab))
        return
    if args.command == "export":
        check_export_dir(args.export_dir, args.overwrite, args.run_dir)
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
        results = evaluate(word_vectors, args.analogies, args.wordsim, args.restrict_vocab,
                           args.max_bytes)
        print_results(results)
        path = lifecycle.write_results(RunDir(args.run_dir).file("results.json"),
                                       {**results, "analogies": args.analogies,
                                        "wordsim": args.wordsim})
        print(f"wrote {path}")
    else:
        config = saved_config(args.run_dir)
        path = export(word_vectors, args.export_dir, args.overwrite, args.run_dir,
                      args.format, config)
        print_export(path, args.format, word_vectors.vocab.words[0])


def print_export(path, fmt, word):
    if fmt == "litert":
        print(f"wrote {path}: lookup_ids.tflite (int32 ids (n,) -> vectors) and "
              "neighbors_ids.tflite (ids, k -> ids, cosines); metadata.json's vocabulary maps "
              "ids to words. lookup and neighbors by word are SavedModel-only: LiteRT lacks "
              f"their string hash table ops ({', '.join(STRING_LOOKUP_OPS)})")
        return
    print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
          f"m = tf.saved_model.load('{path}'); "
          f"print(m.signatures['neighbors'](words=tf.constant(['{word}']), "
          f"k=tf.constant(5)))\"")
