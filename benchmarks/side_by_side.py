"""What every "this project against a peer" speed benchmark shares.

Each side runs in its own fresh process (so neither framework's thread pools
disturb the other), in alternating rounds (ours, peer, ours, ...), so slow
phases of this shared machine hit both sides. A process trains `warmup`
untimed steps (tracing, allocation), then times `steps` steps, and prints
one JSON line {"items_per_second": ...}. The report is the median per side
and the ratio to the peer (>= 1.0 means this project is faster).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_parser(doc, warmup, steps):
    """argparse with --rounds/--warmup/--steps (and the internal --measure) set up."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=warmup, help="untimed steps per process")
    parser.add_argument("--steps", type=int, default=steps, help="timed steps per process")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: one side, one process
    return parser


def keras_fit_speed(model, data, warmup, steps, items_per_step):
    """Items/second of `model.fit` over `warmup + steps` batches of `data`.

    With steps_per_execution > 1, Keras calls on_train_batch_end once per
    call with the call's last step, so the clock counts steps, not calls;
    warmup and steps should then be multiples of it.
    """
    import keras

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.marks = []  # (steps done, time)

        def on_train_batch_end(self, batch, logs=None):
            self.marks.append((batch + 1, time.perf_counter()))

    clock = StepClock()
    model.fit(data, epochs=1, steps_per_epoch=warmup + steps, callbacks=[clock], verbose=0)
    # From the end of the last warm-up step to the end of the last step.
    start_steps, start = next(mark for mark in clock.marks if mark[0] >= warmup)
    end_steps, end = clock.marks[-1]
    return (end_steps - start_steps) * items_per_step / (end - start)


def loop_speed(train_step, warmup, steps, items_per_step):
    """Items/second of calling train_step(i) for i in range(warmup + steps)."""
    for i in range(warmup):
        train_step(i)
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        train_step(i)
    return steps * items_per_step / (time.perf_counter() - start)


def print_measurement(items_per_second):
    """The last stdout line of a measuring process."""
    print(json.dumps({"items_per_second": items_per_second}))


def json_from_subprocess(module, *args, name=None):
    """Runs `python -m module args...` in a fresh interpreter; the JSON of its last stdout line.

    Benchmarks run as modules of the `benchmarks` package, so they import the
    project without editing sys.path. A failure ends the benchmark with the
    process's stderr tail.
    """
    command = [sys.executable, "-m", module, *args]
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{name or module} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def measure_in_subprocess(script, side, warmup, steps):
    """Runs `python -m benchmarks.<script> --measure side ...` in a fresh interpreter.

    Returns its items/second.
    """
    module = "benchmarks." + os.path.splitext(os.path.basename(script))[0]
    return json_from_subprocess(module, "--measure", side, "--warmup", str(warmup),
                                "--steps", str(steps), name=side)["items_per_second"]


def compare(script, sides, peer, rounds, warmup, steps, unit, names):
    """Alternating rounds over `sides` (the peer last); prints and returns the medians."""
    speeds = {side: [] for side in sides}
    for round_number in range(rounds):
        for side in sides:
            speeds[side].append(measure_in_subprocess(script, side, warmup, steps))
            print(f"round {round_number + 1}: {names[side]:>28} {speeds[side][-1]:10,.0f} "
                  f"{unit}/s", flush=True)
    medians = {side: statistics.median(values) for side, values in speeds.items()}
    print(f"\n{steps} timed steps x {rounds} rounds; medians")
    print(f"{'side':>28} {unit + '/s':>12} {'ratio vs ' + names[peer]:>24}")
    for side in sides:
        print(f"{names[side]:>28} {medians[side]:12,.0f} {medians[side] / medians[peer]:24.2f}")
    return medians


def run_pair(script, doc, measures, names, unit, warmup, steps, header=None):
    """The main of a two-sided benchmark: this project against a peer (the second side).

    `measures` is {side: function(warmup, steps) -> items/second}. With the
    internal --measure SIDE a process times one side; without it, alternating
    rounds of fresh processes compare the sides and print the medians.
    """
    args = make_parser(doc, warmup, steps).parse_args()
    if args.measure:
        print_measurement(measures[args.measure](args.warmup, args.steps))
        return
    if header:
        print(header)
    sides = list(measures)
    compare(script, sides, sides[-1], args.rounds, args.warmup, args.steps, unit, names)

