"""What `python -m week3_rnn.spacing` does: train, evaluate, predict, export.

The command line and docstring live in week3_rnn/spacing.py, which imports
this module only once TensorFlow has been imported quietly.
"""

import os

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import input_path
from common.batching import shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.files import DEFAULT_MAX_BYTES
from common.model_size import check_fits
from common.runs import RunDir
from common.sequences import split_tail
from common.text import CharVocab, read_text_file, texts_to_read
from common.training import Progress
from week3_rnn.char_data import load_corpus, tiny_shakespeare_text
from week3_rnn.char_rnn_verbs import add_text_flags
from week3_rnn.spacing_data import encode, space_scores, tag_spaces, windows
from week3_rnn.spacing_model import (PRESETS, SpacingConfig, build_spacing_model,
                                     estimated_size)
from week3_rnn.spacing_servable import SpacingServable

KIND = "spacing"


def spacing_data(text):
    """(chars, tags) of a training or evaluation text; UsageError when it has no space."""
    chars, tags = tag_spaces(text)
    if not tags.any():
        raise UsageError("the text has no spaces, so there is nothing to learn or score: "
                         "the model learns where spaces go from a text that has them")
    return chars, tags


def with_f1(row):
    """F1 of predicted spaces from Keras's precision and recall (train and validation)."""
    out = {}
    for prefix in ("", "val_"):
        p, r = row.get(f"{prefix}precision"), row.get(f"{prefix}recall")
        if p is not None and r is not None:
            out[f"{prefix}f1"] = 2 * p * r / (p + r) if p + r else 0.0
    return out


def split_ids(ids, tags, val_fraction):
    """(train_ids, train_tags, val_ids, val_tags): the validation part is the tail."""
    train_ids, val_ids = split_tail(ids, val_fraction)
    train_tags, val_tags = split_tail(tags, val_fraction)
    return train_ids, train_tags, val_ids, val_tags


def train(config, out_dir, text, source="text", seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a spacing tagger on `text`; returns (model, state, vocab)."""
    chars, tags = spacing_data(text)
    vocab = CharVocab.from_text(chars)
    ids = encode(chars, vocab)
    train_ids, train_tags, val_ids, val_tags = split_ids(ids, tags, config.val_fraction)
    if not train_tags.any():
        raise UsageError("the training part of the text (before the --val_fraction tail) "
                         "has no spaces; there is nothing to learn")
    train_windows = windows(train_ids, train_tags, config.window, "training text")
    val_windows = (windows(val_ids, val_tags, config.window,
                           "validation tail (--val_fraction)")
                   if config.val_fraction > 0 else None)
    batch_size = min(config.batch_size, len(train_windows))
    check_fits(estimated_size(config, len(vocab), batch_size),
               "--units, --num_layers, --window or --batch_size")
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={"source": source, "characters": len(chars)},
        may_change=("epochs", "source", "characters"),
        metadata={"vocab.json": vocab.to_json()},
        build_model=lambda: build_spacing_model(config, len(vocab)),
        train_data=lambda first_epoch: shuffled_batches(
            train_windows, batch_size, seed, first_epoch, transform=to_pair),
        steps_per_epoch=len(train_windows) // batch_size,
        validation_data=(None if val_windows is None else
                         tf.data.Dataset.from_tensor_slices(val_windows)
                         .batch(batch_size).map(to_pair)),
        progress=Progress(batch_size * config.window, "chars", with_f1,
                          plot_ylabel="binary cross-entropy per character"),
        describe=lambda model: (f"{config.direction}directional, {len(chars):,} characters "
                                f"without spaces ({int(tags.sum()):,} followed by one), "
                                f"vocabulary {len(vocab)}, {len(train_windows):,} training "
                                f"windows of {config.window}; {model.count_params():,} "
                                "parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab


def to_pair(rows):
    """Windows (batch, 2, window) -> (ids (batch, window), tags (batch, window, 1) float)."""
    return rows[:, 0], tf.cast(rows[:, 1, :, None], tf.float32)


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab, config) of a spacing run."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, SpacingConfig)
    model = run_dir.load_model(KIND, checkpoint)
    vocab = CharVocab.load(run_dir.read_path("vocab.json"))
    vocab_size = model.get_layer("embedding").input_dim - 1
    if len(vocab) != vocab_size:
        raise UsageError(f"{run_dir.file('vocab.json')} has {len(vocab)} characters but the "
                         f"model reads {vocab_size}; the vocabulary was edited or belongs to "
                         "another run")
    return model, vocab, config


def servable_of(run_dir_path, checkpoint="best"):
    model, vocab, config = load_run(run_dir_path, checkpoint)
    return SpacingServable(model, vocab.chars, config.window), vocab, config


def restore(servable, texts):
    """`texts` with their spaces predicted anew (a list of str)."""
    if not texts:
        return []
    out = servable.restore(tf.constant(texts, tf.string))["texts"].numpy()
    return [text.decode("utf-8") for text in out]


def predict_tags(servable, chars, vocab):
    """Predicted tags (0/1) for a space-free text."""
    probabilities = servable.ids_probabilities(tf.constant(encode(chars, vocab))).numpy()
    return (probabilities > servable.threshold).astype(np.int32)


def held_out_text(run_dir_path, data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """The run's validation tail (space-free characters, tags), re-read from its source."""
    saved = RunDir(run_dir_path).read_config(KIND)
    config = RunDir(run_dir_path).read_run_config(KIND, SpacingConfig)
    source = str(saved.get("source", ""))
    if config.val_fraction == 0:
        raise UsageError(f"{run_dir_path} held out no validation tail (--val_fraction 0); "
                         "pass --text FILE to evaluate on")
    if source.startswith("file:"):
        text = read_text_file(source[len("file:"):], max_bytes)
    elif source == "dataset:tiny_shakespeare":
        text = tiny_shakespeare_text(data_dir, max_bytes)
    elif source == "dataset:python_stdlib":
        text = load_corpus(None, "python_stdlib")[0]
    else:
        raise UsageError(f"{run_dir_path} was trained on {source or 'an unnamed text'}, "
                         "which cannot be read again; pass --text FILE")
    chars, tags = tag_spaces(text)
    if len(chars) != saved.get("characters"):
        raise UsageError(f"the training text {source} has changed since the run was trained "
                         f"({len(chars):,} characters now, {saved.get('characters')} then); "
                         "pass --text FILE to evaluate on")
    val_tags = split_tail(tags, config.val_fraction)[1]
    return chars[len(chars) - len(val_tags):], val_tags


def evaluate(run_dir_path, chars, tags, checkpoint="best", source="held-out tail"):
    """Precision, recall and F1 of predicted spaces on a space-free text; results.json."""
    if not np.any(tags):
        raise UsageError("the evaluation text has no spaces, so there is nothing to score")
    servable, vocab, config = servable_of(run_dir_path, checkpoint)
    results = space_scores(tags, predict_tags(servable, chars, vocab))
    results.update(characters=len(chars), spaces=int(np.sum(tags)), checkpoint=checkpoint,
                   text=source, direction=config.direction,
                   unknown_characters=len(vocab.unknown_chars(chars)))
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    print(f"precision {results['precision']:.4f}, recall {results['recall']:.4f}, "
          f"F1 {results['f1']:.4f} of {results['spaces']:,} spaces in "
          f"{results['characters']:,} characters ({source}); wrote {path}")
    return results


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel whose serving signature restores spaces: strings in, strings out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, vocab, config = servable_of(run_dir_path, checkpoint)
    info = {"vocabulary": vocab.chars,
            "config": RunDir(run_dir_path).read_config(KIND)}
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def predict_inputs(args):
    """The texts to space: TEXT arguments or the lines of --input, one output line each."""
    texts = texts_to_read(args.texts, args.input, args.max_bytes, "space")
    for text in texts:
        if "\n" in text or "\r" in text:
            raise UsageError("a TEXT holds a line break, so its output would not be one line; "
                             "pass each line as its own TEXT or use --input FILE")
    return texts


def build_parser():
    parser = command_parser("week3_rnn.spacing")

    p = parser.verb("train", help="train (or --resume) a spacing tagger on a text with spaces")
    add_text_flags(p)
    add_config_flags(p, SpacingConfig, PRESETS)
    add_training_flags(p, "runs/spacing", PRESETS, "small")

    p = parser.verb("evaluate", help="precision/recall/F1 of predicted spaces; results.json")
    add_run_flags(p)
    p.add_argument("--text", type=input_path,
                   help="a UTF-8 text with correct spacing (default: the run's held-out tail)")
    p.add_argument("--data_dir", type=input_path,
                   help="for a run trained on tiny_shakespeare: the folder with input.txt")
    add_input_limit_flag(p)

    p = parser.verb("predict", help="print each text with its spaces restored, one line each")
    add_run_flags(p)
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="texts to space (their spaces are removed and predicted anew)")
    p.add_argument("--input", type=input_path,
                   help="a UTF-8 file: space each of its lines instead of TEXT arguments")
    add_input_limit_flag(p)

    parser.export_verb(help="a SavedModel: strings in, strings with spaces restored out",
                       formats=("saved_model",))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        text, source = load_corpus(args.text, args.dataset, args.data_dir, args.max_bytes)
        train(config, args.out_dir, text, source, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week3_rnn.spacing", args.out_dir, [
                ("evaluate", lifecycle.shell_flag("--data_dir", args.data_dir)),
                ("predict", "'YOUR TEXT WITHOUT SPACES'"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        RunDir(args.run_dir).read_config(KIND)  # a wrong directory fails before reading text
        if args.text is not None:
            chars, tags = tag_spaces(read_text_file(args.text, args.max_bytes))
            source = f"file:{os.path.abspath(args.text)}"
        else:
            chars, tags = held_out_text(args.run_dir, args.data_dir, args.max_bytes)
            source = "held-out tail"
        evaluate(args.run_dir, chars, tags, args.checkpoint, source)
    elif args.command == "predict":
        RunDir(args.run_dir).read_config(KIND)
        texts = predict_inputs(args)
        servable, _, _ = servable_of(args.run_dir, args.checkpoint)
        for line in restore(servable, texts):
            print(line)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"f = tf.saved_model.load('{path}').signatures['serving_default']; "
              "print(f(texts=tf.constant(['thequickbrownfox']))['texts'].numpy()[0]"
              ".decode())\"")
