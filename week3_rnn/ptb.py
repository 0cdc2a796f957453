"""Penn Treebank word-level LSTM language model (Zaremba et al.; the TF PTB tutorial).

    python -m week3_rnn.ptb train --data_dir ../shared/data/ptb --preset small \
        --out_dir runs/ptb_small
    python -m week3_rnn.ptb train --data_dir ../shared/data/ptb --preset small \
        --out_dir runs/ptb_small --resume                 # after Ctrl-C or a crash
    python -m week3_rnn.ptb evaluate --run_dir runs/ptb_small --split test
    python -m week3_rnn.ptb evaluate --run_dir runs/ptb_small --text my_sentences.txt
    python -m week3_rnn.ptb score --run_dir runs/ptb_small "the company said it expects N profit"
    python -m week3_rnn.ptb generate --run_dir runs/ptb_small --num 5 --length 30
    python -m week3_rnn.ptb export --run_dir runs/ptb_small --export_dir exports/ptb_small
    python -m week3_rnn.ptb export --run_dir runs/ptb_small --export_dir exports/ptb_tfl \
        --format litert                   # logits.tflite: ids and state in, out

Without --data_dir, `train` downloads ptb.{train,valid,test}.txt (the data of
Mikolov's simple-examples archive) once into the Keras cache, checking their
SHA-256 sums. Each epoch prints the learning rate, train and valid perplexity
and words/second; the end, the test perplexity (batch 1, state carried) and
results.json; `evaluate` measures it again for the best (or last) checkpoint,
on any split or text file. Test perplexity to expect (this project's runs are
in benchmarks/RESULTS.md):

    preset   model                           epochs  tutorial  published
    small    2 x 200, no dropout             13      115.91    -
             (this project: 115.58 after 5 epochs, 25 minutes on 2 CPU cores)
    medium   2 x 650, dropout 0.5            39      82.07     82.7 (Zaremba et al.)
    large    2 x 1500, dropout 0.65          55      78.29     78.4 (Zaremba et al.)
    tied     2 x 650, tied, variational      39      -         77.7 (Press & Wolf)

Old spellings still work, with a note: `generate --num_sentences` is `--num`,
`generate --max_words` is `--length`.
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week3_rnn.ptb_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
