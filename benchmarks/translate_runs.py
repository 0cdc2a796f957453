"""What the translate benchmarks share: run the real CLI, time it, read its results.

Each benchmark (translate_reverse, translate_addition, translate_cmudict)
trains with plain `python -m week3_rnn.translate train --preset NAME`
commands and scores with `evaluate`, so what it measures is what a user
runs. A run already finished in --out_dir is evaluated again, not
retrained. Training minutes are the epochs' own seconds from history.csv
(model.fit, the validation pass included), not the start-up.
"""

import csv
import json
import os
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO_ROOT, "..", "shared", "data")


def translate(verb, *flags):
    """`python -m week3_rnn.translate VERB FLAGS` from the repository root; its seconds."""
    command = [sys.executable, "-m", "week3_rnn.translate", verb, *map(str, flags)]
    print("$ python", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if done.returncode:
        sys.exit(f"the command failed with status {done.returncode}")
    return time.perf_counter() - start


def train_and_evaluate(run_dir, train_flags, beams=(1,)):
    """{"train_minutes", "epochs", "results": {beam: results.json}} of one run."""
    if not os.path.exists(os.path.join(run_dir, "state.json")):
        translate("train", *train_flags, "--out_dir", run_dir, "--verbose", "2")
    with open(os.path.join(run_dir, "history.csv"), encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    found = {"train_minutes": sum(float(row["seconds"]) for row in history) / 60,
             "epochs": len(history), "results": {}}
    for beam in beams:
        translate("evaluate", "--run_dir", run_dir, "--beam", beam)
        with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as f:
            found["results"][beam] = json.load(f)
    return found


def exact_over(results, low, high):
    """Exact match over the sources of low..high tokens (from results.json's by_length)."""
    rows = [row for row in results["by_length"] if low <= row["length"] <= high]
    count = sum(row["examples"] for row in rows)
    return sum(row["exact_match"] * row["examples"] for row in rows) / count if count else 0.0


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {path}")


def verdict(ok):
    return "meets the target" if ok else "MISSES the target"
