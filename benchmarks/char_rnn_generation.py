"""Generation speed of an exported char-RNN SavedModel (small preset).

Exports a run (or, without --run_dir, an untrained small-preset model with a
65-character vocabulary: speed does not depend on the weights), then loads it
in a fresh Python process that never imports this project and times the
`generate` signature. Prints the median characters/second over the repeats.

    python -m benchmarks.char_rnn_generation
    python -m benchmarks.char_rnn_generation --run_dir runs/shakespeare --length 2000
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

TIMING_SCRIPT = """
import json, statistics, sys, time
import tensorflow as tf
assert not any(name.startswith("week3_rnn") for name in sys.modules)
generate = tf.saved_model.load(EXPORT_DIR).signatures["generate"]
args = dict(prime=tf.constant(PRIME), length=tf.constant(LENGTH),
            temperature=tf.constant(1.0))
generate(**args)  # first call: loading and graph set-up
speeds = []
for _ in range(REPEATS):
    start = time.perf_counter()
    text = generate(**args)["text"].numpy()
    speeds.append(LENGTH / (time.perf_counter() - start))
print(json.dumps({"median": statistics.median(speeds), "all": speeds}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--run_dir", help="a char_rnn run to export (default: untrained small)")
    parser.add_argument("--length", type=int, default=2000, help="characters per call")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from week3_rnn import char_rnn
    from week3_rnn.char_model import PRESETS, build_char_rnn
    from common.text import CharVocab

    if args.run_dir:
        model, vocab = char_rnn.load_run(args.run_dir)
    else:
        vocab = CharVocab([chr(c) for c in range(32, 97)])  # 65 characters, like Shakespeare
        model = build_char_rnn(PRESETS["small"], len(vocab))
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = os.path.join(tmp, "export")
        char_rnn.export(model, vocab, export_dir)
        script = (TIMING_SCRIPT.replace("EXPORT_DIR", repr(export_dir))
                  .replace("PRIME", repr(vocab.chars[-1]))
                  .replace("LENGTH", str(args.length)).replace("REPEATS", str(args.repeats)))
        env = dict(os.environ, PYTHONPATH="")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                env=env, cwd=tmp)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    speeds = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"SavedModel generate, {model.num_layers} x {model.units} {model.cell}, "
          f"{args.length} chars per call, {args.repeats} calls: "
          f"median {speeds['median']:,.0f} chars/s "
          f"(min {min(speeds['all']):,.0f}, max {max(speeds['all']):,.0f})")


if __name__ == "__main__":
    main()
