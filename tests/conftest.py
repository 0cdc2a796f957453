"""Shared fixtures: small generated corpora, the trained runs several modules use, sandboxes."""

import dataclasses
import os
import subprocess
import sys

import pytest

# Set before any test imports TensorFlow (conftest itself imports none).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(REPO_ROOT, "..", "shared", "data")


def make_corpus(repeats=60):
    """A small deterministic corpus with English and Korean (multi-byte) lines."""
    lines = ["the cat sat on the mat.", "a dog ran to the park!",
             "고양이가 매트 위에 앉았다.", "강아지가 공원으로 달렸다."]
    return "\n".join(lines[i % len(lines)] for i in range(repeats)) + "\n"


@pytest.fixture(scope="session")
def corpus():
    return make_corpus()


@pytest.fixture
def corpus_file(tmp_path, corpus):
    path = tmp_path / "corpus.txt"
    path.write_text(corpus, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def test_config():
    from week3_rnn.char_model import PRESETS

    return dataclasses.replace(PRESETS["test"], epochs=2, val_fraction=0.2)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, corpus, test_config):
    """(run_dir, model, vocab) of a test-preset run trained once per session."""
    from week3_rnn import char_rnn

    run_dir = str(tmp_path_factory.mktemp("trained") / "run")
    model, _, vocab = char_rnn.train(test_config, run_dir, corpus, seed=1, verbose=0)
    return run_dir, model, vocab


def snapshot(folder):
    """{relative path: sha256} of every file under `folder`: equal means byte for byte."""
    import hashlib

    found = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def call_cli(main, argv, capsys):
    """Runs a command module's `main` in-process as the CLI does: (exit status, stdout, stderr)."""
    from common.cli import run_cli

    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv)
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def assert_one_line_error(status, stderr, fragment=""):
    """Exit status 2 and exactly one `error: ...` line on stderr, containing `fragment`."""
    assert status == 2
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert fragment in lines[0], lines[0]


def assert_export_keeps_what_it_did_not_write(main, run_dir, tmp_path, capsys, monkeypatch):
    """`export --overwrite` refuses every target it did not write, with one error line each.

    The empty path, the run directory, a folder inside it, tmp_path (made the
    working directory, which the export would replace) and a user's folder
    holding a canary file; afterwards the run directory and the canary are
    byte for byte as before. Returns the user's folder for further checks.
    """
    run_before = snapshot(run_dir)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "canary.txt").write_text("keep me")
    monkeypatch.chdir(tmp_path)
    for export_dir, fragment in [("", "empty"), (run_dir, "is or contains"),
                                 (os.path.join(run_dir, "exp"), "inside the run directory"),
                                 (str(tmp_path), "is or contains"),
                                 (str(folder), "not an export written by this project")]:
        status, _, stderr = call_cli(main, ["export", "--run_dir", run_dir, "--export_dir",
                                            export_dir, "--overwrite"], capsys)
        assert_one_line_error(status, stderr, fragment)
    assert (folder / "canary.txt").read_text() == "keep me"
    assert snapshot(run_dir) == run_before
    return folder


def assert_same_training(first, second, keys):
    """Two trainings, each (state, weights), agree epoch by epoch on `keys` of their histories
    (rel 1e-5, abs 1e-6) and weight by weight (atol 1e-5): --strategy mirrored on one device
    against the default."""
    import numpy as np

    (first_state, first_weights), (second_state, second_weights) = first, second
    for a, b in zip(first_state["history"], second_state["history"], strict=True):
        for key in keys:
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-6), key
    assert len(first_weights) == len(second_weights) > 0
    for a, b in zip(first_weights, second_weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


def cli_error_line(main, argv, capsys):
    """The one `error:` line of a CLI call that must fail with status 2."""
    status, _, stderr = call_cli(main, argv, capsys)
    assert_one_line_error(status, stderr)
    return stderr.strip()


def shared_data(*parts):
    """Path into ../shared/data, or skip the test when it is not there."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"real data not available: {path}")
    return path


def run_python(script, cwd, with_project, timeout=300):
    """Runs `script` in a fresh interpreter; the project importable only if asked.

    Returns the CompletedProcess (text output). Used to show that exported
    SavedModels work without this code, and for device set-up that must
    happen before TensorFlow starts.
    """
    env = dict(os.environ, PYTHONPATH=REPO_ROOT if with_project else "",
               TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", script], cwd=str(cwd), env=env,
                          capture_output=True, text=True, timeout=timeout)


# A fresh interpreter's one CPU split into two logical devices, so MirroredStrategy has two
# replicas. TensorFlow splits a device only before it starts, so this cannot happen in the
# test's own process (and two MirroredStrategy runs in one process clash in their
# collective ops).
TWO_LOGICAL_CPUS = """\
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""


def run_on_two_cpus(body, timeout=300, **names):
    """Runs the Python `body` on two logical CPUs in a fresh interpreter; its stdout lines.

    Each keyword becomes a variable of the script (its repr), e.g. RUN=str(path). The
    test fails with the script's stderr tail unless it exits with status 0.
    """
    values = "".join(f"{name} = {value!r}\n" for name, value in names.items())
    result = run_python(TWO_LOGICAL_CPUS + values + body, REPO_ROOT, with_project=True,
                        timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.splitlines()


# -- trained runs and sandboxes that several test modules share ---------------------------
# Each is defined once here: a fixture imported from another test module is a new fixture
# there, run again for every module that imports it. The runs are session-scoped; a test
# that writes into one (evaluate's results.json, a resume) works on a copy.


@pytest.fixture(scope="session")
def trained_gan(tmp_path_factory):
    """(run_dir, model) of a one-epoch DCGAN test-preset run (tests/test_dcgan.py's data)."""
    from gan import dcgan
    from tests.test_dcgan import TEST_CONFIG, make_images

    run_dir = str(tmp_path_factory.mktemp("gan") / "run")
    model, _ = dcgan.train(TEST_CONFIG, run_dir, make_images(), seed=1, verbose=0)
    return run_dir, model


@pytest.fixture(scope="session")
def trained_vae(tmp_path_factory):
    """(run_dir, model) of a one-epoch VAE test-preset run (2-D codes, labelled images given)."""
    import numpy as np

    from gan import vae
    from tests.test_dcgan import make_images
    from tests.test_vae import TEST_CONFIG

    run_dir = str(tmp_path_factory.mktemp("vae") / "run")
    labelled = (make_images(40, seed=1), np.arange(40) % 10, [str(d) for d in range(10)])
    model, _ = vae.train(TEST_CONFIG, run_dir, make_images(), "mnist", seed=1, verbose=0,
                         labelled=labelled)
    return run_dir, model


@pytest.fixture(scope="session")
def ptb_dir(tmp_path_factory):
    """A PTB-style corpus folder (tests/test_ptb.py's write_corpus); tests only read it."""
    from tests.test_ptb import write_corpus

    return write_corpus(tmp_path_factory.mktemp("ptb"))


@pytest.fixture(scope="session")
def trained_ptb(tmp_path_factory, ptb_dir):
    """(run_dir, model, results, vocab, ids) of a PTB test run on ptb_dir, trained once."""
    from tests.test_ptb import CONFIG
    from week3_rnn import ptb
    from week3_rnn.ptb_data import encode_splits, read_splits

    run_dir = str(tmp_path_factory.mktemp("ptb_run") / "run")
    model, results = ptb.train(CONFIG, run_dir, read_splits(ptb_dir), preset="test",
                               data=ptb_dir, seed=1, verbose=0)
    vocab, ids = encode_splits(read_splits(ptb_dir), CONFIG.max_vocab_size, report=lambda _: 0)
    return run_dir, model, results, vocab, ids


@pytest.fixture(scope="session")
def spacing_run(tmp_path_factory):
    """(run_dir, model, vocab, text) of a bidirectional spacing run (tests/test_spacing.py's
    CONFIG), trained once; tests only read it."""
    from tests.test_spacing import CONFIG
    from week3_rnn import spacing

    text = make_corpus(200)
    run_dir = str(tmp_path_factory.mktemp("spacing") / "run")
    model, _, vocab = spacing.train(CONFIG, run_dir, text, seed=1, verbose=0)
    return run_dir, model, vocab, text


@pytest.fixture(scope="session")
def cifar_run(tmp_path_factory):
    """(run_dir, data) of a CIFAR-10 test-preset run on 320 flat-colour images, trained
    once; tests only read it (or copy it)."""
    from tests.test_cifar import colour_data
    from week2_cnn import cifar10
    from week2_cnn.cifar_models import PRESETS

    run_dir = str(tmp_path_factory.mktemp("cifar_run") / "run")
    data = colour_data(320, 50)
    cifar10.train(PRESETS["test"], run_dir, data, seed=1, verbose=0)
    return run_dir, data


@pytest.fixture(scope="module")
def earlier_run(trained_run, tmp_path_factory):
    """A copy, for this module, of the session's trained run, with a user's note inside.

    Trained once (trained_run) and copied per module: a bug that changes it in one
    module cannot hide in another.
    """
    import shutil

    from tests.test_hostile_common import CANARY

    path = tmp_path_factory.mktemp("earlier") / "run"
    shutil.copytree(trained_run[0], path, symlinks=True)
    (path / "my-notes.txt").write_bytes(CANARY)
    return str(path)


@pytest.fixture
def world(tmp_path, earlier_run, corpus, monkeypatch):
    """The hostile tests' sandbox (tests/test_hostile_common.World); cwd and HOME inside it."""
    from tests.test_hostile_common import World

    monkeypatch.delenv("TF_CONFIG", raising=False)
    made = World(tmp_path, earlier_run, corpus)
    monkeypatch.chdir(made.cwd)
    monkeypatch.setenv("HOME", str(made.home))
    return made


@pytest.fixture
def live_pid():
    """The pid of a process of ours that runs for the whole test."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def unwritable_dir(tmp_path):
    """An existing directory this process cannot create anything in."""
    if os.geteuid() != 0:
        path = tmp_path / "read-only"
        path.mkdir()
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    for candidate in ("/sys", "/proc/sys"):  # root ignores modes; these refuse even root
        try:
            os.mkdir(os.path.join(candidate, "tfcourse-probe"))
        except OSError:
            yield candidate
            return
        os.rmdir(os.path.join(candidate, "tfcourse-probe"))
    pytest.skip("no directory here refuses writes by root")


@pytest.fixture(scope="session")
def sentiment_run(tmp_path_factory):
    """(run_dir, model, vocab) of an lstm sentiment run on the order task (tests/
    test_sentiment.py's SENTIMENT_CONFIG, seed 1), evaluated once (results.json); tests
    only read it (or copy it)."""
    import contextlib
    import io

    from tests.test_sentiment import SENTIMENT_CONFIG
    from week3_rnn import sentiment_verbs
    from week3_rnn.sentiment_data import load_order_task

    run_dir = str(tmp_path_factory.mktemp("sentiment") / "run")
    data = load_order_task(SENTIMENT_CONFIG, seed=1)
    model, _, vocab = sentiment_verbs.train(SENTIMENT_CONFIG, run_dir, data, seed=1,
                                            verbose=0)
    with contextlib.redirect_stdout(io.StringIO()):
        sentiment_verbs.evaluate(run_dir, data.test)
    return run_dir, model, vocab


@pytest.fixture(scope="session")
def translate_run(tmp_path_factory):
    """(run_dir, pairs file) of an attention translate run (tests/test_translate.py's CONFIG
    on its pairs file), trained once; tests only read it (or copy it)."""
    from tests.test_translate import CONFIG, write_pairs
    from week3_rnn import translate

    root = tmp_path_factory.mktemp("translate")
    pairs = write_pairs(root / "pairs.txt")
    settings = {"dataset": "pairs", "path": str(pairs), "tokens": "char"}
    run_dir = str(root / "run")
    translate.train(CONFIG, run_dir, translate.read_source(settings, CONFIG), settings,
                    seed=1, verbose=0)
    return run_dir, pairs


@pytest.fixture(scope="session")
def memn2n_run(tmp_path_factory):
    """(run_dir, vocab, test examples) of a memn2n test-preset run on generated task 1
    (1,000 questions), trained once; tests only read it (or copy it)."""
    from week4_qa import memn2n
    from week4_qa.memn2n_model import PRESETS

    train, test, settings = memn2n.load_task(1, None, 1000)
    run_dir = str(tmp_path_factory.mktemp("memn2n") / "run")
    _, _, vocab = memn2n.train(PRESETS["test"], run_dir, train, settings, seed=1, verbose=0)
    return run_dir, vocab, test


@pytest.fixture(scope="session")
def vqa_run(tmp_path_factory):
    """(run_dir, data folder) of an attention vqa run (tests/test_vqa.py's CONFIG) on
    tests/vqa_fixture's tiny easy-VQA data, trained once; tests only read it (or copy it)."""
    from tests.test_vqa import CONFIG
    from tests.vqa_fixture import write_easy_vqa
    from week4_qa import vqa

    root = tmp_path_factory.mktemp("vqa")
    data = write_easy_vqa(root / "easy_vqa", 120, 20)
    split, _, settings = vqa.load_data(str(data))
    run_dir = str(root / "run")
    vqa.train(CONFIG, run_dir, split, settings, seed=1, verbose=0)
    return run_dir, data


@pytest.fixture(scope="session")
def caption_run(tmp_path_factory):
    """run_dir of a show_attend_tell caption run (the test preset on 200 generated scenes,
    2 epochs), trained once; tests only read it (or copy it)."""
    import dataclasses

    from week5_caption import caption_data, caption_verbs
    from week5_caption.caption_config import PRESETS

    config = dataclasses.replace(PRESETS["test"], scenes=200)
    parts = {part: caption_data.read_part({"data": "generated"}, part, config)
             for part in ("train", "validation")}
    run_dir = str(tmp_path_factory.mktemp("caption") / "run")
    caption_verbs.train(config, run_dir, parts, {"data": "generated"}, seed=1, verbose=0)
    return run_dir
