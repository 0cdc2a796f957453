"""Addition as translation: "123+45" -> "168", the Keras example's task, with attention.

    python -m benchmarks.translate_addition         # 7 epochs; 7.4 min at load 6-10
    python -m benchmarks.translate_addition --epochs 1 --out_dir /tmp/addition_smoke

Trains `--dataset addition --preset addition` (100,000 sums of two operands of
1-3 random digits, as keras-io's addition_rnn draws them) and scores the
held-out test part greedily; prints exact match by source length and writes
--json. Target (issue 22): >= 99% exact within 5 minutes of training (the
Keras example's figure).
"""

import argparse
import os

from benchmarks.translate_runs import REPO_ROOT, train_and_evaluate, verdict, write_json


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs",
                                                          "bench_addition"))
    parser.add_argument("--arch", default="attention", choices=["attention", "seq2seq"])
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "translate_addition.json"))
    args = parser.parse_args()
    run = train_and_evaluate(os.path.join(args.out_dir, args.arch),
                             ["--dataset", "addition", "--preset", "addition", "--arch",
                              args.arch, *(["--epochs", args.epochs] if args.epochs else [])])
    results = run["results"][1]
    print(f"\n{'length':>6}  {'sources':>7}  {'exact':>7}")
    for row in results["by_length"]:
        print(f"{row['length']:>6}  {row['examples']:>7,}  {row['exact_match']:>7.4f}")
    ok = results["exact_match"] >= 0.99 and run["train_minutes"] <= 5
    print(f"{args.arch}: exact match {results['exact_match']:.4f} on {results['examples']:,} "
          f"test sums after {run['epochs']} epochs, {run['train_minutes']:.1f} min of "
          f"training; {verdict(ok)} (>= 0.99 within 5 min)")
    write_json(args.json, {args.arch: {**run, "results": results}})


if __name__ == "__main__":
    main()
