"""What `python -m week4_qa.memn2n` does: train, evaluate, predict, export.

The command line and docstring live in week4_qa/memn2n.py, which imports
this module only once TensorFlow has been imported quietly.
"""

import os

import numpy as np
import tensorflow as tf

from common import lifecycle
from common.argtypes import count, input_path, whole_number_in
from common.batching import ordered_batches, shuffled_batches
from common.cli import UsageError, add_input_limit_flag, add_run_flags, add_training_flags
from common.cli import command_parser
from common.configs import add_config_flags, config_from_args
from common.export import check_export_dir, save_servable
from common.files import DEFAULT_MAX_BYTES
from common.model_size import check_fits
from common.runs import RunDir
from common.text import read_text_file
from common.tokens import UNK_ID, TokenVocab, check_vocab_size, tokenize_texts
from common.training import Progress
from week4_qa import babi_data
from week4_qa.memn2n_model import PRESETS, MemN2NConfig, build_memn2n_model, estimated_size
from week4_qa.memn2n_servable import MemN2NServable
from week4_qa.memn2n_training import (SELECTION_KEY, TrySchedule, as_inputs, noise_augment,
                                      train_arrays, with_selection_key)

KIND = "memn2n"
TRAIN_SEED, TEST_SEED = 1, 2   # the generator's seeds: every run reads the same stories
TEST_QUESTIONS = 1000          # the release's test set size, en and en-10k alike
MAX_QUESTIONS = 100_000
EVAL_BATCH = 256


class TriesJob(lifecycle.TrainJob):
    """A TrainJob whose run trains `tries` tries of `epochs` epochs (memn2n_training)."""

    @property
    def epochs(self):
        return self.config.epochs * self.config.tries


def load_task(task, data_dir=None, stories=1000, max_bytes=DEFAULT_MAX_BYTES):
    """(train examples, test examples, settings) of a task: the release's, or generated."""
    if data_dir is None:
        train = babi_data.qa_examples(babi_data.parse_babi(
            babi_data.generate_text(task, stories, TRAIN_SEED), "generated stories"))
        test = babi_data.qa_examples(babi_data.parse_babi(
            babi_data.generate_text(task, TEST_QUESTIONS, TEST_SEED), "generated stories"))
        return train, test, {"task": task, "data": "generated", "stories": stories}
    train_path, test_path = babi_data.task_files(data_dir, task)
    train = babi_data.read_examples(train_path, max_bytes)
    test = babi_data.read_examples(test_path, max_bytes)
    return train, test, {"task": task, "data": "babi", "data_dir": os.path.abspath(data_dir),
                         "train_file": os.path.basename(train_path)}


def token_ids(examples, vocab):
    """({text: ids} for every statement and question, number of unknown words)."""
    texts = babi_data.texts_of(examples)
    ids, unknown = vocab.encode_all(tokenize_texts(texts, "word"))
    return dict(zip(texts, ids)), unknown


def encode(examples, vocab, memory_size):
    """(arrays, unknown words) of examples (babi_data.encode_examples)."""
    ids, unknown = token_ids(examples, vocab)
    arrays = babi_data.encode_examples(examples, ids, lambda a: vocab.index.get(a, UNK_ID),
                                       memory_size)
    return arrays, unknown


def build_vocab(examples):
    """Every word of the stories and questions, and every answer as one token."""
    texts = babi_data.texts_of(examples)
    answers = sorted({ex.answer for ex in examples})
    vocab = TokenVocab.from_token_lists(tokenize_texts(texts, "word") + [answers], "word")
    check_vocab_size(vocab)
    return vocab


def train(config, out_dir, examples, settings, seed=0, resume=False, strategy="default",
          verbose=1):
    """Trains (or resumes) a memory network on bAbI examples; returns (model, state, vocab).

    `strategy` (default, mirrored, multi_worker): batch_size is the global
    batch, split across the replicas (memn2n_training on what else holds)."""
    if not examples:
        raise UsageError("the training data holds no questions")
    vocab = build_vocab(examples)
    train_part, val_part = babi_data.split_by_story(examples, config.val_fraction, seed)
    if not train_part or not val_part:
        raise UsageError(f"{len(examples)} questions in {len({e.story for e in examples})} "
                         "stories are too few to hold out --val_fraction of the stories")
    train_data, _ = encode(train_part, vocab, config.memory_size)
    val_data, _ = encode(val_part, vocab, config.memory_size)
    batch_size = min(config.batch_size, len(train_part))
    check_fits(estimated_size(config, len(vocab), *train_data["story"].shape[1:], batch_size),
               "--embedding_dim, --hops, --memory_size or --batch_size")
    augment = (noise_augment(config.random_noise, config.memory_size)
               if config.random_noise > 0 and config.temporal_encoding else None)
    one_try = config.tries == 1
    job = TriesJob(
        kind=KIND, config=config, out_dir=out_dir, seed=seed, resume=resume,
        strategy=strategy, verbose=verbose,
        settings={**settings, "questions": len(examples)},
        # More tries may be added to a run; its epochs per try only while it has one try.
        may_change=("data_dir", "tries") + (("epochs",) if one_try else ()),
        metadata={"vocab.json": vocab.to_json()},
        build_model=lambda: build_memn2n_model(config, len(vocab)),
        train_data=lambda first_epoch: shuffled_batches(
            train_arrays(train_data), batch_size, seed, first_epoch, augment=augment,
            transform=as_inputs),
        steps_per_epoch=len(train_part) // batch_size,
        validation_data=ordered_batches(train_arrays(val_data), batch_size,
                                        transform=as_inputs),
        callbacks=lambda state: [TrySchedule(config, state, len(vocab), seed)],
        progress=Progress(batch_size, "questions", with_selection_key,
                          plot_ylabel="cross-entropy per answer", best_key=SELECTION_KEY),
        describe=lambda model: (
            f"task {settings['task']} ({settings['data']}), {len(train_part):,} training and "
            f"{len(val_part):,} validation questions, vocabulary {len(vocab)}, "
            f"{config.hops} hops, {config.tries} tr{'y' if one_try else 'ies'} of "
            f"{config.epochs} epochs; {model.count_params():,} parameters"))
    model, state = lifecycle.train(job)
    return model, state, vocab


def load_run(run_dir_path, checkpoint="best"):
    """(servable, vocab, config, saved config dict) of a memn2n run."""
    run_dir = RunDir(run_dir_path)
    saved = run_dir.read_config(KIND)
    config = run_dir.read_run_config(KIND, MemN2NConfig)
    model = run_dir.load_model(KIND, checkpoint)
    vocab = TokenVocab.load(run_dir.read_path("vocab.json"))
    vocab_size = model.get_layer("memory").vocab_size
    if len(vocab) != vocab_size:
        raise UsageError(f"{run_dir.file('vocab.json')} has {len(vocab)} tokens but the model "
                         f"reads {vocab_size}; the vocabulary was edited or belongs to "
                         "another run")
    return MemN2NServable(model, vocab, config.memory_size), vocab, config, saved


def test_examples(saved, data_dir=None, max_bytes=DEFAULT_MAX_BYTES):
    """The test questions of the run's task: regenerated, or re-read from its data folder."""
    task = saved.get("task")
    if task not in babi_data.TASKS:
        raise UsageError("config.json names no bAbI task; the file was edited or damaged")
    if saved.get("data") == "generated" and data_dir is None:
        return load_task(task)[1]
    data_dir = data_dir or saved.get("data_dir")
    if not isinstance(data_dir, str):
        raise UsageError("config.json names no data folder; pass --data_dir")
    return babi_data.read_examples(babi_data.task_files(data_dir, task)[1], max_bytes)


def answer_batches(servable, arrays):
    """(answer ids (N,), last hop's attention argmax (N,)) over `arrays` in batches."""
    answers, attended = [], []
    for inputs, _ in ordered_batches(train_arrays(arrays), EVAL_BATCH, transform=as_inputs):
        out = servable.answer_ids(inputs["story"], inputs["query"], inputs["time"])
        answers.append(out["answer"].numpy())
        attended.append(np.argmax(out["attention"].numpy()[:, -1], -1))
    return np.concatenate(answers), np.concatenate(attended)


def evaluate(run_dir_path, examples, checkpoint="best", source="test"):
    """Accuracy and supporting-fact attention on `examples`; writes results.json."""
    if not examples:
        raise UsageError("the evaluation data holds no questions")
    servable, vocab, config, saved = load_run(run_dir_path, checkpoint)
    arrays, unknown = encode(examples, vocab, config.memory_size)
    answers, attended = answer_batches(servable, arrays)
    correct = answers == arrays["answer"]
    on_fact = np.any(arrays["supporting"] == attended[:, None], -1)
    state = RunDir(run_dir_path).read_state()
    # Which try the checkpoint comes from (best.keras: the best over all tries).
    epoch = state.get("best_epoch") if checkpoint == "best" else state["epoch"]
    results = {"accuracy": float(np.mean(correct)), "error": float(1 - np.mean(correct)),
               "supporting_fact_attention": float(np.mean(on_fact)),
               "questions": len(examples), "unknown_words": int(unknown),
               "task": saved.get("task"), "data": source, "checkpoint": checkpoint,
               "hops": config.hops,
               "from_try": (epoch - 1) // config.epochs + 1 if epoch else None}
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    print(f"task {results['task']}: accuracy {results['accuracy']:.4f} on "
          f"{len(examples):,} {source} questions; the last hop attends most to a supporting "
          f"fact on {results['supporting_fact_attention']:.1%}; wrote {path}")
    return results


def predict(servable, statements, question):
    """{"answer", "probability", "attention" (hops, n)} for one question about a story."""
    out = servable.answer(tf.constant([text for _, text in statements], tf.string),
                          tf.constant(question))
    return {"answer": out["answer"].numpy().decode("utf-8"),
            "probability": float(out["probability"]),
            "attention": out["attention"].numpy()}


def print_prediction(result, statements, linear):
    print(result["answer"])
    weight = "score" if linear else "attention"
    for hop, row in enumerate(result["attention"], 1):
        i = int(np.argmax(row))
        number, text = statements[i]
        print(f"  hop {hop}: {weight} {row[i]:.3f}  {number} {text}")


def export(run_dir_path, export_dir, overwrite=False, checkpoint="best"):
    """A SavedModel: story sentences and a question in, the answer and attention out."""
    check_export_dir(export_dir, overwrite, run_dir_path)
    servable, vocab, _, saved = load_run(run_dir_path, checkpoint)
    info = {"vocabulary": vocab.tokens, "config": saved}
    return save_servable(servable, export_dir, servable.signatures(), overwrite,
                         run_dir_path, KIND, info)


def add_data_flags(p, train):
    p.add_argument("--data_dir", type=input_path,
                   help="the bAbI release's tasks_1-20_v1-2/en or en-10k folder "
                        + ("(default: generated stories of task 1, 2 or 6)" if train else
                           "(default: the run's, from its config.json)"))
    add_input_limit_flag(p)


def build_parser():
    parser = command_parser("week4_qa.memn2n")

    p = parser.verb("train", help="train (or --resume) a memory network on a bAbI task")
    p.add_argument("--task", type=whole_number_in(1, 20), default=1,
                   help="bAbI task 1..20 (generated: 1, 2 or 6)")
    p.add_argument("--stories", type=count(MAX_QUESTIONS), default=1000,
                   help="generated data: training questions with their stories, counted as "
                        "the release counts them (1000 as en, 10000 as en-10k)")
    add_data_flags(p, train=True)
    add_config_flags(p, MemN2NConfig, PRESETS)
    add_training_flags(p, "runs/memn2n", PRESETS, "paper")

    p = parser.verb("evaluate", help="test accuracy and supporting-fact attention; "
                                     "results.json")
    add_run_flags(p)
    add_data_flags(p, train=False)

    p = parser.verb("predict", help="answer questions about a story, with each hop's "
                                    "most attended sentence")
    add_run_flags(p)
    p.add_argument("--story", type=input_path, required=True,
                   help="a story in bAbI format ('1 Mary moved to the bathroom.' per line)")
    p.add_argument("questions", nargs="+", metavar="QUESTION",
                   help="questions ending with '?', e.g. 'Where is Mary?'")
    add_input_limit_flag(p)

    parser.export_verb(help="a SavedModel: story and question strings in, the answer and "
                            "attention out", formats=("saved_model",))
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        config = config_from_args(args, PRESETS)
        examples, _, settings = load_task(args.task, args.data_dir, args.stories,
                                          args.max_bytes)
        train(config, args.out_dir, examples, settings, seed=args.seed, resume=args.resume,
              strategy=args.strategy, verbose=args.verbose)
        lifecycle.print_next_steps(args.out_dir, lifecycle.next_commands(
            "week4_qa.memn2n", args.out_dir, [
                ("evaluate", ""), ("predict", "--story story.txt 'Where is Mary?'"),
                ("export", "--export_dir exports/{name}")]))
    elif args.command == "evaluate":
        saved = RunDir(args.run_dir).read_config(KIND)
        examples = test_examples(saved, args.data_dir, args.max_bytes)
        evaluate(args.run_dir, examples, args.checkpoint)
    elif args.command == "predict":
        RunDir(args.run_dir).read_config(KIND)
        for question in args.questions:
            babi_data.check_question(question, "QUESTION")
        stories = babi_data.parse_babi(read_text_file(args.story, args.max_bytes), args.story)
        statements = babi_data.story_statements(stories, args.story)
        servable, _, config, _ = load_run(args.run_dir, args.checkpoint)
        kept = statements[-config.memory_size:]
        linear = bool(servable.model.get_layer("memory").linear.numpy())
        for question in args.questions:
            print_prediction(predict(servable, kept, question), kept, linear)
    elif args.command == "export":
        path = export(args.run_dir, args.export_dir, args.overwrite, args.checkpoint)
        print(f"wrote {path}; try:\n  python -c \"import tensorflow as tf; "
              f"f = tf.saved_model.load('{path}').signatures['serving_default']; "
              "print(f(story=tf.constant(['Mary moved to the bathroom.']), "
              "question=tf.constant('Where is Mary?'))['answer'].numpy().decode())\"")
