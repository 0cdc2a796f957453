"""`caption evaluate` and `caption predict`: scores, and attention maps over the image.

evaluate captions the run's test images (the scene world regenerated from the
run's config, or the Flickr8k / COCO test part re-read) with --beam and writes
results.json:

    bleu_1 .. bleu_4      corpus BLEU over words, every reference of an image counted
                          (sacrebleu through common.text_metrics)
    exact_match           the caption equals one of its references
    attention_hit_rate    scene world, show_attend_tell: for each colour or shape word
                          emitted, whether the attention of the step that emitted it
                          peaks (its argmax grid cell's centre, in image pixels) inside
                          the box of the object the word describes (scene_world)
    attention_within_one_cell  the same with the box widened by one grid cell: how many
                          of the misses are the cell next to the object
"""

import itertools
import os
import sys

import numpy as np

from common import lifecycle
from common.cli import UsageError
from common.images import MIN_SIDE, load_query_images
from common.model_size import available_bytes
from common.outputs import check_out_file, check_out_prefix, numbered_pngs
from common.plots import new_figure, save_figure
from common.runs import RunDir
from common.text_metrics import corpus_bleu
from week5_caption import caption_data, scene_world
from week5_caption.caption_config import CaptionConfig
from week5_caption.caption_verbs import KIND, load_run

MAX_MAPS = 1000      # attention maps per predict call
MAX_REFERENCE = 1000  # words of a reference kept for scoring


def output_tokens(row):
    """The words of one `tokens` row of the servable, up to its "" padding."""
    return [t.decode("utf-8") for t in itertools.takewhile(lambda t: t != b"", row)]


def hit_rate(predictions, attention, boxes, image_size, margin=0):
    """(hits, scored words) over all images; attention (N, T, h, w), boxes (N, 2, 4)."""
    hits = [hit for words, weights, box in zip(predictions, attention, boxes)
            for hit in scene_world.attention_hits(words, weights, box, image_size, margin)]
    return sum(hits), len(hits)


def scores(predictions, references):
    """BLEU-1..4 (0..100) and exact match of word lists against their reference lists."""
    out = {f"bleu_{n}": corpus_bleu(predictions, references, max_order=n) for n in range(1, 5)}
    out["exact_match"] = float(np.mean([p in refs for p, refs in zip(predictions, references)]))
    return out


def evaluate(run_dir_path, part, beam=3, checkpoint="best", data="test"):
    """Scores of the run's captions of `part` (caption_data's dict); writes results.json."""
    servable, config, saved, vocab = load_run(run_dir_path, checkpoint)
    references = caption_data.caption_tokens(part["captions"], MAX_REFERENCE)
    outputs = servable.run(part["images"], beam)
    predictions = [output_tokens(row) for batch in outputs for row in batch["tokens"]]
    results = {**scores(predictions, references), "images": len(predictions),
               "references": sum(map(len, references)), "beam": beam,
               "checkpoint": checkpoint, "arch": config.arch, "encoder": config.encoder,
               "image_size": config.image_size,
               "data": f"{saved.get('data')} {data}",
               "unknown_reference_words": sum(w not in vocab.index for refs in references
                                              for ref in refs for w in ref)}
    if "boxes" in part and config.arch == "show_attend_tell":
        # Each batch stops when its own captions end: pad (n, T, h, w) to the longest T.
        steps = max(batch["attention"].shape[1] for batch in outputs)
        attention = np.concatenate([
            np.pad(batch["attention"], [(0, 0), (0, steps - batch["attention"].shape[1]),
                                        (0, 0), (0, 0)]) for batch in outputs])
        hits, words = hit_rate(predictions, attention, part["boxes"], config.image_size)
        near, _ = hit_rate(predictions, attention, part["boxes"], config.image_size, margin=1)
        results.update(attention_hit_rate=hits / max(words, 1), attention_scored_words=words,
                       attention_within_one_cell=near / max(words, 1))
    path = lifecycle.write_results(RunDir(run_dir_path).file("results.json"), results)
    hit = (f", attention hit rate {results['attention_hit_rate']:.4f}"
           if "attention_hit_rate" in results else "")
    print(f"exact match {results['exact_match']:.4f}, BLEU-1..4 "
          + " / ".join(f"{results[f'bleu_{n}']:.2f}" for n in range(1, 5))
          + f"{hit} on {len(predictions):,} {data} images (beam {beam}); wrote {path}")
    return results


def check_unchanged(data_dir, digests, max_bytes):
    """UsageError when the Flickr8k folder a run recorded is gone or its test part changed
    since training (the scores would be of other data under the run's name)."""
    if not os.path.isdir(data_dir):
        raise UsageError(f"the run's Flickr8k folder {data_dir} (from its config.json) is "
                         "not a folder now; pass --data_dir to evaluate on data where it is")
    recorded = digests.get("test") if isinstance(digests, dict) else None
    if not isinstance(recorded, str):
        raise UsageError("config.json records no digest of the run's test data (edited, or "
                         "trained before they were kept); pass --data_dir to evaluate on the "
                         "data as it is now")
    if caption_data.flickr_digest(data_dir, "test", max_bytes) != recorded:
        raise UsageError(f"the run's test data ({data_dir}) has changed since it was "
                         "trained; pass --data_dir to evaluate on the data as it is now")


def evaluate_command(args):
    run_dir = RunDir(args.run_dir)
    saved = run_dir.read_config(KIND)  # a wrong directory fails before reading data
    config = run_dir.read_run_config(KIND, CaptionConfig)
    settings = {key: saved.get(key) for key in ("data", "data_dir")}
    if settings["data"] not in ("generated", "flickr8k", "coco"):
        raise UsageError(f"{run_dir.file('config.json')} names no data this command reads; "
                         "it was edited or damaged")
    if args.data_dir is not None:
        if settings["data"] != "flickr8k":
            raise UsageError("--data_dir is for runs trained on Flickr8k")
        settings["data_dir"] = args.data_dir
    if settings["data"] == "flickr8k" and not isinstance(settings["data_dir"], str):
        raise UsageError("config.json names no Flickr8k folder; pass --data_dir")
    if settings["data"] == "flickr8k" and args.data_dir is None:
        check_unchanged(settings["data_dir"], saved.get("digests"), args.max_bytes)
    part = caption_data.read_part(settings, "test", config, args.max_bytes)
    evaluate(args.run_dir, part, args.beam, args.checkpoint)


def plot_attention(image, words, attention, path):
    """One panel per word: the image with that word's attention (h, w) laid over it."""
    columns = min(len(words), 5) or 1
    rows = max(1, -(-len(words) // columns))
    figure, _ = new_figure(1.5 * columns, 1.6 * rows)
    figure.clear()
    size = image.shape[0]
    for index, word in enumerate(words):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(image)
        axes.imshow(attention[index], cmap="gray", alpha=0.6, vmin=0.0,
                    vmax=float(attention[index].max()) or 1.0,
                    extent=(0, size, size, 0), interpolation="bilinear")
        axes.set_title(word, fontsize=10)
        axes.axis("off")
    figure.tight_layout()
    save_figure(figure, path, mark=True)


def predict_command(args):
    run_dir = RunDir(args.run_dir)
    run_dir.read_config(KIND)
    config = run_dir.read_run_config(KIND, CaptionConfig)
    paths = []
    if args.out is not None:
        if config.arch != "show_attend_tell":
            raise UsageError(f"--out writes attention maps, and {args.run_dir} is a "
                             f"{config.arch} run, which has none")
        if len(args.images) > MAX_MAPS:
            raise UsageError(f"--out writes one map per image: {len(args.images):,} images, "
                             f"more than {MAX_MAPS:,}; pass fewer")
        check_out_prefix(args.out)
        paths = numbered_pngs(args.out, len(args.images))
        for path in paths:  # every one checked before any work
            check_out_file(path, read_runs=[args.run_dir])
    needed, available = len(args.images) * config.image_size ** 2 * 3, available_bytes()
    if available is not None and needed > available // 2:
        raise UsageError(f"{len(args.images):,} images of {config.image_size}x"
                         f"{config.image_size} pixels take {needed / 2 ** 30:,.1f} GiB, more "
                         "than half of the memory available; pass fewer at a time")
    # Refused, not skipped: the captions are printed one a line without their file names.
    images, _ = load_query_images(args.images, config.image_size, max_bytes=args.max_bytes,
                                  min_side=MIN_SIDE, partial=False)
    servable = load_run(args.run_dir, args.checkpoint)[0]
    outputs = [{key: value[i] for key, value in batch.items()}
               for batch in servable.run(images, args.beam)
               for i in range(len(batch["captions"]))]
    for out in outputs:
        print(out["captions"].decode("utf-8"))
    sys.stdout.flush()
    for image, out, path in zip(images, outputs, paths):
        plot_attention(image, output_tokens(out["tokens"]), out["attention"], path)
