"""What `python -m week3_rnn.char_rnn` does: train, evaluate, generate, export, gradient-flow.

The command line and docstring live in week3_rnn/char_rnn.py, which imports
this module only once TensorFlow has been imported quietly.
"""

import math
import shlex

import keras
import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import SEED_MAX, count, input_path, seed_int, temperature
from common.batching import shuffled_batches
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_training_flags,
                        command_parser, deprecated)
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_litert, save_servable
from common.model_size import check_fits
from common.runs import RunDir
from common.sequences import evaluation_dataset, make_windows, split_tail, to_pair
from common.text import CharVocab, read_text_file
from common.training import Progress, epoch_decay_callback
from week3_rnn import gradient_flow
from week3_rnn.char_data import DATASETS, load_corpus
from week3_rnn.char_model import (PRESETS, CharRNN, CharRNNConfig, build_char_rnn,
                                  estimated_size)
from week3_rnn.generation import SAMPLING, CharRNNServable

KIND = "char_rnn"
MAX_LENGTH = 1_000_000  # characters per generated text (about 100 s at 10k chars/s)
MAX_NUM = 1_000  # texts per generate call


def bits_per_char(row):
    """Cross-entropy in nats per character, converted to bits."""
    return {f"{key}_bpc": row[key] / math.log(2) for key in ("loss", "val_loss") if key in row}


def train(config, out_dir, text, source="text", seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a char-RNN on `text`; returns (model, state, vocab)."""
    vocab = CharVocab.from_text(text)
    if len(vocab) < 2:
        raise UsageError("the text has a single distinct character; a model has nothing "
                         "to predict")
    train_ids, val_ids = split_tail(vocab.encode(text), config.val_fraction)
    train_windows = make_windows(train_ids, config.seq_length, "training text")
    val_windows = (make_windows(val_ids, config.seq_length, "validation tail (--val_fraction)")
                   if config.val_fraction > 0 else None)
    # A text with fewer windows than one batch still trains, in smaller batches.
    batch_size = min(config.batch_size, len(train_windows))
    check_fits(estimated_size(config, len(vocab), batch_size),
               "--units, --num_layers, --seq_length or --batch_size")
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, settings={"source": source},
        metadata={"vocab.json": vocab.to_json()},
        build_model=lambda: build_char_rnn(config, len(vocab)),
        train_data=lambda first_epoch: shuffled_batches(train_windows, batch_size, seed,
                                                        first_epoch, transform=to_pair),
        steps_per_epoch=len(train_windows) // batch_size,
        validation_data=(None if val_windows is None
                         else evaluation_dataset(val_windows, batch_size)),
        progress=Progress(batch_size * config.seq_length, "chars", bits_per_char,
                          plot_ylabel="cross-entropy (nats/char)"),
        callbacks=lambda state: [epoch_decay_callback(config.learning_rate, config.lr_decay,
                                                      config.decay_after)],
        describe=lambda model: (f"{len(text):,} characters, vocabulary {len(vocab)}, "
                                f"{len(train_windows):,} training sequences of "
                                f"{config.seq_length}; {model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab) from a run directory, for generation, evaluation and export."""
    run_dir = RunDir(run_dir_path)
    model = run_dir.load_model(KIND, checkpoint)
    vocab = CharVocab.load(run_dir.read_path("vocab.json"))
    if len(vocab) != model.vocab_size:
        raise UsageError(f"{run_dir.file('vocab.json')} has {len(vocab)} characters but the "
                         f"model predicts {model.vocab_size}; the vocabulary was edited or "
                         "belongs to another run")
    return model, vocab


def text_sampler(model, vocab, sampling="weighted"):
    """A function (prime, length, temperature, seed) -> prime + `length` generated characters.

    Make one for many texts: its graph is traced and XLA-compiled on the first
    call only, so `generate --num N` costs one compilation, not N.
    """
    generate = CharRNNServable(model, vocab.chars).text_generator(sampling)

    def sample_text(prime, length, temperature=1.0, seed=0):
        if not prime:
            raise UsageError("--prime must not be empty")
        unknown = vocab.unknown_chars(prime)
        if unknown:
            raise UsageError("--prime has characters outside the vocabulary: "
                             + ", ".join(repr(c) for c in unknown))
        text = generate(tf.constant(prime), tf.constant(length, tf.int32),
                        tf.constant(temperature, tf.float32), tf.constant(seed, tf.int32))
        return text.numpy().decode("utf-8")

    return sample_text


def sample(model, vocab, prime, length, temperature=1.0, seed=0, sampling="weighted"):
    """prime + `length` generated characters (one text; for many, call text_sampler once)."""
    return text_sampler(model, vocab, sampling)(prime, length, temperature, seed)


def evaluate(run_dir_path, text, checkpoint="best", source="text"):
    """Bits per character of the run's model on `text`; writes results.json."""
    config = RunDir(run_dir_path).read_run_config(KIND, CharRNNConfig)
    model, vocab = load_run(run_dir_path, checkpoint)
    unknown = vocab.unknown_chars(text)
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:10])
        raise UsageError(f"the text has characters outside the run's vocabulary: {shown}")
    windows = make_windows(np.asarray(vocab.encode(text), np.int32), config.seq_length,
                           "evaluation text")
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = float(model.evaluate(evaluation_dataset(windows, config.batch_size), verbose=0))
    results = {"bits_per_char": loss / math.log(2), "loss": loss,
               "characters": int(windows.size - len(windows)), "checkpoint": checkpoint,
               "text": source}
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    print(f"{results['bits_per_char']:.4f} bits/char ({loss:.4f} nats) on "
          f"{results['characters']:,} characters; wrote {path}")
    return results


def export(model, vocab, export_dir, overwrite=False, run_dir=None, fmt="saved_model",
           config=None):
    """A SavedModel (or LiteRT `logits.tflite`) that generates text without this project."""
    servable = CharRNNServable(model, vocab.chars)
    info = {"vocabulary": vocab.chars, "config": config or {}}
    if fmt == "litert":
        # LiteRT lowers the recurrent loop only for a fixed length: one training window.
        # The fused FastLSTM's loop fails in LiteRT's XNNPack delegate; its weights
        # load unchanged into Keras's LSTM, which converts (and gives the same logits).
        twin = litert_twin(model)
        shape = [1, (config or {}).get("seq_length", 100)]
        logits = tf.function(lambda token_ids: {"logits": twin(token_ids)},
                             input_signature=[tf.TensorSpec(shape, tf.int32, "token_ids")])
        return save_litert({"logits": logits.get_concrete_function()}, export_dir, overwrite,
                           run_dir, KIND, info, trackable=model)
    return save_servable(servable, export_dir, servable.signatures(), overwrite, run_dir,
                         KIND, info)


def litert_twin(model):
    """The same model with Keras's LSTM in place of the fused FastLSTM (LiteRT runs it)."""
    if model.cell != "lstm":
        return model
    twin = CharRNN(model.vocab_size, cell="keras_lstm", num_layers=model.num_layers,
                   units=model.units, embedding_dim=model.embedding_dim,
                   dropout_rate=model.dropout_rate)
    twin.build()
    twin.set_weights(model.get_weights())
    return twin


def build_parser():
    parser = command_parser("week3_rnn.char_rnn")

    p = parser.verb("train", help="train (or --resume) a char-RNN")
    add_text_flags(p)
    add_config_flags(p, type(PRESETS["small"]), PRESETS)
    add_training_flags(p, "runs/char_rnn", PRESETS, "small")

    p = parser.verb("generate", aliases=["sample"],
                    help="generate text from a trained run (sample: the old name)")
    add_run_flags(p)
    p.add_argument("--prime", default="\n", help="text to start from (its characters must "
                                                 "be in the vocabulary)")
    p.add_argument("--length", type=count(MAX_LENGTH), default=500,
                   help="characters to generate")
    p.add_argument("--num", type=count(MAX_NUM), default=1,
                   help="how many texts (seeds --seed, --seed + 1, ...)")
    p.add_argument("--temperature", type=temperature, default=1.0,
                   help="below 1: safer, more repetitive text; above 1: more surprising")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="random seed; the same seed gives the same text")
    p.add_argument("--sampling", choices=SAMPLING, default="weighted",
                   help="weighted: sample every step; argmax: greedy; space: sample only "
                        "after a space")

    p = parser.verb("evaluate", help="bits per character on a text; results.json")
    add_run_flags(p)
    add_text_flags(p)

    parser.export_verb(help="a SavedModel (or .tflite) that generates text alone")

    p = parser.verb("gradient-flow", help="one PNG of the gradient norm of the last step's "
                                          "loss against each earlier input, per run")
    gradient_flow.add_flags(p, add_text_flags)
    return parser


def add_text_flags(parser):
    parser.add_argument("--text", type=input_path, help="a UTF-8 text file (overrides --dataset)")
    parser.add_argument("--dataset", choices=DATASETS, default="python_stdlib",
                        help="built-in corpus when no --text is given")
    parser.add_argument("--data_dir", type=input_path,
                        help="local copy of the dataset (tiny_shakespeare: "
                             "the folder with input.txt) instead of downloading")
    add_input_limit_flag(parser)


def read_evaluation_text(args):
    """(text, its name) for the reading verbs: --text, else the --dataset."""
    if args.text is not None:
        return read_text_file(args.text, args.max_bytes), args.text
    return load_corpus(None, args.dataset, args.data_dir, args.max_bytes)[0], args.dataset


def next_steps(out_dir, vocab):
    return lifecycle.next_commands("week3_rnn.char_rnn", out_dir, [
        ("generate", f"--prime {shlex.quote(vocab.chars[-1])} --length 300 --temperature 0.8"),
        ("evaluate", "--text YOUR_TEXT.txt"), ("export", "--export_dir exports/{name}")])


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        text, source = load_corpus(args.text, args.dataset, args.data_dir, args.max_bytes)
        _, _, vocab = train(config, args.out_dir, text, source, seed=args.seed,
                            resume=args.resume, strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, next_steps(args.out_dir, vocab))
    elif args.command in ("generate", "sample"):
        if args.command == "sample":
            deprecated("char_rnn sample", "char_rnn generate")
        if args.seed + args.num - 1 > SEED_MAX:
            raise UsageError(f"--seed {args.seed} with --num {args.num} passes the largest "
                             f"seed {SEED_MAX}")
        model, vocab = load_run(args.run_dir, args.checkpoint)
        sample_text = text_sampler(model, vocab, args.sampling)
        for i in range(args.num):
            print(sample_text(args.prime, args.length, args.temperature, args.seed + i))
    elif args.command == "evaluate":
        RunDir(args.run_dir).read_config(KIND)  # a wrong directory fails before reading text
        text, source = read_evaluation_text(args)
        evaluate(args.run_dir, text, args.checkpoint, source)
    elif args.command == "gradient-flow":
        gradient_flow.run(args, lambda: read_evaluation_text(args))
    elif args.command == "export":
        check_export_dir(args.export_dir, args.overwrite, args.run_dir)
        model, vocab = load_run(args.run_dir, args.checkpoint)
        config = RunDir(args.run_dir).read_config(KIND)
        path = export(model, vocab, args.export_dir, args.overwrite, args.run_dir,
                      args.format, config)
        if args.format == "litert":
            print(f"wrote {path}/logits.tflite: int32 token_ids [1, {config['seq_length']}] "
                  "-> logits [1, time, vocabulary]")
        else:
            print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
                  f"g = tf.saved_model.load('{path}').signatures['generate']; "
                  f"print(g(prime=tf.constant('{vocab.chars[-1]}'), length=tf.constant(200), "
                  f"temperature=tf.constant(0.8))['text'].numpy().decode())\"")
