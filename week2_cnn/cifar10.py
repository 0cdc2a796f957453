"""CIFAR-10 classifiers (week 2): train, evaluate, predict and export.

    python -m week2_cnn.cifar10 train --preset fast --out_dir runs/fast   # tfds cifar10
    python -m week2_cnn.cifar10 train --preset fast --data_dir ../cifar10_jpg --out_dir runs/fast
    python -m week2_cnn.cifar10 train --preset vgg --no-augment --dropout_rate 0 --out_dir runs/v
    python -m week2_cnn.cifar10 train --preset vgg --arch resnet --out_dir runs/vgg_recipe_resnet
    python -m week2_cnn.cifar10 train --out_dir runs/fast --resume      # after an interruption
    python -m week2_cnn.cifar10 evaluate --run_dir runs/fast
    python -m week2_cnn.cifar10 evaluate --ensemble runs/fast runs/fast2 --out_dir runs/ens
    python -m week2_cnn.cifar10 predict --run_dir runs/fast cat.jpg ship.png
    python -m week2_cnn.cifar10 export --run_dir runs/fast --export_dir exports/cifar10
    python -m week2_cnn.cifar10 export --run_dir runs/fast --export_dir exports/cifar10_tfl \
        --format litert                                   # serving_default.tflite

--preset names a whole recipe (architecture, widths, schedule; `--model` is
its old spelling), --arch only the network. --data_dir takes
cifar-10-batches-py, cifar-10-batches-bin or an image folder (train/<class>/*,
test/<class>/*). --val_fraction (default 0.1: 5,000 of the 50,000 training
images, per class) is held out to choose best.keras; the test set is read only
by `evaluate`, which `train` runs once at the end. Reading verbs use best.keras
(--checkpoint best) unless told --checkpoint last. Expected results (2 CPU
cores; commands and the time-to-accuracy curves in benchmarks/RESULTS.md): see
the CIFAR-10 rows of README.md's results table.
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week2_cnn.cifar10_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
