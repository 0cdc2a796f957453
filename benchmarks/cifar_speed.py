"""Training throughput (images/second) of every CIFAR-10 model on this machine.

    python -m benchmarks.cifar_speed                   # all models, their preset batch sizes
    python -m benchmarks.cifar_speed --models fast --widths 32 48 64 --jit_compile 0 1

Random images, the real model, optimizer and loss: model.fit for --steps steps
after two warm-up steps. The machine is shared, so the CPU seconds the process
used divided by the core count is reported too: the wall time it would take alone. Results are in benchmarks/RESULTS.md.
"""

import argparse
import dataclasses
import os
import time

from common.cli import quiet_tensorflow

quiet_tensorflow()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from week2_cnn.cifar_models import PRESETS, build_model  # noqa: E402
from week2_cnn.cifar_training import compile_model  # noqa: E402


def images_per_second(config, steps, jit_compile):
    model = build_model(config)
    compile_model(model, config, steps_per_epoch=steps, jit_compile=jit_compile)
    x = np.random.default_rng(0).integers(0, 256, (config.batch_size * steps, 32, 32, 3))
    y = np.eye(10, dtype=np.float32)[np.arange(len(x)) % 10]
    data = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y)).batch(
        config.batch_size).cache().repeat()
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # traces and warms up
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    images = steps * config.batch_size
    # The machine is shared: CPU seconds / cores is the wall time it would take alone.
    cpu_wall = (time.process_time() - cpu_start) / os.cpu_count()
    return images / (time.perf_counter() - start), images / cpu_wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["tutorial", "vgg", "resnet", "fast"],
                        help="presets to measure")
    parser.add_argument("--widths", nargs="+", type=int, default=None,
                        help="override the preset's width (each one measured)")
    parser.add_argument("--batch_size", type=int, default=None, help="override the batch size")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--jit_compile", nargs="+", type=int, default=[0],
                        help="1: XLA, 0: TensorFlow's own (oneDNN) kernels")
    args = parser.parse_args()
    for name in args.models:
        for width in args.widths or [PRESETS[name].width]:
            config = dataclasses.replace(PRESETS[name], width=width,
                                         batch_size=args.batch_size or PRESETS[name].batch_size)
            for jit in args.jit_compile:
                speed, alone = images_per_second(config, args.steps, bool(jit))
                print(f"{name:9s} width {width:3d} batch {config.batch_size:4d} xla {jit}: "
                      f"{speed:6.0f} images/s ({50000 / speed:5.0f} s/epoch); from CPU time "
                      f"{alone:6.0f} images/s ({50000 / alone:5.0f} s/epoch)", flush=True)


if __name__ == "__main__":
    main()
