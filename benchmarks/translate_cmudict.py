"""Grapheme-to-phoneme on the CMU Pronouncing Dictionary: word and phoneme error rates.

    python -m benchmarks.translate_cmudict          # 10 epochs; 44.5 min of training at load 6-7
    python -m benchmarks.translate_cmudict --epochs 1 --max_examples 5000 \
        --out_dir /tmp/g2p_smoke                                   # a smoke run

Trains `--dataset cmudict --preset g2p` (attention, 2 layers of 256 units, a
bidirectional encoder, stress dropped) on ../shared/data/cmudict/cmudict.dict and scores the
held-out test part (10% of the words, by a hash of each word, every
pronunciation of a word a reference) greedily and with a beam of 5. A
predicted pronunciation is right when it equals one of the word's; PER is
the edit distance to the closest one over its length. Target (issue 22):
WER <= 30% and PER <= 8% within 30 minutes of training. Published attention
models reach about 22-24% WER and 5-6% PER on their own CMUdict split; this
split is a different one (hashed words), so the figures are comparable in
size, not to the decimal.
"""

import argparse
import os

from benchmarks.translate_runs import (DATA, REPO_ROOT, train_and_evaluate, verdict,
                                       write_json)

BEAMS = (1, 5)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=os.path.join(DATA, "cmudict"))
    parser.add_argument("--out_dir", default=os.path.join(REPO_ROOT, "runs", "bench_g2p"))
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--max_examples", type=int, default=None,
                        help="words read (default: the preset's, all of them)")
    parser.add_argument("--json", default=os.path.join(REPO_ROOT, "benchmarks",
                                                       "translate_cmudict.json"))
    args = parser.parse_args()
    extra = [*(["--epochs", args.epochs] if args.epochs else []),
             *(["--max_examples", args.max_examples] if args.max_examples else [])]
    run = train_and_evaluate(os.path.join(args.out_dir, "attention"),
                             ["--dataset", "cmudict", "--data_dir", args.data_dir, "--preset",
                              "g2p", *extra], beams=BEAMS)
    print(f"\n{'beam':>4}  {'words':>7}  {'WER':>7}  {'PER':>7}  {'BLEU':>6}")
    for beam, results in run["results"].items():
        print(f"{beam:>4}  {results['examples']:>7,}  {results['word_error_rate']:>7.2%}  "
              f"{results['phoneme_error_rate']:>7.2%}  {results['bleu']:>6.2f}")
    greedy = run["results"][1]
    ok = (greedy["word_error_rate"] <= 0.30 and greedy["phoneme_error_rate"] <= 0.08
          and run["train_minutes"] <= 30)
    print(f"attention G2P after {run['epochs']} epochs, {run['train_minutes']:.1f} min of "
          f"training: WER {greedy['word_error_rate']:.2%}, PER "
          f"{greedy['phoneme_error_rate']:.2%} (greedy); {verdict(ok)} (WER <= 30%, PER <= 8% "
          "within 30 min); published attention G2P: about 22-24% WER, 5-6% PER on their own "
          "split")
    write_json(args.json, {"attention": run})


if __name__ == "__main__":
    main()
