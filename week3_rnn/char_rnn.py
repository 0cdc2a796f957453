"""Character-level RNN on any text, the lecture's char-rnn in Keras 3.

    python -m week3_rnn.char_rnn train                       # Python stdlib source, offline
    python -m week3_rnn.char_rnn train --text my_novel.txt --out_dir runs/novel
    python -m week3_rnn.char_rnn train --dataset tiny_shakespeare \
        --data_dir ../shared/data/tinyshakespeare --out_dir runs/shakespeare
    python -m week3_rnn.char_rnn train --out_dir runs/shakespeare --resume --epochs 30
    python -m week3_rnn.char_rnn sample --run_dir runs/shakespeare --prime "ROMEO:" --length 500
    python -m week3_rnn.char_rnn export --run_dir runs/shakespeare --export_dir exports/shakespeare

Expected results (2 CPU cores; details and commands in benchmarks/RESULTS.md):

    tinyshakespeare, --preset small, 10% tail   val loss 1.496 nats/char after
                                                11 epochs (17 min), 1.494 after 13
    training speed, 2 x 256 LSTM, batch 64x100  ~11,800 chars/s (0.78x PyTorch)
    SavedModel generation, small preset         ~9,000-14,000 chars/s
"""

import dataclasses
import math
import os
import sys

from common.cli import (UsageError, add_config_flags, add_export_flags, add_training_flags,
                        config_from_args, fraction, make_parser, non_negative_float,
                        non_negative_int, positive_float, positive_int, quiet_tensorflow, run_cli)

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common.export import check_export_dir, save_servable  # noqa: E402
from common.runs import RunDir  # noqa: E402
from common.sequences import (evaluation_dataset, make_windows, split_tail,  # noqa: E402
                              training_dataset)
from common.text import CharVocab  # noqa: E402
from common.training import epoch_decay_callback, fit_run, get_strategy, set_seed  # noqa: E402
from week3_rnn.char_data import DATASETS, load_corpus  # noqa: E402
from week3_rnn.char_model import CELLS, PRESETS, build_char_rnn  # noqa: E402
from week3_rnn.generation import SAMPLING, CharRNNServable  # noqa: E402

KIND = "char_rnn"
# Settings a resumed run may change; everything else must match the saved run.
RESUMABLE_CHANGES = ("epochs", "source")


def bits_per_char(row):
    """Cross-entropy in nats per character, converted to bits."""
    return {f"{key}_bpc": row[key] / math.log(2) for key in ("loss", "val_loss") if key in row}


def train(config, out_dir, text, source="text", seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a char-RNN on `text`; returns (model, state, vocab)."""
    vocab = CharVocab.from_text(text)
    run_dir = RunDir(out_dir)
    vocab_path = run_dir.file("vocab.json")
    if resume and os.path.exists(vocab_path) and CharVocab.load(vocab_path) != vocab:
        raise UsageError(f"--resume: this text's vocabulary differs from the one {out_dir} "
                         "was trained with; use the same text or a new --out_dir")
    train_ids, val_ids = split_tail(vocab.encode(text), config.val_fraction)
    train_windows = make_windows(train_ids, config.seq_length, "training text")
    val_windows = (make_windows(val_ids, config.seq_length, "validation tail (--val_fraction)")
                   if config.val_fraction > 0 else None)
    # A text with fewer windows than one batch still trains, in smaller batches.
    batch_size = min(config.batch_size, len(train_windows))

    run_config = {"kind": KIND, **dataclasses.asdict(config), "seed": seed, "source": source}
    state = run_dir.begin(run_config, resume, may_change=RESUMABLE_CHANGES)
    vocab.save(vocab_path)
    set_seed(seed)
    with get_strategy(strategy).scope():
        if state["checkpoint"]:
            model = keras.saving.load_model(run_dir.checkpoint_path(state))
        else:
            model = build_char_rnn(config, len(vocab))
    print(f"{len(text):,} characters, vocabulary {len(vocab)}, "
          f"{len(train_windows):,} training sequences of {config.seq_length}; "
          f"{model.count_params():,} parameters; run directory {out_dir}")
    steps_per_epoch = len(train_windows) // batch_size
    train_data = training_dataset(train_windows, batch_size, seed, state["epoch"], config.epochs)
    val_data = None if val_windows is None else evaluation_dataset(val_windows, batch_size)
    fit_run(model, run_dir, state, train_data, steps_per_epoch, config.epochs,
            items_per_step=batch_size * config.seq_length, unit="chars",
            validation_data=val_data, derived_metrics=bits_per_char,
            plot_ylabel="cross-entropy (nats/char)", verbose=verbose,
            extra_callbacks=[epoch_decay_callback(config.learning_rate, config.lr_decay,
                                                  config.decay_after)])
    return model, state, vocab


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab) from a run directory, for sampling and export."""
    run_dir = RunDir(run_dir_path)
    model = run_dir.load_model(KIND, checkpoint)
    return model, CharVocab.load(run_dir.file("vocab.json"))


def sample(model, vocab, prime, length, temperature=1.0, seed=0, sampling="weighted"):
    """prime + `length` generated characters."""
    if not prime:
        raise UsageError("--prime must not be empty")
    unknown = vocab.unknown_chars(prime)
    if unknown:
        raise UsageError("--prime has characters outside the vocabulary: "
                         + ", ".join(repr(c) for c in unknown))
    servable = CharRNNServable(model, vocab.chars)
    generate = tf.function(lambda p, n, t, s: servable.generate_text(p, n, t, s, sampling))
    text = generate(tf.constant(prime), tf.constant(length, tf.int32),
                    tf.constant(temperature, tf.float32), tf.constant(seed, tf.int64))
    return text.numpy().decode("utf-8")


def export(model, vocab, export_dir, overwrite=False):
    servable = CharRNNServable(model, vocab.chars)
    return save_servable(servable, export_dir, servable.signatures(), overwrite)


# Flags that override one field of the preset's CharRNNConfig.
CONFIG_FLAGS = {
    "cell": (None, "recurrent cell: lstm (fused, fast on CPUs), gru, rnn, the lecture's "
                  "hand-written lecture_lstm / lecture_gru, or keras_lstm (stock Keras)"),
    "num_layers": (positive_int, "stacked recurrent layers"),
    "units": (positive_int, "hidden units per layer"),
    "embedding_dim": (positive_int, "character embedding size"),
    "seq_length": (positive_int, "characters per training sequence (backpropagation "
                                 "through time)"),
    "batch_size": (positive_int, "sequences per batch"),
    "learning_rate": (positive_float, "Adam learning rate"),
    "lr_decay": (positive_float, "multiply the learning rate by this every epoch after "
                                 "--decay_after epochs"),
    "decay_after": (non_negative_int, "epochs at the full learning rate"),
    "grad_clip": (non_negative_float, "clip gradients to this global norm; 0: off"),
    "dropout_rate": (fraction, "dropout after each recurrent layer"),
    "val_fraction": (fraction, "fraction of the text (its tail) held out for validation; "
                               "0: none"),
}


def build_parser():
    parser = make_parser(__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train (or --resume) a char-RNN",
                            formatter_class=parser.formatter_class)
    p.add_argument("--text", help="a UTF-8 text file to train on (overrides --dataset)")
    p.add_argument("--dataset", choices=DATASETS, default="python_stdlib",
                   help="built-in corpus when no --text is given")
    p.add_argument("--data_dir", help="local copy of the dataset (tiny_shakespeare: "
                                      "the folder with input.txt) instead of downloading")
    p.add_argument("--preset", choices=PRESETS, default="small",
                   help="model and training sizes; flags below override single values")
    add_config_flags(p, CONFIG_FLAGS, PRESETS, choices={"cell": CELLS})
    add_training_flags(p, default_out_dir="runs/char_rnn")

    p = commands.add_parser("sample", help="generate text from a trained run",
                            formatter_class=parser.formatter_class)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    p.add_argument("--prime", default="\n", help="text to start from (its characters must "
                                                 "be in the vocabulary)")
    p.add_argument("--length", type=positive_int, default=500, help="characters to generate")
    p.add_argument("--temperature", type=positive_float, default=1.0,
                   help="below 1: safer, more repetitive text; above 1: more surprising")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="random seed; the same seed gives the same text")
    p.add_argument("--sampling", choices=SAMPLING, default="weighted",
                   help="weighted: sample every step; argmax: greedy; space: sample only "
                        "after a space")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best validation loss, or the last finished epoch")

    p = commands.add_parser("export", help="write a SavedModel that generates text alone",
                            formatter_class=parser.formatter_class)
    p.add_argument("--run_dir", required=True, help="run directory written by train")
    add_export_flags(p)
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="best validation loss, or the last finished epoch")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        text, source = load_corpus(args.text, args.dataset, args.data_dir)
        train(config, args.out_dir, text, source, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
    elif args.command == "sample":
        model, vocab = load_run(args.run_dir, args.checkpoint)
        print(sample(model, vocab, args.prime, args.length, args.temperature, args.seed,
                     args.sampling))
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite)
        model, vocab = load_run(args.run_dir, args.checkpoint)
        path = export(model, vocab, args.export_dir, args.overwrite)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"g = tf.saved_model.load('{path}').signatures['generate']; "
              f"print(g(prime=tf.constant('{vocab.chars[-1]}'), length=tf.constant(200), "
              f"temperature=tf.constant(0.8))['text'].numpy().decode())\"")


if __name__ == "__main__":
    sys.exit(run_cli(main))
