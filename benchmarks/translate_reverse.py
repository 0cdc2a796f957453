"""Attention matters, measured: reversing strings of 5-30 letters, seq2seq against attention.

    python -m benchmarks.translate_reverse          # 3 epochs each; 8 + 10 min at load 5-10
    python -m benchmarks.translate_reverse --epochs 1 --max_examples 5000 \
        --out_dir /tmp/reverse_smoke                               # a smoke run, minutes

Trains `--dataset reverse --preset reverse` (100,000 random strings of 5-30
letters, 3 epochs) once per --arch and scores the held-out test part greedily;
prints exact match by source length for both and writes --json. Targets
(issue 22): on lengths 21-30 attention >= 0.95 and seq2seq <= 0.20, each
within 15 minutes of training: the plain encoder-decoder must squeeze a
30-letter string through one state vector, attention reads it back.
"""

import argparse
import os

from benchmarks.translate_runs import (REPO_ROOT, exact_over, train_and_evaluate, verdict,
                                       write_json)

ARCHS = ("attention", "seq2seq")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_reverse"),
                        help="one run per arch in here (a finished run is only re-evaluated)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--max_examples", type=int, default=None,
                        help="strings generated (default: the preset's 100,000)")
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "translate_reverse.json"))
    args = parser.parse_args()
    extra = [*(["--epochs", args.epochs] if args.epochs else []),
             *(["--max_examples", args.max_examples] if args.max_examples else [])]
    runs = {arch: train_and_evaluate(os.path.join(args.out_dir, arch),
                                     ["--dataset", "reverse", "--preset", "reverse",
                                      "--arch", arch, *extra])
            for arch in ARCHS}
    results = {arch: run["results"][1] for arch, run in runs.items()}
    by_length = {arch: {row["length"]: row for row in results[arch]["by_length"]}
                 for arch in ARCHS}
    print(f"\n{'length':>6}  {'sources':>7}  " + "  ".join(f"{a:>9}" for a in ARCHS))
    for length in sorted(by_length["attention"]):
        print(f"{length:>6}  {by_length['attention'][length]['examples']:>7,}  " + "  ".join(
            f"{by_length[a].get(length, {}).get('exact_match', 0.0):>9.4f}" for a in ARCHS))
    long = {arch: exact_over(results[arch], 21, 30) for arch in ARCHS}
    targets = {"attention": long["attention"] >= 0.95, "seq2seq": long["seq2seq"] <= 0.20}
    for arch in ARCHS:
        in_time = runs[arch]["train_minutes"] <= 15
        print(f"{arch}: exact match on lengths 21-30 {long[arch]:.4f} after "
              f"{runs[arch]['epochs']} epochs, {runs[arch]['train_minutes']:.1f} min of "
              f"training; {verdict(targets[arch] and in_time)} "
              f"({'>= 0.95' if arch == 'attention' else '<= 0.20'} within 15 min)")
    write_json(args.json, {arch: {"exact_21_30": long[arch], **runs[arch],
                                  "results": results[arch]} for arch in ARCHS})


if __name__ == "__main__":
    main()
