"""`python -m common.cluster`: bad flags and commands are one error line, good ones run.

Each case runs the real command in a fresh interpreter; the launcher imports
no TensorFlow, so a case takes a fraction of a second.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, assert_one_line_error


def cluster(*argv):
    """(exit status, stdout, stderr) of `python -m common.cluster ARGV`."""
    done = subprocess.run([sys.executable, "-m", "common.cluster", *map(str, argv)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_a_missing_program_is_one_error_line():
    status, out, err = cluster("--workers", "2", "--", "/nonexistent/binary")
    assert_one_line_error(status, err, "/nonexistent/binary: no such file")
    assert out == ""


def test_programs_that_cannot_be_started_are_one_error_line(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    script.chmod(0o644)
    status, _, err = cluster("--", script)
    assert_one_line_error(status, err, "is not executable")
    # Executable, but neither a binary nor a script with #!: the start itself fails.
    text = tmp_path / "notes.txt"
    text.write_text("not a program\n")
    text.chmod(0o755)
    status, _, err = cluster("--workers", "2", "--", text)
    assert_one_line_error(status, err, "cannot start")
    status, _, err = cluster("--", tmp_path)
    assert_one_line_error(status, err, "is a folder")
    status, _, err = cluster("--", "no_such_command_anywhere_xyz")
    assert_one_line_error(status, err, "no such command on PATH")


@pytest.mark.parametrize("argv, fragment", [
    (["--workers", "0", "--", "true"], "--workers: must be in 1..16"),
    (["--workers", "17", "--", "true"], "--workers: must be in 1..16"),
    (["--workers", "9" * 30, "--", "true"], "--workers: must be in 1..16"),
    (["--workers", "two", "--", "true"], "--workers: expected a whole number"),
    (["--workers", "2"], "give the training command"),
    (["--workers", "2", "--"], "give the training command"),
])
def test_bad_flags_are_one_error_line(argv, fragment):
    status, out, err = cluster(*argv)
    assert_one_line_error(status, err, fragment)
    assert out == ""


def test_each_worker_gets_its_index_and_a_failure_is_the_exit_status(tmp_path):
    # Each worker writes its own file: two workers printing to one pipe interleave.
    show = ("import json, os, sys; c = json.loads(os.environ['TF_CONFIG']); "
            "i = c['task']['index']; "
            "open(os.path.join(sys.argv[1], str(i)), 'w').write(str(len(c['cluster']['worker'])))")
    status, _, err = cluster("--workers", "2", "--", sys.executable, "-c", show, tmp_path)
    assert status == 0 and err == ""
    assert {name: (tmp_path / name).read_text() for name in os.listdir(tmp_path)} == {
        "0": "2", "1": "2"}
    status, _, _ = cluster("--workers", "2", "--", sys.executable, "-c",
                           "import os, sys; sys.exit(3 if os.environ['TF_CONFIG'] else 0)")
    assert status == 3
