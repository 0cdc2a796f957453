"""DCGAN training speed: this project (Keras 3 / TF) against the same DCGAN in PyTorch.

The `default` preset's MNIST DCGAN (gan/model.py) on both sides: G dense ->
7x7 -> two stride-2 transposed convolutions with batch norm and ReLU, tanh
out; D two stride-2 convolutions with LeakyReLU(0.2) and batch norm, a dense
logit; N(0, 0.02) weights; Adam(2e-4, beta_1 0.5); batch 128; per step one D
update on real + fake images, then one G update with fresh noise (the
non-saturating loss). Random images, same on both sides.

Alternating rounds, each side in its own process (see side_by_side.py);
PyTorch runs twice, with its default threads and with one thread (faster on
a busy 2-core machine, where its OpenMP threads stall at every kernel).
Prints images/second per side, the ratio to PyTorch with default threads
(>= 1.0: this project is faster) and the seconds per MNIST epoch (468 steps).

    python -m benchmarks.dcgan_vs_pytorch    # needs: pip install -r benchmarks/requirements.txt
"""

import argparse
import os

import numpy as np

from benchmarks.side_by_side import (compare, keras_fit_speed, loop_speed, make_parser,
                                     print_measurement)

BATCH, SIZE, STEPS_PER_EPOCH = 128, 28, 60000 // 128
# The `default` preset's settings, spelled out so that the PyTorch process never
# imports Keras: TensorFlow loaded beside PyTorch makes PyTorch's CPU kernels
# about 5-10x slower here (measured: 197 vs 1,973 images/s), an unfair peer.
# tfcourse_speed checks that they still equal gan.model.PRESETS["default"].
SETTINGS = dict(latent_dim=100, generator_filters=24, discriminator_filters=24, kernel_size=4,
                batch_size=BATCH, learning_rate=2e-4, beta_1=0.5)


def random_images(count, seed=0):
    """(count, SIZE, SIZE, 1) float32 images in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(count, SIZE, SIZE, 1)).astype(np.float32)


def default_config():
    """The settings as an object with attributes (no Keras import)."""
    return argparse.Namespace(**SETTINGS)


def tfcourse_speed(warmup, steps):
    """Images/second of this project's training path (DCGAN.fit)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from gan.adversarial import build_dcgan
    from gan.model import PRESETS

    config = PRESETS["default"]
    if any(getattr(config, key) != value for key, value in SETTINGS.items()):
        raise SystemExit(f"update SETTINGS to the default preset: {config}")
    model = build_dcgan(config)
    data = (tf.data.Dataset.from_tensor_slices(random_images(16 * BATCH))
            .batch(BATCH).repeat().prefetch(2))
    return keras_fit_speed(model, data, warmup, steps, BATCH)


def torch_networks(config):
    """G and D in PyTorch with the shapes of gan.model's 28x28 builders."""
    from torch import nn

    k, g, d, z = (config.kernel_size, config.generator_filters,
                  config.discriminator_filters, config.latent_dim)
    pad = (k - 1) // 2
    out_pad = 2 + 2 * pad - k  # makes each transposed convolution double the size exactly

    class Unflatten(nn.Module):
        def forward(self, x):
            return x.view(-1, 2 * g, 7, 7)

    generator = nn.Sequential(
        nn.Linear(z, 7 * 7 * 2 * g, bias=False), Unflatten(), nn.BatchNorm2d(2 * g), nn.ReLU(),
        nn.ConvTranspose2d(2 * g, g, k, 2, pad, out_pad, bias=False), nn.BatchNorm2d(g),
        nn.ReLU(), nn.ConvTranspose2d(g, 1, k, 2, pad, out_pad), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Conv2d(1, d, k, 2, pad), nn.LeakyReLU(0.2),
        nn.Conv2d(d, 2 * d, k, 2, pad, bias=False), nn.BatchNorm2d(2 * d), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(7 * 7 * 2 * d, 1))
    for module in list(generator.modules()) + list(discriminator.modules()):
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, 0.02)
    return generator, discriminator


def pytorch_speed(warmup, steps, threads=None):
    """Images/second of the same DCGAN step in plain PyTorch (threads: None = its default)."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = default_config()
    generator, discriminator = torch_networks(config)
    g_adam = torch.optim.Adam(generator.parameters(), config.learning_rate,
                              betas=(config.beta_1, 0.999))
    d_adam = torch.optim.Adam(discriminator.parameters(), config.learning_rate,
                              betas=(config.beta_1, 0.999))
    loss = nn.BCEWithLogitsLoss()
    images = torch.from_numpy(random_images(16 * BATCH)).permute(0, 3, 1, 2).contiguous()
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)

    def train_step(i):
        real = images[(i % 16) * BATCH:(i % 16 + 1) * BATCH]
        with torch.no_grad():
            fake = generator(torch.randn(BATCH, config.latent_dim))
        d_adam.zero_grad(set_to_none=True)
        d_loss = loss(discriminator(real), ones) + loss(discriminator(fake), zeros)
        d_loss.backward()
        d_adam.step()
        g_adam.zero_grad(set_to_none=True)
        g_loss = loss(discriminator(generator(torch.randn(BATCH, config.latent_dim))), ones)
        g_loss.backward()
        g_adam.step()

    return loop_speed(train_step, warmup, steps, BATCH)


def main():
    parser = make_parser(__doc__, warmup=3, steps=10)
    args = parser.parse_args()

    if args.measure:
        print_measurement(tfcourse_speed(args.warmup, args.steps) if args.measure == "tfcourse"
                          else pytorch_speed(args.warmup, args.steps,
                                             threads=1 if args.measure == "pytorch_1" else None))
        return
    config = default_config()
    print(f"DCGAN default preset, 28x28x1, G filters {config.generator_filters}, D filters "
          f"{config.discriminator_filters}, kernel {config.kernel_size}, batch {BATCH}")
    # PyTorch also with one thread: on a busy 2-core machine its OpenMP
    # threads wait for each other at every kernel, and one thread can be faster.
    medians = compare(__file__, ["tfcourse", "pytorch_1", "pytorch"], "pytorch", args.rounds,
                      args.warmup, args.steps, "images",
                      {"tfcourse": "tfcourse DCGAN.fit", "pytorch": "pytorch nn.Sequential",
                       "pytorch_1": "pytorch, 1 thread"})
    for side, speed in medians.items():
        print(f"{side}: {STEPS_PER_EPOCH * BATCH / speed:.1f} s per MNIST epoch")


if __name__ == "__main__":
    main()
