"""LeNet-5 training speed on MNIST-shaped batches: week1_basics.mnist against PyTorch.

    pip install -r benchmarks/requirements.txt   # the peer (PyTorch)
    python -m benchmarks.lenet5_vs_pytorch --rounds 3

Both sides train the lecture's LeNet-5 as `python -m week1_basics.mnist train`
builds it with no flags (28x28 padded to 32, C1 6@5x5, max pool, C3 16@5x5,
max pool, C5 120@5x5, F6 84, 10 logits, ReLU; pixels standardised in the
model) with Adam at 2e-3 and softmax cross-entropy, on the same random uint8
batches, each side in its own process, alternating rounds. This project's
side is its training path, `model.fit` on a tf.data pipeline at train's
--steps_per_execution (10 steps per graph call); PyTorch's a plain loop.
The ratio >= 1.0 means this project is faster.
"""

import dataclasses

import numpy as np

from benchmarks.side_by_side import keras_fit_speed, loop_speed, run_pair

MEAN, STD = 0.1307, 0.3081


def random_batches(count, batch, seed=0):
    """(count, batch, 28, 28, 1) uint8 images and (count, batch) labels."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(count, batch, 28, 28, 1), dtype=np.uint8),
            rng.integers(0, 10, size=(count, batch)).astype(np.int64))


def keras_lenet5():
    """(model, config): LeNet-5 as `train` compiles it, random shifts off (PyTorch has none)."""
    from week1_basics.mnist_models import PRESETS, build_model, compile_model

    config = dataclasses.replace(PRESETS["lenet5"], translate=0)
    return compile_model(build_model(config), config, config.steps_per_execution), config


def torch_lenet5():
    """(model, optimizer): the PyTorch twin, Adam at the preset's rate."""
    import torch
    from torch import nn

    from week1_basics.mnist_models import PRESETS

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.ZeroPad2d(2), nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.ReLU(),
        nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return model, torch.optim.Adam(model.parameters(), lr=PRESETS["lenet5"].learning_rate)


def torch_batches(count, batch):
    """random_batches as PyTorch tensors: float NCHW images (0..255) and int64 labels."""
    import torch

    images, labels = random_batches(count, batch)
    return torch.from_numpy(images).permute(0, 1, 4, 2, 3).float(), torch.from_numpy(labels)


def torch_loss(model, images, labels):
    """Softmax cross-entropy of the model on a batch, pixels standardised as Keras's layer does."""
    from torch import nn

    return nn.functional.cross_entropy(model((images / 255 - MEAN) / STD), labels)


def tfcourse_speed(warmup, steps):
    import tensorflow as tf

    # Steps per graph call as `train` sets them (warmup and steps are multiples).
    model, config = keras_lenet5()
    images, labels = random_batches(warmup + steps, config.batch_size)
    data = tf.data.Dataset.from_tensor_slices(
        (images.astype(np.float32), labels)).prefetch(2)
    return keras_fit_speed(model, data, warmup, steps, config.batch_size)


def pytorch_speed(warmup, steps):
    from week1_basics.mnist_models import PRESETS

    batch = PRESETS["lenet5"].batch_size
    model, optimizer = torch_lenet5()
    images, labels = torch_batches(warmup + steps, batch)

    def train_step(i):
        optimizer.zero_grad()
        torch_loss(model, images[i], labels[i]).backward()
        optimizer.step()

    return loop_speed(train_step, warmup, steps, batch)


def main():
    run_pair(__file__, __doc__, {"tfcourse": tfcourse_speed, "pytorch": pytorch_speed},
             {"tfcourse": "tfcourse week1_basics.mnist", "pytorch": "pytorch LeNet-5"},
             "images", warmup=10, steps=200)


if __name__ == "__main__":
    main()
