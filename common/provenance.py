"""Where a figure came from: library versions, the project's commit, the CPU.

Recorded in every config.json and results.json, so numbers measured on
different machines (the CPU here can change from one day to the next) or with
different TensorFlow versions can be told apart.
"""

import functools
import os
import platform
import subprocess
import sys

PROJECT_VERSION = "0.2.0"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_commit():
    """The project's git commit (with "+dirty" for local changes), or None."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, timeout=5,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, timeout=5, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def cpu_description():
    """(model name, sorted AVX flags) from /proc/cpuinfo, or the platform's name."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read(1 << 20).splitlines()
    except OSError:
        return platform.processor() or platform.machine(), []
    model, flags = platform.machine(), []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == platform.machine():
            model = value.strip()
        elif key.strip() in ("flags", "Features") and not flags:
            flags = sorted(f for f in value.split() if f.startswith(("avx", "fma", "amx")))
    return model, flags


@functools.lru_cache(maxsize=1)
def provenance():
    """A JSON-ready dict of versions, commit and CPU (computed once per process)."""
    import keras
    import numpy
    import tensorflow

    model, flags = cpu_description()
    return {"project": PROJECT_VERSION, "git_commit": git_commit(),
            "python": sys.version.split()[0], "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__,
            "cpu": model, "cpu_flags": flags, "cpu_count": os.cpu_count()}
