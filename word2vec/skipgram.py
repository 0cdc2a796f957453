"""word2vec (skip-gram or CBOW with NCE loss) on any text: train, query, evaluate, export.

    python -m word2vec.skipgram train --text ../shared/data/word2vec/enwiki_sample.txt \
        --out_dir runs/w2v_enwiki
    python -m word2vec.skipgram train --dataset text8 --out_dir runs/text8   # downloads text8
    python -m word2vec.skipgram train --text my_text.txt --arch cbow --out_dir runs/mine
    python -m word2vec.skipgram train --text my_text.txt --arch cbow --out_dir runs/mine \
        --resume --epochs 10
    python -m word2vec.skipgram neighbors --run_dir runs/text8 king france computer
    python -m word2vec.skipgram analogy --run_dir runs/text8 man king woman
    python -m word2vec.skipgram evaluate --run_dir runs/text8 \
        --analogies questions-words.txt --wordsim wordsim353.tsv
    python -m word2vec.skipgram export --run_dir runs/text8 --export_dir exports/text8
    python -m word2vec.skipgram export --run_dir runs/text8 --export_dir exports/text8_tfl \
        --format litert                 # lookup_ids.tflite, neighbors_ids.tflite (by word id)

A run directory holds config.json, vocab.json (words and counts),
embeddings.npy, vectors.tsv + metadata.tsv (TensorBoard Embedding
Projector), tsne.png (the 500 most frequent words), checkpoints/, history.csv,
loss.png and TensorBoard logs; `evaluate` adds results.json. The old spellings
`--corpus` (for --text) and `--model` (for --arch) still work, with a note.

Expected results, skip-gram, --preset small (gensim's defaults: dim 100,
window 5, min_count 5, sample 1e-3, 5 epochs), against gensim's skip-gram with
negative sampling in the same run (benchmarks/word2vec_vs_gensim.py; details
in benchmarks/RESULTS.md):

    corpus                         analogies        WordSim-353      words/s
                                   ours / gensim    ours / gensim    ratio to gensim
    enwiki_sample (453k words)     2.49% / 1.83%    0.385 / 0.252    0.35
    enwiki_sample + PTB train      5.46% / 4.94%    0.348 / 0.323    0.35
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("word2vec.skipgram_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
