"""Run files that parse but do not agree: a vocabulary of another size, configs with odd values.

Code under attack: week3_rnn/char_rnn_verbs.py load_run / evaluate (how the run's files are
read back) on top of common.runs. Each case attacks a fresh copy of the earlier run.
"""

import json
import os

import pytest

from tests.test_hostile_common import earlier_run, tree_hash, world  # noqa: F401


def edit_json(path, change):
    with open(path) as f:
        data = json.load(f)
    change(data)
    with open(path, "w") as f:
        json.dump(data, f)


def reader(verb, run, world):
    if verb == "generate":
        return ["generate", "--run_dir", run, "--prime", "t", "--length", "30"]
    if verb == "export":
        return ["export", "--run_dir", run, "--export_dir", world.root / "exported"]
    return ["evaluate", "--run_dir", run, "--text", world.text]


SMALL_VOCAB = ("week3_rnn/char_rnn_verbs.py load_run does not check that vocab.json has as "
               "many characters as the model has outputs")


@pytest.mark.parametrize("verb", [
    pytest.param("generate", marks=pytest.mark.xfail(
        strict=True, reason=f"{SMALL_VOCAB}: tf InvalidArgumentError (traceback)")),
    pytest.param("export", marks=pytest.mark.xfail(
        strict=True, reason=f"{SMALL_VOCAB}: an export that cannot decode is written")),
    "evaluate"])
def test_a_vocabulary_smaller_than_the_model(world, capfd, verb):
    run = world.copy_run()
    edit_json(os.path.join(run, "vocab.json"),
              lambda v: v.update(chars=[c for c in v["chars"] if c in "t ha"]))
    before = tree_hash(run)
    world.fails(reader(verb, run, world), capfd, "vocab")
    assert tree_hash(run) == before and not (world.root / "exported").exists()


RAW_CONFIG = ("week3_rnn/char_rnn_verbs.py evaluate reads config['seq_length'] and "
              "config['batch_size'] from the raw dict, not through configs.config_from_dict")


@pytest.mark.xfail(strict=True, reason=f"{RAW_CONFIG}: KeyError (traceback) instead of the "
                   "field's default")
@pytest.mark.parametrize("field", ["batch_size", "seq_length"])
def test_evaluate_of_a_run_whose_config_lacks_a_later_field(world, capfd, field):
    run = world.copy_run()
    edit_json(os.path.join(run, "config.json"), lambda c: c.pop(field))
    world.succeeds(reader("evaluate", run, world), capfd)


@pytest.mark.parametrize("field, value", [
    pytest.param("seq_length", "abc", marks=pytest.mark.xfail(
        strict=True, reason=f"{RAW_CONFIG}: TypeError (traceback)")),
    pytest.param("batch_size", 0, marks=pytest.mark.xfail(
        strict=True, reason=f"{RAW_CONFIG}: a batch size of 0 reaches tf.data (traceback)")),
    pytest.param("batch_size", None, marks=pytest.mark.xfail(
        strict=True, reason=f"{RAW_CONFIG}: null reaches tf.data (traceback)"))])
def test_evaluate_of_a_config_with_a_wrong_value_names_config_json(world, capfd, field, value):
    run = world.copy_run()
    edit_json(os.path.join(run, "config.json"), lambda c: c.update({field: value}))
    before = tree_hash(run)
    world.fails(reader("evaluate", run, world), capfd, "config.json")
    assert tree_hash(run) == before
