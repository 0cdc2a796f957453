"""What `python -m week4_qa.vqa` does: train, evaluate, predict, export.

The command line and docstring live in week4_qa/vqa.py, which imports this
module only once TensorFlow has been imported quietly.
"""

import contextlib
import dataclasses
import io
import os

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import input_path
from common.batching import ordered_batches, sequence_lengths, shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.image_encoders import add_encoder_flags, check_encoder, is_frozen
from common.images import MIN_SIDE, load_query_images
from common.model_size import check_fits
from common.outputs import check_out_file, check_out_prefix, numbered_pngs
from common.runs import RunDir
from common.tokens import TokenVocab
from common.training import Progress
from week4_qa import vqa_data, vqa_inputs
from week4_qa.vqa_model import (PRESETS, VQAConfig, build_vqa_model, estimated_size,
                                reads_image)
from week4_qa.vqa_plots import plot_attention
from week4_qa.vqa_servable import VQAServable

KIND = "vqa"
EVAL_BATCH = 128
MAX_PAIRS = 1000


def load_data(data_dir, max_bytes=DEFAULT_MAX_BYTES):
    """(train Split, test Split, settings) of the data set in `data_dir`."""
    train, fmt = vqa_data.read_split(data_dir, "train", max_bytes)
    test, _ = vqa_data.read_split(data_dir, "test", max_bytes)
    return train, test, {"data_dir": os.path.abspath(data_dir), "format": fmt,
                         "train_digest": vqa_data.digest(train),
                         "test_digest": vqa_data.digest(test)}


def train(config, out_dir, split, settings, seed=0, resume=False, verbose=1):
    """Trains (or resumes) a VQA model on a training Split; returns (model, state, vocab,
    answers)."""
    answers = vqa_data.answer_classes(split, config.top_answers)
    kept = split.subset([a in set(answers) for a in split.answers])
    train_part, val_part = vqa_data.split_by_image(kept, config.val_fraction)
    if len(train_part) < 2 or not val_part:
        raise UsageError(f"{len(kept):,} questions about {len(set(kept.image_keys)):,} images "
                         "are too few to hold out --val_fraction of the images")
    vocab = vqa_inputs.build_vocab(train_part)
    batch_size = min(config.batch_size, len(train_part))
    words = max(sequence_lengths(vqa_inputs.question_ids(train_part, vocab)[0]))
    check_fits(estimated_size(config, len(vocab), len(answers), int(words), batch_size),
               "--image_size, --cnn_width, --units or --batch_size")
    pixels, train_part, rows = vqa_inputs.split_pixels(train_part, config, seed, verbose)
    val_pixels, val_part, val_rows = vqa_inputs.split_pixels(val_part, config, seed, verbose)
    train_data, _ = vqa_inputs.arrays(train_part, vocab, answers, rows)
    val_data, _ = vqa_inputs.arrays(val_part, vocab, answers, val_rows)
    job = lifecycle.TrainJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume, verbose=verbose,
        settings={**settings, "questions": len(split), "answers_dropped": len(split) - len(kept)},
        may_change=("epochs", "data_dir"),
        metadata={"vocab.json": vocab.to_json(), "answers.json": {"answers": answers}},
        build_model=lambda: build_vqa_model(config, len(vocab), len(answers)),
        train_data=lambda first_epoch: shuffled_batches(
            train_data, batch_size, seed, first_epoch,
            lengths=sequence_lengths(train_data["question"]),
            transform=vqa_inputs.as_inputs(pixels, config)),
        steps_per_epoch=len(train_part) // batch_size,
        validation_data=ordered_batches(val_data, EVAL_BATCH,
                                        transform=vqa_inputs.as_inputs(val_pixels, config)),
        progress=Progress(batch_size, "questions", plot_ylabel="cross-entropy per answer"),
        describe=lambda model: (
            f"{config.arch} on {settings.get('format')}: {len(train_part):,} training and "
            f"{len(val_part):,} validation questions, {len(answers)} answers, vocabulary "
            f"{len(vocab)}; {model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab, answers


def holds_a_run(path):
    """Whether `path` holds a vqa run (another command's config.json: the lifecycle's)."""
    try:
        return RunDir(path).has_run() and RunDir(path).read_config(KIND) is not None
    except UsageError:
        return False


def read_answers(run_dir):
    value = read_json_file(run_dir.read_path("answers.json"))
    answers = value.get("answers") if isinstance(value, dict) else None
    if not (isinstance(answers, list) and answers
            and all(isinstance(a, str) and a for a in answers)
            and len(set(answers)) == len(answers)):
        raise UsageError(f"{run_dir.file('answers.json')} is not a list of distinct answers; "
                         "it was edited or damaged")
    return answers


def load_run(run_dir_path, checkpoint="best"):
    """(servable, vocab, answers, config, saved config dict) of a vqa run."""
    run_dir = RunDir(run_dir_path)
    saved = run_dir.read_config(KIND)
    config = run_dir.read_run_config(KIND, VQAConfig)
    check_encoder(config.encoder, config.image_size)
    if config.weights not in ("imagenet", "none"):
        raise UsageError(f"{run_dir.file('config.json')} names weights {config.weights!r}; "
                         "it was edited or damaged")
    vocab = TokenVocab.load(run_dir.read_path("vocab.json"))
    answers = read_answers(run_dir)
    model = run_dir.load_model(KIND, checkpoint)
    if (model.get_layer("words").input_dim != len(vocab)
            or model.get_layer("answer").units != len(answers)):
        raise UsageError(f"{run_dir.path}'s vocab.json or answers.json does not match its "
                         "model; they were edited or belong to another run")
    encoder = None
    if reads_image(config) and is_frozen(config.encoder):
        seed = saved.get("seed")
        encoder = vqa_inputs.frozen_encoder(config, seed if isinstance(seed, int) else 0)
    return VQAServable(model, config, vocab, answers, encoder), vocab, answers, config, saved


def test_split(saved, data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """(test Split, where from): re-read from the run's data folder, unchanged, or
    --data_dir's."""
    if data_dir is not None:
        return vqa_data.read_split(data_dir, "test", max_bytes)[0], f"test part of {data_dir}"
    recorded = saved.get("data_dir")
    if not isinstance(recorded, str):
        raise UsageError("config.json names no data folder; pass --data_dir")
    split = vqa_data.read_split(recorded, "test", max_bytes)[0]
    if vqa_data.digest(split) != saved.get("test_digest"):
        raise UsageError(f"the run's data ({recorded}) has changed since it was trained; "
                         "pass --data_dir to evaluate on the data as it is now")
    return split, f"test part of {recorded}"


def answer_split(servable, config, split, vocab, answers, verbose=0):
    """(predicted answers, their probabilities, unknown words, the Split scored): every
    question of `split` through the servable (which runs the encoder on the images)."""
    images, split, rows = vqa_inputs.decode_split(split, config.image_size, verbose)
    data, unknown = vqa_inputs.arrays(split, vocab, answers, rows)
    picked, probability = [], []
    for inputs, _ in ordered_batches(data, EVAL_BATCH, transform=vqa_inputs.as_inputs(
            images, config, key="image")):
        count = tf.shape(inputs["question"])[0]
        batch_images = inputs.get("image", tf.zeros([count, 1, 1, 3], tf.uint8))
        out = servable.answer_ids(batch_images, inputs["question"])
        picked.append(out["answer"].numpy())
        probability.append(out["probability"].numpy())
    return ([answers[i] for i in np.concatenate(picked)], np.concatenate(probability),
            unknown, split)


def scores(predicted, split):
    """{"accuracy", "per_type": {type: {"accuracy", "questions"}}}."""
    correct = np.array([p == a for p, a in zip(predicted, split.answers)])
    types = np.array(split.types)
    per_type = {t: {"accuracy": float(np.mean(correct[types == t])),
                    "questions": int(np.sum(types == t))} for t in sorted(set(split.types))}
    return {"accuracy": float(np.mean(correct)), "per_type": per_type}


def evaluate(run_dir_path, split, checkpoint="best", source="test part"):
    """Accuracy overall and per question type on a Split; writes results.json."""
    if not len(split):
        raise UsageError("the evaluation data holds no questions")
    servable, vocab, answers, config, _ = load_run(run_dir_path, checkpoint)
    predicted, _, unknown, scored = answer_split(servable, config, split, vocab, answers)
    results = {**scores(predicted, scored), "questions": len(scored),
               "skipped_questions": len(split) - len(scored), "unknown_words": int(unknown),
               "answers_outside_classes": sum(a not in set(answers) for a in scored.answers),
               "arch": config.arch, "encoder": config.encoder, "data": source,
               "checkpoint": checkpoint}
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    kinds = ", ".join(f"{t} {v['accuracy']:.4f}" for t, v in results["per_type"].items())
    print(f"{config.arch}: accuracy {results['accuracy']:.4f} on {len(scored):,} questions "
          f"of the {source} ({kinds}); wrote {path}")
    return results


def predict_pairs(items, config, max_bytes):
    """(image paths, questions) of predict's IMAGE QUESTION pairs, checked; and the
    decoded images (n, S, S, 3)."""
    if len(items) % 2:
        raise UsageError("predict takes IMAGE QUESTION pairs; the last image has no question")
    if len(items) // 2 > MAX_PAIRS:
        raise UsageError(f"{len(items) // 2:,} pairs are more than {MAX_PAIRS:,}; pass fewer")
    paths, questions = items[0::2], items[1::2]
    questions = [vqa_data.check_question(q) for q in questions]
    # Its "skipped N files" note is left out: any unreadable file is the error below.
    with contextlib.redirect_stdout(io.StringIO()):
        images, kept = load_query_images(paths, config.image_size, max_bytes=max_bytes,
                                         min_side=MIN_SIDE)
    if len(kept) != len(paths):
        bad = next(p for i, p in enumerate(paths) if i not in set(kept.tolist()))
        raise UsageError(f"{bad} is not a readable image (JPEG, PNG, BMP or GIF)")
    return paths, questions, images


def predict_command(args):
    config = RunDir(args.run_dir).read_run_config(KIND, VQAConfig)
    paths, questions, images = predict_pairs(args.pairs, config, args.max_bytes)
    outs = []
    if args.out is not None:
        if config.arch != "attention":
            raise UsageError(f"--out draws the attention over the image, and {args.run_dir} "
                             f"is a {config.arch} run, which has none")
        check_out_prefix(args.out)
        outs = numbered_pngs(args.out, len(questions))
        for path in outs:  # every one checked before any work
            check_out_file(path, read_runs=[args.run_dir])
    servable, vocab, *_ = load_run(args.run_dir, args.checkpoint)
    out = servable.answer(tf.constant(images), tf.constant(questions))
    unknown = [w for words in vqa_inputs.tokenize_texts(questions, "word") for w in words
               if w not in vocab.index]
    if unknown:
        print(f"note: {len(unknown)} word(s) the model never saw were read as <unk>: "
              f"{', '.join(sorted(set(unknown))[:10])}")
    for i, question in enumerate(questions):
        answer = out["answer"][i].numpy().decode("utf-8")
        print(f"{answer}  ({float(out['probability'][i]):.3f})  {paths[i]}: {question}")
    for i, path in enumerate(outs):
        plot_attention(images[i], out["attention"][i].numpy(), questions[i],
                       out["answer"][i].numpy().decode("utf-8"),
                       float(out["probability"][i]), path)
        print(f"wrote {path}")


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel: uint8 images and question strings in, answers and probabilities out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, vocab, answers, _, saved = load_run(run_dir_path, checkpoint)
    info = {"vocabulary": vocab.tokens, "class_names": answers, "config": saved}
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def build_parser():
    parser = command_parser("week4_qa.vqa")

    p = parser.verb("train", help="train (or --resume) a VQA model on easy-VQA or VQA v1")
    p.add_argument("--data_dir", type=input_path, required=True,
                   help="easy-VQA's folder (answers.txt, train/, test/) or VQA v1's (the "
                        "OpenEnded_mscoco_*_questions.json, mscoco_*_annotations.json "
                        "files and the train2014/, val2014/ image folders)")
    add_input_limit_flag(p)
    add_encoder_flags(p)
    add_config_flags(p, VQAConfig, PRESETS)
    add_training_flags(p, "runs/vqa", PRESETS, "easy_vqa", strategy=False)

    p = parser.verb("evaluate", help="test accuracy overall and per question type; "
                                     "results.json")
    add_run_flags(p)
    p.add_argument("--data_dir", type=input_path,
                   help="evaluate on this folder's test part (default: the run's, re-read "
                        "from its config.json and refused if it changed)")
    add_input_limit_flag(p)

    p = parser.verb("predict", help="answer questions about images")
    add_run_flags(p)
    p.add_argument("pairs", nargs="+", metavar="IMAGE QUESTION",
                   help="pairs of an image file and a question ending with '?', e.g. "
                        "shape.png 'what color is the shape?'")
    p.add_argument("--out", help="attention runs: write the attention over each image (PNG): "
                                 "FOLDER/attention-N.png for an existing folder (or a path "
                                 "ending in /), else PREFIX-N.png (NAME.png for one question)")
    add_input_limit_flag(p)

    parser.export_verb(help="a SavedModel: uint8 images and question strings in, answers "
                            "and probabilities out", formats=("saved_model",))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        config = dataclasses.replace(config, encoder=args.encoder,
                                     weights=args.weights if args.encoder != "small_cnn"
                                     else "none")
        check_encoder(config.encoder, config.image_size)
        if not args.resume and holds_a_run(args.out_dir):  # before decoding the images
            raise UsageError(f"{args.out_dir} already holds a run; pass --resume to continue "
                             "it or choose another --out_dir")
        split, _, settings = load_data(args.data_dir, args.max_bytes)
        train(config, args.out_dir, split, settings, seed=args.seed, resume=args.resume,
              verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week4_qa.vqa", args.out_dir, [
                ("evaluate", ""), ("predict", "IMAGE.png 'what color is the shape?'"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        saved = RunDir(args.run_dir).read_config(KIND)
        split, source = test_split(saved, args.data_dir, args.max_bytes)
        evaluate(args.run_dir, split, args.checkpoint, source)
    elif args.command == "predict":
        predict_command(args)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; its serving_default takes images (n, H, W, 3) uint8 and "
              "questions (n,) string and returns answer, probability and attention")
