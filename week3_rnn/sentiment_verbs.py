"""What `python -m week3_rnn.sentiment` does: train, evaluate, predict, export.

The command line and docstring live in week3_rnn/sentiment.py, which imports
this module only once TensorFlow has been imported quietly.
"""

import sys

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import SEED_MAX, input_path
from common.batching import ordered_batches, shuffled_batches
from common.cli import (UsageError, add_input_limit_flag, add_run_flags, add_scan_limit_flag,
                        add_training_flags, command_parser)
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_litert, save_servable
from common.files import read_json_file
from common.model_size import check_fits
from common.runs import RunDir
from common.text import texts_to_read
from common.tokens import UNK_ID, TokenVocab, check_vocab_size, count_and_keep_last
from common.training import Progress
from week3_rnn.sentiment_data import DATASETS, load_source, reload_test
from week3_rnn.sentiment_files import Part, load_data_dir, read_labelled_lines, test_digest
from week3_rnn.sentiment_model import (PRESETS, SentimentConfig, build_sentiment_model,
                                       estimated_size)
from week3_rnn.sentiment_servable import SentimentServable

KIND = "sentiment"
MAX_TEXTS = 100_000  # texts per predict call
CLASSIFY_BATCH = 256  # texts per servable call in evaluate and predict
# The default --max_bytes of each input file. Training holds the texts and their
# kept tokens in memory, up to about 20 bytes per input byte (a one-line 100 MB
# file took 2.2 GB), so the project's default of 2 GiB could end in an out-of-memory
# kill; NSMC's files are 14 and 5 MB, IMDB's reviews a few kB each.
MAX_BYTES = 256 * 1024 ** 2


def token_ids(texts, vocab, max_length):
    """Ragged (texts, None) int32: the ids of each text's last max_length tokens.

    Tokenised, cut and looked up in TensorFlow (common.tokens), as the
    servable does, so a text of millions of tokens costs no Python object per
    token; a list of id lists would take 36 bytes an id.
    """
    return vocab.lookup(count_and_keep_last(texts, vocab.level, max_length)[1])


def encode(texts, vocab, max_length):
    """(id lists of the last max_length tokens of each text, unknown tokens among them)."""
    ids = token_ids(texts, vocab, max_length).to_list()
    return ids, sum(row.count(UNK_ID) for row in ids)


def check_training_part(data):
    """UsageError unless the training part can train a classifier."""
    present = sorted({data.class_names[i] for i in data.train.labels})
    if len(data.train) < 2 or len(present) < 2:
        raise UsageError(f"the training part has {len(data.train)} texts of "
                         f"{len(present)} class(es) ({', '.join(present) or 'none'}); a "
                         "classifier needs texts of at least two classes: use more data or "
                         "a smaller --val_fraction / --test_fraction")


def train(config, out_dir, data, seed=0, resume=False, strategy="default", verbose=1):
    """Trains (or resumes) a classifier on `data` (a sentiment_files.Labelled);
    returns (model, state, vocab)."""
    check_training_part(data)
    # The vocabulary counts every token of the training texts; the model reads
    # each text's last max_length.
    counts, kept = count_and_keep_last(data.train.texts, config.tokens, config.max_length)
    vocab = TokenVocab.from_counts(counts, config.tokens, config.vocab_size, config.min_count)
    check_vocab_size(vocab, "the training part")
    train_ids = vocab.lookup(kept)                          # ragged (texts, None) int32
    batch_size = min(config.batch_size, len(data.train))
    check_fits(estimated_size(config, len(vocab), len(data.class_names), batch_size),
               "--units, --num_layers, --embedding_dim, --max_length or --batch_size")
    validation = None
    if len(data.validation):
        val_ids = token_ids(data.validation.texts, vocab, config.max_length)
        validation = ordered_batches((val_ids, data.validation.labels), batch_size)
    skipped = f"; {data.skipped:,} empty texts skipped" if data.skipped else ""
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={"source": data.source,
                  "data": {"train": len(data.train), "validation": len(data.validation),
                           "test": len(data.test), "skipped_empty": data.skipped,
                           "test_digest": test_digest(data.test)}},
        may_change=("epochs", "source", "data"),
        metadata={"vocab.json": vocab.to_json(), "labels.json": list(data.class_names)},
        build_model=lambda: build_sentiment_model(config, len(vocab), len(data.class_names)),
        # Batches of texts of similar length (little padding), padded with <pad> = 0.
        train_data=lambda first_epoch: shuffled_batches(
            (train_ids, data.train.labels), batch_size, seed, first_epoch,
            lengths=train_ids.row_lengths().numpy()),
        steps_per_epoch=len(data.train) // batch_size,
        validation_data=validation,
        progress=Progress(batch_size, "texts", plot_ylabel="cross-entropy per text"),
        describe=lambda model: (
            f"{config.arch}, {config.tokens} tokens (vocabulary {len(vocab):,}), classes "
            f"{', '.join(data.class_names)}; {len(data.train):,} training, "
            f"{len(data.validation):,} validation, {len(data.test):,} test texts "
            f"({data.source}{skipped}); {model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab


def read_class_names(run_dir):
    """labels.json: two or more distinct class names (UsageError if edited otherwise)."""
    class_names = read_json_file(run_dir.read_path("labels.json"))
    if (not isinstance(class_names, list) or len(class_names) < 2
            or not all(isinstance(name, str) for name in class_names)
            or len(set(class_names)) != len(class_names)):
        raise UsageError(f"{run_dir.file('labels.json')} is not a list of distinct class "
                         "names (edited or damaged); restore it or retrain")
    return class_names


def load_run(run_dir_path, checkpoint="best"):
    """(model, vocab, class_names, config) of a sentiment run, checked against each other."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, SentimentConfig)
    vocab = TokenVocab.load(run_dir.read_path("vocab.json"))
    class_names = read_class_names(run_dir)
    if vocab.level != config.tokens:
        # The servable splits texts by the vocabulary's level: a mismatch would
        # feed the model tokens of a kind it never saw, silently.
        raise UsageError(f"{run_dir.path}: vocab.json holds {vocab.level} tokens but "
                         f"config.json says --tokens {config.tokens} (edited, or from "
                         "another run); restore them or retrain")
    model = run_dir.load_model(KIND, checkpoint)
    if (model.get_layer("embedding").input_dim != len(vocab)
            or model.output_shape[-1] != len(class_names)):
        raise UsageError(f"{run_dir.path}: vocab.json or labels.json does not match the "
                         "model (edited, or from another run)")
    if model.name != f"sentiment_{config.arch}":
        raise UsageError(f"{run_dir.path}: the {checkpoint} checkpoint holds a "
                         f"{model.name!r} model, not the sentiment_{config.arch} that "
                         "config.json names (edited, or from another run)")
    return model, vocab, class_names, config


def servable_of(run_dir_path, checkpoint="best"):
    """(SentimentServable, config, class names) of a run."""
    model, vocab, class_names, config = load_run(run_dir_path, checkpoint)
    return SentimentServable(model, vocab, class_names, config.max_length), config, class_names


def classify(servable, texts):
    """The servable's outputs for a list of texts, as NumPy arrays, in CLASSIFY_BATCH calls."""
    parts = [servable.classify(tf.constant(texts[i:i + CLASSIFY_BATCH], tf.string))
             for i in range(0, len(texts), CLASSIFY_BATCH)]
    return {key: np.concatenate([part[key].numpy() for part in parts])
            for key in parts[0]} if parts else {}


def scores(true, predicted, class_names):
    """Accuracy, per-class precision/recall/F1 and the confusion counts (rows: true)."""
    k = len(class_names)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (true, predicted), 1)
    per_class = {}
    for i, name in enumerate(class_names):
        tp, predicted_i, support = confusion[i, i], confusion[:, i].sum(), confusion[i].sum()
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": float(precision), "recall": float(recall),
                           "f1": float(f1), "support": int(support)}
    return {"accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "classes": per_class,
            "confusion": {"rows_true_columns_predicted": list(class_names),
                          "counts": confusion.tolist()}}


def evaluate(run_dir_path, part, checkpoint="best", source="test part"):
    """Scores the run on `part` (labels in the run's class order); writes results.json."""
    if not len(part):
        raise UsageError(f"{source} holds no texts to score")
    servable, config, class_names = servable_of(run_dir_path, checkpoint)
    out = classify(servable, part.texts)
    predicted = np.argmax(out["probabilities"], axis=1)
    results = scores(part.labels, predicted, class_names)
    results.update(examples=len(part), tokens=int(out["tokens"].sum()),
                   unknown_tokens=int(out["unknown_tokens"].sum()),
                   truncated_texts=int(np.sum(out["tokens"] > config.max_length)),
                   checkpoint=checkpoint, data=source, arch=config.arch)
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    print(f"accuracy {results['accuracy']:.4f} on {len(part):,} texts ({source}); "
          f"{results['unknown_tokens']:,} unknown tokens, {results['truncated_texts']:,} "
          f"texts truncated to {config.max_length}; wrote {path}")
    return results


def relabelled(texts, labels, class_names, where):
    """A Part of texts whose label strings must be among the run's class names.

    Any of them will do: a file of positive reviews alone is a fair test set
    (so no check_label_column here, which asks training data for two classes).
    """
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(labels) - index.keys())
    if unknown:
        shown = ", ".join(repr(label if len(label) <= 40 else label[:40] + "...")
                          for label in unknown[:5])
        more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        raise UsageError(f"{where}: labels {shown}{more} are not classes of the run "
                         f"({', '.join(class_names)})")
    return Part(list(texts), np.array([index[label] for label in labels], np.int32))


def recorded_data(saved, run_dir):
    """(source, seed, test digest) as config.json records them; UsageError when they were
    edited into something train never writes (they are read, not trusted)."""
    source, seed, data = saved.get("source", ""), saved.get("seed", 0), saved.get("data", {})
    if (not isinstance(source, str) or type(seed) is not int or not 0 <= seed <= SEED_MAX
            or not isinstance(data, dict)):
        raise UsageError(f"{run_dir.config_path}: its source, seed or data entry is not "
                         "what train writes (edited or damaged); restore it, or pass --text "
                         "FILE or --data_dir DIR to evaluate on")
    return source, seed, data.get("test_digest")


def evaluation_part(args):
    """(Part, description) that evaluate scores: the run's own test part by default."""
    run_dir = RunDir(args.run_dir)
    saved = run_dir.read_config(KIND)  # a wrong directory fails before any data is read
    config = run_dir.read_run_config(KIND, SentimentConfig)
    class_names = read_class_names(run_dir)
    if args.text is not None and args.data_dir is not None:
        raise UsageError("--text and --data_dir name two data sets; pass one (or neither, "
                         "for the run's own test part)")
    if args.text is not None:
        texts, labels, _ = read_labelled_lines(args.text, args.max_bytes)
        return relabelled(texts, labels, class_names, args.text), f"every line of {args.text}"
    if args.data_dir is not None:
        data = load_data_dir(args.data_dir, config, ("test",), args.max_files, args.max_bytes)
        names = [data.class_names[i] for i in data.test.labels]
        return (relabelled(data.test.texts, names, class_names, args.data_dir),
                f"test split of {args.data_dir}")
    source, seed, recorded = recorded_data(saved, run_dir)
    data = reload_test(source, config, seed, args.max_files, args.max_bytes)
    if data.class_names != class_names or test_digest(data.test) != recorded:
        raise UsageError(f"the run's data ({source}) has changed since it was "
                         "trained, so its test part is not the one held out; pass --text FILE "
                         "or --data_dir DIR to evaluate on")
    return data.test, f"held-out test part of {data.source}"


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best", fmt="saved_model"):
    """A SavedModel whose serving signature classifies strings, or (litert) a .tflite of
    the model alone: token ids in, probabilities out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, config, class_names = servable_of(run_dir_path, checkpoint)
    run_dir = RunDir(run_dir_path)
    info = {"class_names": class_names,
            "vocabulary": TokenVocab.load(run_dir.read_path("vocab.json")).tokens,
            "config": run_dir.read_config(KIND)}
    if fmt == "litert":
        # LiteRT's built-in ops have no regular expressions or hash tables, so the
        # tokenizer stays outside: the client maps tokens to ids with the vocabulary.
        model = servable.model
        probabilities = tf.function(
            lambda token_ids: {"probabilities": model(token_ids, training=False)},
            input_signature=[tf.TensorSpec([1, config.max_length], tf.int32, "token_ids")])
        info["input"] = (f"token_ids (1, {config.max_length}) int32: the vocabulary ids of "
                         f"the text's last {config.max_length} {config.tokens} tokens, then "
                         "0 (<pad>, masked) to the end; unknown tokens are 3 (<unk>)")
        return save_litert({"probabilities": probabilities.get_concrete_function()},
                           export_dir, overwrite, run_dir_path, KIND, info)
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def predict_inputs(args):
    """The texts to classify: TEXT arguments or the lines of --input, one output line each."""
    return texts_to_read(args.texts, args.input, args.max_bytes, "classify", MAX_TEXTS)


def predict(run_dir_path, texts, checkpoint="best"):
    """Prints `label<TAB>probability` per text; notes truncated texts on stderr."""
    servable, config, _ = servable_of(run_dir_path, checkpoint)
    out = classify(servable, texts)
    for i, (count, unknown) in enumerate(zip(out["tokens"], out["unknown_tokens"])):
        if count > config.max_length:
            print(f"note: text {i + 1} has {count:,} tokens; only its last "
                  f"{config.max_length:,} were read (the run's --max_length)", file=sys.stderr)
        if count == 0:
            print(f"note: text {i + 1} has no tokens (empty or white space); its label "
                  "says nothing about it", file=sys.stderr)
        elif unknown == min(count, config.max_length):
            print(f"note: text {i + 1} holds no token seen in training (all read as "
                  "<unk>); its label says little about it", file=sys.stderr)
    for label, probability in zip(out["labels"], out["probability"]):
        print(f"{label.decode('utf-8')}\t{probability:.4f}")
    return out


def add_data_flags(p, training):
    p.add_argument("--text", type=input_path,
                   help="a UTF-8 file of TEXT<TAB>LABEL lines (labels as written: pos/neg, "
                        "0/1, ...)" + ("; its test and validation parts are chosen by a "
                                       "hash of each text" if training else
                                       "; every line is scored"))
    p.add_argument("--data_dir", type=input_path,
                   help="an IMDB folder (aclImdb/{train,test}/{pos,neg}/*.txt; class names "
                        "are the folder names) or an NSMC folder (ratings_train.txt, "
                        "ratings_test.txt)" + ("" if training else ": its test split"))
    if training:
        p.add_argument("--dataset", choices=DATASETS, default=None,
                       help="order: a generated task that needs word order (no download); "
                            "imdb_reviews: tensorflow-datasets' IMDB (downloads 80 MB "
                            "once), the default when no --text or --data_dir is given")
    add_max_bytes_flag(p)
    add_scan_limit_flag(p)


def add_max_bytes_flag(p):
    add_input_limit_flag(p)
    p.set_defaults(max_bytes=MAX_BYTES)


def build_parser():
    parser = command_parser("week3_rnn.sentiment")

    p = parser.verb("train", help="train (or --resume) a text classifier")
    add_data_flags(p, training=True)
    add_config_flags(p, SentimentConfig, PRESETS)
    add_training_flags(p, "runs/sentiment", PRESETS, "small")

    p = parser.verb("evaluate", help="accuracy, per-class scores and confusion counts on "
                                     "the run's held-out test part; results.json")
    add_run_flags(p)
    add_data_flags(p, training=False)

    about = ("print `label<TAB>probability` for each text, one line each; a text longer "
             "than the run's --max_length tokens is read from its last max_length tokens, as "
             "in training (a note on stderr says which); unseen tokens are read as <unk>")
    p = parser.verb("predict", help=about, description=about)
    add_run_flags(p)
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    p.add_argument("--input", type=input_path,
                   help="a UTF-8 file: classify each of its lines instead of TEXT arguments")
    add_max_bytes_flag(p)

    about = ("saved_model: strings in, class names and probabilities out; litert: "
             "probabilities.tflite, token ids (1, max_length) in and probabilities out, the "
             "tokenizer left to the client (LiteRT has no string ops), its vocabulary in "
             "metadata.json")
    parser.export_verb(help=about).description = about
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        data = load_source(args.text, args.data_dir, args.dataset, config, args.seed,
                           args.max_files, args.max_bytes)
        train(config, args.out_dir, data, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week3_rnn.sentiment", args.out_dir, [
                ("evaluate", ""), ("predict", "'YOUR TEXT'"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        part, source = evaluation_part(args)
        evaluate(args.run_dir, part, args.checkpoint, source)
    elif args.command == "predict":
        RunDir(args.run_dir).read_config(KIND)
        predict(args.run_dir, predict_inputs(args), args.checkpoint)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint,
                      args.format)
        if args.format == "litert":
            print(f"wrote {path} (probabilities.tflite, metadata.json)")
            return
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"f = tf.saved_model.load('{path}').signatures['serving_default']; "
              "print(f(texts=tf.constant(['a wonderful film']))['labels'].numpy())\"")
