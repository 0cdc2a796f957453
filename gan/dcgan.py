"""DCGAN (Radford et al. 2016) on MNIST, Fashion-MNIST or a folder of images.

    python -m gan.dcgan train --dataset mnist --data_dir ../shared/data/mnist --out_dir runs/dcgan
    python -m gan.dcgan train --dataset fashion_mnist \
        --data_dir /usr/share/datasets/fashion-mnist --out_dir runs/fashion
    python -m gan.dcgan train --image_dir my_faces/ --image_size 64 --out_dir runs/faces
    python -m gan.dcgan train --out_dir runs/dcgan --resume --epochs 30
    python -m gan.dcgan train --preset fc_gan --out_dir runs/fc_gan   # the course's GAN
    python -m gan.dcgan train --loss wgan_gp --out_dir runs/wgan_gp   # or minimax, lsgan, hinge
    python -m gan.dcgan evaluate --run_dir runs/dcgan --data_dir ../shared/data/mnist
    python -m gan.dcgan generate --run_dir runs/dcgan --num 64 --out grid.png --seed 1
    python -m gan.dcgan interpolate --run_dir runs/dcgan --seed_a 1 --seed_b 2 --out row.png
    python -m gan.dcgan arithmetic --run_dir runs/dcgan --a 3 8 12 --b 5 9 --c 21 --out sum.png
    python -m gan.dcgan arithmetic --run_dir runs/dcgan --data_dir ../shared/data/mnist \
        --a class:7 --b class:1 --c class:4 --out digits.png    # class means (gan.arithmetic)
    python -m gan.dcgan export --run_dir runs/dcgan --export_dir exports/dcgan
    python -m gan.dcgan export --run_dir runs/dcgan --export_dir exports/dcgan_tfl \
        --format litert                                     # decode.tflite for LiteRT

`--loss` picks the adversarial loss (gan/losses.py): the paper's
non_saturating by default, the original minimax, lsgan, wgan_gp (its critic
uses layer norm instead of batch norm) or hinge. `arithmetic` decodes
mean(a) - mean(b) + mean(c) of groups of latent points (gan/arithmetic.py).
`--arch dcgan|fc_gan` picks the architecture alone; the old `--model fc_gan`
still works as before (it also takes the fc_gan preset when no --preset is
given). A GAN has no validation loss, so `--checkpoint best` and `last` both
read the last finished epoch. `evaluate` writes results.json with the
numbers below (FID against the test split, a classifier trained on the
training split; --classifier FILE.keras keeps that classifier for next time).

Expected results on MNIST after 20 epochs (2 CPU cores; commands and details
in benchmarks/RESULTS.md, measured by benchmarks/dcgan.py; `evaluate --num 10000
--seed 12345` takes the same measurement of one run):

                           inception score   FID-MNIST (vs real test)
    real test images            9.66              0
    real train vs test          9.67              0.68
    DCGAN --preset default      6.55              33.38    25-35 s/epoch with the CPU free
    DCGAN --preset paper        7.63              12.56    about 90 s/epoch
    fc_gan (the course's)       2.69             189.67

By --loss, after 10 epochs of --preset default, seed 0 (benchmarks.dcgan --losses):

    --loss                      inception score   FID-MNIST
    minimax                     4.40              79.37    saturates: D(G(z)) < 0.001, epochs 2-7
    non_saturating (default)    6.39              36.76
    lsgan                       6.37              37.13
    wgan_gp                     6.58              30.19
    hinge                       6.49              35.00
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("gan.dcgan_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
