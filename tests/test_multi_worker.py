"""--strategy multi_worker: real worker processes on 127.0.0.1 (common.distributed, common.cluster).

The default suite runs one single-worker cluster (the loop against `fit`) and
the refusals; the slow tier runs two-worker clusters of the char-RNN and the
DCGAN, kills a worker mid-epoch, leaves one out, and mixes settings.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from common import cluster
from common.distributed import settings_hash
from tests.conftest import REPO_ROOT, assert_one_line_error, call_cli, make_corpus

TIMEOUT = 240  # seconds any cluster in this file may take


def char_rnn_argv(text, out_dir, *extra):
    return [sys.executable, "-m", "week3_rnn.char_rnn", "train", "--text", str(text),
            "--out_dir", str(out_dir), "--preset", "test", "--epochs", "2", "--verbose", "0",
            "--strategy", "multi_worker", "--worker_timeout", "60", *extra]


def run_cluster(commands, env=None):
    """Runs commands[i] as worker i of a new local cluster: [(status, stdout, stderr)].

    `env[i]` adds to worker i's environment.
    """
    envs = env or [{}] * len(commands)
    processes = [subprocess.Popen(command, cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE,
                                  env={**os.environ, **extra, "TF_CONFIG": config})
                 for command, config, extra in zip(commands, cluster.tf_configs(len(commands)),
                                                   envs)]
    try:
        outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
        return [(p.returncode, *output) for p, output in zip(processes, outputs)]
    finally:
        cluster.stop(processes, grace=1)


def history(run):
    with open(os.path.join(run, "history.csv")) as f:
        return list(csv.DictReader(f))


def weights(path, trainable_only=False):
    import keras

    import gan.adversarial  # noqa: F401  (registers the classes the .keras files name)
    import week3_rnn.char_model  # noqa: F401

    model = keras.saving.load_model(path, compile=False)
    return [v.numpy() for v in (model.trainable_weights if trainable_only else model.weights)]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(make_corpus(repeats=120), encoding="utf-8")
    return path


def test_the_multi_worker_loop_equals_fit_on_one_worker(tmp_path, text, capsys):
    """The same losses, epoch by epoch, as Keras's fit in one process (1e-5)."""
    from week3_rnn import char_rnn

    [(status, out, err)] = run_cluster([char_rnn_argv(text, tmp_path / "mw")])
    assert status == 0, err
    assert "run directory" in out and "Traceback" not in err
    argv = ["train", "--text", str(text), "--out_dir", str(tmp_path / "fit"), "--preset",
            "test", "--epochs", "2", "--verbose", "0"]
    char_rnn.main(argv)
    loop, fit = history(tmp_path / "mw"), history(tmp_path / "fit")
    assert len(loop) == len(fit) == 2
    for a, b in zip(loop, fit):
        for key in ("loss", "val_loss"):
            assert abs(float(a[key]) - float(b[key])) < 1e-5, (key, a[key], b[key])


@pytest.mark.parametrize("module", ["word2vec.skipgram", "week2_cnn.transfer"])
def test_trainers_not_ported_refuse_multi_worker(module, monkeypatch, capsys, tmp_path):
    import importlib

    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}))
    command = importlib.import_module(module)
    source = (["--text", str(tmp_path / "t.txt")] if "word2vec" in module
              else ["--image_dir", str(tmp_path)])
    status, _, err = call_cli(command.main, ["train", *source, "--out_dir",
                                             str(tmp_path / "run"), "--strategy",
                                             "multi_worker"], capsys)
    assert_one_line_error(status, err, "not supported by `python -m " + module)
    assert not (tmp_path / "run").exists()


def test_ptb_offers_only_the_default_strategy(capsys, tmp_path):
    from week3_rnn import ptb

    status, _, err = call_cli(ptb.main, ["train", "--data_dir", str(tmp_path), "--strategy",
                                         "multi_worker"], capsys)
    assert_one_line_error(status, err, "--strategy")


def test_settings_hash_is_stable_and_small():
    a = settings_hash({"config": {"units": 8, "kind": "char_rnn"}, "metadata": {}})
    b = settings_hash({"metadata": {}, "config": {"kind": "char_rnn", "units": 8}})
    assert a == b and 0 <= a < 2 ** 20
    assert a != settings_hash({"config": {"units": 9, "kind": "char_rnn"}, "metadata": {}})


# -- the slow tier: clusters of two ------------------------------------------------------


@pytest.mark.slow
def test_two_char_rnn_workers_agree_and_only_the_chief_writes(tmp_path, text, capsys):
    from week3_rnn import char_rnn

    chief, other, copy = tmp_path / "chief", tmp_path / "other", tmp_path / "worker-copy"
    results = run_cluster([char_rnn_argv(text, chief), char_rnn_argv(text, other)],
                          env=[{}, {"TFCOURSE_WORKER_DIR": str(copy)}])
    assert [r[0] for r in results] == [0, 0], [r[2][-400:] for r in results]
    assert results[1][1] == "" and "run directory" in results[0][1]  # only the chief reports
    assert not other.exists()  # the other worker wrote nothing into its --out_dir
    for name in ("best.keras", "checkpoints/epoch-0002.keras"):
        for a, b in zip(weights(chief / name), weights(copy / name)):
            np.testing.assert_array_equal(a, b)
    # The chief's run resumes alone, on one device, from its last finished epoch.
    argv = ["train", "--text", str(text), "--out_dir", str(chief), "--preset", "test",
            "--epochs", "3", "--resume", "--verbose", "0"]
    char_rnn.main(argv)
    assert [int(row["epoch"]) for row in history(chief)] == [1, 2, 3]


@pytest.mark.slow
def test_two_dcgan_workers_agree(tmp_path):
    from tests.test_dcgan_verbs import mnist_like

    data = mnist_like(tmp_path / "mnist", train=256, test=16)
    command = [sys.executable, "-m", "gan.dcgan", "train", "--data_dir", str(data),
               "--preset", "test", "--epochs", "2", "--verbose", "0", "--strategy",
               "multi_worker", "--out_dir", str(tmp_path / "run")]
    results = run_cluster([command, command],
                          env=[{}, {"TFCOURSE_WORKER_DIR": str(tmp_path / "copy")}])
    assert [r[0] for r in results] == [0, 0], [r[2][-400:] for r in results]
    # Trainable weights are the same on both workers. Batch norm's moving statistics
    # are not: each worker averages its own batches (Keras's BatchNormalization does
    # the same under any strategy unless synchronized=True); the chief's are saved.
    last = "checkpoints/epoch-0002.keras"
    chief, copy = (weights(tmp_path / folder / last, trainable_only=True)
                   for folder in ("run", "copy"))
    assert len(chief) == len(copy) > 10
    for a, b in zip(chief, copy):
        np.testing.assert_array_equal(a, b)
    assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [1, 2]


@pytest.mark.slow
def test_two_cifar10_workers_agree(tmp_path):
    from tests.test_cifar_cli import colour_layout

    data = colour_layout(tmp_path / "cifar-10-batches-py", per_class=16)
    command = [sys.executable, "-m", "week2_cnn.cifar10", "train", "--data_dir", str(data),
               "--preset", "test", "--epochs", "2", "--verbose", "0", "--strategy",
               "multi_worker", "--out_dir", str(tmp_path / "run")]
    results = run_cluster([command, command],
                          env=[{}, {"TFCOURSE_WORKER_DIR": str(tmp_path / "copy")}])
    assert [r[0] for r in results] == [0, 0], [r[2][-400:] for r in results]
    chief, copy = (weights(tmp_path / folder / "best.keras", trainable_only=True)
                   for folder in ("run", "copy"))
    for a, b in zip(chief, copy):
        np.testing.assert_array_equal(a, b)
    assert [int(row["epoch"]) for row in history(tmp_path / "run")] == [1, 2]


@pytest.mark.slow
def test_a_worker_killed_mid_epoch_ends_the_other_and_both_resume(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text(make_corpus(repeats=4000), encoding="utf-8")
    chief = tmp_path / "run"
    argv = char_rnn_argv(big, chief, "--epochs", "100000")
    configs = cluster.tf_configs(2)
    processes = [subprocess.Popen(argv, cwd=REPO_ROOT, text=True, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE,
                                  env={**os.environ, "TF_CONFIG": config})
                 for config in configs]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (chief / "state.json").exists():
            assert time.monotonic() < deadline and processes[0].poll() is None
            time.sleep(0.2)
        time.sleep(1.0)  # inside the next epoch
        processes[1].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = processes[0].communicate(timeout=120)
        assert time.monotonic() - killed_at < 120
        assert_one_line_error(processes[0].returncode, err, "worker failed")
    finally:
        cluster.stop(processes, grace=1)
    epoch = json.loads((chief / "state.json").read_text())["epoch"]
    assert not (chief / ".lock").exists()
    resumed = char_rnn_argv(big, chief, "--epochs", str(epoch + 1), "--resume")
    results = run_cluster([resumed, resumed])
    assert [r[0] for r in results] == [0, 0], [r[2][-400:] for r in results]
    assert [int(r["epoch"]) for r in history(chief)] == list(range(1, epoch + 2))


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1], ids=["chief-waits", "worker-waits"])
def test_a_worker_that_never_comes_up_is_named(tmp_path, text, index):
    config = json.loads(cluster.tf_configs(2)[index])
    missing = config["cluster"]["worker"][1 - index]
    argv = char_rnn_argv(text, tmp_path / "run")
    argv[argv.index("--worker_timeout") + 1] = "5"
    started = time.monotonic()
    process = subprocess.run(argv, cwd=REPO_ROOT, text=True, capture_output=True,
                             timeout=TIMEOUT, env={**os.environ, "TF_CONFIG": json.dumps(config)})
    assert time.monotonic() - started < 90
    assert_one_line_error(process.returncode, process.stderr, missing)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_workers_with_different_settings_refuse(tmp_path, text):
    results = run_cluster([char_rnn_argv(text, tmp_path / "run"),
                           char_rnn_argv(text, tmp_path / "run", "--units", "16")])
    for status, _, err in results:
        assert_one_line_error(status, err, "different model, data or training settings")
    assert not (tmp_path / "run").exists()
