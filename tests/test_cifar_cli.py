"""week2_cnn.cifar10's grammar: --preset (and its old --model), --arch, the validation split,
the printed next steps, and run directories made before this version."""

import json
import os
import shlex

import numpy as np
import pytest

from tests.conftest import assert_one_line_error, call_cli
from tests.test_cifar import colour_images
from tests.test_cifar_data import write_image_tree, write_python_layout
from week2_cnn import cifar10, cifar10_verbs
from week2_cnn.cifar_data import CLASS_NAMES, Cifar


def colour_layout(folder, per_class=8, test_per_class=2):
    """A cifar-10-batches-py folder of flat-colour classes (70 training, 10 validation)."""
    y_train, y_test = np.arange(10 * per_class) % 10, np.arange(10 * test_per_class) % 10
    write_python_layout(folder, [(colour_images(y_train, 1), y_train),
                                 (colour_images(y_test, 2), y_test)])
    return folder


def run_ok(argv, capsys):
    """(stdout, stderr) of a CLI call that must succeed."""
    from common.cli import run_cli

    assert run_cli(cifar10.main, argv) is None
    captured = capsys.readouterr()
    return captured.out, captured.err


def train_cli(argv, capsys):
    return run_ok(["train", "--verbose", "0", "--epochs", "1", *argv], capsys)


def saved_config(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    config.pop("provenance")
    return config


def test_model_is_the_old_spelling_of_preset(tmp_path, capsys):
    data = str(colour_layout(tmp_path / "data"))
    _, err = train_cli(["--model", "test", "--data_dir", data, "--out_dir",
                        str(tmp_path / "old")], capsys)
    assert err.strip() == "note: --model is deprecated; use --preset (same meaning)"
    _, err = train_cli(["--preset", "test", "--data_dir", data, "--out_dir",
                        str(tmp_path / "new")], capsys)
    assert "deprecated" not in err
    assert saved_config(tmp_path / "old") == saved_config(tmp_path / "new")
    assert saved_config(tmp_path / "new")["width"] == 4  # the test preset's
    status, _, err = call_cli(cifar10.main, ["train", "--model", "vgg", "--preset", "test"],
                              capsys)
    assert_one_line_error(status, err, "--model vgg and --preset test name different presets")


def test_arch_and_config_flags_override_the_preset():
    parser = cifar10_verbs.build_parser()
    config = cifar10_verbs.resolve_preset(parser.parse_args(
        ["train", "--preset", "vgg", "--arch", "resnet", "--width", "8", "--val_fraction",
         "0.2"]))
    assert (config.arch, config.width, config.val_fraction) == ("resnet", 8, 0.2)
    assert config.schedule == "cosine"  # the rest is still the vgg recipe


def test_train_prints_next_steps_that_run(tmp_path, capsys):
    data, run = str(colour_layout(tmp_path / "data")), str(tmp_path / "run")
    out, _ = train_cli(["--preset", "test", "--data_dir", data, "--out_dir", run], capsys)
    steps = out[out.index("run directory: "):].splitlines()
    assert steps[0] == f"run directory: {run}" and steps[1] == "next:"
    commands = [shlex.split(line) for line in steps[2:]]
    assert [c[3] for c in commands] == ["evaluate", "predict", "export"]
    assert all(c[:3] == ["python", "-m", "week2_cnn.cifar10"] for c in commands)
    out, _ = run_ok(commands[0][3:], capsys)
    assert "test accuracy" in out
    with open(os.path.join(run, "state.json")) as f:
        state = json.load(f)
    assert state["best_key"] == "val_loss"  # chosen on validation, never on test
    assert all("val_loss" in row for row in state["history"])


def test_training_never_reads_the_test_images(tmp_path, monkeypatch):
    y = np.arange(80) % 10
    data = Cifar(colour_images(y, 1), y, None, None, list(CLASS_NAMES), "generated")
    monkeypatch.setattr(cifar10_verbs, "evaluate", lambda run_dirs, data: "evaluated")
    from week2_cnn.cifar_models import PRESETS

    _, report = cifar10.train(PRESETS["test"], str(tmp_path / "run"), data, verbose=0)
    assert report == "evaluated"


def test_a_small_image_folder_holds_out_one_per_class_and_trains(tmp_path, capsys):
    labels = np.arange(9) % 3  # three classes, three training images each
    images = colour_images(labels, 5)
    for split in ("train", "test"):
        write_image_tree(tmp_path / "jpg", images, labels, split)
    run = str(tmp_path / "run")
    out, _ = train_cli(["--preset", "test", "--batch_size", "4", "--data_dir",
                        str(tmp_path / "jpg"), "--cache_dir", str(tmp_path / "cache"),
                        "--out_dir", run], capsys)
    assert "6 training and 3 validation images" in out
    with open(os.path.join(run, "labels.json")) as f:
        assert json.load(f) == ["airplane", "automobile", "bird"]


def test_a_run_made_before_this_version_resumes_evaluates_and_exports(tmp_path, capsys):
    data = str(colour_layout(tmp_path / "data"))
    run = tmp_path / "run"
    train_cli(["--preset", "test", "--data_dir", data, "--out_dir", str(run), "--epochs",
               "2"], capsys)
    # As the previous version wrote it: `architecture`, no val_fraction, no provenance,
    # and a best.keras chosen without a best_key (on the test set).
    config = json.loads((run / "config.json").read_text())
    config["architecture"] = config.pop("arch")
    for key in ("val_fraction", "provenance"):
        config.pop(key)
    (run / "config.json").write_text(json.dumps(config))
    state = json.loads((run / "state.json").read_text())
    state.pop("best_key")
    # Cut to one finished epoch, consistently (common.runs checks state.json whole).
    state.update(epoch=1, history=state["history"][:1], best_epoch=1)
    (run / "state.json").write_text(json.dumps(state))
    out, _ = run_ok(["evaluate", "--run_dir", str(run)], capsys)
    assert "predates the validation split" in out and "test accuracy" in out
    out, _ = run_ok(["export", "--run_dir", str(run), "--export_dir",
                     str(tmp_path / "export")], capsys)
    assert out.startswith(f"note: {run} predates") and "wrote" in out
    out, err = train_cli(["--preset", "test", "--data_dir", data, "--out_dir", str(run),
                          "--resume", "--epochs", "2"], capsys)
    state = json.loads((run / "state.json").read_text())
    assert [row["epoch"] for row in state["history"]] == [1, 2]
    assert json.loads((run / "config.json").read_text())["arch"] == "fast"


@pytest.mark.parametrize("flag", ["--model", "--preset"])
def test_help_lists_both_spellings(flag, capsys):
    with pytest.raises(SystemExit):
        cifar10.main(["train", "--help"])
    assert flag in capsys.readouterr().out


def test_importing_the_command_module_is_light():
    from tests.conftest import run_python

    script = ("import sys, week2_cnn.cifar10\n"
              "print(sorted(m for m in ('keras', 'tensorflow', 'week2_cnn.cifar10_verbs') "
              "if m in sys.modules))\n")
    result = run_python(script, os.getcwd(), with_project=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
