"""Shared fixtures: small generated corpora and one trained char-RNN run."""

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
