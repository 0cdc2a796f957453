"""Where a LeNet-5 training step's time goes, this project against PyTorch, in milliseconds.

    python -m benchmarks.lenet5_step_breakdown

The model, batches and optimizer of lenet5_vs_pytorch.py (batch 128, Adam).
Each side, in its own fresh process, times the parts of a step alone: the
forward pass with the loss, the forward and backward pass (gradients of every
weight), the optimizer's update alone (on fixed gradients), and a whole step:
this project's through `model.fit` at train's steps_per_execution, as training
runs, and as one compiled `tf.function` of forward, backward and update;
PyTorch's as its plain loop. What the whole step costs beyond its parts is the
framework's per-step work (Keras's loop, callbacks, the input pipeline).
A second table times each layer's forward and backward alone (random inputs
of its shape; the gradients training asks for), to show which ops differ.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.lenet5_vs_pytorch import random_batches
from benchmarks.side_by_side import REPO_ROOT

COUNT = 40  # distinct batches, cycled


def milliseconds(call, wait, repeats=20, blocks=7):
    """Median over `blocks` blocks of the mean wall ms of `repeats` calls of call(i)."""
    for i in range(3):
        call(i)
    wait()
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for i in range(repeats):
            call(i)
        wait()
        times.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(times)


def tfcourse_parts():
    import dataclasses

    import numpy as np
    import tensorflow as tf

    from benchmarks.side_by_side import keras_fit_speed
    from week1_basics.mnist_models import PRESETS, build_model, compile_model

    config = dataclasses.replace(PRESETS["lenet5"], translate=0)
    model = compile_model(build_model(config), config, config.steps_per_execution)
    images, labels = random_batches(COUNT, config.batch_size)
    images = images.astype(np.float32)
    batches = [(tf.constant(x), tf.constant(y)) for x, y in zip(images, labels)]
    loss_fn = model.loss
    weights = model.trainable_variables
    model.optimizer.build(weights)
    fixed = [tf.ones_like(w) * 1e-4 for w in weights]
    done = {"last": None}

    def wait():
        if done["last"] is not None:
            tf.nest.map_structure(lambda t: t.numpy(), done["last"])

    @tf.function
    def forward(x, y):
        return loss_fn(y, model(x, training=True))

    @tf.function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, weights)

    @tf.function
    def update():
        model.optimizer.apply(fixed, weights)
        return weights[0].value

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        model.optimizer.apply(tape.gradient(loss, weights), weights)
        return loss

    def timed(run):  # run(i) returns what to wait for
        def call(i):
            done["last"] = run(i)
        return milliseconds(call, wait)

    def on_batches(function):
        return lambda i: function(*batches[i % COUNT])

    parts = {"forward and loss": timed(on_batches(forward)),
             "forward and backward": timed(on_batches(gradients)),
             "optimizer update alone": timed(lambda i: update()),
             "whole step, one tf.function": timed(on_batches(step))}
    data = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().prefetch(2)
    spe = config.steps_per_execution
    per_second = keras_fit_speed(model, data, 10 * spe, 30 * spe, config.batch_size)
    parts[f"whole step, model.fit ({spe} steps a call)"] = config.batch_size / per_second * 1e3
    return parts, tfcourse_layers(model, wait, done)


def tfcourse_layers(model, wait, done):
    """{layer: ms of its forward and backward alone} on random inputs of its shape."""
    import numpy as np
    import tensorflow as tf

    rng, layers, needs_input_gradient = np.random.default_rng(0), {}, False
    for layer in model.layers[1:]:
        shape = (128, *layer.input.shape[1:])
        x = tf.constant(rng.normal(size=shape).astype(np.float32))
        weights = layer.trainable_variables
        # Training never takes the gradient of the image, nor of layers before the first
        # weights: those gradients are not asked for here either.
        wrt = [x] * needs_input_gradient + weights
        needs_input_gradient = needs_input_gradient or bool(weights)
        if not wrt:
            continue
        upstream = tf.constant(rng.normal(size=(128, *layer.output.shape[1:]))
                               .astype(np.float32))

        function = forward_backward(layer, x, wrt, upstream)

        def call(i, function=function):
            done["last"] = function()

        layers[layer.name] = milliseconds(call, wait)
    return layers


def forward_backward(layer, x, wrt, upstream):
    """A tf.function of `layer`'s forward and backward on `x` (closed over, not arguments:
    a variable passed as an argument would arrive as a tensor, with no gradient)."""
    import tensorflow as tf

    @tf.function
    def run():
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * upstream)
        return tape.gradient(loss, wrt)

    return run


def pytorch_parts():
    import torch
    from torch import nn

    from benchmarks.lenet5_vs_pytorch import MEAN, STD
    from week1_basics.mnist_models import PRESETS

    torch.manual_seed(0)
    config = PRESETS["lenet5"]
    model = nn.Sequential(
        nn.ZeroPad2d(2), nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.ReLU(),
        nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    images, labels = random_batches(COUNT, config.batch_size)
    images = torch.from_numpy(images).permute(0, 1, 4, 2, 3).float()  # NCHW
    labels = torch.from_numpy(labels)

    def loss_of(i):
        x = (images[i % COUNT] / 255 - MEAN) / STD
        return nn.functional.cross_entropy(model(x), labels[i % COUNT])

    def forward(i):
        with torch.no_grad():  # as Keras's forward alone keeps no graph either
            loss_of(i)

    def backward(i):
        optimizer.zero_grad()
        loss_of(i).backward()

    for p in model.parameters():
        p.grad = torch.full_like(p, 1e-4)

    def update(i):
        optimizer.step()

    def step(i):
        optimizer.zero_grad()
        loss_of(i).backward()
        optimizer.step()

    def nothing():
        pass

    parts = {"forward and loss": milliseconds(forward, nothing),
             "forward and backward": milliseconds(backward, nothing),
             "optimizer update alone": milliseconds(update, nothing),
             "whole step, plain loop": milliseconds(step, nothing)}
    return parts, pytorch_layers(model, images[0] / 255, nothing)


def pytorch_layers(model, x, nothing):
    """{module: ms of its forward and backward alone}, as tfcourse_layers times Keras's."""
    import torch

    layers, needs_input_gradient = {}, False
    for index, module in enumerate(model):
        y = module(x).detach()
        weights = list(module.parameters())
        wrt_input = needs_input_gradient
        needs_input_gradient = needs_input_gradient or bool(weights)
        if wrt_input or weights:
            upstream = torch.randn_like(y)
            source = x.clone().requires_grad_(wrt_input)

            def call(i, module=module, source=source, upstream=upstream):
                module.zero_grad(set_to_none=True)
                (module(source) * upstream).sum().backward()

            layers[f"{index} {type(module).__name__}"] = milliseconds(call, nothing)
        x = y
    return layers


SIDES = {"tfcourse": tfcourse_parts, "pytorch": pytorch_parts}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args()
    if args.side:
        print(json.dumps(SIDES[args.side]()))
        return
    results = {}
    for side in SIDES:
        output = subprocess.run([sys.executable, "-m", "benchmarks.lenet5_step_breakdown",
                                 "--side", side], capture_output=True, text=True,
                                cwd=REPO_ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if output.returncode:
            raise SystemExit(f"{side} failed:\n{output.stderr[-3000:]}")
        results[side] = json.loads(output.stdout.strip().splitlines()[-1])
    print("| side | part of one step (batch 128) | ms |\n|---|---|---|")
    for side, (parts, _) in results.items():
        for name, ms in parts.items():
            print(f"| {side} | {name} | {ms:.2f} |")
    print("\n| side | layer: forward and backward alone | ms |\n|---|---|---|")
    for side, (_, layers) in results.items():
        for name, ms in layers.items():
            print(f"| {side} | {name} | {ms:.2f} |")
        print(f"| {side} | sum of the layers | {sum(layers.values()):.2f} |")


if __name__ == "__main__":
    main()
