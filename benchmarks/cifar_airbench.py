"""airbench94 on 2 CPU cores: the full recipe over seeds, and each trick removed in turn.

    python -m benchmarks.cifar_airbench                        # 3 seeds, ~30 min each
    python -m benchmarks.cifar_airbench --seeds 0 --ablations all   # the ablation table
    python -m benchmarks.cifar_airbench --seeds --ablations lookahead flip

Unpacks ../shared/data/cifar10_jpg.tar (--tar) into a temporary folder, or reads
an unpacked --data_dir, then runs a plain `python -m week2_cnn.cifar10 train
--preset airbench94` per seed and per ablation (each with the trick's own flag) and
its `evaluate` on the 10,000 test images, so what it measures is what a user runs.
A run already finished in --out_dir is evaluated again, not retrained. Minutes are
history.csv's elapsed_seconds (the epochs' own wall time, the test pass excluded).
The test-time augmentation rows need no training: they score seed 0's model with
fewer views. Rows are merged into --json (benchmarks/cifar_airbench.json).
"""

import argparse
import csv
import json
import os
import platform
import sys
import tarfile
import tempfile

from benchmarks import cli_runs
from benchmarks.cli_runs import REPO_ROOT

TAR = os.path.join(os.path.dirname(REPO_ROOT), "shared", "data", "cifar10_jpg.tar")
JSON = os.path.join(REPO_ROOT, "benchmarks", "cifar_airbench.json")
MODULE = "week2_cnn.cifar10"
TARGET, MINUTES = 0.94, 60.0
# Each trick of the recipe and the flags that remove it (seed 0).
ABLATIONS = {
    "whitening": ["--no-whitening"],             # a trained first conv instead
    "dirac_init": ["--no-dirac_init"],           # PyTorch's init only
    "offset_lr": ["--offset_lr_scale", "1"],     # BN offsets at the common rate and decay
    "whiten_bias": ["--whiten_bias_epochs", "0"],  # the whitening bias never trains
    "lookahead": ["--no-lookahead"],
    "flip": ["--flip", "random"],                # random instead of alternating
    "translate": ["--translate", "0"],
    "label_smoothing": ["--label_smoothing", "0"],
}
TTA_ROWS = {"tta_translate": (True, 0), "tta": (False, 0)}  # (mirror, shift) left


def cpu_description():
    """The CPU's model name and its vector extensions (earlier figures came from other CPUs)."""
    model, flags = platform.processor(), []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = value.split()
                    break
    except OSError:
        pass
    vector = [f for f in flags if f.startswith(("avx", "amx", "fma"))]
    return {"model": model, "cores": os.cpu_count(), "vector_flags": vector}


def run(run_dir, data_dir, flags):
    """{"flags", "accuracy", "minutes", "epochs"} of one training run (trained unless there)."""
    cli_runs.trained(MODULE, run_dir, ["--preset", "airbench94", "--data_dir", data_dir,
                                       *flags])
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    results = cli_runs.evaluated(MODULE, run_dir, "--data_dir", data_dir)
    return {"flags": flags, "accuracy": results["test_accuracy"], "epochs": len(history),
            "minutes": float(history[-1]["elapsed_seconds"]) / 60}


def tta_row(run_dir, data_dir, mirror, shift):
    """Seed 0's model scored with fewer test-time views (no training)."""
    from week2_cnn.cifar10_verbs import load_run
    from week2_cnn.cifar_data import load_cifar10
    from week2_cnn.cifar_evaluation import accuracy_report
    from week2_cnn.cifar_training import predict_probabilities

    data = load_cifar10(data_dir)
    model, _, names = load_run(run_dir)
    report = accuracy_report(predict_probabilities(model, data.x_test, mirror, shift),
                             data.y_test, names)
    return {"flags": [f"tta={mirror}", f"tta_translate={shift}"],
            "accuracy": report["test_accuracy"]}


def print_table(rows):
    print(f"\n{'row':<22} {'accuracy':>9} {'minutes':>8}")
    for name, row in rows.items():
        minutes = f"{row['minutes']:>8.1f}" if "minutes" in row else f"{'-':>8}"
        print(f"{name:<22} {row['accuracy']:>9.4f} {minutes}")
    seeds = [row for name, row in rows.items() if name.startswith("seed ")]
    if seeds:
        mean = sum(row["accuracy"] for row in seeds) / len(seeds)
        slowest = max(row["minutes"] for row in seeds)
        met = mean >= TARGET and slowest <= MINUTES and len(seeds) >= 3
        print(f"{len(seeds)} seeds: mean {mean:.4f} (target >= {TARGET}), slowest "
              f"{slowest:.1f} min (target <= {MINUTES:.0f}): "
              + ("meets the targets" if met else "MISSES a target (or fewer than 3 seeds)"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tar", default=TAR, help="cifar10_jpg.tar to unpack")
    parser.add_argument("--data_dir", help="an unpacked image folder instead of --tar")
    parser.add_argument("--out_dir", default="runs/bench_airbench", help="runs go here")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2],
                        help="seeds of the full recipe")
    parser.add_argument("--ablations", nargs="*", default=[],
                        choices=["all", *ABLATIONS, *TTA_ROWS],
                        help="tricks to remove in turn, seed 0 (all: every one)")
    parser.add_argument("--json", default=JSON, help="rows are merged into this file")
    args = parser.parse_args(argv)
    ablations = [*ABLATIONS, *TTA_ROWS] if "all" in args.ablations else args.ablations
    rows = {}
    if os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as f:
            rows = json.load(f)["rows"]
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir
        if data_dir is None:
            with tarfile.open(args.tar) as tar:
                tar.extractall(scratch, filter="data")
            data_dir = os.path.join(scratch, "cifar10_jpg")
        for seed in args.seeds:
            rows[f"seed {seed}"] = run(os.path.join(args.out_dir, f"seed{seed}"), data_dir,
                                       ["--seed", seed])
        for name in ablations:
            if name in TTA_ROWS:
                rows[f"no {name}"] = tta_row(os.path.join(args.out_dir, "seed0"), data_dir,
                                             *TTA_ROWS[name])
            else:
                rows[f"no {name}"] = run(os.path.join(args.out_dir, f"no_{name}"), data_dir,
                                         [*ABLATIONS[name], "--seed", 0])
    print_table(rows)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump({"cpu": cpu_description(), "rows": rows}, f, indent=1, default=str)
        f.write("\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
