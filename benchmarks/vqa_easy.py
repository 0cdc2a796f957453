"""VQA on real easy-VQA: the three architectures with one preset, and the blind contrast.

    python -m benchmarks.vqa_easy                  # ~35 min on 2 shared cores (3 runs)
    python -m benchmarks.vqa_easy --archs blind attention
    python -m benchmarks.vqa_easy --epochs 1 --out_dir /tmp/vqa_smoke      # a smoke run

Unpacks ../shared/data/easy_vqa.tar (--tar) into a temporary folder (or
reads an unpacked --data_dir), then for each --arch runs a plain
`python -m week4_qa.vqa train --preset easy_vqa` and its `evaluate` on the
9,673 test questions, so what it measures is what a user runs. A run already
finished in --out_dir is evaluated again, not retrained. Training minutes
are the epochs' own seconds from history.csv. Prints a table (accuracy
overall and per question type, minutes) with issue 23's targets: the best
arch >= 95% test accuracy, >= 20 points above blind, within 30 minutes of
training; writes the rows to --json.
"""

import argparse
import json
import os
import sys
import tarfile
import tempfile
import time

from benchmarks import cli_runs
from benchmarks.cli_runs import REPO_ROOT

TAR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data", "easy_vqa.tar")
ARCHS = ("blind", "vis_lstm", "attention")
TARGET, MARGIN, MINUTES = 0.95, 0.20, 30.0


def train_and_evaluate(run_dir, data_dir, flags):
    """{"flags", "epochs", "results", "train_minutes"} of one run (trained unless there)."""
    row = cli_runs.train_and_evaluate("week4_qa.vqa", run_dir, ["--data_dir", data_dir, *flags],
                                      ["--data_dir", data_dir])
    return {**row, "flags": flags}  # without the temporary folder's path


def print_table(rows):
    types = ("yes/no", "shape", "colour")
    print(f"\n{'arch':<10} {'accuracy':>9} " + " ".join(f"{t:>7}" for t in types)
          + f" {'minutes':>8}")
    for arch, row in rows.items():
        per_type = row["results"]["per_type"]
        print(f"{arch:<10} {row['results']['accuracy']:>9.4f} "
              + " ".join(f"{per_type.get(t, {}).get('accuracy', float('nan')):>7.4f}"
                         for t in types) + f" {row['train_minutes']:>8.1f}")
    best = max(rows, key=lambda a: rows[a]["results"]["accuracy"])
    accuracy = rows[best]["results"]["accuracy"]
    verdict = [f"best: {best} {accuracy:.4f} (target >= {TARGET}) in "
               f"{rows[best]['train_minutes']:.1f} min (target <= {MINUTES:.0f})"]
    if "blind" in rows and best != "blind":
        gap = accuracy - rows["blind"]["results"]["accuracy"]
        verdict.append(f"{gap * 100:.1f} points above blind (target >= {MARGIN * 100:.0f})")
        met = accuracy >= TARGET and gap >= MARGIN and rows[best]["train_minutes"] <= MINUTES
        verdict.append("meets the targets" if met else "MISSES a target")
    print("; ".join(verdict))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--tar", default=TAR, help="easy_vqa.tar, unpacked to a temp folder")
    parser.add_argument("--data_dir", default=None,
                        help="an unpacked easy_vqa folder instead of --tar")
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_vqa"))
    parser.add_argument("--preset", default="easy_vqa")
    parser.add_argument("--epochs", type=int, default=None, help="for smoke runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "vqa_easy.json"))
    args = parser.parse_args()
    flags = ["--preset", args.preset, "--seed", args.seed,
             *(["--epochs", args.epochs] if args.epochs else [])]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="easy_vqa-") as scratch:
        data_dir = args.data_dir
        if data_dir is None:
            if not os.path.isfile(args.tar):
                sys.exit(f"{args.tar} not found; pass --tar or --data_dir")
            with tarfile.open(args.tar) as tar:
                tar.extractall(scratch, filter="data")
            data_dir = os.path.join(scratch, "easy_vqa")
        rows = {arch: train_and_evaluate(os.path.join(args.out_dir, arch), data_dir,
                                         [*flags, "--arch", arch]) for arch in args.archs}
    print_table(rows)
    print(f"{(time.perf_counter() - start) / 60:.1f} minutes in all")
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
