"""Many-to-one text classification (sentiment) with an LSTM, a bidirectional LSTM or a bag of words.

    python -m week3_rnn.sentiment train --dataset order --arch lstm --out_dir runs/order_lstm
    python -m week3_rnn.sentiment train --dataset order --arch bow --out_dir runs/order_bow
    python -m week3_rnn.sentiment train --data_dir ~/data/aclImdb --arch bilstm \
        --out_dir runs/imdb                                   # IMDB's folder layout
    python -m week3_rnn.sentiment train --data_dir ~/data/nsmc --tokens char \
        --out_dir runs/nsmc                                   # NSMC (Korean)
    python -m week3_rnn.sentiment train --text reviews.tsv --out_dir runs/mine  # TEXT<TAB>LABEL
    python -m week3_rnn.sentiment train --out_dir runs/imdb_tfds  # tfds imdb_reviews (online)
    python -m week3_rnn.sentiment evaluate --run_dir runs/imdb        # its held-out test part
    python -m week3_rnn.sentiment predict --run_dir runs/imdb "a wonderful, moving film"
    python -m week3_rnn.sentiment predict --run_dir runs/nsmc --input reviews.txt
    python -m week3_rnn.sentiment export --run_dir runs/imdb --export_dir exports/imdb
    python -m week3_rnn.sentiment export --run_dir runs/imdb --export_dir exports/imdb_lite \
        --format litert                 # probabilities.tflite: token ids in (tokenize outside)

The lecture's many-to-one RNN: a whole text in, one class out.

    token_ids        (batch, time)             0 = <pad> after the last token
    embedding        (batch, time, dim)        mask_zero=True: padding is masked
    lstm             (batch, units)            the state after the last real token
    bilstm           (batch, 2 * units)        forward after the last, backward after the first
    bow              (batch, units)            masked mean of the embeddings, Dense(relu)
    softmax          (batch, classes)

Data (one source per run): `--data_dir` in the IMDB layout
(aclImdb/{train,test}/{pos,neg}/*.txt; train/unsup is ignored; class names are
the folder names) or the NSMC layout (ratings_train.txt, ratings_test.txt:
`id<TAB>document<TAB>label`, Korean, 0 = neg, 1 = pos; empty documents are
skipped and counted); `--text FILE` of `text<TAB>label` lines (labels as
written, printed by predict); `--dataset order`, generated below; nothing:
tensorflow-datasets' imdb_reviews (downloaded once; offline it stops with one
error line). The validation part, and for --text and order the test part too,
is chosen by a hash of each text, so `evaluate --run_dir R` re-reads the
recorded source and scores exactly the held-out test part.

Texts are tokens (`--tokens word`: lower-cased words and punctuation, any
script; `char`: characters). Training, evaluate, predict and the export read
at most `--max_length` tokens per text: a longer text keeps its LAST ones
(reviews tend to end with the verdict); predict notes each truncated text on
stderr. Tokens unseen in training become <unk> and are counted, never an error.

The order task (`--dataset order`, no download) needs word order: templates
such as "X , not Y" and "not Y but X" assert one adjective and deny one of the
other polarity; the label is X's. "good , not bad" is pos, "bad , not good"
is neg: every bag of words occurs with both labels, so `bow` cannot beat
chance while `lstm` and `bilstm` solve it (benchmarks/sentiment_order.py).

`export` writes a SavedModel: serving_default(texts (batch,) string) ->
labels, probability, probabilities (batch, classes), tokens, unknown_tokens
(week3_rnn/sentiment_servable.py). `--format litert` writes the model alone
(LiteRT has no string ops for the tokenizer): token ids (1, max_length) in,
probabilities out; metadata.json holds the vocabulary and class names.

Expected results (2 CPU cores shared with other jobs, load 6-10; test accuracy
from `evaluate`; python -m benchmarks.sentiment_order, about 4 minutes):

    data                          arch     preset  epochs  minutes  test accuracy
    order (generated, 16k train)  lstm     small    5       1.5      1.0000
    order                         bilstm   small    5       2.1      1.0000
    order                         bow      small    5       0.4      0.4940 (chance)
    IMDB (aclImdb, 25k reviews)   bilstm   small    5       not measured: no copy offline
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week3_rnn.sentiment_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
