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
import statistics
import time

from benchmarks.lenet5_vs_pytorch import (keras_lenet5, random_batches, torch_batches,
                                          torch_lenet5, torch_loss)
from benchmarks.side_by_side import json_from_subprocess

COUNT = 40  # distinct batches, cycled


def milliseconds(call, finish=lambda result: None, repeats=20, blocks=7):
    """Median over `blocks` blocks of the mean wall ms of `repeats` calls of call(i).

    finish(result) waits for the last call's result (TensorFlow runs ops
    asynchronously; PyTorch's CPU ops are done when they return).
    """
    for i in range(3):
        result = call(i)
    finish(result)
    times = []
    for _ in range(blocks):
        start = time.perf_counter()
        for i in range(repeats):
            result = call(i)
        finish(result)
        times.append((time.perf_counter() - start) / repeats * 1e3)
    return statistics.median(times)


def tfcourse_parts():
    import numpy as np
    import tensorflow as tf

    from benchmarks.side_by_side import keras_fit_speed

    model, config = keras_lenet5()
    images, labels = random_batches(COUNT, config.batch_size)
    images = images.astype(np.float32)
    batches = [(tf.constant(x), tf.constant(y)) for x, y in zip(images, labels)]
    weights = model.trainable_variables
    model.optimizer.build(weights)
    fixed = [tf.ones_like(w) * 1e-4 for w in weights]

    def finish(result):
        tf.nest.map_structure(lambda t: t.numpy(), result)

    def loss(x, y):
        return model.loss(y, model(x, training=True))

    @tf.function
    def gradients(x, y):
        with tf.GradientTape() as tape:
            value = loss(x, y)
        return tape.gradient(value, weights)

    @tf.function
    def update():
        model.optimizer.apply(fixed, weights)
        return weights[0].value

    @tf.function
    def step(x, y):
        model.optimizer.apply(gradients(x, y), weights)
        return weights[0].value

    def on_batches(function):
        return lambda i: function(*batches[i % COUNT])

    parts = {"forward and loss": milliseconds(on_batches(tf.function(loss)), finish),
             "forward and backward": milliseconds(on_batches(gradients), finish),
             "optimizer update alone": milliseconds(lambda i: update(), finish),
             "whole step, one tf.function": milliseconds(on_batches(step), finish)}
    data = tf.data.Dataset.from_tensor_slices((images, labels)).repeat().prefetch(2)
    spe = config.steps_per_execution
    per_second = keras_fit_speed(model, data, 10 * spe, 30 * spe, config.batch_size)
    parts[f"whole step, model.fit ({spe} steps a call)"] = config.batch_size / per_second * 1e3
    return parts, tfcourse_layers(model, finish)


def tfcourse_layers(model, finish):
    """{layer: ms of its forward and backward alone} on random inputs of its shape."""
    import numpy as np
    import tensorflow as tf

    rng, layers, needs_input_gradient = np.random.default_rng(0), {}, False
    for layer in model.layers[1:]:
        x = tf.constant(rng.normal(size=(128, *layer.input.shape[1:])).astype(np.float32))
        weights = layer.trainable_variables
        # Training never takes the gradient of the image, nor of layers before the first
        # weights: those gradients are not asked for here either.
        wrt = [x] * needs_input_gradient + weights
        needs_input_gradient = needs_input_gradient or bool(weights)
        if wrt:
            upstream = tf.constant(rng.normal(size=(128, *layer.output.shape[1:]))
                                   .astype(np.float32))
            run = forward_backward(layer, x, wrt, upstream)
            layers[layer.name] = milliseconds(lambda i, run=run: run(), finish)
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

    from week1_basics.mnist_models import PRESETS

    model, optimizer = torch_lenet5()
    images, labels = torch_batches(COUNT, PRESETS["lenet5"].batch_size)

    def loss_of(i):
        return torch_loss(model, images[i % COUNT], labels[i % COUNT])

    def forward(i):
        with torch.no_grad():  # as Keras's forward alone keeps no graph either
            loss_of(i)

    def backward(i):
        optimizer.zero_grad()
        loss_of(i).backward()

    def step(i):
        backward(i)
        optimizer.step()

    for weight in model.parameters():  # the update alone, on fixed gradients
        weight.grad = torch.full_like(weight, 1e-4)
    update = milliseconds(lambda i: optimizer.step())  # before backward replaces them
    parts = {"forward and loss": milliseconds(forward),
             "forward and backward": milliseconds(backward),
             "optimizer update alone": update,
             "whole step, plain loop": milliseconds(step)}
    return parts, pytorch_layers(model, images[0] / 255)


def pytorch_layers(model, x):
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

            layers[f"{index} {type(module).__name__}"] = milliseconds(call)
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
    results = {side: json_from_subprocess("benchmarks.lenet5_step_breakdown", "--side", side,
                                          name=side) for side in SIDES}
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
