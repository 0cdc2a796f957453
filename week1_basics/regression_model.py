"""The lecture's first two models, their toy data and their exact solutions.

    least_squares  y = w x + b fitted to a noisy line by mean squared error
    logistic       p(class 1 | x) = sigmoid(w . x + b) for two 2-D Gaussian point
                   clouds, by binary cross-entropy (plus a tiny L2 penalty on w)

Each model is one `keras.layers.Dense(1)` trained by plain gradient descent
(every step sees all the points). `closed_form` computes the exact minimiser
of the same loss: `numpy.linalg.lstsq` for least squares, and Newton's method
(iteratively reweighted least squares) for the logistic loss, which has no
closed form but is convex, so a few Newton steps reach its minimum.
"""

import dataclasses

import keras
import numpy as np
from keras import layers

from common.argtypes import count, non_negative_float, positive_float
from common.configs import setting

ARCHS = ("least_squares", "logistic")
TRUE_LINE = (2.0, 1.0)                   # least_squares: y = 2 x + 1 + noise
CLOUD_CENTRES = ((-1.0, -1.0), (1.0, 1.0))  # logistic: class 0 and class 1
CLASS_NAMES = ["0", "1"]
MAX_POINTS = 1_000_000


@dataclasses.dataclass(frozen=True)
class RegressionConfig:
    arch: str = setting("least_squares", "least_squares (a noisy line) or logistic (two 2-D "
                        "point clouds)", choices=ARCHS)
    num_points: int = setting(100, "points in the toy data set (generated from --seed)",
                              count(MAX_POINTS))
    noise: float = setting(0.3, "least_squares: standard deviation of the noise on y; "
                           "logistic: of each cloud around its centre", positive_float)
    epochs: int = 10                     # --epochs comes from common.cli.add_training_flags
    steps_per_epoch: int = setting(100, "gradient-descent steps per epoch (a checkpoint "
                                   "after each epoch)", count(100_000))
    learning_rate: float = setting(0.5, "gradient-descent step size", positive_float)
    l2: float = setting(0.0, "L2 penalty l2 * |w|^2 added to the loss (never on the bias); "
                        "keeps the logistic minimum finite", non_negative_float)


PRESETS = {
    # Full-batch gradient descent: 1,000 steps, far more than either needs to
    # agree with the closed form to 1e-6.
    "least_squares": RegressionConfig("least_squares"),
    "logistic": RegressionConfig("logistic", noise=1.0, learning_rate=1.0, l2=1e-2),
    # Seconds, for tests (either --arch): still enough steps to agree within 1e-5.
    "test": RegressionConfig("least_squares", num_points=100, noise=1.0, epochs=2,
                             steps_per_epoch=200, learning_rate=0.8, l2=1e-2),
}


def input_dims(config):
    return 1 if config.arch == "least_squares" else 2


def make_data(config, seed):
    """(x float32 [N, dims], y float32 [N, 1]) of the toy problem, the same for a seed.

    least_squares: x uniform in [-1, 1], y = 2 x + 1 + N(0, noise^2).
    logistic: half the points around each centre with standard deviation
    `noise` (1.0 makes the clouds overlap, so without L2 the minimum is still finite).
    """
    if config.arch not in ARCHS:
        raise ValueError(f"unknown arch {config.arch!r}; choose one of {', '.join(ARCHS)}")
    rng = np.random.default_rng(seed)
    n = config.num_points
    if config.arch == "least_squares":
        x = rng.uniform(-1.0, 1.0, (n, 1))
        y = TRUE_LINE[0] * x + TRUE_LINE[1] + rng.normal(0.0, config.noise, (n, 1))
    else:
        y = (np.arange(n) % 2).reshape(n, 1)  # alternate classes: both clouds get points
        x = np.asarray(CLOUD_CENTRES)[y[:, 0]] + rng.normal(0.0, config.noise, (n, 2))
    return x.astype(np.float32), y.astype(np.float32)


def build_model(config):
    """One Dense(1), compiled for gradient descent: x [batch, dims] -> [batch, 1].

    least_squares outputs y; logistic outputs the logit w . x + b (the
    probability is its sigmoid, taken by the loss and by the servable).
    Weights start at zero, as in the lecture's derivations.
    """
    l2 = keras.regularizers.L2(config.l2) if config.l2 else None
    x = keras.Input((input_dims(config),), name="x")
    out = layers.Dense(1, kernel_initializer="zeros", kernel_regularizer=l2, name="linear")(x)
    model = keras.Model(x, out, name=config.arch)
    if config.arch == "least_squares":
        loss, metrics = keras.losses.MeanSquaredError(), []
    else:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)]
    model.compile(optimizer=keras.optimizers.SGD(config.learning_rate), loss=loss,
                  metrics=metrics)
    return model


def weights_of(model):
    """(w float64 [dims], b float) of a trained model's Dense layer."""
    kernel, bias = model.get_layer("linear").get_weights()
    return kernel[:, 0].astype(np.float64), float(bias[0])


def closed_form(config, x, y):
    """(w [dims], b): the exact minimiser of the loss the model is trained on."""
    if config.arch == "least_squares":
        return least_squares(x, y, config.l2)
    return newton_logistic(x, y, config.l2)


def least_squares(x, y, l2=0.0):
    """argmin over (w, b) of mean((x w + b - y)^2) + l2 |w|^2, by numpy.linalg.lstsq.

    The penalty is written as extra rows sqrt(n l2) [I 0] with target 0, so
    one lstsq call solves plain and ridge regression alike.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64).reshape(-1)
    n, dims = x.shape
    design = np.hstack([x, np.ones((n, 1))])                        # (n, dims + 1)
    if l2:
        design = np.vstack([design, np.hstack([np.sqrt(n * l2) * np.eye(dims),
                                               np.zeros((dims, 1))])])
        y = np.concatenate([y, np.zeros(dims)])
    theta = np.linalg.lstsq(design, y, rcond=None)[0]
    return theta[:dims], float(theta[dims])


def newton_logistic(x, y, l2=0.0, iterations=50):
    """argmin over (w, b) of mean binary cross-entropy + l2 |w|^2, by Newton's method.

    gradient = X^T (p - y) / n + 2 l2 [w, 0]
    Hessian  = X^T diag(p (1 - p)) X / n + 2 l2 diag(1, .., 1, 0)
    Each step solves Hessian . step = gradient (IRLS); the loss is convex, so
    from zero this converges in a handful of steps. When the classes are
    separable and l2 is 0 there is no finite minimum (the weights grow
    forever): ValueError.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64).reshape(-1)
    n, dims = x.shape
    design = np.hstack([x, np.ones((n, 1))])
    penalty = 2.0 * l2 * np.diag([1.0] * dims + [0.0])
    theta = np.zeros(dims + 1)
    with np.errstate(over="ignore"):
        for _ in range(iterations):
            p = 1.0 / (1.0 + np.exp(-design @ theta))
            gradient = design.T @ (p - y) / n + penalty @ theta
            hessian = (design.T * (p * (1.0 - p))) @ design / n + penalty
            try:
                step = np.linalg.solve(hessian, gradient)
            except np.linalg.LinAlgError:
                break
            theta -= step
            if np.max(np.abs(step)) < 1e-10:
                return theta[:dims], float(theta[dims])
    raise ValueError("the logistic loss has no finite minimum here (the two clouds are "
                     "separable, so the weights would grow forever); raise --l2 or --noise")


def loss_of(config, w, b, x, y):
    """The training loss (with its L2 term) at (w, b), in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64).reshape(-1)
    z = x @ np.asarray(w, np.float64) + b
    if config.arch == "least_squares":
        data_loss = np.mean((z - y) ** 2)
    else:  # log(1 + e^z) - y z, written stably
        data_loss = np.mean(np.logaddexp(0.0, z) - y * z)
    return float(data_loss + config.l2 * np.sum(np.square(w)))
