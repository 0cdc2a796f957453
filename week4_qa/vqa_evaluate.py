"""What `vqa evaluate` and `vqa predict` do, and how both read a run.

A run is read whole (config, vocabulary, answers, checkpoint, checked against
one another) into a VQAServable, which answers from uint8 images and
question ids (evaluate) or strings (predict, the export).
"""

import os
import sys

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.batching import ordered_batches
from common.cli import UsageError
from common.files import DEFAULT_MAX_BYTES, read_json_file
from common.image_encoders import check_encoder, is_frozen
from common.images import MIN_SIDE, load_query_images
from common.outputs import check_out_file, check_out_prefix, numbered_pngs
from common.runs import RunDir
from common.tokens import TokenVocab, tokenize_texts
from week4_qa import vqa_data, vqa_inputs
from week4_qa.vqa_model import VQAConfig, reads_image
from week4_qa.vqa_plots import plot_attention
from week4_qa.vqa_servable import VQAServable

KIND = "vqa"
EVAL_BATCH = 128
MAX_PAIRS = 1000


def eval_batch(config):
    """Questions answered at once (validation, evaluate, predict): at most the training
    batch, whose activations check_fits accepted; 128 images of 1024 px through small_cnn
    would take tens of GiB, an out-of-memory kill where training fitted."""
    return max(1, min(EVAL_BATCH, config.batch_size))


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
    check_model_matches(model, config, run_dir)
    encoder = None
    if reads_image(config) and is_frozen(config.encoder):
        seed = saved.get("seed")
        encoder = vqa_inputs.frozen_encoder(config, seed if isinstance(seed, int) else 0)
    return VQAServable(model, config, vocab, answers, encoder), vocab, answers, config, saved


def check_model_matches(model, config, run_dir):
    """UsageError if config.json's arch, encoder or image size is not the checkpoint's."""
    frozen = reads_image(config) and is_frozen(config.encoder)
    wanted = {"question"} | ({"grid"} if frozen else {"image"} if reads_image(config) else set())
    inputs = model.input if isinstance(model.input, dict) else {}
    size = inputs["image"].shape[1] if "image" in inputs else config.image_size
    if (model.name != f"vqa_{config.arch}" or set(inputs) != wanted
            or size != config.image_size):
        raise UsageError(f"{run_dir.file('config.json')} does not describe its model (arch, "
                         "encoder or image_size); it was edited or belongs to another run")


def test_split(saved, data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """(test Split, where from): re-read from the run's data folder, unchanged, or
    --data_dir's."""
    if data_dir is not None:
        return vqa_data.read_split(data_dir, "test", max_bytes)[0], f"test part of {data_dir}"
    recorded = saved.get("data_dir")
    if not isinstance(recorded, str):
        raise UsageError("config.json names no data folder; pass --data_dir")
    if not os.path.isdir(recorded):  # its own words: the user passed no --data_dir
        raise UsageError(f"the run's data folder {recorded} (from its config.json) is not a "
                         "folder now; pass --data_dir to evaluate on data where it is")
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
    for inputs, _ in ordered_batches(data, eval_batch(config), transform=vqa_inputs.as_inputs(
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


def predict_pairs(items):
    """(image paths, questions) of predict's IMAGE QUESTION pairs, the questions checked."""
    if len(items) % 2:
        raise UsageError("predict takes IMAGE QUESTION pairs; the last image has no question")
    if len(items) // 2 > MAX_PAIRS:
        raise UsageError(f"{len(items) // 2:,} pairs are more than {MAX_PAIRS:,}; pass fewer")
    return items[0::2], [vqa_data.check_question(q) for q in items[1::2]]


def read_images(paths, size, max_bytes):
    """(n, size, size, 3) uint8 of every file in `paths`; UsageError for any that is not
    a readable image (missing, over max_bytes, under 8 pixels a side or huge by its header,
    or not decodable)."""
    return load_query_images(paths, size, max_bytes=max_bytes, min_side=MIN_SIDE,
                             partial=False)[0]


def predict_command(args):
    config = RunDir(args.run_dir).read_run_config(KIND, VQAConfig)
    paths, questions = predict_pairs(args.pairs)
    outs = []
    if args.out is not None:
        if config.arch != "attention":
            raise UsageError(f"--out draws the attention over the image, and {args.run_dir} "
                             f"is a {config.arch} run, which has none")
        check_out_prefix(args.out)
        outs = numbered_pngs(args.out, len(questions))
        for path in outs:  # every one checked before any work
            check_out_file(path, read_runs=[args.run_dir])
    images = read_images(paths, config.image_size, args.max_bytes)
    servable, vocab, *_ = load_run(args.run_dir, args.checkpoint)
    step = eval_batch(config)
    parts = [servable.answer(tf.constant(images[i:i + step]), tf.constant(questions[i:i + step]))
             for i in range(0, len(questions), step)]
    out = {key: np.concatenate([part[key].numpy() for part in parts])
           for key in ("answer", "probability", "attention")}
    unknown = [w for words in tokenize_texts(questions, "word") for w in words
               if w not in vocab.index]
    if unknown:
        print(f"note: {len(unknown)} word(s) the model never saw were read as <unk>: "
              f"{', '.join(sorted(set(unknown))[:10])}", file=sys.stderr)
    for i, question in enumerate(questions):
        answer = out["answer"][i].decode("utf-8")
        print(f"{answer}  ({float(out['probability'][i]):.3f})  {paths[i]}: {question}")
    for i, path in enumerate(outs):
        plot_attention(images[i], out["attention"][i], questions[i],
                       out["answer"][i].decode("utf-8"),
                       float(out["probability"][i]), path)
        print(f"wrote {path}")
