"""Penn Treebank word-level LSTM language model (Zaremba et al.; the TF PTB tutorial).

    python -m week3_rnn.ptb train --data_dir ../shared/data/ptb --preset small \
        --out_dir runs/ptb_small
    python -m week3_rnn.ptb train --data_dir ../shared/data/ptb --preset small \
        --out_dir runs/ptb_small --resume                 # after Ctrl-C or a crash
    python -m week3_rnn.ptb score --run_dir runs/ptb_small "the company said it expects N profit"
    python -m week3_rnn.ptb generate --run_dir runs/ptb_small --num_sentences 5
    python -m week3_rnn.ptb export --run_dir runs/ptb_small --export_dir exports/ptb_small

Without --data_dir, `train` downloads Mikolov's simple-examples archive once
into the Keras cache. Each epoch prints the learning rate, train and valid
perplexity and words/second; the end, the test perplexity (batch 1, state
carried) and results.json. Test perplexity to expect (this project's runs are
in benchmarks/RESULTS.md):

    preset   model                           epochs  tutorial  published
    small    2 x 200, no dropout             13      115.91    -
             (this project: 115.58 after 5 epochs, 25 minutes on 2 CPU cores)
    medium   2 x 650, dropout 0.5            39      82.07     82.7 (Zaremba et al.)
    large    2 x 1500, dropout 0.65          55      78.29     78.4 (Zaremba et al.)
    tied     2 x 650, tied, variational      39      -         77.7 (Press & Wolf)
"""

import dataclasses
import math
import os
import sys
import time

from common.cli import (UsageError, add_config_flags, add_export_flags, add_training_flags,
                        config_from_args, fraction, make_parser, non_negative_float,
                        non_negative_int, positive_float, positive_int, quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.runs import RunDir, atomic_write_json  # noqa: E402
from common.text import WordVocab  # noqa: E402
from common.training import epoch_decay_callback, fit_run, set_seed  # noqa: E402
from week3_rnn.ptb_data import EOS, encode_splits, epoch_dataset, read_splits  # noqa: E402
from week3_rnn.ptb_model import PRESETS, build_ptb_model, stream_log_probs  # noqa: E402
from week3_rnn.ptb_servable import PTBServable  # noqa: E402

KIND = "ptb"
# Settings a resumed run may change; everything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "data")


def perplexities(row):
    """exp(mean cross-entropy per word) for the training and validation losses."""
    return {key.replace("loss", "perplexity"): math.exp(row[key])
            for key in ("loss", "val_loss") if key in row}


def train(config, out_dir, splits, preset="custom", data="injected", seed=0, resume=False,
          verbose=1):
    """Trains (or resumes) on {"train", "valid", "test": words}; returns (model, results)."""
    run_dir = RunDir(out_dir)
    vocab, ids = encode_splits(splits, config.max_vocab_size)
    vocab_path = run_dir.file("vocab.json")
    if resume and os.path.exists(vocab_path) and WordVocab.load(vocab_path) != vocab:
        raise UsageError(f"--resume: this training split's vocabulary differs from the one "
                         f"{out_dir} was trained with; use the same data or a new --out_dir")
    # Built before the run directory is touched: a split too short fails here.
    train_data = epoch_dataset(ids["train"], config.batch_size, config.num_steps, "train",
                               repeat=True)
    valid_data = epoch_dataset(ids["valid"], config.batch_size, config.num_steps, "valid")
    if len(ids["test"]) < 2:
        raise UsageError("the test split needs at least 2 words")
    steps_per_epoch = (len(ids["train"]) // config.batch_size - 1) // config.num_steps

    run_config = {"kind": KIND, "preset": preset, **dataclasses.asdict(config), "seed": seed,
                  "data": data}
    state = run_dir.begin(run_config, resume, may_change=RESUMABLE_CHANGES)
    vocab.save(vocab_path)
    set_seed(seed)
    if state["checkpoint"]:
        model = keras.saving.load_model(run_dir.checkpoint_path(state))
    else:
        model = build_ptb_model(config, len(vocab), seed)
    print(f"{len(ids['train']):,} training words, vocabulary {len(vocab):,}, "
          f"{steps_per_epoch:,} batches of {config.batch_size} x {config.num_steps}; "
          f"{model.count_params():,} parameters; run directory {out_dir}")

    fit_run(model, run_dir, state, train_data, steps_per_epoch, config.epochs,
            items_per_step=config.batch_size * config.num_steps, unit="words",
            validation_data=valid_data, derived_metrics=perplexities,
            plot_keys=("perplexity", "val_perplexity"), plot_ylabel="perplexity",
            verbose=verbose,
            extra_callbacks=[epoch_decay_callback(config.learning_rate, config.lr_decay,
                                                  config.decay_after)])
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
    results_path = run_dir.file("results.json")
    atomic_write_json(results_path, results)
    print(f"test perplexity {test_perplexity:.2f} ({len(ids['test']) - 1:,} words, batch 1, "
          f"state carried, {time.perf_counter() - start:.0f}s); wrote {results_path}")
    return model, results


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab) from a run directory, for scoring, sampling and export."""
    run_dir = RunDir(run_dir_path)
    model = run_dir.load_model(KIND, checkpoint)
    return model, WordVocab.load(run_dir.file("vocab.json"))


def score(model, vocab, sentence):
    """([(word, scored as, log p)], perplexity) of one sentence, <eos> included."""
    if not sentence.strip():
        raise UsageError("the sentence to score is empty")
    servable = PTBServable(model, vocab)  # held: its tf.functions keep only a weak reference
    out = servable.score(tf.constant([sentence]))
    words = sentence.split() + [EOS]
    scored_as = [w.decode("utf-8") for w in out["words"].numpy()[0]]
    log_probs = out["word_log_probs"].numpy()[0].tolist()
    return list(zip(words, scored_as, log_probs)), float(out["perplexity"].numpy()[0])


def generate(model, vocab, num_sentences=5, max_words=50, temperature=1.0, seed=0):
    servable = PTBServable(model, vocab)
    out = servable.generate_seeded(
        tf.constant(num_sentences), tf.constant(max_words), tf.constant(temperature, tf.float32),
        tf.constant(seed, tf.int64))
    return [s.decode("utf-8") for s in out["sentences"].numpy()]


def export(model, vocab, export_dir, overwrite=False):
    servable = PTBServable(model, vocab)
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


# Flags that override one field of the preset's PTBConfig.
CONFIG_FLAGS = {
    "init_scale": (positive_float, "weights start uniform(-s, s)"),
    "learning_rate": (positive_float, "SGD learning rate"),
    "grad_clip": (non_negative_float, "clip gradients to this global norm; 0: off"),
    "num_layers": (positive_int, "stacked LSTM layers"),
    "num_steps": (positive_int, "words per batch row (truncated BPTT)"),
    "hidden_size": (positive_int, "LSTM units and embedding size"),
    "decay_after": (non_negative_int, "epochs at the full learning rate before --lr_decay"),
    "dropout_rate": (fraction, "dropout on the embedding and after every LSTM layer "
                               "(1 - keep_prob)"),
    "lr_decay": (positive_float, "multiply the learning rate by this every epoch after "
                                 "--decay_after"),
    "batch_size": (positive_int, "rows per batch"),
    "max_vocab_size": (positive_int, "keep the most frequent training words; the rest "
                                     "become <unk>"),
    "tie_embeddings": (bool, "the softmax reuses the embedding matrix"),
    "variational_dropout": (bool, "one dropout mask per sequence instead of one per word"),
    "weight_drop_rate": (fraction, "DropConnect on the recurrent weights (one mask per batch)"),
}


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("train", help="train (or --resume) a PTB language model",
                            formatter_class=parser.formatter_class)
    p.add_argument("--data_dir", help="folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt "
                                      "(default: download simple-examples into the Keras cache)")
    p.add_argument("--preset", choices=PRESETS, default="small",
                   help="the tutorial's test/small/medium/large, or tied (medium size, tied "
                        "embeddings, variational dropout); flags below override single values")
    add_config_flags(p, CONFIG_FLAGS, PRESETS)
    add_training_flags(p, default_out_dir="runs/ptb", strategy=False)

    for name, help_text in [("score", "per-word log-probabilities and perplexity of sentences"),
                            ("generate", "sample sentences"),
                            ("export", "write a SavedModel that scores sentences alone")]:
        p = commands.add_parser(name, help=help_text, formatter_class=parser.formatter_class)
        p.add_argument("--run_dir", required=True, help="run directory written by train")
        p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                       help="best validation perplexity, or the last finished epoch")
        if name == "score":
            p.add_argument("sentences", nargs="+", help="sentences, words separated by spaces")
        elif name == "generate":
            p.add_argument("--num_sentences", type=positive_int, default=5, help="how many")
            p.add_argument("--max_words", type=positive_int, default=50,
                           help="stop a sentence after this many words")
            p.add_argument("--temperature", type=positive_float, default=1.0,
                           help="below 1: safer, more repetitive; above 1: more surprising")
            p.add_argument("--seed", type=non_negative_int, default=0,
                           help="random seed; the same seed gives the same sentences")
        else:
            add_export_flags(p)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        splits = read_splits(args.data_dir)
        data = os.path.abspath(args.data_dir) if args.data_dir else "download"
        train(config, args.out_dir, splits, args.preset, data, seed=args.seed,
              resume=args.resume, verbose=args.verbose)
        return
    if args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
    if args.command == "score":
        for sentence in args.sentences:  # all checked before the model loads
            if not sentence.strip():
                raise UsageError("the sentence to score is empty")
    model, vocab = load_run(args.run_dir, args.checkpoint)
    if args.command == "score":
        for sentence in args.sentences:
            word_log_probs, perplexity = score(model, vocab, sentence)
            for word, scored_as, log_prob in word_log_probs:
                note = "" if scored_as == word else f"  (scored as {scored_as})"
                print(f"{word:>20s} {log_prob:9.3f}{note}")
            print(f"perplexity {perplexity:.2f} ({len(word_log_probs)} words with <eos>)")
    elif args.command == "generate":
        for sentence in generate(model, vocab, args.num_sentences, args.max_words,
                                 args.temperature, args.seed):
            print(sentence)
    else:
        path = export(model, vocab, args.export_dir, args.overwrite)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"s = tf.saved_model.load('{path}').signatures['score']; "
              f"print(s(sentences=tf.constant(['the stock fell'])))\"")


if __name__ == "__main__":
    sys.exit(run_cli(main))
