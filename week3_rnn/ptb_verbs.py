"""What `python -m week3_rnn.ptb` does: train, evaluate, score, generate, export.

The command line and docstring live in week3_rnn/ptb.py, which imports this
module only once TensorFlow has been imported quietly.
"""

import math
import os
import time

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import count, input_path, seed_int, temperature
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_training_flags,
                        command_parser, deprecated)
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_litert, save_servable
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.model_size import check_fits
from common.runs import RunDir
from common.text import WordVocab
from common.training import Progress, epoch_decay_callback
from week3_rnn.ptb_data import (EOS, SPLITS, encode_splits, epoch_dataset, evaluation_words,
                                read_splits)
from week3_rnn.ptb_model import PRESETS, PTBConfig, build_ptb_model, estimated_size
from week3_rnn.ptb_servable import PTBServable, stream_log_probs

KIND = "ptb"
MAX_NUM = 1_000  # sentences per generate call
MAX_LENGTH = 10_000  # words per generated sentence (PTB sentences average about 21)
# Why train offers only --strategy default (shown by `train --help`).
ONE_DEVICE = ("Trains on one device (--strategy default only): the last LSTM state of each "
              "batch row starts the same row of the next batch, and that carried state is one "
              "variable the size of the whole batch, which mirrored or multi_worker would "
              "have to split into per-replica slices.")
# Words per scored sentence: scoring holds (words, vocabulary) float32 logits,
# 400 MB at this many words and PTB's 10,000-word vocabulary.
MAX_SCORE_WORDS = 10_000


def perplexities(row):
    """exp(mean cross-entropy per word) for the training and validation losses."""
    return {key.replace("loss", "perplexity"): math.exp(row[key])
            for key in ("loss", "val_loss") if key in row}


def train(config, out_dir, splits, preset="custom", data="injected", seed=0, resume=False,
          verbose=1, strategy="default"):
    """Trains (or resumes) on {"train", "valid", "test": words}; returns (model, results)."""
    vocab, ids = encode_splits(splits, config.max_vocab_size)
    check_fits(estimated_size(config, len(vocab)),
               "--hidden_size, --num_layers, --max_vocab_size, --num_steps or --batch_size")
    # Built before the run directory is touched: a split too short fails here.
    train_data = epoch_dataset(ids["train"], config.batch_size, config.num_steps, "train",
                               repeat=True)
    valid_data = epoch_dataset(ids["valid"], config.batch_size, config.num_steps, "valid")
    if len(ids["test"]) < 2:
        raise UsageError("the test split needs at least 2 words")
    steps_per_epoch = (len(ids["train"]) // config.batch_size - 1) // config.num_steps
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, settings={"preset": preset, "source": data},
        renamed={"data": "source"},  # the key's name before the shared lifecycle
        metadata={"vocab.json": vocab.to_json()},
        build_model=lambda: build_ptb_model(config, len(vocab), seed),
        train_data=lambda first_epoch: train_data,  # every epoch is one whole pass
        steps_per_epoch=steps_per_epoch, validation_data=valid_data,
        progress=Progress(config.batch_size * config.num_steps, "words", perplexities,
                          plot_keys=("perplexity", "val_perplexity"), plot_ylabel="perplexity"),
        callbacks=lambda state: [epoch_decay_callback(config.learning_rate, config.lr_decay,
                                                      config.decay_after)],
        describe=lambda model: (f"{len(ids['train']):,} training words, vocabulary "
                                f"{len(vocab):,}, {steps_per_epoch:,} batches of "
                                f"{config.batch_size} x {config.num_steps}; "
                                f"{model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    start = time.perf_counter()
    test_perplexity = math.exp(-float(np.mean(stream_log_probs(model, ids["test"]))))
    history = state["history"]
    results = {"preset": preset,
               "train_perplexity": history[-1]["perplexity"],
               "valid_perplexity": history[-1]["val_perplexity"],
               "test_perplexity": test_perplexity,
               "words_per_second": float(np.mean([row["words_per_second"] for row in history])),
               "epochs": state["epoch"],
               "seconds": sum(row["seconds"] for row in history)}
    path = lifecycle.write_results(RunDir(out_dir).file("results.json"), results)
    print(f"test perplexity {test_perplexity:.2f} ({len(ids['test']) - 1:,} words, batch 1, "
          f"state carried, {time.perf_counter() - start:.0f}s); wrote {path}")
    return model, results


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab) from a run directory, for scoring, sampling, evaluation and export."""
    run_dir = RunDir(run_dir_path)
    model = run_dir.load_model(KIND, checkpoint)
    return model, WordVocab.load(run_dir.resolve("vocab.json", "vocabulary"))


def evaluate(run_dir_path, split=None, text=None, checkpoint="best", data_dir=None,
             max_bytes=DEFAULT_MAX_BYTES):
    """Perplexity (batch 1, state carried) on a split or a text file; writes results.json.

    The figures `train` wrote there are kept under "training".
    """
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_config(KIND)  # a wrong directory fails before any text is read
    # "data": the key's name in runs made before the shared lifecycle.
    recorded = config.get("source", config.get("data"))
    words, source = evaluation_words(recorded, split, text, data_dir, max_bytes)
    if len(words) < 2:
        raise UsageError("the evaluation text needs at least 2 words")
    model, vocab = load_run(run_dir_path, checkpoint)
    unknown = len(vocab.unknown_words(words))
    log_probs = stream_log_probs(model, np.asarray(vocab.encode(words), np.int32))
    cross_entropy = -float(np.mean(log_probs))
    if not math.isfinite(cross_entropy):
        raise UsageError(f"the {checkpoint} checkpoint of {run_dir.path} gives a non-finite "
                         "perplexity (NaN weights?); try --checkpoint best or retrain")
    results = {"perplexity": math.exp(cross_entropy), "cross_entropy": cross_entropy,
               "words": len(log_probs), "unknown_words": unknown, "checkpoint": checkpoint,
               **source}
    training = earlier_training_results(run_dir.file("results.json"))
    path = lifecycle.write_results(run_dir.file("results.json"),
                                   {**results, **({"training": training} if training else {})})
    where = f"the {source['split']} split" if "split" in source else source["text"]
    note = f", {unknown:,} of them outside the vocabulary (<unk>)" if unknown else ""
    print(f"perplexity {results['perplexity']:.2f} on {where} ({results['words']:,} words"
          f"{note}; {checkpoint} checkpoint, batch 1, state carried); wrote {path}")
    return results


def earlier_training_results(path):
    """What `train` wrote in results.json (kept there through evaluations), or None."""
    try:
        earlier = read_json_file(path) if os.path.exists(path) else {}
    except UsageError:
        earlier = {}  # a corrupt results.json is rewritten
    if not isinstance(earlier, dict) or "training" in earlier:
        return earlier.get("training") if isinstance(earlier, dict) else None
    is_train = "train_perplexity" in earlier
    return {k: v for k, v in earlier.items() if k != "provenance"} if is_train else None


def score(model, vocab, sentence):
    """([(word, scored as, log p)], perplexity) of one sentence, <eos> included."""
    check_sentence(sentence)
    servable = PTBServable(model, vocab)  # held: its tf.functions keep only a weak reference
    out = servable.score(tf.constant([sentence]))
    words = sentence.split() + [EOS]
    scored_as = [w.decode("utf-8") for w in out["words"].numpy()[0]]
    log_probs = out["word_log_probs"].numpy()[0].tolist()
    return list(zip(words, scored_as, log_probs)), float(out["perplexity"].numpy()[0])


def check_sentence(sentence):
    if not sentence.strip():
        raise UsageError("the sentence to score is empty")
    if len(sentence.split()) > MAX_SCORE_WORDS:
        raise UsageError(f"a sentence to score has {len(sentence.split()):,} words, more than "
                         f"{MAX_SCORE_WORDS:,}; score it in parts")


def generate(model, vocab, num_sentences=5, max_words=50, temperature=1.0, seed=0):
    """`num_sentences` sentences of at most `max_words` words, the same for the same seed."""
    servable = PTBServable(model, vocab)
    out = servable.generate_seeded(
        tf.constant(num_sentences, tf.int32), tf.constant(max_words, tf.int32),
        tf.constant(temperature, tf.float32), tf.constant(seed, tf.int32))
    return [s.decode("utf-8") for s in out["sentences"].numpy()]


def export(model, vocab, export_dir, overwrite=False, run_dir=None, fmt="saved_model",
           config=None):
    """A SavedModel that scores and generates alone, or LiteRT `logits.tflite` (one step)."""
    servable = PTBServable(model, vocab)
    info = {"vocabulary": vocab.words, "config": config or {}}
    if fmt == "litert":
        logits = servable.logits_function(batch=1, time=1).get_concrete_function()
        return save_litert({"logits": logits}, export_dir, overwrite, run_dir, KIND, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def build_parser():
    parser = command_parser("week3_rnn.ptb")

    p = parser.verb("train", help="train (or --resume) a PTB language model",
                    description=ONE_DEVICE)
    p.add_argument("--data_dir", type=input_path,
                   help="folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt "
                        "(default: download them into the Keras cache)")
    add_input_limit_flag(p)
    add_config_flags(p, PTBConfig, PRESETS)
    add_training_flags(p, "runs/ptb", PRESETS, "small", strategy=False)

    p = parser.verb("evaluate",
                    help="perplexity on a split of the run's data or on any text; "
                         "results.json")
    add_run_flags(p)
    p.add_argument("--split", choices=SPLITS, default=None,
                   help="split of the run's data folder (default: test)")
    p.add_argument("--text", type=input_path, help="a text file instead (one sentence per line)")
    p.add_argument("--data_dir", type=input_path,
                   help="folder with the ptb.*.txt files (default: the one "
                        "the run was trained on)")
    add_input_limit_flag(p)

    p = parser.verb("score",
                    help="per-word log-probabilities and perplexity of sentences")
    add_run_flags(p)
    p.add_argument("sentences", nargs="+", help="sentences, words separated by spaces")

    p = parser.verb("generate", help="sample sentences")
    add_run_flags(p)
    p.add_argument("--num", type=count(MAX_NUM), default=None,
                   help=f"how many sentences (default 5, at most {MAX_NUM:,})")
    p.add_argument("--num_sentences", type=count(MAX_NUM), default=None,
                   help="old spelling of --num (deprecated)")
    p.add_argument("--length", type=count(MAX_LENGTH), default=None,
                   help=f"at most this many words per sentence (default 50; up to "
                        f"{MAX_LENGTH:,})")
    p.add_argument("--max_words", type=count(MAX_LENGTH), default=None,
                   help="old spelling of --length (deprecated)")
    p.add_argument("--temperature", type=temperature, default=1.0,
                   help="below 1: safer, more repetitive; above 1: more surprising")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed gives the same sentences")

    parser.export_verb(help="a SavedModel that scores and generates alone (or .tflite)")
    return parser


def aliased(args, new, old, default):
    """The value of --new, or of its old spelling --old (noting the deprecation)."""
    value, legacy = getattr(args, new), getattr(args, old)
    if legacy is not None:
        if value is not None:
            raise UsageError(f"give --{new} or its old spelling --{old}, not both")
        deprecated(f"--{old}", f"--{new}")
        value = legacy
    return default if value is None else value


def next_steps(out_dir):
    return lifecycle.next_commands("week3_rnn.ptb", out_dir, [
        ("evaluate", "--split test"), ("generate", "--num 5"),
        ("score", '"the company said it expects N profit"'),
        ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        splits = read_splits(args.data_dir, args.max_bytes)
        data = os.path.abspath(args.data_dir) if args.data_dir else "download"
        train(config, args.out_dir, splits, args.preset, data, seed=args.seed,
              resume=args.resume, verbose=args.verbose, strategy=args.strategy)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir))
    elif args.command == "evaluate":
        if args.split is not None and args.text is not None:
            raise UsageError("give --split or --text, not both")
        evaluate(args.run_dir, args.split, args.text, args.checkpoint, args.data_dir,
                 args.max_bytes)
    elif args.command == "score":
        for sentence in args.sentences:  # all checked before the model loads
            check_sentence(sentence)
        model, vocab = load_run(args.run_dir, args.checkpoint)
        for sentence in args.sentences:
            word_log_probs, perplexity = score(model, vocab, sentence)
            for word, scored_as, log_prob in word_log_probs:
                note = "" if scored_as == word else f"  (scored as {scored_as})"
                print(f"{word:>20s} {log_prob:9.3f}{note}")
            print(f"perplexity {perplexity:.2f} ({len(word_log_probs)} words with <eos>)")
    elif args.command == "generate":
        num = aliased(args, "num", "num_sentences", 5)
        length = aliased(args, "length", "max_words", 50)
        model, vocab = load_run(args.run_dir, args.checkpoint)
        for sentence in generate(model, vocab, num, length, args.temperature, args.seed):
            print(sentence)
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite, args.run_dir)
        config = RunDir(args.run_dir).read_config(KIND)
        model, vocab = load_run(args.run_dir, args.checkpoint)
        path = export(model, vocab, args.export_dir, args.overwrite, args.run_dir,
                      args.format, config)
        if args.format == "litert":
            print(f"wrote {path}/logits.tflite: one step, int32 word id [1, 1] and the state "
                  "[layers, 2, 1, hidden] (zeros at the start) -> logits [1, 1, vocabulary] "
                  "and the new state")
        else:
            print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
                  f"s = tf.saved_model.load('{path}').signatures['score']; "
                  f"print(s(sentences=tf.constant(['the stock fell'])))\"")
