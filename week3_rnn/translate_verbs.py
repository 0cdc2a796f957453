"""What `python -m week3_rnn.translate` does: train and export; its parser and main.

The command line and docstring live in week3_rnn/translate.py, which imports
this module only once TensorFlow has been imported quietly. evaluate and
predict are in translate_evaluate.py.
"""

import os

import keras
import tensorflow as tf

from common import lifecycle
from common.argtypes import count, input_path
from common.batching import ordered_batches, sequence_lengths, shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.files import read_json_file
from common.model_size import check_fits
from common.runs import RunDir
from common.text import texts_to_read
from common.tokens import LEVELS, TokenVocab, tokenize_texts
from common.training import Progress, epoch_decay_callback
from week3_rnn import translate_data
from week3_rnn.translate_data import (PARTS, encoded, fingerprint, make_vocabs, prepare,
                                      read_source)
from week3_rnn.translate_limits import (MAX_DIGITS, MAX_MIN_LENGTH, check_data_fits,
                                        check_levels, recorded_settings)
from week3_rnn.translate_model import (PRESETS, SOURCE_INPUT, BidirectionalEncoder,
                                       TranslateConfig, build_translate_model, estimated_size)
from week3_rnn.translate_servable import TranslateServable

KIND = "translate"
MAX_BEAM = 64
def data_settings(args):
    """The settings that name the data (saved in config.json, re-read by evaluate)."""
    dataset = args.dataset or ("pairs" if args.pairs else "dates")
    if args.pairs and args.dataset:
        raise UsageError("pass --pairs FILE or --dataset NAME, not both")
    wrong = [flag for flag, value, owner in [
        ("--data_dir", args.data_dir, "cmudict"), ("--keep_stress", args.keep_stress, "cmudict"),
        ("--tokens", args.tokens, "pairs"), ("--min_length", args.min_length, "reverse"),
        ("--digits", args.digits, "addition")] if value and dataset != owner]
    if wrong:
        raise UsageError(f"{wrong[0]} does not apply to --dataset {dataset}")
    settings = {"dataset": dataset}
    if dataset in translate_data.GENERATED:
        settings["data_seed"] = args.seed
    if dataset == "pairs":
        settings.update(path=os.path.abspath(args.pairs), tokens=args.tokens or "word")
    elif dataset == "cmudict":
        if not args.data_dir:
            raise UsageError("--dataset cmudict needs --data_dir DIR, the folder holding "
                             "cmudict.dict")
        settings.update(path=os.path.abspath(os.path.join(args.data_dir, "cmudict.dict")),
                        keep_stress=bool(args.keep_stress))
    elif dataset == "reverse":
        settings["min_length"] = args.min_length or 5
    elif dataset == "addition":
        settings["digits"] = args.digits or 3
    return settings


def to_inputs(sources, decoder_inputs, decoder_targets):
    """A batch, each (batch, length) padded with 0 -> ((sources, decoder inputs), targets)."""
    return (sources, decoder_inputs), decoder_targets


def train(config, out_dir, triples, settings, seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a translator on `triples` (read_source); returns (model, state)."""
    if config.encoder == "bi" and config.units % 2:
        raise UsageError(f"--encoder bi gives each direction half of --units; "
                         f"{config.units} is odd")
    parts, left_out = prepare(triples, settings, config)
    batch_size = min(config.batch_size, len(parts["train"]))
    if batch_size < 1:
        raise UsageError("no training pair is left (after the validation and test parts and "
                         "--max_length); use more data or a larger --max_length")
    if config.test_fraction > 0 and not parts["test"]:
        # evaluate would have nothing to score (it would blame --test_fraction).
        raise UsageError(f"--test_fraction {config.test_fraction} holds out no pair of these "
                         f"{sum(map(len, parts.values())):,}: the test part would be empty; "
                         "use more data (or --test_fraction 0 and evaluate --pairs FILE)")
    source_vocab, target_vocab = make_vocabs(parts["train"], settings, config)
    check_fits(estimated_size(config, len(source_vocab), len(target_vocab), batch_size),
               "--units, --num_layers, --max_length or --batch_size")
    train_data = encoded(parts["train"], source_vocab, target_vocab, config.reverse_source)
    validation = (encoded(parts["validation"], source_vocab, target_vocab,
                          config.reverse_source) if parts["validation"] else None)
    settings = {**settings, "data_sha256": fingerprint(parts),
                "pairs": {part: len(parts[part]) for part in PARTS}}
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose, settings=settings,
        may_change=("epochs", "path"),
        metadata={"vocab.json": {"source": source_vocab.to_json(),
                                 "target": target_vocab.to_json()}},
        build_model=lambda: build_translate_model(config, len(source_vocab),
                                                  len(target_vocab)),
        train_data=lambda first_epoch: shuffled_batches(
            tuple(train_data), batch_size, seed, first_epoch,
            transform=lambda batch: to_inputs(*batch),
            lengths=sequence_lengths(train_data[0])),
        steps_per_epoch=len(parts["train"]) // batch_size,
        validation_data=(None if validation is None else
                         ordered_batches(tuple(validation), batch_size, transform=to_inputs)),
        callbacks=lambda state: ([] if config.lr_decay == 1.0 else [epoch_decay_callback(
            config.learning_rate, config.lr_decay, config.decay_after)]),
        progress=Progress(batch_size, "pairs",
                          plot_ylabel="cross-entropy per target token (teacher forcing)"),
        describe=lambda model: (
            f"{config.arch}, {settings['dataset']}: {len(parts['train']):,} training / "
            f"{len(parts['validation']):,} validation / {len(parts['test']):,} test pairs "
            f"({left_out:,} left out: an empty side or over --max_length {config.max_length}),"
            f" vocabularies {len(source_vocab)} -> {len(target_vocab)}; "
            f"{model.count_params():,} parameters"))
    return lifecycle.train(job)


def load_run(run_dir_path, checkpoint="best"):
    """(servable, config, saved settings, source vocab, target vocab) of a translate run."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, TranslateConfig)
    saved = run_dir.read_config(KIND)
    vocabs = read_vocabs(run_dir)
    check_levels(vocabs, recorded_settings(saved, run_dir), run_dir)
    model = run_dir.load_model(KIND, checkpoint)
    if model.name != f"translate_{config.arch}" or (
            isinstance(model.get_layer("encoder_lstm_0"), BidirectionalEncoder)
            != (config.encoder == "bi")):
        raise UsageError(f"{run_dir.path}: the {checkpoint} checkpoint holds a "
                         f"{model.name!r} model, not the {config.arch} model with a "
                         f"{config.encoder} encoder that config.json names (edited, or from "
                         "another run); restore it or retrain")
    inputs = {layer.name for layer in model.layers if isinstance(layer, keras.layers.InputLayer)}
    recorded = [reverse for reverse, name in SOURCE_INPUT.items() if name in inputs]
    if recorded and recorded[0] != config.reverse_source:  # runs before the mark: unchecked
        raise UsageError(f"{run_dir.path}: the {checkpoint} checkpoint was trained with "
                         f"reverse_source {recorded[0]} but config.json says "
                         f"{config.reverse_source} (edited, or from another run); restore it "
                         "or retrain")
    for (name, vocab), layer in zip(vocabs.items(), ("source_embedding", "target_embedding")):
        if len(vocab) != model.get_layer(layer).input_dim:
            raise UsageError(f"{run_dir.file('vocab.json')} has {len(vocab)} {name} tokens but "
                             f"the model reads {model.get_layer(layer).input_dim}; the "
                             "vocabulary was edited or belongs to another run")
    servable = TranslateServable(model, vocabs["source"], vocabs["target"], config.max_length,
                                 config.reverse_source, saved.get("dataset") == "cmudict")
    return servable, config, saved, vocabs["source"], vocabs["target"]


def read_vocabs(run_dir):
    path = run_dir.read_path("vocab.json")
    data = read_json_file(path)
    try:
        return {side: TokenVocab(**data[side]) for side in ("source", "target")}
    except (TypeError, ValueError, KeyError):
        raise UsageError(f"{path} is not a translate vocabulary of this project") from None


def translate_texts(servable, texts, beam=1, batch_size=256):
    """servable outputs for `texts` (a list of str), in batches: a list of dicts of NumPy."""
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(texts[start:start + batch_size], tf.string)
        found = (servable.translate(batch) if beam == 1 else
                 servable.translate_beam(batch, tf.constant(beam, tf.int32)))
        out.append({key: value.numpy() for key, value in found.items()})
    return out


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel: strings in, strings (and attention weights) out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, _, saved, source_vocab, target_vocab = load_run(run_dir_path, checkpoint)
    info = {"vocabulary": target_vocab.tokens, "source_vocabulary": source_vocab.tokens,
            "config": saved}
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def add_data_flags(parser):
    parser.add_argument("--pairs", type=input_path,
                        help="a UTF-8 file of source<TAB>target lines (Anki / Tatoeba kor.txt, "
                             "spa.txt; extra columns ignored)")
    parser.add_argument("--dataset", choices=translate_data.DATASETS,
                        help="cmudict: grapheme-to-phoneme on --data_dir/cmudict.dict; "
                             "generated, no download: reverse (a string backwards), dates "
                             "(English and Korean phrasings -> ISO), addition ('123+45' -> "
                             "'168') (default without --pairs: dates)")
    parser.add_argument("--data_dir", type=input_path,
                        help="--dataset cmudict: the folder holding cmudict.dict")
    parser.add_argument("--keep_stress", action="store_true",
                        help="--dataset cmudict: keep the stress digits (AH0, AH1); by "
                             "default they are dropped, as in published G2P results")
    parser.add_argument("--tokens", choices=LEVELS,
                        help="--pairs: split texts into characters or words (default: word)")
    parser.add_argument("--min_length", type=count(MAX_MIN_LENGTH),
                        help="--dataset reverse: shortest string (default 5; the longest is "
                             "--max_length)")
    parser.add_argument("--digits", type=count(MAX_DIGITS),
                        help="--dataset addition: most digits per operand (default 3)")
    add_input_limit_flag(parser)


def predict_inputs(args, servable_level, lowercase, max_length):
    """The texts to translate (TEXT arguments or the lines of --input), each checked."""
    texts = texts_to_read(args.texts, args.input, args.max_bytes, "translate")
    tokens = tokenize_texts([t.lower() if lowercase else t for t in texts], servable_level)
    for number, (text, source) in enumerate(zip(texts, tokens), 1):
        if "\n" in text or "\r" in text:
            raise UsageError(f"input {number} holds a line break, so its output would not be "
                             "one line; pass each line as its own TEXT or use --input FILE")
        if not source:
            raise UsageError(f"input {number} is empty: there is nothing to translate")
        if len(source) > max_length:
            raise UsageError(f"input {number} has {len(source)} tokens, more than the "
                             f"model's --max_length {max_length}; shorten or split it (the "
                             "model never saw a source that long)")
    return texts, tokens


def build_parser():
    parser = command_parser("week3_rnn.translate")

    p = parser.verb("train", help="train (or --resume) an encoder-decoder on pairs")
    add_data_flags(p)
    add_config_flags(p, TranslateConfig, PRESETS)
    add_training_flags(p, "runs/translate", PRESETS, "small")

    p = parser.verb("evaluate", help="exact match, BLEU, token error rates (PER/WER for "
                                     "cmudict) on the held-out test part; results.json")
    add_run_flags(p)
    add_beam_flag(p)
    p.add_argument("--pairs", type=input_path,
                   help="score every pair of this file instead of the run's test part")
    p.add_argument("--data_dir", type=input_path,
                   help="for a cmudict run whose dictionary has moved: the folder with "
                        "cmudict.dict")
    add_input_limit_flag(p)

    p = parser.verb("predict", help="print the translation of each text, one line each")
    add_run_flags(p)
    add_beam_flag(p)
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="texts to translate; one longer than the run's --max_length tokens "
                        "is refused (not cut): the model never saw such a source")
    p.add_argument("--input", type=input_path,
                   help="a UTF-8 file: translate each of its lines instead of TEXT arguments")
    p.add_argument("--out", help="attention runs: write one attention map (PNG) per text: "
                                 "FOLDER/attention-N.png for an existing folder (or a path "
                                 "ending in /), else PREFIX-N.png (NAME.png for one text)")
    add_input_limit_flag(p)

    parser.export_verb(help="a SavedModel: strings in, strings (and attention weights) out; "
                            "LiteRT cannot hold its string tokenizer and decoding loops, so "
                            "saved_model is the only format", formats=("saved_model",))
    return parser


def add_beam_flag(parser):
    parser.add_argument("--beam", type=count(MAX_BEAM), default=1,
                        help="beam search with this many hypotheses; 1: greedy decoding")


def main(argv=None):
    from week3_rnn import translate_evaluate

    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        settings = data_settings(args)
        check_data_fits(settings, config)  # before anything is generated or read
        triples = read_source(settings, config, args.max_bytes)
        train(config, args.out_dir, triples, settings, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week3_rnn.translate", args.out_dir, [
                ("evaluate", ""), ("predict", "'YOUR TEXT'"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        translate_evaluate.evaluate_command(args)
    elif args.command == "predict":
        translate_evaluate.predict_command(args)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"f = tf.saved_model.load('{path}').signatures['serving_default']; "
              "print(f(texts=tf.constant(['March 5, 2021']))['texts'].numpy()[0]"
              ".decode())\"")
