"""What `python -m week4_qa.vqa` does: train, evaluate, predict, export.

The command line and docstring live in week4_qa/vqa.py, which imports this
module only once TensorFlow has been imported quietly.
"""

import dataclasses
import os

from common import lifecycle
from common.argtypes import input_path
from common.batching import ordered_batches, sequence_lengths, shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.files import DEFAULT_MAX_BYTES
from common.image_encoders import add_encoder_flags, check_encoder
from common.model_size import check_fits
from common.optimizers import DenseReplicaCheck
from common.runs import RunDir
from common.training import Progress
from week4_qa import vqa_data, vqa_inputs
from week4_qa.vqa_evaluate import (KIND, eval_batch, evaluate, load_run, predict_command,
                                   test_split)
from week4_qa.vqa_model import PRESETS, VQAConfig, build_vqa_model, estimated_size


def load_data(data_dir, max_bytes=DEFAULT_MAX_BYTES):
    """(train Split, test Split, settings) of the data set in `data_dir`."""
    train, fmt = vqa_data.read_split(data_dir, "train", max_bytes)
    test, _ = vqa_data.read_split(data_dir, "test", max_bytes)
    return train, test, {"data_dir": os.path.abspath(data_dir), "format": fmt,
                         "train_digest": vqa_data.digest(train),
                         "test_digest": vqa_data.digest(test)}


def train(config, out_dir, split, settings, seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a VQA model on a training Split; returns (model, state, vocab,
    answers).

    `strategy` (default, mirrored, multi_worker): batch_size is the global batch, split
    across the replicas; the model is built (or loaded) in the strategy's scope by the
    lifecycle. A frozen encoder's grids are computed before, outside it: every worker
    computes the same ones (its weights are drawn from `seed`), and only the head trains.
    small_cnn's batch norm normalises each replica's part of the batch (as cifar10's does),
    so with several replicas a run differs a little from one device's; one replica (the
    CPU, one GPU) trains exactly what --strategy default trains."""
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
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={**settings, "questions": len(split), "answers_dropped": len(split) - len(kept)},
        may_change=("epochs", "data_dir"),
        metadata={"vocab.json": vocab.to_json(), "answers.json": {"answers": answers}},
        build_model=lambda: build_vqa_model(config, len(vocab), len(answers)),
        train_data=lambda first_epoch: shuffled_batches(
            train_data, batch_size, seed, first_epoch,
            lengths=sequence_lengths(train_data["question"]),
            transform=vqa_inputs.as_inputs(pixels, config)),
        steps_per_epoch=len(train_part) // batch_size,
        validation_data=ordered_batches(val_data, eval_batch(config),
                                        transform=vqa_inputs.as_inputs(val_pixels, config)),
        progress=Progress(batch_size, "questions", plot_ylabel="cross-entropy per answer"),
        callbacks=lambda state: [DenseReplicaCheck()],  # an older run on several replicas
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
    add_training_flags(p, "runs/vqa", PRESETS, "easy_vqa")

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
              strategy=args.strategy, verbose=args.verbose)
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
