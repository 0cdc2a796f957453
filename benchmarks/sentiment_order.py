"""The order contrast at full scale: lstm, bilstm and bow on the generated order task.

    python -m benchmarks.sentiment_order                         # small preset, about 6 minutes
    python -m benchmarks.sentiment_order --seeds 0 1 2           # three seeds each
    python -m benchmarks.sentiment_order --preset test --max_examples 500 --out /tmp/o.json

The order task (week3_rnn.sentiment_data, `--dataset order`): templates such as
"X , not Y" and "not Y but X" assert one adjective and deny one of the other
polarity, the label is X's, and every bag of words occurs with both labels. The
test part is chosen by a hash of each sentence, so no test sentence was seen
in training. A network that reads the order (lstm, bilstm) should solve it; the
mean of the embeddings (bow) cannot beat chance, however long it trains.

Each arch is trained with `sentiment.train` exactly as `train --dataset order
--preset P --arch A --seed S` would (its run folder in a temporary directory,
or under --runs), then scored by `sentiment.evaluate` on the held-out test
part. Prints a Markdown table (test accuracy, training minutes, parameters) and
writes the rows as JSON to --out (default: beside this script).
"""

import dataclasses
import json
import os
import tempfile
import time

from common.argtypes import count, whole_number_in
from common.cli import make_parser, run_cli

ARCHS = ("lstm", "bilstm", "bow")
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sentiment_order.json")


def run_one(arch, preset, seed, runs_dir, epochs=None, max_examples=None):
    """{arch, seed, accuracy, minutes, ...} of one training run and its evaluation."""
    import contextlib
    import io

    from week3_rnn import sentiment_verbs
    from week3_rnn.sentiment_data import load_order_task
    from week3_rnn.sentiment_model import PRESETS

    overrides = {"arch": arch}
    if epochs:
        overrides["epochs"] = epochs
    if max_examples is not None:
        overrides["max_examples"] = max_examples
    config = dataclasses.replace(PRESETS[preset], **overrides)
    data = load_order_task(config, seed)
    run_dir = os.path.join(runs_dir, f"order_{arch}_seed{seed}")
    start = time.perf_counter()
    model, state, vocab = sentiment_verbs.train(config, run_dir, data, seed=seed, verbose=0)
    minutes = (time.perf_counter() - start) / 60
    with contextlib.redirect_stdout(io.StringIO()):
        results = sentiment_verbs.evaluate(run_dir, data.test)
    return {"arch": arch, "seed": seed, "preset": preset, "epochs": config.epochs,
            "accuracy": results["accuracy"], "minutes": minutes,
            "train_texts": len(data.train), "test_texts": len(data.test),
            "parameters": model.count_params(), "vocabulary": len(vocab),
            "best_epoch": state.get("best_epoch")}


def table(rows):
    lines = ["| arch | seed | epochs | test accuracy | minutes | parameters |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['arch']} | {r['seed']} | {r['epochs']} | {r['accuracy']:.4f} | "
              f"{r['minutes']:.1f} | {r['parameters']:,} |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS),
                        help="networks to train")
    parser.add_argument("--preset", choices=("test", "small", "medium"), default="small",
                        help="week3_rnn.sentiment_model preset")
    parser.add_argument("--seeds", nargs="+", type=whole_number_in(0, 2 ** 31 - 1),
                        default=[0], help="one run per arch and seed")
    parser.add_argument("--epochs", type=count(1000), default=None,
                        help="epochs (default: the preset's)")
    parser.add_argument("--max_examples", type=whole_number_in(0, 10 ** 8), default=None,
                        help="texts per part (default: the preset's; small: all 20,000 "
                             "sentences, about 16,000 for training)")
    parser.add_argument("--runs", default=None,
                        help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the JSON of the rows")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            for arch in args.archs:
                rows.append(run_one(arch, args.preset, seed, args.runs or scratch,
                                    args.epochs, args.max_examples))
                print(json.dumps(rows[-1]), flush=True)
    print(table(rows))
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"benchmark": "sentiment_order", "rows": rows}, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
