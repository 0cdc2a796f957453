"""Word-spacing restoration with a bidirectional LSTM: the future really helps.

    python -m week3_rnn.spacing train --text korean.txt --out_dir runs/spacing_ko
    python -m week3_rnn.spacing train --dataset tiny_shakespeare \
        --data_dir ../shared/data/tinyshakespeare --out_dir runs/spacing_en
    python -m week3_rnn.spacing train --dataset tiny_shakespeare \
        --data_dir ../shared/data/tinyshakespeare --direction uni --out_dir runs/spacing_en_uni
    python -m week3_rnn.spacing evaluate --run_dir runs/spacing_en \
        --data_dir ../shared/data/tinyshakespeare            # the held-out tail
    python -m week3_rnn.spacing evaluate --run_dir runs/spacing_ko --text other_korean.txt
    python -m week3_rnn.spacing predict --run_dir runs/spacing_ko "아버지가방에들어가신다"
    python -m week3_rnn.spacing predict --run_dir runs/spacing_en --input lines.txt
    python -m week3_rnn.spacing export --run_dir runs/spacing_ko --export_dir exports/spacing_ko

`train` removes the spaces of a UTF-8 text (any language; the default is the
char-RNN's offline corpus, Python's standard library) and tags every remaining
character 1 if a space followed it, else 0. Windows of `--window` characters
train a per-character sigmoid; the last `--val_fraction` of the text is held
out, best.keras is the epoch with the lowest validation loss.

The tensor shapes of the lecture's bidirectional RNN, for --direction bi:

    token_ids                          (batch, time)
    embedding                          (batch, time, embedding_dim)
    per layer: forward LSTM            (batch, time, units)  reads t = 0 .. T-1
               backward LSTM           (batch, time, units)  reads t = T-1 .. 0
               concatenated            (batch, time, 2 * units)
    sigmoid head: P(space follows)     (batch, time, 1)

--direction uni is the same network with forward LSTMs only, (batch, time,
units) per layer: it must decide on a space before it has seen the next
word, the comparison the lecture's "use the past and the future" is about.

`predict` prints each text with its spaces removed and predicted anew, one
line per text and nothing else; no other character changes, and characters
the model never saw pass through. Texts longer than the window are read in
half-overlapping chunks, each character taking its prediction from the chunk
where it is most central. `export` writes a SavedModel whose serving
signature does the same: texts (batch,) string -> {"texts" (batch,) string}.

Expected results (2 shared CPU cores, load 7-13; commands in benchmarks/RESULTS.md):
character-level precision / recall / F1 of predicted spaces on the held-out
10% tail, `evaluate` after `--preset small`, the same epochs for bi and uni.

    corpus                              direction  epochs  minutes  P / R / F1
    tinyshakespeare (945k chars)        bi          3      12.1     0.964 / 0.965 / 0.964
    tinyshakespeare                     uni         3       4.1     0.757 / 0.742 / 0.749
    Korean: konlpy kobill + kolaw (50k) bi         30       7.7     0.937 / 0.903 / 0.920
    Korean                              uni        30       2.7     0.827 / 0.812 / 0.820
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week3_rnn.spacing_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
