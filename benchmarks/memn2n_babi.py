"""Memory networks on bAbI: generated tasks 1, 2 and 6, 1 hop against 3, and the real release.

    python -m benchmarks.memn2n_babi                       # every generated row, ~30 min on 2 idle cores
    python -m benchmarks.memn2n_babi --rows t1_1k t1_1k_tries3     # the 1k rows, ~3 min
    python -m benchmarks.memn2n_babi --epochs 2 --out_dir /tmp/memn2n_smoke     # a smoke run
    python -m benchmarks.memn2n_babi --data_dir tasks_1-20_v1-2/en-10k   # the release, 20 tasks

Each row is a plain `python -m week4_qa.memn2n train` with the paper's
settings (--preset paper: 3 hops, d = 20, PE, TE, RN, LS, 100 epochs) and its
`evaluate` on the task's 1,000 test questions, so what it measures is what a
user runs. A run already finished in --out_dir is evaluated again, not
retrained. Training minutes are the epochs' own seconds from history.csv.
Prints a table (test accuracy, supporting-fact attention of the last hop,
minutes) with each target of issue 23, and writes the rows to --json:

    t1_1k         task 1, 1,000 questions          >= 99% within 2 minutes
    t1_1k_tries3  the same, best of 3 tries by validation loss (the paper's best of N)
    t1_1k_1hop    the same with --hops 1 (one fact needs one hop; fewer weights to overfit)
    t1_10k        task 1, 10,000 questions         >= 99%, supporting-fact attention >= 90%
    t2_10k        task 2 (two facts), 10,000       >= 97%
    t2_10k_1hop   the same with --hops 1: the contrast (the paper: more hops help here)
    t6_10k        task 6 (yes/no), 10,000          >= 97%
    t6_10k_tries3 the same, best of 3 tries by validation loss

--data_dir runs the release's 20 tasks instead (the paper's PE + LS column:
--random_noise 0, best of --tries 10) and prints the mean error against the
paper's 7.2% on en-10k; about 20 x 10 tries x 100 epochs of 9,000 questions,
many hours on 2 CPU cores, so it is for a machine that has the time.
"""

import argparse
import json
import os
import time

from benchmarks import cli_runs
from benchmarks.cli_runs import REPO_ROOT

PAPER_MEAN_ERROR = 0.072  # Sukhbaatar et al. 2015, table 1: en-10k, PE + LS, 3 hops

# name: (train flags, target accuracy or None, most minutes or None, least support or None)
ROWS = {
    "t1_1k": (["--task", "1", "--stories", "1000"], 0.99, 2.0, None),
    "t1_1k_tries3": (["--task", "1", "--stories", "1000", "--tries", "3"], 0.99, 2.0, None),
    "t1_1k_1hop": (["--task", "1", "--stories", "1000", "--hops", "1"], 0.99, 2.0, None),
    "t1_10k": (["--task", "1", "--stories", "10000"], 0.99, None, 0.90),
    "t2_10k": (["--task", "2", "--stories", "10000"], 0.97, None, None),
    "t2_10k_1hop": (["--task", "2", "--stories", "10000", "--hops", "1"], None, None, None),
    "t6_10k": (["--task", "6", "--stories", "10000"], 0.97, None, None),
    "t6_10k_tries3": (["--task", "6", "--stories", "10000", "--tries", "3"], 0.97, None, None),
}


def train_and_evaluate(run_dir, flags):
    """{"flags", "epochs", "results", "train_minutes"} of one run (trained unless already there)."""
    return cli_runs.train_and_evaluate("week4_qa.memn2n", run_dir, flags, verbose=0)


def verdict(row, target, minutes, support):
    checks = []
    if target is not None:
        checks.append(row["results"]["accuracy"] >= target)
    if minutes is not None:
        checks.append(row["train_minutes"] <= minutes)
    if support is not None:
        checks.append(row["results"]["supporting_fact_attention"] >= support)
    if not checks:
        return "contrast"
    return "meets the target" if all(checks) else "MISSES the target"


def print_table(rows, targets):
    print(f"\n{'row':<14} {'hops':>4} {'accuracy':>9} {'support':>8} {'minutes':>8} "
          f"{'try':>8}  verdict")
    for name, row in rows.items():
        results = row["results"]
        print(f"{name:<14} {results['hops']:>4} {results['accuracy']:>9.4f} "
              f"{results['supporting_fact_attention']:>8.3f} {row['train_minutes']:>8.1f} "
              f"{results['from_try'] or '-':>8}  {verdict(row, *targets[name])}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), default=list(ROWS))
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_memn2n"))
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs per try (default: the paper's 100); for smoke runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_dir", default=None,
                        help="the release's en-10k (or en) folder: run its 20 tasks instead")
    parser.add_argument("--tries", type=int, default=10, help="--data_dir: tries per task")
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "memn2n_babi.json"))
    args = parser.parse_args()
    common = ["--seed", args.seed, *(["--epochs", args.epochs] if args.epochs else [])]
    start = time.perf_counter()
    if args.data_dir:
        rows = {f"babi_t{task}": train_and_evaluate(
                    os.path.join(args.out_dir, f"babi_t{task}"),
                    ["--task", task, "--data_dir", args.data_dir, "--random_noise", "0",
                     "--tries", args.tries, *common])
                for task in range(1, 21)}
        targets = {name: (None, None, None) for name in rows}
    else:
        rows = {name: train_and_evaluate(os.path.join(args.out_dir, name),
                                         [*ROWS[name][0], *common]) for name in args.rows}
        targets = {name: ROWS[name][1:] for name in rows}
    print_table(rows, targets)
    if args.data_dir:
        mean_error = sum(row["results"]["error"] for row in rows.values()) / len(rows)
        print(f"mean error over the 20 tasks {mean_error:.3f} (the paper: {PAPER_MEAN_ERROR})")
    print(f"{(time.perf_counter() - start) / 60:.1f} minutes in all")
    if os.path.exists(args.json):  # rows run before (another --rows) are kept
        with open(args.json, encoding="utf-8") as f:
            rows = {**json.load(f), **rows}
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
