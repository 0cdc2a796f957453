"""Variational autoencoder (Kingma & Welling 2014) on MNIST, Fashion-MNIST or a folder of images.

    python -m gan.vae train --dataset mnist --data_dir ../shared/data/mnist --out_dir runs/vae
    python -m gan.vae train --data_dir ../shared/data/mnist --latent_dim 2 \
        --out_dir runs/vae2d                   # + manifold.png and latent_codes.png
    python -m gan.vae train --likelihood gaussian --sigma 0.1 --out_dir runs/vae_gauss
    python -m gan.vae train --out_dir runs/vae --resume --epochs 30
    python -m gan.vae evaluate --run_dir runs/vae --data_dir ../shared/data/mnist
    python -m gan.vae generate --run_dir runs/vae --num 64 --out grid.png --seed 1
    python -m gan.vae interpolate --run_dir runs/vae --seed_a 1 --seed_b 2 --out row.png
    python -m gan.vae arithmetic --run_dir runs/vae --a 3 8 --b 5 --c 21 --out sum.png
    python -m gan.vae export --run_dir runs/vae --export_dir exports/vae

The encoder gives (mu, log sigma^2) of q(z|x); z = mu + sigma * eps (the
reparameterization trick); the decoder gives Bernoulli pixel probabilities
(MNIST binarized at 0.5) or, with `--likelihood gaussian`, Gaussian pixel means
of fixed `--sigma`. The loss is the negative ELBO: reconstruction plus the
closed-form KL(q(z|x) || N(0, I)), per image, in nats. The data flags, the
sample grids and progress.gif, `generate`/`interpolate`/`arithmetic` and the SavedModel
(`generate(count, seed)` and `decode(z)` -> uint8 images, the decoder's mean
x 255) are the DCGAN's (gan.dcgan). A run of one cannot be resumed as the
other. No validation split is held out, so `--checkpoint best` is the epoch
with the lowest training loss.

`evaluate` writes results.json with the test -ELBO (nats per image, test
images binarized at 0.5) and FID-MNIST / inception score of 10,000 decoded
prior samples, scored as `dcgan evaluate` scores a GAN (gan/metrics.py).

Expected results on MNIST (2 CPU cores; benchmarks/RESULTS.md, "VAE"; `evaluate
--num 10000 --seed 12345`):

                                  epochs  test -ELBO (nats)  inception score  FID-MNIST
    --preset default (latent 20)    20         81.33              6.23          38.61    3.8 min
    --latent_dim 2                  10        139.51              6.59         121.86    2.4 min
    DCGAN --preset default          20           -                6.55          33.38
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("gan.vae_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
