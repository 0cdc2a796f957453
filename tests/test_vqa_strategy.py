"""week4_qa.vqa under tf.distribute: --strategy mirrored on one device trains what the
default strategy trains, small_cnn's batch norm and a frozen encoder's cached grids included;
on two replicas it trains and its runs load and resume."""

import dataclasses

import pytest

from common.runs import RunDir
from tests.conftest import assert_same_training, run_on_two_cpus
from tests.vqa_fixture import write_easy_vqa
from week4_qa import vqa
from week4_qa.vqa_model import PRESETS

# Two epochs of the attention model on 40 images (320 questions, batches of 32).
CONFIG = dataclasses.replace(PRESETS["test"], epochs=2)


def trained(out_dir, split, settings, config, strategy):
    vqa.train(config, str(out_dir), split, settings, seed=5, strategy=strategy, verbose=0)
    run = RunDir(str(out_dir))
    return run.read_state(), run.load_model("vqa", "last").get_weights()


@pytest.mark.parametrize("images, changes", [
    (40, {}),  # small_cnn trains with the model: its batch norm's statistics, moving averages
    (12, {"encoder": "mobilenet_v2", "weights": "none", "epochs": 1,  # the head on cached
          "val_fraction": 0.3}),                                       # grids
], ids=["small_cnn", "frozen_grids"])
def test_mirrored_on_one_device_trains_what_the_default_does(tmp_path, images, changes):
    data = write_easy_vqa(tmp_path / "data", images, 4)
    split, _, settings = vqa.load_data(str(data))
    config = dataclasses.replace(CONFIG, **changes)
    default = trained(tmp_path / "default", split, settings, config, "default")
    mirrored = trained(tmp_path / "mirrored", split, settings, config, "mirrored")
    assert len(default[0]["history"]) == config.epochs
    assert_same_training(default, mirrored, ("loss", "val_loss", "accuracy", "val_accuracy"))


TWO_REPLICAS = r"""
import dataclasses, pathlib
import numpy as np
from common.runs import RunDir
from common.training import get_strategy
from tests.vqa_fixture import write_easy_vqa
from week4_qa import vqa
from week4_qa.vqa_model import PRESETS

assert get_strategy("mirrored").num_replicas_in_sync == 2
root = pathlib.Path(ROOT)
split, _, settings = vqa.load_data(str(write_easy_vqa(root / "data", 40, 4)))
config = dataclasses.replace(PRESETS["test"], epochs=1)
run = str(root / "run")
vqa.train(config, run, split, settings, seed=5, strategy="mirrored", verbose=0)
vqa.train(dataclasses.replace(config, epochs=2), run, split, settings, seed=5,
          strategy="mirrored", resume=True, verbose=0)
state = RunDir(run).read_state()
model = RunDir(run).load_model("vqa", "last")
moving = [w for w in model.weights if "moving_mean" in w.path]
print("epochs", state["epoch"], len(state["history"]))
print("finite", all(np.isfinite(row["loss"]) for row in state["history"]))
print("moved", len(moving), all(np.abs(w.numpy()).sum() > 0 for w in moving))

# A run begun with Keras's Adam (before DenseReplicaAdam) is refused on two replicas
# with one line, before a step, and is left as it was.
import keras
from common.cli import UsageError
from week4_qa import vqa_model
dense, vqa_model.DenseReplicaAdam = vqa_model.DenseReplicaAdam, keras.optimizers.Adam
old = str(root / "old")
vqa.train(config, old, split, settings, seed=5, verbose=0)
vqa_model.DenseReplicaAdam = dense  # the resume loads the checkpoint's Adam
before = RunDir(old).read_state()
try:
    vqa.train(dataclasses.replace(config, epochs=2), old, split, settings, seed=5,
              strategy="mirrored", resume=True, verbose=0)
except UsageError as error:
    print("refused", "older version" in str(error), RunDir(old).read_state() == before)
"""


@pytest.mark.slow  # about 45 s of CPU: two runs and a resume in a new interpreter
def test_two_replicas_train_batch_norm_and_resume(tmp_path):
    """Each replica's batch norm updates the moving averages, and the run trains, saves and
    resumes on two replicas (a resumed run with Keras's Adam failed summing the embedding's
    IndexedSlices gradient across replicas: common.optimizers.DenseReplicaAdam)."""
    output = run_on_two_cpus(TWO_REPLICAS, ROOT=str(tmp_path))
    lines = dict(line.split(maxsplit=1) for line in output
                 if line.split()[0] in ("epochs", "finite", "moved", "refused"))
    assert lines == {"epochs": "2 2", "finite": "True", "moved": "3 True",
                     "refused": "True True"}
