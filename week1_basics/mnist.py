"""MNIST classifiers (week 1): softmax regression, the lecture's DNN, an MLP and LeNet-5.

    python -m week1_basics.mnist train --data_dir ../shared/data/mnist --out_dir runs/lenet5
    python -m week1_basics.mnist train --arch softmax --data_dir DIR --out_dir runs/softmax
    python -m week1_basics.mnist train --arch mlp --optimizer momentum --out_dir runs/mlp_m
    python -m week1_basics.mnist train --preset dnn_toy --out_dir runs/toy   # 25 -> 3 -> 3 -> 10
    python -m week1_basics.mnist train --dataset fashion_mnist --data_dir DIR --out_dir runs/f
    python -m week1_basics.mnist train --out_dir runs/lenet5 --resume     # after an interruption
    python -m week1_basics.mnist evaluate --run_dir runs/lenet5
    python -m week1_basics.mnist predict --run_dir runs/lenet5 my_digit.png
    python -m week1_basics.mnist export --run_dir runs/lenet5 --export_dir exports/lenet5
    python -m week1_basics.mnist export --run_dir runs/lenet5 --export_dir exports/lenet5_tfl \
        --format litert                                   # serving_default.tflite
    python -m week1_basics.mnist compare-optimizers --arch dnn --epochs 1 --out optimizers.png

--arch picks the network and, without --preset, its best recipe (the preset
of the same name); --preset test is a tiny one for tests. Under a preset made
for another network (--preset test --arch mlp) the network keeps its own
preset's sizes (mlp: 2 x 512 ReLU units, dropout 0.3; dnn: 2 x 256 sigmoid;
lenet5: ReLU, max pooling) and takes the rest of the recipe from --preset;
size flags (--hidden_units ...) win over both. --optimizer is
sgd, momentum, nesterov or adam (the lecture's update rules; a new one
without --learning_rate takes its usual rate). Data: Keras's download, or
--data_dir with the official IDX files (.gz or not) or an .npz with
x_train/y_train (and x_test/y_test). --val_fraction (default 0.1: about
6,000 of the 60,000 training images, per class) is held out to choose
best.keras; the test set is read only by `evaluate`, which `train` runs once
at the end.
`predict` takes any image file (converted to gray 28x28; dark-on-light
images are inverted). The export's serving_default takes uint8 images
[N, 28, 28, 1] and returns probabilities [N, 10], with the class names in
its metadata.

Expected results (2 CPU cores; details and commands in benchmarks/RESULTS.md):

    --arch softmax   92.60% test accuracy, 10 epochs, 18 s
    --arch mlp       98.57%, 15 epochs, 61 s
    (no flags)       LeNet-5 99.43%, 20 epochs, 2.1 minutes (98.36% with --epochs 1)
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week1_basics.mnist_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
