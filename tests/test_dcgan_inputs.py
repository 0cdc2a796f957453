"""DCGAN: corrupt data files, bounded flags, the --model alias, --strategy mirrored, import cost."""

import dataclasses
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common.cli import run_cli
from gan import dcgan
from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli, run_on_two_cpus
from tests.test_dcgan import make_images
from tests.test_dcgan_verbs import mnist_like, write_idx


def train_argv(data_dir, out_dir, *extra):
    return ["train", "--data_dir", str(data_dir), "--preset", "test", "--out_dir", str(out_dir),
            "--verbose", "0", *extra]


def corrupt(folder, name, data):
    (folder / name).write_bytes(data)


IMAGES = "train-images-idx3-ubyte"


@pytest.mark.parametrize("name, make, fragment", [
    (IMAGES, lambda good: good[:len(good) // 2], "truncated or corrupt"),
    (IMAGES, lambda good: b"\x00\x00\x08\x03" + b"\xff" * 12, "truncated or corrupt"),
    (IMAGES, lambda good: b"junk", "not an IDX"),
    (IMAGES + ".gz", lambda good: b"\x1f\x8b junk, not deflate", "gzip"),
    (IMAGES + ".gz", lambda good: gzip.compress(good)[:-20], "gzip"),
    ("mnist.npz", lambda good: b"PK\x03\x04 not a zip", "corrupt or truncated"),
])
def test_corrupt_dataset_files(tmp_path, capsys, name, make, fragment):
    data = tmp_path / "data"
    data.mkdir()
    write_idx(tmp_path / "good", make_images(20)[..., 0])
    corrupt(data, name, make((tmp_path / "good").read_bytes()))
    status, _, stderr = call_cli(dcgan.main, train_argv(data, tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, fragment)
    assert not (tmp_path / "run").exists()  # no half-made run directory


def test_npz_with_a_pickled_array_is_refused_unread(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "mnist.npz", x_train=np.array([{"not": "images"}], dtype=object))
    status, _, stderr = call_cli(dcgan.main, train_argv(data, tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "corrupt or truncated")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_the_data_dir_is_refused_before_reading(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(data / IMAGES)
    status, _, stderr = call_cli(dcgan.main, train_argv(data, tmp_path / "run"), capsys)
    assert_one_line_error(status, stderr, "FIFO")


def test_max_bytes_limits_dataset_files(tmp_path, capsys):
    data = mnist_like(tmp_path / "data")
    status, _, stderr = call_cli(dcgan.main, train_argv(data, tmp_path / "run", "--max_bytes",
                                                        "1000"), capsys)
    assert_one_line_error(status, stderr, "--max_bytes")


@pytest.mark.parametrize("argv, fragment", [
    (["generate", "--num", "1025"], "--num"),
    (["generate", "--seed", "-1"], "--seed"),
    (["generate", "--seed", str(2 ** 31)], "--seed"),
    (["generate", "--scale", "5"], "--scale"),
    (["interpolate", "--steps", "101"], "--steps"),
    (["interpolate", "--seed_b", "99999999999"], "--seed_b"),
    (["evaluate", "--num", "50001"], "--num"),
    (["train", "--latent_dim", "0"], "--latent_dim"),
    (["train", "--batch_size", str(10 ** 9)], "--batch_size"),
    (["train", "--beta_1", "1.5"], "--beta_1"),
    (["train", "--arch", "vae"], "--arch"),
])
def test_counts_and_seeds_are_bounded(tmp_path, capsys, argv, fragment):
    run = [] if argv[0] == "train" else ["--run_dir", str(tmp_path)]
    status, _, stderr = call_cli(dcgan.main, [*argv, *run], capsys)
    assert_one_line_error(status, stderr, fragment)


def test_evaluate_on_a_run_of_another_command(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"kind": "char_rnn"}))
    status, _, stderr = call_cli(dcgan.main, ["evaluate", "--run_dir", str(tmp_path)], capsys)
    assert_one_line_error(status, stderr, "'char_rnn' run")


def parsed_config(argv):
    return dcgan.config_for(dcgan.build_parser().parse_args(["train", *argv]))


def test_old_model_flag_keeps_its_meaning():
    old = parsed_config(["--model", "fc_gan"])
    assert old == parsed_config(["--preset", "fc_gan"]) and old.arch == "fc_gan"
    assert parsed_config(["--model", "fc_gan", "--preset", "default"]) == old  # as before
    # With another --preset, --model (like --arch) changes the architecture only.
    assert (parsed_config(["--model", "fc_gan", "--preset", "paper"])
            == parsed_config(["--arch", "fc_gan", "--preset", "paper"]))
    # --arch alone keeps the preset's training settings.
    arch_only = parsed_config(["--arch", "fc_gan"])
    assert (arch_only.arch, arch_only.batch_size) == ("fc_gan", 128)
    assert parsed_config(["--model", "dcgan"]) == parsed_config([])


def test_old_model_flag_trains_the_course_gan_and_prints_a_note(tmp_path, capsys):
    data = mnist_like(tmp_path / "data", train=64)
    run_cli(dcgan.main, ["train", "--model", "fc_gan", "--data_dir", str(data), "--epochs", "1",
                         "--out_dir", str(tmp_path / "run"), "--verbose", "0"])
    out, err = capsys.readouterr()
    assert "next:" in out and f"python -m gan.dcgan evaluate --run_dir {tmp_path / 'run'}" in out
    notes = [line for line in err.splitlines() if line.startswith("note: --model")]
    assert notes == ["note: --model is deprecated; use --arch (with --preset fc_gan for the "
                     "course's settings) (same meaning)"]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = dataclasses.replace(parsed_config(["--preset", "fc_gan"]), epochs=1)
    assert {k: saved[k] for k in dataclasses.asdict(expected)} == dataclasses.asdict(expected)


def test_model_and_arch_that_disagree(tmp_path, capsys):
    status, _, stderr = call_cli(dcgan.main, ["train", "--model", "dcgan", "--arch", "fc_gan",
                                              "--out_dir", str(tmp_path / "run")], capsys)
    assert_one_line_error(status, stderr, "disagree")


MIRRORED = r"""
import json, dataclasses
from gan import dcgan_verbs
from gan.model import PRESETS
from tests.test_dcgan import make_images
config = dataclasses.replace(PRESETS["test"], epochs=1)
_, state = dcgan_verbs.train(config, RUN, make_images(), verbose=0, strategy="mirrored")
print(json.dumps(state["history"][0]))
"""


def test_mirrored_strategy_trains_on_two_replicas(tmp_path):
    row = json.loads(run_on_two_cpus(MIRRORED, RUN=str(tmp_path / "run"))[-1])
    # Losses as on one device (~2 ln 2 and ~ln 2 at the start), not divided by 2 replicas.
    assert abs(row["d_loss"] - 2 * np.log(2)) < 0.35 and abs(row["g_loss"] - np.log(2)) < 0.35
    assert json.loads((tmp_path / "run" / "state.json").read_text())["epoch"] == 1


def test_importing_the_command_loads_no_tensorflow():
    code = "import sys, gan.dcgan; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr[-2000:]
