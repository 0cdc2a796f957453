"""week4_qa.memn2n under tf.distribute: --strategy mirrored trains what one device trains,
tries, linear start and the whole batch's gradient clipping included."""

import dataclasses

import numpy as np

from common.runs import RunDir
from tests.conftest import assert_same_training, run_on_two_cpus
from week4_qa import memn2n
from week4_qa.memn2n_model import PRESETS

# Two tries of two epochs (linear start in each try's first epoch) on 300 generated
# questions; a clip of 1 per summed loss is reached by most steps, so the clipping counts.
CONFIG = dataclasses.replace(PRESETS["test"], epochs=2, tries=2, grad_clip=1.0)


def trained(out_dir, strategy):
    train, _, settings = memn2n.load_task(1, None, 300)
    memn2n.train(CONFIG, str(out_dir), train, settings, seed=3, strategy=strategy, verbose=0)
    return (RunDir(str(out_dir)).read_state(),
            memn2n.load_run(str(out_dir), "last")[0].model.get_weights())


def test_mirrored_on_one_device_trains_what_the_default_does(tmp_path):
    default_state, default_weights = trained(tmp_path / "default", "default")
    mirrored_state, mirrored_weights = trained(tmp_path / "mirrored", "mirrored")
    rows = default_state["history"]
    assert [row["try"] for row in rows] == [1, 1, 2, 2]
    assert [row["linear"] for row in rows] == [1.0, 0.0, 1.0, 0.0]
    assert_same_training((default_state, default_weights), (mirrored_state, mirrored_weights),
                         ("loss", "val_loss", "linear", "learning_rate"))
    assert default_state["best_epoch"] == mirrored_state["best_epoch"]
    assert len(default_weights) == 3  # E, T, the linear flag


TWO_REPLICAS = r"""
import keras, numpy as np
from common.training import get_strategy
from common.optimizers import WholeBatchClipSGD

# The step of each optimizer on a batch split over two replicas, against one device's.
strategy = get_strategy("mirrored")
assert strategy.num_replicas_in_sync == 2
x = tf.constant([[3.0, 0.0], [0.0, -1.0]])      # replica 0 reads row 0, replica 1 row 1

def step(make_optimizer, strategy):
    with strategy.scope():
        w = keras.Variable([0.0, 0.0])
        optimizer = make_optimizer()
        optimizer.build([w])

    @tf.function
    def train(batch):
        def replica(rows):
            with tf.GradientTape() as tape:  # the mean over the global batch of 2
                loss = tf.reduce_sum(rows * w) / 2.0
            optimizer.apply([tape.gradient(loss, w.value)], [w])
        strategy.run(replica, args=(batch,))

    train(next(iter(strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(2)))))
    return w.numpy()

for name, make in [("whole", lambda: WholeBatchClipSGD(1.0, global_clipnorm=1.0)),
                   ("keras", lambda: keras.optimizers.SGD(1.0, global_clipnorm=1.0))]:
    print(name, *step(make, tf.distribute.get_strategy()), *step(make, strategy))
"""


def test_two_replicas_clip_the_whole_batchs_gradient():
    """Gradient (1.5, -0.5), norm 1.58, clipped to norm 1 on one device; Keras's SGD
    clips each replica's half apart ((1.5, 0) to (1, 0); (0, -0.5) kept)."""
    lines = {line.split()[0]: [float(v) for v in line.split()[1:]]
             for line in run_on_two_cpus(TWO_REPLICAS)}
    clipped = -np.array([1.5, -0.5]) / np.hypot(1.5, 0.5)
    np.testing.assert_allclose(lines["whole"][:2], clipped, atol=1e-6)   # one device
    np.testing.assert_allclose(lines["whole"][2:], clipped, atol=1e-6)   # two replicas
    np.testing.assert_allclose(lines["keras"][2:], [-1.0, 0.5], atol=1e-6)  # the bug avoided
