"""Each trainer ported to --strategy multi_worker last: one process against two local workers.

    python -m benchmarks.multi_worker_trainers [--only word2vec vae ...]

Trains the same settings twice, once as one process (`--strategy default`)
and once as a two-worker cluster on 127.0.0.1 (`python -m common.cluster
--workers 2 ... --strategy multi_worker`, the global batch split in two), and
prints the chief's final numbers beside the single process's, with the wall
time of each command. Data: ../shared/data (word2vec's enwiki sample,
tinyshakespeare, MNIST) and, for transfer, generated photos of three colours
on an untrained CIFAR-10 base (offline; the tests' data at a larger size).
On one 2-core machine both workers share the cores the single process has to
itself: the times say what the loop costs here, not what a cluster gains.
The two runs should agree to within the noise of a different split of each
batch (and, for word2vec, other negatives), not bit for bit.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO_ROOT, "..", "shared", "data")


def last_row(run):
    with open(os.path.join(run, "history.csv")) as f:
        return list(csv.DictReader(f))[-1]


def results(run):
    with open(os.path.join(run, "results.json")) as f:
        return json.load(f)


def numbers(row, keys):
    return ", ".join(f"{key} {float(row[key]):.4f}" for key in keys)


def text_slice(scratch, source, chars):
    """The first `chars` characters of `source`, as a file in `scratch`."""
    path = os.path.join(scratch, os.path.basename(source))
    with open(source, encoding="utf-8") as f:
        text = f.read(chars)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:text.rfind(" ")])
    return path


def transfer_data(scratch):
    """(photos folder, base.keras): the transfer tests' colours, 60 photos a colour."""
    sys.path.insert(0, REPO_ROOT)
    from pathlib import Path

    from tests.test_transfer import make_photo_folder, save_small_base

    return (str(make_photo_folder(Path(scratch) / "photos", per_class=60)),
            save_small_base(Path(scratch)))


def trainers(scratch):
    """name -> (command module, train flags, run -> the numbers to report)."""
    mnist = os.path.join(DATA, "mnist")
    photos, base = transfer_data(scratch)
    return {
        "word2vec": ("word2vec.skipgram",
                     ["--text", text_slice(scratch, os.path.join(DATA, "word2vec",
                                                                 "enwiki_sample.txt"),
                                           1_000_000), "--preset", "small", "--epochs", "2"],
                     lambda run: numbers(last_row(run), ["loss"])),
        "vae": ("gan.vae", ["--data_dir", mnist, "--preset", "default", "--epochs", "2"],
                lambda run: numbers(last_row(run), ["loss", "reconstruction", "kl"])),
        "spacing": ("week3_rnn.spacing",
                    ["--text", text_slice(scratch, os.path.join(DATA, "tinyshakespeare",
                                                                "input.txt"), 150_000),
                     "--preset", "small", "--epochs", "2"],
                    lambda run: numbers(last_row(run), ["val_loss", "val_f1"])),
        "transfer": ("week2_cnn.transfer",
                     ["--image_dir", photos, "--base", base, "--weights", "none",
                      "--bottleneck_dir", os.path.join(scratch, "cache"), "--preset", "test",
                      "--epochs", "10", "--batch_size", "16", "--learning_rate", "0.01",
                      "--fine_tune_layers", "2", "--fine_tune_epochs", "2"],
                     lambda run: (numbers(last_row(run), ["val_accuracy"]) + "; fine-tuned "
                                  + numbers(last_row(os.path.join(run, "fine_tune")),
                                            ["val_accuracy"])
                                  + f"; test accuracy {results(run)['test_accuracy']:.4f}")),
        "autoencoder": ("week1_basics.autoencoder",
                        ["--data_dir", mnist, "--arch", "stacked", "--preset", "stacked",
                         "--epochs", "1", "--fine_tune_epochs", "2", "--labels", "1000"],
                        lambda run: (numbers(last_row(os.path.join(run, "pretrain1")),
                                             ["val_loss"]) + " (pretrain1); "
                                     + numbers(last_row(run), ["val_accuracy"])
                                     + f"; test accuracy {results(run)['test_accuracy']:.4f}")),
    }


def one_run(module, flags, out_dir, workers):
    """Seconds of `train` as one process (workers 0) or a local cluster of `workers`."""
    train = [sys.executable, "-m", module, "train", *flags, "--verbose", "0", "--out_dir",
             out_dir]
    command = (train if not workers else
               [sys.executable, "-m", "common.cluster", "--workers", str(workers), "--",
                *train, "--strategy", "multi_worker"])
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=["word2vec", "vae", "spacing", "transfer",
                                                      "autoencoder"],
                        help="measure these trainers only (default: all)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, (module, flags, report) in trainers(scratch).items():
            if args.only and name not in args.only:
                continue
            side = {}
            for label, workers in (("one process", 0), ("two workers", 2)):
                out_dir = os.path.join(scratch, f"{name}-{workers}")
                seconds = one_run(module, flags, out_dir, workers)
                side[label] = (report(out_dir), seconds)
                print(f"{name}, {label}: {side[label][0]} ({seconds:.0f} s)", flush=True)
            rows.append((name, side))
    print("\n| trainer | one process | two workers (the chief) |\n|---|---|---|")
    for name, side in rows:
        cells = [f"{text}; {seconds:.0f} s" for text, seconds in side.values()]
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    sys.exit(main())
