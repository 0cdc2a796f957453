"""Training throughput (images/second) of every CIFAR-10 model on this machine.

    python -m benchmarks.cifar_speed                   # all models, their preset batch sizes
    python -m benchmarks.cifar_speed --presets fast --widths 32 48 64 --jit_compile 0 1

Random images, the real model, optimizer and loss: model.fit for --steps steps
after two warm-up steps. The machine is shared, so the CPU seconds the process
used divided by the core count is reported too: the wall time it would take
alone. Results are in benchmarks/RESULTS.md.
"""

import argparse
import dataclasses
import os
import sys
import time

from common.argtypes import count
from common.cli import deprecated, run_cli

PRESET_NAMES = ["tutorial", "vgg", "resnet", "fast"]


def images_per_second(config, steps, jit_compile):
    import numpy as np
    import tensorflow as tf

    from week2_cnn.cifar_models import build_model
    from week2_cnn.cifar_training import compile_model

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


def main(argv=None):
    """Run through common.cli.run_cli, which imports TensorFlow quietly first."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=None, help="presets to measure "
                        f"(default: {' '.join(PRESET_NAMES)})")
    parser.add_argument("--models", nargs="+", default=None,
                        help="deprecated spelling of --presets (same meaning)")
    parser.add_argument("--widths", nargs="+", type=count(1024), default=None,
                        help="override the preset's width (each one measured)")
    parser.add_argument("--batch_size", type=count(65_536), default=None,
                        help="override the batch size")
    parser.add_argument("--steps", type=count(10_000), default=10, help="timed training steps")
    parser.add_argument("--jit_compile", nargs="+", type=int, choices=[0, 1], default=[0],
                        help="1: XLA, 0: TensorFlow's own (oneDNN) kernels")
    args = parser.parse_args(argv)
    if args.models:
        deprecated("--models", "--presets")
    from week2_cnn.cifar_models import PRESETS

    names = args.presets or args.models or PRESET_NAMES
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset {unknown[0]!r}; choose from {', '.join(PRESETS)}")
    for name in names:
        for width in args.widths or [PRESETS[name].width]:
            config = dataclasses.replace(PRESETS[name], width=width,
                                         batch_size=args.batch_size or PRESETS[name].batch_size)
            for jit in args.jit_compile:
                speed, alone = images_per_second(config, args.steps, bool(jit))
                print(f"{name:9s} width {width:3d} batch {config.batch_size:4d} xla {jit}: "
                      f"{speed:6.0f} images/s ({50000 / speed:5.0f} s/epoch); from CPU time "
                      f"{alone:6.0f} images/s ({50000 / alone:5.0f} s/epoch)", flush=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
