"""--strategy multi_worker: real worker processes on 127.0.0.1 (common.distributed, common.cluster).

The default suite runs one single-worker cluster (the loop against `fit`),
checks that every trainer but PTB accepts multi_worker, and the refusals; the
slow tier runs two-worker clusters of every trainer that supports it, kills a
worker mid-epoch, leaves one out, and mixes settings.
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

    # Registers the classes the .keras files name.
    import gan.adversarial  # noqa: F401
    import gan.vae_model  # noqa: F401
    import week1_basics.autoencoder_models  # noqa: F401
    import week2_cnn.transfer_model  # noqa: F401
    import week3_rnn.char_model  # noqa: F401
    import week3_rnn.sentiment_model  # noqa: F401
    import week3_rnn.spacing_model  # noqa: F401
    import week4_qa.memn2n_model  # noqa: F401
    import week4_qa.vqa_model  # noqa: F401
    import week5_caption.caption_model  # noqa: F401
    import word2vec.model  # noqa: F401

    model = keras.saving.load_model(path, compile=False)
    return [v.numpy() for v in (model.trainable_weights if trainable_only else model.weights)]


def train_two_workers(tmp_path, module, *flags):
    """`python -m MODULE train FLAGS --strategy multi_worker` on two local workers.

    The chief trains into tmp_path/chief; the other worker is given its own
    --out_dir (tmp_path/other, which must stay untouched) and keeps its copy
    of the run in tmp_path/copy. Returns (chief, copy).
    """
    chief, other, copy = (tmp_path / name for name in ("chief", "other", "copy"))
    command = [sys.executable, "-m", module, "train", *flags, "--verbose", "0",
               "--strategy", "multi_worker", "--worker_timeout", "60"]
    results = run_cluster([[*command, "--out_dir", str(chief)],
                           [*command, "--out_dir", str(other)]],
                          env=[{}, {"TFCOURSE_WORKER_DIR": str(copy)}])
    assert [r[0] for r in results] == [0, 0], [r[2][-600:] for r in results]
    assert results[1][1] == "" and "run directory" in results[0][1]  # only the chief reports
    assert not other.exists()  # nothing lands in the other worker's --out_dir
    return chief, copy


def resume_two_workers(module, run, *flags):
    """Both workers --resume the chief's run (the other one from a copy of it it makes)."""
    command = [sys.executable, "-m", module, "train", *flags, "--verbose", "0",
               "--strategy", "multi_worker", "--worker_timeout", "60", "--out_dir", str(run),
               "--resume"]
    results = run_cluster([command, command])
    assert [r[0] for r in results] == [0, 0], [r[2][-600:] for r in results]


def assert_complete_run(run, epochs, *files, best=True):
    """A finished run of `epochs` epochs: state, history, checkpoints, plots, no lock.

    best=False for a GAN, which has no best epoch."""
    assert json.loads((run / "state.json").read_text())["epoch"] == epochs
    assert [int(row["epoch"]) for row in history(run)] == list(range(1, epochs + 1))
    for name in ("config.json", f"checkpoints/epoch-{epochs:04d}.keras", "loss.png",
                 *(["best.keras"] if best else []), *files):
        assert (run / name).exists(), name
    assert not (run / ".lock").exists()


def assert_same_weights(a, b, trainable_only=False, at_least=1):
    """The .keras files `a` and `b` hold equal weights, at least `at_least` of them
    (trainable_only: batch norm's moving statistics are each worker's own)."""
    first, second = weights(a, trainable_only), weights(b, trainable_only)
    assert len(first) == len(second) >= at_least
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


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


# Every trainer's verbs module and the source flags its `train` requires.
TRAINERS = {
    "week3_rnn.char_rnn_verbs": [], "week3_rnn.spacing_verbs": [],
    "week2_cnn.cifar10_verbs": [], "week2_cnn.transfer_verbs": ["--image_dir", "."],
    "gan.dcgan_verbs": [], "gan.vae_verbs": [], "week1_basics.mnist_verbs": [],
    "week1_basics.regression_verbs": [], "week1_basics.autoencoder_verbs": [],
    "word2vec.skipgram_verbs": ["--text", "."],
    "week3_rnn.translate_verbs": [], "week3_rnn.sentiment_verbs": [],
    "week4_qa.memn2n_verbs": [], "week4_qa.vqa_verbs": ["--data_dir", "."],
    "week5_caption.caption_verbs": [],
}


@pytest.mark.parametrize("module", TRAINERS)
def test_every_trainer_but_ptb_accepts_multi_worker(module):
    """The flags parse with multi_worker supported (argparse's own parse_args: the
    command parser's would start the cluster)."""
    import argparse
    import importlib

    parser = importlib.import_module(module).build_parser()
    args = argparse.ArgumentParser.parse_args(
        parser, ["train", *TRAINERS[module], "--strategy", "multi_worker",
                 "--worker_timeout", "5"])
    assert args.strategy == "multi_worker" and args.worker_timeout == 5


def test_ptb_offers_only_the_default_strategy_and_says_why(capsys, tmp_path):
    from week3_rnn import ptb

    status, _, err = call_cli(ptb.main, ["train", "--data_dir", str(tmp_path), "--strategy",
                                         "multi_worker"], capsys)
    assert_one_line_error(status, err, "--strategy")
    with pytest.raises(SystemExit):
        ptb.main(["train", "--help"])
    assert "one device" in " ".join(capsys.readouterr().out.split())


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
        assert_same_weights(chief / name, copy / name)
    # The chief's run resumes alone, on one device, from its last finished epoch.
    argv = ["train", "--text", str(text), "--out_dir", str(chief), "--preset", "test",
            "--epochs", "3", "--resume", "--verbose", "0"]
    char_rnn.main(argv)
    assert [int(row["epoch"]) for row in history(chief)] == [1, 2, 3]


@pytest.mark.slow
def test_two_dcgan_workers_agree(tmp_path):
    from tests.test_dcgan_verbs import mnist_like

    data = mnist_like(tmp_path / "mnist", train=256, test=16)
    chief, copy = train_two_workers(tmp_path, "gan.dcgan", "--data_dir", str(data),
                                    "--preset", "test", "--epochs", "2")
    assert_complete_run(chief, 2, "samples/epoch-0002.png", "progress.gif", best=False)
    # Trainable weights are the same on both workers. Batch norm's moving statistics
    # are not: each worker averages its own batches (Keras's BatchNormalization does
    # the same under any strategy unless synchronized=True); the chief's are saved.
    last = "checkpoints/epoch-0002.keras"
    assert_same_weights(chief / last, copy / last, trainable_only=True, at_least=11)


@pytest.mark.slow
def test_two_cifar10_workers_agree(tmp_path):
    from tests.test_cifar_cli import colour_layout

    data = colour_layout(tmp_path / "cifar-10-batches-py", per_class=16)
    chief, copy = train_two_workers(tmp_path, "week2_cnn.cifar10", "--data_dir", str(data),
                                    "--preset", "test", "--epochs", "2")
    assert_complete_run(chief, 2, "results.json")  # the chief alone evaluates
    assert_same_weights(chief / "best.keras", copy / "best.keras", trainable_only=True)


@pytest.mark.slow
def test_two_mnist_and_regression_workers(tmp_path):
    from tests.test_week1_mnist import write_mnist_like

    data = write_mnist_like(tmp_path / "mnist")
    chief, copy = train_two_workers(tmp_path / "mnist-run", "week1_basics.mnist", "--data_dir",
                                    str(data), "--preset", "softmax", "--epochs", "2")
    assert_complete_run(chief, 2, "results.json")
    assert_same_weights(chief / "best.keras", copy / "best.keras")
    chief, copy = train_two_workers(tmp_path / "regression-run", "week1_basics.regression",
                                    "--epochs", "2")
    assert_complete_run(chief, 2, "results.json")
    assert_same_weights(chief / "best.keras", copy / "best.keras")


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


def thread_count(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(f.read().split("Threads:")[1].split()[0])


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc (Linux)")
def test_a_long_run_keeps_a_steady_number_of_threads(tmp_path):
    """A collective timeout made TensorFlow keep a thread alive per collective for the
    whole timeout: 2 threads a step, so a run of fast steps aborted within minutes."""
    big = tmp_path / "big.txt"
    big.write_text(make_corpus(repeats=4000), encoding="utf-8")
    argv = char_rnn_argv(big, tmp_path / "run", "--epochs", "100000")
    processes = [subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL,
                                  env={**os.environ, "TF_CONFIG": config})
                 for config in cluster.tf_configs(2)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while not (tmp_path / "run" / "state.json").exists():  # training is under way
            assert time.monotonic() < deadline and processes[0].poll() is None
            time.sleep(0.5)
        counts = []
        for _ in range(10):  # 30 s more: about 6,000 threads with the timeout
            time.sleep(3)
            counts.append(thread_count(processes[0].pid))
        assert processes[0].poll() is None and max(counts) < 1_000, counts
    finally:
        cluster.stop(processes, grace=1)


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


# -- the slow tier: the trainers ported last, each as a cluster of two ---------------------


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["nce", "negative_sampling"])
def test_two_word2vec_workers_train_what_one_process_does(tmp_path, text, loss):
    """Each worker keeps its slice of the negatives one process draws for the global
    batch (nce: the batch's one set; negative_sampling: each example's own)."""
    from word2vec import skipgram

    flags = ["--text", str(text), "--preset", "test", "--epochs", "2", "--loss", loss]
    chief, _ = train_two_workers(tmp_path, "word2vec.skipgram", *flags)
    skipgram.main(["train", *flags, "--verbose", "0", "--out_dir", str(tmp_path / "one")])
    for a, b in zip(history(chief), history(tmp_path / "one"), strict=True):
        assert abs(float(a["loss"]) - float(b["loss"])) < 1e-4, (a["loss"], b["loss"])


@pytest.mark.slow
def test_two_word2vec_workers_agree_and_resume(tmp_path, text):
    flags = ["--text", str(text), "--preset", "test", "--epochs", "2"]
    chief, copy = train_two_workers(tmp_path, "word2vec.skipgram", *flags)
    assert_complete_run(chief, 2, "vocab.json", "embeddings.npy", "vectors.tsv", "tsne.png")
    assert_same_weights(chief / "checkpoints/epoch-0002.keras",
                        copy / "checkpoints/epoch-0002.keras")
    np.testing.assert_array_equal(np.load(chief / "embeddings.npy"),
                                  np.load(copy / "embeddings.npy"))
    resume_two_workers("word2vec.skipgram", chief, *flags[:-1], "3")
    assert_complete_run(chief, 3, "embeddings.npy")


@pytest.mark.slow
def test_two_vae_workers_agree_and_resume(tmp_path):
    from tests.test_dcgan_verbs import mnist_like

    data = mnist_like(tmp_path / "mnist", train=128, test=32)
    flags = ["--data_dir", str(data), "--preset", "test", "--epochs", "2"]
    chief, copy = train_two_workers(tmp_path, "gan.vae", *flags)
    # The test preset's 2-D code: the latent maps too, from the labelled test images.
    assert_complete_run(chief, 2, "samples/epoch-0002.png", "progress.gif", "manifold.png",
                        "latent_codes.png")
    assert_same_weights(chief / "checkpoints/epoch-0002.keras",
                        copy / "checkpoints/epoch-0002.keras")
    resume_two_workers("gan.vae", chief, *flags[:-1], "3")
    assert_complete_run(chief, 3, "samples/epoch-0003.png")
    # Each worker's noise is its rows of what one process draws for the whole batch.
    from gan import vae

    vae.main(["train", *flags[:-1], "3", "--verbose", "0", "--out_dir", str(tmp_path / "one")])
    for a, b in zip(history(chief), history(tmp_path / "one"), strict=True):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-4)


@pytest.mark.slow
def test_two_spacing_workers_agree_and_resume(tmp_path, text):
    flags = ["--text", str(text), "--preset", "test", "--epochs", "2"]
    chief, copy = train_two_workers(tmp_path, "week3_rnn.spacing", *flags)
    assert_complete_run(chief, 2, "vocab.json")
    assert {"val_precision", "val_recall", "val_f1"} <= set(history(chief)[-1])
    assert_same_weights(chief / "checkpoints/epoch-0002.keras",
                        copy / "checkpoints/epoch-0002.keras")
    resume_two_workers("week3_rnn.spacing", chief, *flags[:-1], "3")
    assert_complete_run(chief, 3)


@pytest.mark.slow
def test_two_sentiment_workers_agree_and_resume(tmp_path):
    flags = ["--dataset", "order", "--preset", "test", "--max_examples", "300", "--epochs",
             "2"]
    chief, copy = train_two_workers(tmp_path, "week3_rnn.sentiment", *flags)
    assert_complete_run(chief, 2, "vocab.json", "labels.json")
    assert_same_weights(chief / "checkpoints/epoch-0002.keras",
                        copy / "checkpoints/epoch-0002.keras")
    resume_two_workers("week3_rnn.sentiment", chief, *flags[:-1], "3")
    assert_complete_run(chief, 3)


@pytest.mark.slow
def test_two_memn2n_workers_agree_through_tries_and_resume(tmp_path):
    """Each try's new weights and linear-start flag are set alike on both workers, the
    clipping sees the whole batch: the run trains what one process trains."""
    flags = ["--preset", "test", "--stories", "300", "--epochs", "2", "--grad_clip", "1"]
    chief, copy = train_two_workers(tmp_path, "week4_qa.memn2n", *flags, "--tries", "2")
    assert_complete_run(chief, 4, "vocab.json")
    assert_same_weights(chief / "checkpoints/epoch-0004.keras",
                        copy / "checkpoints/epoch-0004.keras")
    resume_two_workers("week4_qa.memn2n", chief, *flags, "--tries", "3")  # one try more
    assert_complete_run(chief, 6)
    rows = history(chief)
    assert [float(r["linear"]) for r in rows] == [1.0, 0.0] * 3
    from week4_qa import memn2n

    memn2n.main(["train", *flags, "--tries", "3", "--verbose", "0", "--out_dir",
                 str(tmp_path / "one")])
    for a, b in zip(rows, history(tmp_path / "one"), strict=True):
        for key in ("loss", "val_loss"):
            assert float(a[key]) == pytest.approx(float(b[key]), rel=1e-4), key


@pytest.mark.slow
def test_two_vqa_workers_agree_and_resume(tmp_path):
    """attention with small_cnn: both workers hold the same trainable weights (batch norm's
    moving statistics are each worker's own), the embedding's gradient is summed densely
    (DenseReplicaAdam), and the run resumes."""
    from tests.vqa_fixture import write_easy_vqa

    data = write_easy_vqa(tmp_path / "data", 40, 4)
    flags = ["--data_dir", str(data), "--preset", "test", "--epochs"]
    chief, copy = train_two_workers(tmp_path, "week4_qa.vqa", *flags, "1")
    assert_complete_run(chief, 1, "vocab.json", "answers.json")
    last = "checkpoints/epoch-0001.keras"
    assert_same_weights(chief / last, copy / last, trainable_only=True)
    resume_two_workers("week4_qa.vqa", chief, *flags, "2")
    assert_complete_run(chief, 2)
    assert all(np.isfinite(float(row["loss"])) for row in history(chief))


@pytest.mark.slow
def test_two_caption_workers_agree_and_resume(tmp_path):
    """show_attend_tell with small_cnn, the attention penalty and the whole batch's
    clipping: both workers hold the same trainable weights, and the run resumes. (Batch
    norm's moving statistics differ: each worker averages its own batches, as in dcgan.)"""
    flags = ["--preset", "test", "--scenes", "128", "--attention_penalty", "1",
             "--grad_clip", "0.5", "--epochs"]
    chief, copy = train_two_workers(tmp_path, "week5_caption.caption", *flags, "2")
    assert_complete_run(chief, 2, "vocab.json")
    last = "checkpoints/epoch-0002.keras"
    assert_same_weights(chief / last, copy / last, trainable_only=True)
    resume_two_workers("week5_caption.caption", chief, *flags, "3")
    assert_complete_run(chief, 3)
    assert all(np.isfinite(float(row["loss"])) for row in history(chief))


@pytest.mark.slow
def test_two_transfer_workers_train_both_phases_and_resume(tmp_path):
    from tests.test_transfer import make_photo_folder, save_small_base

    photos = make_photo_folder(tmp_path / "photos")
    base = save_small_base(tmp_path)
    # Both workers share one bottleneck cache here (one machine): each entry is
    # written atomically, so two workers computing the same one is harmless.
    flags = ["--image_dir", str(photos), "--base", base, "--weights", "none",
             "--bottleneck_dir", str(tmp_path / "cache"), "--preset", "test", "--epochs", "2",
             "--fine_tune_layers", "2", "--fine_tune_epochs", "1"]
    chief, copy = train_two_workers(tmp_path, "week2_cnn.transfer", *flags)
    assert_complete_run(chief, 2, "labels.json", "base.keras", "classifier.keras",
                        "results.json")
    assert_complete_run(chief / "fine_tune", 1)
    # The fine-tuning phase started on each worker from its own copy of the head
    # phase's last epoch; batch norm's moving statistics are each worker's own.
    last = "fine_tune/checkpoints/epoch-0001.keras"
    assert_same_weights(chief / last, copy / last, trainable_only=True)
    resume_two_workers("week2_cnn.transfer", chief, *flags[:-1], "2")
    assert_complete_run(chief, 2)  # the head phase trains nothing more
    assert_complete_run(chief / "fine_tune", 2)


@pytest.mark.slow
def test_two_workers_train_every_stage_of_the_stacked_autoencoder(tmp_path):
    from tests.test_week1_mnist import write_mnist_like

    data = write_mnist_like(tmp_path / "mnist")
    flags = ["--data_dir", str(data), "--preset", "test", "--arch", "stacked",
             "--hidden_units", "16", "--code_size", "8", "--labels", "40",
             "--fine_tune_epochs", "2"]
    chief, copy = train_two_workers(tmp_path, "week1_basics.autoencoder", *flags)
    assert_complete_run(chief, 2, "results.json")
    for stage in ("pretrain1", "pretrain2", "classifier"):
        assert_complete_run(chief / stage, 2)
        # Each stage began from the one before's best checkpoint, on both workers.
        assert_same_weights(chief / stage / "best.keras", copy / stage / "best.keras")
    assert_same_weights(chief / "best.keras", copy / "best.keras")
    resume_two_workers("week1_basics.autoencoder", chief, *flags[:-1], "3")
    assert_complete_run(chief, 3)
    assert_complete_run(chief / "pretrain1", 2)  # finished stages train no more
