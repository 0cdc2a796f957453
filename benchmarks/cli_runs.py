"""What the command benchmarks share: run the real CLI, reuse a finished run, read its files.

translate_*, memn2n_babi, vqa_easy and caption_scenes train with plain
`python -m PACKAGE.COMMAND train ...` and score with `evaluate`, so what they
measure is what a user runs. A run already finished in its folder is
evaluated again, not retrained. Training minutes are the epochs' own seconds
from history.csv (model.fit with its validation pass), not the start-up.
"""

import csv
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_command(module, verb, *flags):
    """`python -m MODULE VERB FLAGS` from the repository root; its seconds. Exits on failure."""
    command = [sys.executable, "-m", module, verb, *map(str, flags)]
    print("$ python", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        sys.exit(f"the command failed with status {done.returncode}")
    return time.perf_counter() - start


def trained(module, run_dir, train_flags, verbose=2):
    """(training minutes, epochs) of the run in `run_dir`, trained first unless it is there."""
    if not os.path.exists(os.path.join(run_dir, "state.json")):
        run_command(module, "train", *train_flags, "--out_dir", run_dir, "--verbose", verbose)
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    return sum(float(row["seconds"]) for row in history) / 60, len(history)


def evaluated(module, run_dir, *flags):
    """results.json after `evaluate --run_dir RUN_DIR FLAGS`."""
    run_command(module, "evaluate", "--run_dir", run_dir, *flags)
    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
        return json.load(f)


def train_and_evaluate(module, run_dir, train_flags, evaluate_flags=(), verbose=2):
    """{"flags", "epochs", "results", "train_minutes"} of one run."""
    minutes, epochs = trained(module, run_dir, train_flags, verbose)
    return {"flags": list(train_flags), "epochs": epochs,
            "results": evaluated(module, run_dir, *evaluate_flags), "train_minutes": minutes}
