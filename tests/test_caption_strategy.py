"""week5_caption.caption under tf.distribute: --strategy mirrored on one device trains what
the default strategy trains (small_cnn's batch norm, the attention penalty, clipping); on two
replicas a step is one device's step, the penalty's add_loss and the whole batch's gradient
clipping included."""

import dataclasses

import pytest

from common.runs import RunDir
from tests.conftest import assert_same_training, run_on_two_cpus
from week5_caption import caption_data, caption_verbs
from week5_caption.caption_verbs import PRESETS

# Two epochs of show_attend_tell on 80 scenes (batches of 32), with the doubly stochastic
# penalty and gradient clipping.
CONFIG = dataclasses.replace(PRESETS["test"], scenes=80, epochs=2, attention_penalty=1.0,
                             grad_clip=0.5)


def trained(out_dir, config, parts, strategy):
    caption_verbs.train(config, str(out_dir), parts, {"data": "generated"}, seed=3,
                        strategy=strategy, verbose=0)
    run = RunDir(str(out_dir))
    return run.read_state(), run.load_model("caption", "last").get_weights()


@pytest.mark.parametrize("changes", [
    {},  # small_cnn trains with the decoder: its batch norm's statistics and moving averages
    # The head on a frozen encoder's grids (2 x 2 x 1280), computed once before the scope.
    {"encoder": "mobilenet_v2", "weights": "none", "image_size": 64, "epochs": 1},
], ids=["small_cnn", "frozen_grids"])
def test_mirrored_on_one_device_trains_what_the_default_does(tmp_path, changes):
    config = dataclasses.replace(CONFIG, **changes)
    parts = {part: caption_data.read_part({"data": "generated"}, part, config)
             for part in ("train", "validation")}
    default = trained(tmp_path / "default", config, parts, "default")
    mirrored = trained(tmp_path / "mirrored", config, parts, "mirrored")
    assert len(default[0]["history"]) == config.epochs
    assert_same_training(default, mirrored,
                         ("loss", "val_loss", "token_accuracy", "val_token_accuracy"))


TWO_REPLICAS = r"""
import dataclasses
import keras, numpy as np
from common.training import get_strategy
from week5_caption.caption_model import build_caption_model
from week5_caption.caption_verbs import PRESETS

# The head on a frozen encoder's grids (no batch norm, which sees each replica's part):
# a 96-pixel mobilenet_v2 grid is 3 x 3 x 1280. Captions of one length, so each replica's
# token mean is the global one; a clip of 0.05 that every step reaches.
config = dataclasses.replace(PRESETS["test"], encoder="mobilenet_v2", weights="none",
                             image_size=96, attention_penalty=1.0, grad_clip=0.05)
vocab, rng = 12, np.random.default_rng(0)
grids = rng.normal(0, 0.5, (24, 3, 3, 1280)).astype("float32")
ids = np.concatenate([np.ones((24, 1)), rng.integers(3, vocab, (24, 6)), np.full((24, 1), 2)],
                     1).astype("int32")                                  # (24, T+1 = 8)
data = tf.data.Dataset.from_tensor_slices(
    ({"grid": grids, "decoder_ids": ids[:, :-1]}, ids[:, 1:])).batch(8)  # 3 steps
keras.utils.set_random_seed(0)
start = None

def trained(strategy, keras_adam=False, grad_clip=config.grad_clip):
    # (the loss, weights, model) after 3 steps from the one start.
    global start
    with strategy.scope():
        model = build_caption_model(dataclasses.replace(config, grad_clip=grad_clip), vocab)
        if keras_adam:  # Keras's own clipping, each replica's part apart
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate,
                                                          global_clipnorm=config.grad_clip),
                          loss=keras.losses.SparseCategoricalCrossentropy(
                              from_logits=True, ignore_class=0))
    start = model.get_weights() if start is None else start
    model.set_weights(start)
    history = model.fit(data, epochs=1, verbose=0, shuffle=False).history
    return history["loss"][0], model.get_weights(), model

two = get_strategy("mirrored")
assert two.num_replicas_in_sync == 2
def differences(one, other):
    print(other[0], abs(one[1] - other[1]) / one[1],
          max(float(np.max(np.abs(a - b))) for a, b in zip(one[2], other[2])))

one = ("one", *trained(tf.distribute.get_strategy())[:2])
models = {}
for name, keras_adam in [("whole", False), ("keras", True)]:
    loss, weights, models[keras_adam] = trained(two, keras_adam)
    differences(one, (name, loss, weights))
# No clipping: the embedding's gradient summed densely across the replicas.
differences(("one", *trained(tf.distribute.get_strategy(), grad_clip=0.0)[:2]),
            ("noclip", *trained(two, grad_clip=0.0)[:2]))

# A checkpoint compiled with Keras's Adam (an older run) is refused on two replicas.
from common.cli import UsageError
from common.optimizers import WholeBatchClipCheck
for keras_adam in (False, True):
    check = WholeBatchClipCheck()
    check.set_model(models[keras_adam])
    try:
        check.on_train_begin()
        print("refused", keras_adam, "no")
    except UsageError as error:
        print("refused", keras_adam, "resume it with --strategy default" in str(error))
"""


@pytest.mark.slow  # ~50 s of CPU: three mobilenet_v2 grids' heads, five short fits
def test_two_replicas_take_one_devices_steps():
    """Three steps of Adam on two replicas equal one device's (loss and weights), with
    clipping and without; Keras's Adam, which clips each replica's half apart, does not, and a run compiled with it is
    refused on two replicas."""
    output = run_on_two_cpus(TWO_REPLICAS)
    lines = {line.split()[0]: [float(v) for v in line.split()[1:]]
             for line in output
             if line.split()[0] in ("whole", "keras", "noclip")}
    assert max(lines["whole"] + lines["noclip"]) < 1e-5
    assert lines["keras"][1] > 1e-4  # (measured: 0.015)
    assert "refused False no" in output and "refused True True" in output
