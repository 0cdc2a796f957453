"""CIFAR-10 classifiers (week 2): train, evaluate, predict and export.

    python -m week2_cnn.cifar10 train --preset fast --out_dir runs/fast   # tfds cifar10
    python -m week2_cnn.cifar10 train --preset fast --data_dir ../cifar10_jpg --out_dir runs/fast
    python -m week2_cnn.cifar10 train --preset airbench94 --data_dir ../cifar10_jpg \
        --out_dir runs/airbench94                     # 94% in about 30 min on 2 CPU cores
    python -m week2_cnn.cifar10 train --preset airbench94 --no-lookahead --out_dir runs/no_la
    python -m week2_cnn.cifar10 train --preset vgg --no-augment --dropout_rate 0 --out_dir runs/v
    python -m week2_cnn.cifar10 train --preset vgg --arch resnet --out_dir runs/vgg_recipe_resnet
    python -m week2_cnn.cifar10 train --preset alexnet --out_dir runs/alexnet
    python -m week2_cnn.cifar10 train --preset googlenet --width 64 --out_dir runs/googlenet
    python -m week2_cnn.cifar10 train --preset resnet --depth 56 --resnet_version 2 --out_dir r56
    python -m week2_cnn.cifar10 train --preset densenet --depth 40 --growth_rate 12 --out_dir d40
    python -m week2_cnn.cifar10 train --out_dir runs/fast --resume      # after an interruption
    python -m week2_cnn.cifar10 evaluate --run_dir runs/fast
    python -m week2_cnn.cifar10 evaluate --ensemble runs/fast runs/fast2 --out_dir runs/ens
    python -m week2_cnn.cifar10 predict --run_dir runs/fast cat.jpg ship.png
    python -m week2_cnn.cifar10 export --run_dir runs/fast --export_dir exports/cifar10
    python -m week2_cnn.cifar10 export --run_dir runs/fast --export_dir exports/cifar10_tfl \
        --format litert                                   # serving_default.tflite

--preset names a whole recipe (architecture, widths, schedule; `--model` is
its old spelling), --arch only the network: alexnet, vgg, googlenet, resnet,
densenet, tutorial, fast or airbench (week2_cnn/cifar_models.py and
cifar_zoo_models.py say how each was sized for 32x32 images). resnet takes --depth 6n+2 (20, 32,
56, 110) and --resnet_version 1 or 2 (pre-activation); densenet (DenseNet-BC)
takes --depth 6n+4 (40, 100, 190) and --growth_rate. Each architecture has a
preset of its name; `resnet` with no flags is the ResNet-20 (v1) it always was.
--arch under a preset made for another network (`--arch densenet` alone: the
`fast` preset) builds that network at its own size and keeps the preset's
recipe: densenet is DenseNet-BC-100 (k 12), resnet ResNet-20 v1 (width 16),
googlenet the common CIFAR GoogLeNet (width 64, twice the googlenet preset's
and slow on CPUs), alexnet and tutorial width 64, vgg and fast 32; --width,
--depth, --growth_rate and --resnet_version win over both. --data_dir takes
cifar-10-batches-py, cifar-10-batches-bin or an image folder (train/<class>/*,
test/<class>/*). --val_fraction (default 0.1: 5,000 of the 50,000 training
images, per class) is held out to choose best.keras; the test set is read only
by `evaluate`, which `train` runs once at the end. `--preset airbench94` is
airbench94's whole recipe (Keller Jordan 2024; week2_cnn/airbench_model.py and
airbench_optimizer.py name each part): it trains on all 50,000 training images
as airbench does (--val_fraction 0: best.keras is the epoch of lowest training
loss), and its evaluate, predict and export average 6 test-time views
(--tta_translate 1; the export's single_view signature is one pass, 6x cheaper).
Each trick has its flag, for the ablations: --no-whitening, --no-dirac_init,
--offset_lr_scale 1, --whiten_bias_epochs 0, --no-lookahead, --flip random,
--translate 0, --label_smoothing 0, --no-tta. Reading verbs use best.keras
(--checkpoint best) unless told --checkpoint last. Expected results (2 CPU
cores; commands and the time-to-accuracy curves in benchmarks/RESULTS.md): see
the CIFAR-10 rows of README.md's results table.

The zoo at one wall-clock budget (python -m benchmarks.cifar_zoo --data_dir
../shared/data/cifar10_jpg.tar, idle 2-core CPU, all 10,000 test images;
MFLOPs = 2 x multiply-accumulates per image; the 2-minute table is in
benchmarks/RESULTS.md):

    | arch      | parameters | MFLOPs/image | train images/s | test accuracy, 5 min |
    |-----------|-----------:|-------------:|---------------:|---------------------:|
    | alexnet   |      7.71M |          451 |            188 |                51.5% |
    | vgg       |      0.29M |           77 |            510 |                69.7% |
    | googlenet |      1.48M |          726 |             57 |                55.0% |
    | resnet    |      0.27M |           82 |            368 |                71.0% |
    | densenet  |      0.79M |          576 |             27 |                43.1% |
    | tutorial  |      1.76M |           66 |          1,115 |                67.5% |
    | fast      |      0.50M |           66 |            937 |                84.1% |
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week2_cnn.cifar10_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
