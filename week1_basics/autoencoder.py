"""Autoencoders (week 1): an encoder/decoder, a linear one beside PCA, and the stacked one.

    python -m week1_basics.autoencoder train --data_dir ../shared/data/mnist --out_dir runs/ae
    python -m week1_basics.autoencoder train --linear --data_dir DIR --out_dir runs/linear
    python -m week1_basics.autoencoder train --arch stacked --data_dir DIR --out_dir runs/sae
    python -m week1_basics.autoencoder train --arch stacked --labels 100 --data_dir DIR \
        --out_dir runs/sae_100
    python -m week1_basics.autoencoder train --arch stacked --labels 100 --no-pretrain \
        --data_dir DIR --out_dir runs/scratch_100          # the same network, from scratch
    python -m week1_basics.autoencoder train --out_dir runs/ae --resume   # after a Ctrl-C
    python -m week1_basics.autoencoder evaluate --run_dir runs/sae
    python -m week1_basics.autoencoder export --run_dir runs/ae --export_dir exports/ae

--arch autoencoder: image -> 256 -> 32-unit code -> 256 -> image (ReLU, a
sigmoid output), trained on mean squared error of pixels in [0, 1]; --linear (preset linear:
no hidden layer, no activation) can at best equal PCA with the same code
size, and its evaluate reports PCA's test error beside its own.
--arch stacked (784 -> 256 -> 64, sigmoid) trains as the lecture notes do,
each stage a run of its own in a folder of --out_dir
(week1_basics/autoencoder_training.py): encoder 1 + decoder 1 on the images,
encoder 2 + decoder 2 on encoder 1's codes, a softmax on encoder 2's codes,
then fine-tuning of everything. --labels N
gives the two classifier stages only N labelled images (pretraining sees
every training image); --no-pretrain trains the same network from scratch.
--arch under a preset made for the other network (--preset test --arch
stacked) keeps that network's own sizes and activation; flags win over both.
--val_fraction of the training images (per class) is held out to choose
best.keras; the test set is read only by `evaluate`, which `train` runs at
the end: results.json (test_mse; stacked: test_accuracy; linear:
pca_test_mse) and reconstructions.png (originals over reconstructions).
The export takes uint8 images [N, 28, 28, 1] and returns reconstructions
(uint8) and codes; a stacked run's returns probabilities and codes, with the
pretrained stack's reconstructions in its `reconstruct` signature.

Expected results (2 CPU cores; details and commands in benchmarks/RESULTS.md):

    (no flags)   test MSE 0.00792 (PCA with the same 32-unit code: 0.01683), 110 s
    --linear     test MSE 0.016828, PCA's 0.016829, 80 s
    --arch stacked, test accuracy pretrained / from scratch (--no-pretrain):
      --labels 100   76.05% / 76.53%     --labels 1000   90.84% / 89.75%
      all labels     97.28% / 96.66%     (about 1-1.5 minutes each)
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week1_basics.autoencoder_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
