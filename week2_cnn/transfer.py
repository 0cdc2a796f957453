"""Transfer learning (week 2): retrain Inception v3, or a CIFAR-10 net, on your own photos.

    python -m week2_cnn.transfer train --image_dir flower_photos --out_dir runs/flowers
    python -m week2_cnn.transfer train --image_dir photos --base runs/fast/best.keras \
        --out_dir runs/photos                          # offline: a week2_cnn.cifar10 model
    python -m week2_cnn.transfer train --image_dir photos --fine_tune_layers 20 ...
    python -m week2_cnn.transfer train --image_dir photos --fine_tune_layers -1 \
        --layer_lr_decay 0.7 ...                      # each block 0.7x the one above
    python -m week2_cnn.transfer train --image_dir flower_photos --out_dir runs/flowers \
        --resume --preset fine_tune                   # continue; then fine-tune the top
    python -m week2_cnn.transfer evaluate --run_dir runs/flowers --print_misclassified
    python -m week2_cnn.transfer predict --run_dir runs/flowers rose.jpg
    python -m week2_cnn.transfer export --run_dir runs/flowers --export_dir exports/flowers
    python -m week2_cnn.transfer export --run_dir runs/flowers --export_dir exports/tfl \
        --format litert                               # pixels.tflite for LiteRT

--image_dir holds one sub-folder of images per label. Files are split into
train / validation / test by a hash of their names (retrain.py's rule, `_nohash_`
kept); bottlenecks are cached under --bottleneck_dir and reused by later runs.
The lecture's three ways to transfer: --fine_tune_layers 0 freezes the base and
trains only the new head; N > 0 then trains the top N layers too, at the lower
--fine_tune_learning_rate; -1 trains the whole network. --layer_lr_decay D < 1
gives the fine-tuning per-layer learning rates: the head learns at
--fine_tune_learning_rate, the base's top block at D times that, the block
below at D**2 times, and so on (how blocks are counted, for Inception v3 and
CIFAR-10 bases: week2_cnn/transfer_layer_rates.py). Each step is a run with
checkpoints and --resume (the second in <out_dir>/fine_tune). With ImageNet
weights (internet needed once), flower_photos retrains to the original's 90-95%
test accuracy.

Training and serving decode and resize images with the same TensorFlow code
(bilinear, no antialiasing), so the export sees the pixels training saw. The
SavedModel: serving_default(image_bytes) -> probabilities (and the older
labels, scores), pixels(images uint8 [N, H, W, 3]) -> probabilities,
class_names(), metadata().
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week2_cnn.transfer_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
