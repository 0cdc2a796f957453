"""Run files that parse but do not agree: a vocabulary of another size, configs with odd values.

Code under attack: week3_rnn/char_rnn_verbs.py load_run / evaluate (how the run's files are
read back) on top of common.runs. Each case attacks a fresh copy of the earlier run.
"""

import json
import os

import pytest

from tests.test_hostile_common import tree_hash


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


@pytest.mark.parametrize("verb", ["generate", "export", "evaluate"])
def test_a_vocabulary_smaller_than_the_model(world, capfd, verb):
    run = world.copy_run()
    edit_json(os.path.join(run, "vocab.json"),
              lambda v: v.update(chars=[c for c in v["chars"] if c in "t ha"]))
    before = tree_hash(run)
    world.fails(reader(verb, run, world), capfd, "vocab")
    assert tree_hash(run) == before and not (world.root / "exported").exists()


@pytest.mark.parametrize("field", ["batch_size", "seq_length"])
def test_evaluate_of_a_run_whose_config_lacks_a_later_field(world, capfd, field):
    run = world.copy_run()
    edit_json(os.path.join(run, "config.json"), lambda c: c.pop(field))
    world.succeeds(reader("evaluate", run, world), capfd)


@pytest.mark.parametrize("field, value", [
    ("seq_length", "abc"), ("batch_size", 0), ("batch_size", None), ("batch_size", 2.5),
    ("batch_size", True), ("cell", "transformer"), ("val_fraction", 1.5)])
def test_evaluate_of_a_config_with_a_wrong_value_names_config_json(world, capfd, field, value):
    run = world.copy_run()
    edit_json(os.path.join(run, "config.json"), lambda c: c.update({field: value}))
    before = tree_hash(run)
    world.fails(reader("evaluate", run, world), capfd, "config.json")
    assert tree_hash(run) == before
