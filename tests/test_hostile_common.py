"""The harness of the hostile suite (tests/test_hostile_*.py), and checks that it sees damage.

Every hostile case runs the real char-RNN command line, then `World.fails` checks the exit
status, exactly one `error:` line on stderr with nothing before it (stdout empty too for a
failure found before any work), and that nothing was lost: a canary file outside any run
directory, one in the (sandboxed) current directory and one in the (sandboxed) home, and an
earlier trained `test`-preset run directory holding a user's note, every file hashed.

In-process calls capture at the file-descriptor level (capfd), so a TensorFlow log line
written by C++ counts as a second line. Subprocesses are used only where a signal, a second
process or a fresh interpreter is the point.

The suite's fixtures (earlier_run, world, live_pid, unwritable_dir) are in tests/conftest.py,
so that every module shares them without importing them from here.
"""

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys

import pytest

from common.cli import run_cli
from tests.conftest import REPO_ROOT, call_cli
from week3_rnn import char_rnn

CANARY = b"a user's file: nothing may change, move or remove it\n"
# Caches that libraries keep in a home folder (matplotlib's font list, Keras's config).
HOME_CACHES = (".cache", ".keras", ".config", ".local")
# Flags that make a CLI resume match the session's trained run (tests/conftest.py).
RUN_FLAGS = ["--preset", "test", "--val_fraction", "0.2", "--seed", "1", "--verbose", "0"]


def entry(path):
    """What a file system entry is: its bytes' hash and mode, a link's target, or 'dir'."""
    if os.path.islink(path):
        return "link -> " + os.readlink(path)
    if os.path.isdir(path):
        return "dir"
    with open(path, "rb") as f:
        return f"{hashlib.sha256(f.read()).hexdigest()} {oct(os.stat(path).st_mode)}"


def tree_hash(path):
    """{relative path: entry} of everything under `path` (links not followed)."""
    path = str(path)
    if not os.path.lexists(path):
        return None
    if os.path.islink(path) or not os.path.isdir(path):
        return {".": entry(path)}
    found = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            found[os.path.relpath(full, path)] = entry(full)
    return found


class World:
    """A sandbox: canaries, the earlier run, a corpus file; cwd and HOME point inside it."""

    def __init__(self, root, run_dir, corpus):
        self.root, self.run = root, run_dir
        self.cwd, self.home = root / "cwd", root / "home"
        self.cwd.mkdir()
        self.home.mkdir()
        self.canaries = [root / "canary.txt", self.cwd / "canary.txt", self.home / "canary.txt"]
        for path in self.canaries:
            path.write_bytes(CANARY)
        self.text = root / "corpus.txt"
        self.text.write_text(corpus, encoding="utf-8")
        self.before = self.snapshot()

    def snapshot(self):
        return {"canaries": [entry(p) for p in self.canaries], "run": tree_hash(self.run),
                "cwd": tree_hash(self.cwd),
                "home": {k: v for k, v in tree_hash(self.home).items()
                         if k.split(os.sep)[0] not in HOME_CACHES}}

    def assert_intact(self):
        now = self.snapshot()
        for key in self.before:
            assert now[key] == self.before[key], f"{key} changed"

    def copy_run(self, name="target"):
        """A fresh copy of the earlier run, to be attacked (the earlier run stays a bystander)."""
        path = self.root / name
        shutil.copytree(self.run, path, symlinks=True)
        return str(path)

    def fails(self, argv, capfd, fragment="", status=2, quiet=True):
        """Runs the CLI in-process; checks status, the one error line and the canaries."""
        code, out, err = call_cli(char_rnn.main, [str(a) for a in argv], capfd)
        assert code == status, f"exit status {code}; stderr: {err[-2000:]}"
        assert_one_error_line(err, fragment)
        if quiet:
            assert out == "", f"printed before the error: {out[-500:]}"
        self.assert_intact()
        return err.strip()

    def succeeds(self, argv, capfd):
        """Runs the CLI in-process and expects success; returns (stdout, stderr)."""
        try:
            status = run_cli(char_rnn.main, [str(a) for a in argv])
        except SystemExit as error:
            pytest.fail(f"exit {error.code}: {capfd.readouterr().err[-2000:]}")
        out, err = capfd.readouterr()
        assert status in (None, 0) and "error:" not in err and "Traceback" not in err, err
        return out, err


def assert_one_error_line(stderr, fragment=""):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and stderr.endswith("\n"), \
        f"not exactly one error line: {stderr[-2000:]!r}"
    assert fragment in lines[0], lines[0]


def dead_pid():
    """The pid of a process that has just exited (so no process has it)."""
    process = subprocess.Popen([sys.executable, "-c", ""])
    process.wait()
    return process.pid


class Hung(BaseException):
    """Raised by `time_limit`; a BaseException, so run_cli cannot turn it into an error line."""


@contextlib.contextmanager
def time_limit(seconds):
    def on_alarm(signum, frame):
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cli_env(home):
    """The environment of a user's shell: no TF_CPP_MIN_LOG_LEVEL, no TF_CONFIG."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CONFIG")}
    return dict(env, PYTHONPATH=REPO_ROOT, HOME=str(home), PYTHONUNBUFFERED="1")


def start_cli(argv, cwd, home, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    """`python -m week3_rnn.char_rnn ARGV` as a user would start it (a Popen)."""
    return subprocess.Popen([sys.executable, "-m", "week3_rnn.char_rnn", *map(str, argv)],
                            cwd=str(cwd), env=cli_env(home), stdout=stdout, stderr=stderr,
                            text=True)


# The harness itself: it must notice the damage it is there to catch.

def test_tree_hash_sees_a_changed_byte_a_new_file_and_a_mode(tmp_path):
    (tmp_path / "a").write_bytes(b"x")
    mode = os.stat(tmp_path / "a").st_mode
    before = tree_hash(tmp_path)
    (tmp_path / "a").write_bytes(b"y")
    assert tree_hash(tmp_path) != before
    (tmp_path / "a").write_bytes(b"x")
    assert tree_hash(tmp_path) == before
    (tmp_path / "a").chmod(0o600)
    assert tree_hash(tmp_path) != before
    (tmp_path / "a").chmod(mode)
    assert tree_hash(tmp_path) == before
    (tmp_path / "b").symlink_to("a")
    assert tree_hash(tmp_path) != before


def test_world_notices_a_touched_canary_and_a_touched_run(world):
    world.assert_intact()
    (world.root / "canary.txt").write_bytes(CANARY + b"!")
    with pytest.raises(AssertionError):
        world.assert_intact()
    (world.root / "canary.txt").write_bytes(CANARY)
    os.utime(os.path.join(world.run, "my-notes.txt"))  # a touch alone changes no bytes
    world.assert_intact()


def test_one_error_line_check_refuses_a_line_before_it():
    assert_one_error_line("error: x\n")
    for bad in ("warning\nerror: x\n", "error: x\nerror: y\n", "error: x", "Traceback\n"):
        with pytest.raises(AssertionError):
            assert_one_error_line(bad)


def test_time_limit_interrupts_a_blocked_open(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(Hung), time_limit(1):
        open(tmp_path / "fifo", "rb")
