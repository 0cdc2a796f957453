"""Captioning the generated scene world: Show, Attend and Tell against Show and Tell.

    python -m benchmarks.caption_scenes                    # both archs, --preset scenes
    python -m benchmarks.caption_scenes --epochs 1 --scenes 2000 --out_dir /tmp/caption_smoke

Each row is a plain `python -m week5_caption.caption train --preset scenes
--arch A` and its `evaluate --beam 3` on the 1,000 generated test scenes, so
what it measures is what a user runs. A run already finished in --out_dir is
evaluated again, not retrained. Training minutes are the epochs' own seconds
from history.csv. Prints a table (exact captions, attention hit rate,
BLEU-1..4, minutes) with issue 23's targets, writes the rows to --json and
one attention map (predict --out on a test scene) to --png:

    show_attend_tell   >= 95% exact, >= 90% attention hit rate, >= 15 points above
                       show_tell, both within 30 minutes of training
    show_tell          the contrast: one averaged image vector, no attention

Flickr8k (not measurable here: no data, no ImageNet weights offline; the
paper's soft-attention BLEU-4 is 19.5, Xu et al. 2015, table 1):

    python -m week5_caption.caption train --data_dir Flickr8k --preset flickr8k \\
        --encoder vgg16 --weights imagenet --image_size 224 --out_dir runs/flickr8k_sat
    python -m week5_caption.caption evaluate --run_dir runs/flickr8k_sat --beam 3
"""

import argparse
import json
import os
import sys
import tempfile
import time

from benchmarks import cli_runs
from benchmarks.cli_runs import REPO_ROOT

ARCHS = ("show_attend_tell", "show_tell")
TARGET_EXACT, TARGET_HIT, TARGET_GAP, TARGET_MINUTES = 0.95, 0.90, 0.15, 30.0


def caption(verb, *flags):
    """`python -m week5_caption.caption VERB FLAGS` from the repository root."""
    cli_runs.run_command("week5_caption.caption", verb, *flags)


def train_and_evaluate(run_dir, flags, beam):
    """{"flags", "epochs", "results", "train_minutes"} of one run (trained unless there)."""
    return cli_runs.train_and_evaluate("week5_caption.caption", run_dir, flags, ["--beam", beam])


def attention_example(run_dir, png, image_size):
    """predict --out on the first generated test scene: the attention map a student sees."""
    sys.path.insert(0, REPO_ROOT)
    from PIL import Image

    from week5_caption import caption_data, scene_world

    scene = scene_world.generate(1, caption_data.TEST_SEED, image_size)["images"][0]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "scene.png")
        Image.fromarray(scene).save(path)
        caption("predict", "--run_dir", run_dir, path, "--out", png)


def print_table(rows):
    print(f"\n{'arch':<17} {'exact':>6} {'hit rate':>8} {'BLEU-1':>7} {'BLEU-2':>7} "
          f"{'BLEU-3':>7} {'BLEU-4':>7} {'minutes':>8}")
    for name, row in rows.items():
        r = row["results"]
        hit = r.get("attention_hit_rate")
        print(f"{name:<17} {r['exact_match']:>6.3f} {'-' if hit is None else f'{hit:.3f}':>8} "
              + " ".join(f"{r[f'bleu_{n}']:>7.2f}" for n in range(1, 5))
              + f" {row['train_minutes']:>8.1f}")
    if set(ARCHS) <= set(rows):
        sat, plain = rows["show_attend_tell"], rows["show_tell"]
        gap = sat["results"]["exact_match"] - plain["results"]["exact_match"]
        minutes = sat["train_minutes"] + plain["train_minutes"]
        checks = {f"exact >= {TARGET_EXACT}": sat["results"]["exact_match"] >= TARGET_EXACT,
                  f"hit rate >= {TARGET_HIT}":
                      sat["results"].get("attention_hit_rate", 0) >= TARGET_HIT,
                  f"{gap * 100:.1f} points above show_tell (>= 15)": gap >= TARGET_GAP,
                  f"{minutes:.1f} minutes of training for both (<= 30 each)":
                      max(sat["train_minutes"], plain["train_minutes"]) <= TARGET_MINUTES}
        for check, passed in checks.items():
            print(f"  {'meets' if passed else 'MISSES'}: {check}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_caption"))
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--scenes", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--beam", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "caption_scenes.json"))
    parser.add_argument("--png", default=os.path.join(REPO_ROOT, "benchmarks",
                                                      "caption_scenes_attention.png"))
    args = parser.parse_args()
    flags = ["--preset", "scenes", "--seed", args.seed,
             *(["--epochs", args.epochs] if args.epochs else []),
             *(["--scenes", args.scenes] if args.scenes else [])]
    start = time.perf_counter()
    rows = {arch: train_and_evaluate(os.path.join(args.out_dir, arch),
                                     ["--arch", arch, *flags], args.beam)
            for arch in args.archs}
    print_table(rows)
    print(f"{(time.perf_counter() - start) / 60:.1f} minutes in all")
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    print(f"wrote {args.json}")
    if "show_attend_tell" in rows:
        size = rows["show_attend_tell"]["results"].get("image_size", 64)
        attention_example(os.path.join(args.out_dir, "show_attend_tell"), args.png, size)


if __name__ == "__main__":
    main()
