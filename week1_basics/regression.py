"""Least-squares and logistic regression (week 1) by gradient descent, checked in closed form.

    python -m week1_basics.regression train --arch least_squares --out_dir runs/line
    python -m week1_basics.regression train --arch logistic --out_dir runs/clouds
    python -m week1_basics.regression train --arch logistic --l2 0 --seed 3 --out_dir runs/c3
    python -m week1_basics.regression train --out_dir runs/line --resume --epochs 20
    python -m week1_basics.regression evaluate --run_dir runs/clouds
    python -m week1_basics.regression export --run_dir runs/clouds --export_dir exports/clouds

The lecture's toy problems, generated from --seed: a noisy line y = 2 x + 1 +
noise (x in [-1, 1]) and two 2-D Gaussian point clouds around (-1, -1) and
(1, 1). The model is one Dense layer trained by full-batch gradient descent
(SGD on all points at every step) through the shared run lifecycle, so a run
directory gets config.json, checkpoints, history.csv, loss.png and --resume
like every other command. `train` ends by running `evaluate`, which writes
fit.png (the points with the learned line or decision boundary, and the
exact one) and results.json: the learned weights beside the exact minimiser
of the same loss (numpy.linalg.lstsq for least squares; Newton's method for
the logistic loss with its small L2 penalty). Expected, with the default
presets (1,000 steps, seed 0): the weights agree to 9e-8 (least squares)
and 7e-7 (logistic); the export's
serving_default takes float32 x [N, 1] (or points [N, 2]) and returns y
(or probabilities [N, 2]).
"""

import sys

from common.cli import light_command, run_cli

# The verbs (and TensorFlow) are imported when the command runs, not at import.
main, __getattr__ = light_command("week1_basics.regression_verbs")

if __name__ == "__main__":
    sys.exit(run_cli(main))
