"""Two local workers against one process: char-RNN training throughput, same global batch.

    python -m benchmarks.multi_worker --text ../shared/data/tinyshakespeare/input.txt

Trains `--preset small` (2 x 256 LSTM, global batch 64 x 100) for one epoch on
the first `--chars` characters of the text, once as one process
(`--strategy default`) and once as a two-worker cluster on 127.0.0.1
(`python -m common.cluster --workers 2 ... --strategy multi_worker`), in
alternating rounds, and prints each side's median characters/second (from the
chief's history.csv) and the ratio. On one 2-core machine the two workers
share the two cores that the single process has to itself, and every step
adds an all-reduce of the gradients over loopback, so expect at most 1.0x:
the point of multi-worker training is more machines, and this checks that the
loop costs little beyond that. On real hosts the same command per host is the
real measurement.
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_run(text, out_dir, workers):
    """chars/s of one epoch: one process (workers=0) or a local cluster of `workers`."""
    train = [sys.executable, "-m", "week3_rnn.char_rnn", "train", "--text", text,
             "--preset", "small", "--epochs", "1", "--val_fraction", "0", "--verbose", "0",
             "--out_dir", out_dir]
    command = (train if not workers else
               [sys.executable, "-m", "common.cluster", "--workers", str(workers), "--",
                *train, "--strategy", "multi_worker"])
    subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, "history.csv")) as f:
        return float(next(csv.DictReader(f))["chars_per_second"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--text", required=True, help="a UTF-8 text file")
    parser.add_argument("--chars", type=int, default=400_000,
                        help="characters of the text to train on")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    args = parser.parse_args(argv)
    speeds = {"one process": [], "two workers": []}
    with tempfile.TemporaryDirectory() as scratch:
        text = os.path.join(scratch, "text.txt")
        with open(args.text, encoding="utf-8") as f:
            sample = f.read(args.chars)
        with open(text, "w", encoding="utf-8") as f:
            f.write(sample)
        for round_ in range(args.rounds):
            for name, workers in (("one process", 0), ("two workers", 2)):
                out_dir = os.path.join(scratch, f"{workers}-{round_}")
                speeds[name].append(one_run(text, out_dir, workers))
                print(f"round {round_ + 1}, {name}: {speeds[name][-1]:,.0f} chars/s", flush=True)
    single = statistics.median(speeds["one process"])
    cluster = statistics.median(speeds["two workers"])
    print("\n| run | chars/s (median) | ratio vs one process |\n|---|---|---|")
    print(f"| one process, --strategy default | {single:,.0f} | 1.00 |")
    print(f"| two local workers, --strategy multi_worker | {cluster:,.0f} | "
          f"{cluster / single:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
