"""Encoder-decoder translation (seq2seq) with and without attention, greedy and beam search.

    python -m week3_rnn.translate train --dataset dates --out_dir runs/dates
    python -m week3_rnn.translate train --pairs spa.txt --tokens word --out_dir runs/spa
    python -m week3_rnn.translate train --dataset cmudict --data_dir ../shared/data/cmudict \
        --preset g2p --out_dir runs/g2p
    python -m week3_rnn.translate train --dataset reverse --preset reverse --arch seq2seq \
        --out_dir runs/reverse_seq2seq
    python -m week3_rnn.translate evaluate --run_dir runs/g2p --beam 5   # the held-out test part
    python -m week3_rnn.translate predict --run_dir runs/dates "2021년 3월 5일" "5 Mar 2021"
    python -m week3_rnn.translate predict --run_dir runs/g2p --beam 5 --out maps/ tensorflow
    python -m week3_rnn.translate export --run_dir runs/dates --export_dir exports/dates

Data (`train`): a tab-separated pairs file (--pairs, the Anki/Tatoeba format:
source<TAB>target, extra columns ignored; --tokens char|word); the CMU
Pronouncing Dictionary as grapheme -> phoneme pairs (--dataset cmudict, stress
digits dropped unless --keep_stress); or a generated task that needs no
download: reverse (--min_length..--max_length letters), dates (English and
Korean phrasings -> ISO 8601) or addition ("123+45" -> "168", --digits).
Every source gets a deterministic validation and test part by a hash of its
key (a CMUdict word with all its pronunciations), so `evaluate --run_dir R`
re-reads the data config.json names and scores the test part it never saw.

The models (--arch; shapes in translate_model.py): `seq2seq`, the lecture's
encoder-decoder, where the encoder LSTM's final state is all the decoder
knows of the source; `attention`, Luong et al. (2015) global attention with
the general score h_t . W_a h_s over the encoder outputs, applied to the
decoder LSTM's outputs. Both are trained with teacher forcing; padding is
masked in the encoder, in the attention and in the loss. --reverse_source
reads sources backwards (Sutskever et al. 2014); --encoder bi makes each
encoder layer a forward and a backward LSTM (the g2p preset's). At inference, greedy
decoding or --beam N (N hypotheses; 1 is greedy) in TensorFlow ops
(common.decoding); deterministic. predict refuses an input longer than the
run's --max_length tokens (the model never saw one); `export` writes a
SavedModel that takes strings and returns strings (and attention weights).

`evaluate` writes results.json: exact match, corpus BLEU-4 (sacrebleu, over
the task's own tokens joined by spaces with tokenize="none"), the token
error rate (edit distance / reference length; for CMUdict the phoneme error
rate and the word error rate), all also by source length; unknown tokens
are counted.

Expected results (2 shared CPU cores at load 5-10; benchmarks/translate_*.py,
the held-out test part, greedy decoding unless a beam is named):

    task                                 arch       preset    epochs  minutes  result
    reverse 5-30 letters, lengths 21-30  attention  reverse   3       7.9     exact 0.9997
    reverse 5-30 letters, lengths 21-30  seq2seq    reverse   3       9.8     exact 0.091
    addition, operands of 1-3 digits     attention  addition  7       7.4     exact 0.9981
    CMUdict G2P, no stress               attention  g2p       10      44.5    WER 28.3%
                                                                              PER 6.67%
    the same, --beam 5                                                        WER 28.0%

The G2P run's 44.5 minutes were on cores shared with two other jobs (load
6-7, 215-360 s an epoch); the target is 30 minutes on 2 idle cores.
Published attention G2P reaches about 22-24% WER and 5-6% PER on its own
CMUdict split; ours is a hashed 10% of the words, so the figures compare in
size, not to the decimal.
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week3_rnn.translate_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
