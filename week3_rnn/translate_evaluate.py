"""`translate evaluate` and `translate predict`: scores by source length, attention maps.

evaluate re-reads the run's data from what config.json recorded (the file,
the dictionary, or the generator and its seed), checks that it is the data
the run was trained on (its SHA-256), and scores the test part:

    exact_match        the output equals one of the source's references
    bleu               corpus BLEU-4 over the task's tokens (common.text_metrics)
    token_error_rate   edit distance to the closest reference / its length
                       (cmudict: phoneme_error_rate; word_error_rate = 1 - exact)
    by_length          each of these per source length in tokens, and by_bucket
                       per 5 lengths (1-5, 6-10, ...)

A source with several targets (a Tatoeba sentence with two translations, a
word with two pronunciations) is one test item with several references.
"""

import itertools
import os
import sys
import warnings

from common import lifecycle
from common.cli import UsageError
from common.outputs import check_out_file, check_out_prefix, numbered_pngs
from common.plots import new_figure, save_figure
from common.runs import RunDir
from common.text import read_text_file
from common.text_metrics import corpus_bleu, edit_distances, error_rate
from week3_rnn.translate_data import (fingerprint, grouped, prepare, read_pairs, read_source,
                                      tokenized)
from week3_rnn.translate_limits import check_data_fits, recorded_settings
from week3_rnn.translate_model import TranslateConfig
from week3_rnn.translate_verbs import (KIND, load_run, predict_inputs, read_vocabs,
                                       translate_texts)

BUCKET = 5  # source lengths per row of by_bucket
MAX_MAPS = 1000  # attention maps per predict call


def test_examples(run_dir_path, pairs=None, data_dir=None, max_bytes=None):
    """(examples to score, what they are): the run's test part, or every pair of `pairs`."""
    run_dir = RunDir(run_dir_path)
    config = run_dir.read_run_config(KIND, TranslateConfig)
    saved = run_dir.read_config(KIND)
    settings = recorded_settings(saved, run_dir)
    limit = {} if max_bytes is None else {"max_bytes": max_bytes}
    if pairs is not None:
        triples = [(s, s, t) for s, t in read_pairs(read_text_file(pairs, **limit), pairs)]
        examples, left_out = tokenized(triples, settings, config.max_length)
        if not examples:
            raise UsageError(f"{pairs} has no pair of at most {config.max_length} tokens")
        if left_out:  # only once scoring goes ahead: an error stays one line
            print(f"note: left out {left_out:,} pairs with an empty side or more than "
                  f"{config.max_length} tokens", file=sys.stderr)
        return examples, f"file:{os.path.abspath(pairs)}"
    if data_dir is not None:
        if settings["dataset"] != "cmudict":
            raise UsageError("--data_dir is for runs trained on --dataset cmudict")
        settings["path"] = os.path.abspath(os.path.join(data_dir, "cmudict.dict"))
    check_data_fits(settings, config)  # an edited max_examples: before generating
    parts, _ = prepare(read_source(settings, config, **limit), settings, config)
    if fingerprint(parts) != saved.get("data_sha256"):
        raise UsageError(f"the data of {run_dir_path} ({settings.get('path') or 'generated'})"
                         " has changed since the run was trained, so its test part is not "
                         "the one held out; pass --pairs FILE to score another file")
    if not parts["test"]:
        raise UsageError(f"{run_dir_path} held out no test part (--test_fraction 0); pass "
                         "--pairs FILE to score")
    return parts["test"], "held-out test part"


def output_tokens(row):
    """The tokens of one `tokens` row of the servable, up to its "" padding."""
    return [t.decode("utf-8") for t in itertools.takewhile(lambda t: t != b"", row)]


def scores(predictions, references):
    """exact_match, bleu, token_error_rate of predictions against their reference lists."""
    distances, lengths = edit_distances(predictions, references)
    exact = sum(p in refs for p, refs in zip(predictions, references)) / len(predictions)
    return {"examples": len(predictions), "exact_match": exact,
            "bleu": corpus_bleu(predictions, references),
            "token_error_rate": error_rate(distances, lengths)}


def by_length(lengths, predictions, references, width=1):
    """scores() per source length (width 1) or per bucket of `width` lengths."""
    rows = {}
    for length, prediction, refs in zip(lengths, predictions, references):
        rows.setdefault((length - 1) // width, []).append((prediction, refs))
    out = []
    for bucket in sorted(rows):
        preds, refs = zip(*rows[bucket])
        low, high = bucket * width + 1, (bucket + 1) * width
        out.append({"length" if width == 1 else "lengths":
                    low if width == 1 else f"{low}-{high}", **scores(list(preds), list(refs))})
    return out


def evaluate(run_dir_path, examples, beam=1, checkpoint="best", data="held-out test part"):
    """Scores of the run's outputs for `examples` (prepare's tuples); results.json."""
    servable, config, saved, source_vocab, target_vocab = load_run(run_dir_path, checkpoint)
    items = grouped([(key, (source, tuple(src)), tuple(tgt))
                     for key, source, src, tgt in examples])
    texts = [source for _, (source, _), _ in items]
    references = [[list(ref) for ref in refs] for _, _, refs in items]
    predictions = [output_tokens(row) for batch in translate_texts(servable, texts, beam)
                   for row in batch["tokens"]]
    lengths = [len(src) for _, (_, src), _ in items]
    results = {**scores(predictions, references), "beam": beam, "checkpoint": checkpoint,
               "data": data, "arch": config.arch, "reverse_source": config.reverse_source,
               "references": sum(map(len, references)),
               "unknown_source_tokens": sum(token not in source_vocab.index
                                            for _, (_, src), _ in items for token in src),
               "unknown_target_tokens": sum(token not in target_vocab.index
                                            for refs in references for ref in refs
                                            for token in ref)}
    if saved.get("dataset") == "cmudict":
        results.update(phoneme_error_rate=results["token_error_rate"],
                       word_error_rate=1.0 - results["exact_match"])
    results["by_bucket"] = by_length(lengths, predictions, references, BUCKET)
    results["by_length"] = by_length(lengths, predictions, references)
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    print(f"exact match {results['exact_match']:.4f}, BLEU {results['bleu']:.2f}, token error "
          f"rate {results['token_error_rate']:.4f} on {results['examples']:,} sources "
          f"({data}, beam {beam}); wrote {path}")
    print(format_table(results["by_bucket"], "lengths"))
    return results


def format_table(rows, key):
    lines = [f"{'source length':>13}  {'sources':>8}  {'exact':>6}  {'BLEU':>6}  "
             f"{'error rate':>10}"]
    for row in rows:
        lines.append(f"{row[key]:>13}  {row['examples']:>8,}  {row['exact_match']:>6.4f}  "
                     f"{row['bleu']:>6.2f}  {row['token_error_rate']:>10.4f}")
    return "\n".join(lines)


def evaluate_command(args):
    RunDir(args.run_dir).read_config(KIND)  # a wrong directory fails before reading data
    examples, data = test_examples(args.run_dir, args.pairs, args.data_dir, args.max_bytes)
    evaluate(args.run_dir, examples, args.beam, args.checkpoint, data)


def plot_attention(weights, source_tokens, output_tokens, path):
    """A heatmap (outputs x source tokens) of one text's attention weights, as a marked PNG."""
    rows, columns = len(output_tokens), len(source_tokens)
    figure, axes = new_figure(max(3.0, 0.3 * columns + 1.5), max(2.5, 0.3 * rows + 1.2))
    axes.imshow(weights[:rows, :columns], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(columns), labels=[t if t.strip() else "▁" for t in source_tokens],
                    rotation=90)
    axes.set_yticks(range(rows), labels=output_tokens)
    axes.set_xlabel("source token")
    axes.set_ylabel("output token")
    with warnings.catch_warnings():  # a glyph the default font lacks (Hangul) is drawn as a box
        warnings.simplefilter("ignore")
        figure.tight_layout()
        save_figure(figure, path, mark=True)


def predict_command(args):
    run_dir = RunDir(args.run_dir)
    config = run_dir.read_run_config(KIND, TranslateConfig)
    saved = run_dir.read_config(KIND)
    vocabs = read_vocabs(run_dir)
    texts, tokens = predict_inputs(args, vocabs["source"].level,
                                   saved.get("dataset") == "cmudict", config.max_length)
    paths = []
    if args.out is not None:
        if config.arch != "attention":
            raise UsageError(f"--out writes attention maps, and {args.run_dir} is a "
                             f"{config.arch} run, which has none")
        if len(texts) > MAX_MAPS:
            raise UsageError(f"--out writes one map per text: {len(texts):,} texts, more "
                             f"than {MAX_MAPS:,}; pass fewer")
        check_out_prefix(args.out)
        paths = numbered_pngs(args.out, len(texts))
        for path in paths:  # every one checked before any work
            check_out_file(path, read_runs=[args.run_dir])
    servable = load_run(args.run_dir, args.checkpoint)[0]
    outputs = [{key: value[i] for key, value in batch.items()}
               for batch in translate_texts(servable, texts, args.beam)
               for i in range(len(batch["texts"]))]
    unknown = sum(t not in vocabs["source"].index for source in tokens for t in source)
    if unknown:
        print(f"note: {unknown:,} source tokens the model never saw were read as <unk>",
              file=sys.stderr)
    for out in outputs:
        print(out["texts"].decode("utf-8"))
    for out, source, path in zip(outputs, tokens, paths):
        plot_attention(out["attention"], source, output_tokens(out["tokens"]), path)
