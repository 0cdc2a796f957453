"""Character-level RNN on any text, the lecture's char-rnn in Keras 3.

    python -m week3_rnn.char_rnn train                       # Python stdlib source, offline
    python -m week3_rnn.char_rnn train --text my_novel.txt --out_dir runs/novel
    python -m week3_rnn.char_rnn train --dataset tiny_shakespeare \
        --data_dir ../shared/data/tinyshakespeare --out_dir runs/shakespeare
    python -m week3_rnn.char_rnn train --out_dir runs/shakespeare --resume --epochs 30
    python -m week3_rnn.char_rnn generate --run_dir runs/shakespeare --prime "ROMEO:" --length 500
    python -m week3_rnn.char_rnn evaluate --run_dir runs/shakespeare --text held_out.txt
    python -m week3_rnn.char_rnn export --run_dir runs/shakespeare --export_dir exports/shakespeare
    python -m week3_rnn.char_rnn export --run_dir runs/shakespeare --export_dir exports/tfl \
        --format litert                                   # logits.tflite for LiteRT
    python -m week3_rnn.char_rnn train --cell peephole_lstm   # or lecture_rnn, gru, rnn, ...
    python -m week3_rnn.char_rnn gradient-flow --run_dir runs/rnn --run_dir runs/lstm \
        --out gradient_flow.png                 # the vanishing-gradient figure, measured

Expected results (2 CPU cores; details and commands in benchmarks/RESULTS.md):

    tinyshakespeare, --preset small, 10% tail   val loss 1.496 nats/char after
                                                11 epochs (17 min), 1.494 after 13
    training speed, 2 x 256 LSTM, batch 64x100  ~11,800 chars/s (0.78x PyTorch)
    SavedModel generation, small preset         ~9,000-14,000 chars/s
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week3_rnn.char_rnn_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
