"""What the translate benchmarks share: run the real CLI, time it, read its results.

Each benchmark (translate_reverse, translate_addition, translate_cmudict)
trains with plain `python -m week3_rnn.translate train --preset NAME`
commands and scores with `evaluate` at each beam (benchmarks.cli_runs).
"""

import json
import os

from benchmarks.cli_runs import REPO_ROOT, evaluated, trained

DATA = os.path.join(REPO_ROOT, "..", "shared", "data")
MODULE = "week3_rnn.translate"


def train_and_evaluate(run_dir, train_flags, beams=(1,)):
    """{"train_minutes", "epochs", "results": {beam: results.json}} of one run."""
    minutes, epochs = trained(MODULE, run_dir, train_flags)
    return {"train_minutes": minutes, "epochs": epochs,
            "results": {beam: evaluated(MODULE, run_dir, "--beam", beam) for beam in beams}}


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
