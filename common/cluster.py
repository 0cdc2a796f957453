"""Try multi-worker training on one machine: N local workers with a generated TF_CONFIG.

    python -m common.cluster --workers 2 -- python -m week3_rnn.char_rnn train \
        --preset test --out_dir runs/mw --strategy multi_worker

starts the command N times, each with TF_CONFIG naming N free 127.0.0.1 ports
and its own index. Worker 0 is the chief: it alone writes the run directory
and prints progress; the others print only errors. The exit status is the
first non-zero status of a worker (0 when all succeed). Ctrl-C, SIGTERM or a
failed worker ends them all: each still running gets SIGTERM, which a worker
handles like Ctrl-C (it saves its partial epoch), and SIGKILL if it has not
ended 10 s later. Every worker is stopped before this command returns (130
after Ctrl-C, 143 after SIGTERM).

On real machines, set TF_CONFIG yourself on each host instead (README.md).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from common import argtypes
from common.cli import (UsageError, fail, interrupt_name_and_status, interrupts_held,
                        make_parser, sigterm_raises_terminated)

MAX_WORKERS = 16  # local workers: each is a whole TensorFlow process on this one machine


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1 (held open until all are chosen)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(count):
    """One TF_CONFIG (JSON text) per worker of a local cluster of `count` workers."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(count)]
    return [json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
            for i in range(count)]


def check_command(command):
    """UsageError unless command[0] is a program that can be started (a path or on PATH)."""
    program = command[0]
    if shutil.which(program) is not None:
        return
    if os.sep not in program:
        raise UsageError(f"{program}: no such command on PATH; give its path, or start "
                         "with python: -- python -m week3_rnn.char_rnn train ...")
    if not os.path.lexists(program):
        raise UsageError(f"{program}: no such file")
    if os.path.isdir(program):
        raise UsageError(f"{program} is a folder, not a program")
    raise UsageError(f"{program} is not executable; run it through its interpreter "
                     "(-- python script.py) or make it executable (chmod +x)")


def start_workers(command, count, **popen):
    """Starts `command` once per worker of a new local cluster; returns the processes.

    A worker that cannot be started (a file that is not a program, say) stops
    those already started and is a UsageError.
    """
    base_env = {**os.environ, **popen.pop("env", {})}
    processes = []
    for config in tf_configs(count):
        try:
            processes.append(subprocess.Popen(command, env={**base_env, "TF_CONFIG": config},
                                              **popen))
        except OSError as error:
            stop(processes)
            raise UsageError(f"cannot start {command[0]}: {error.strerror or error}")
    return processes


def wait_all(processes, timeout=None):
    """Waits for every process; the first failure (or the timeout) stops the rest."""
    deadline = None if timeout is None else time.monotonic() + timeout
    status = 0
    try:
        while any(p.poll() is None for p in processes):
            failed = [p.returncode for p in processes if p.returncode not in (None, 0)]
            if failed and not status:
                status = failed[0]
            if deadline is not None and time.monotonic() > deadline:
                status = status or 124
                break
            time.sleep(0.2)
    finally:
        stop(processes)
    failed = [p.returncode for p in processes if p.returncode not in (None, 0)]
    return status or (failed[0] if failed else 0)


def stop(processes, grace=10):
    """SIGTERM, then SIGKILL after `grace` seconds, to every process still running.

    SIGTERM rather than SIGINT: a worker started from a background job
    ignores SIGINT, never SIGTERM, and run_cli handles both alike.
    """
    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv=None):
    """Runs the cluster; its exit status. A bad flag or command exits 2 with one line."""
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=argtypes.count(MAX_WORKERS), default=2, metavar="N",
                        help=f"how many local workers (1 to {MAX_WORKERS})")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the training command, after `--`")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the training command after `--`")
    processes = []
    with sigterm_raises_terminated():
        try:
            check_command(command)
            with interrupts_held():  # a signal waits until every started worker is known
                processes += start_workers(command, args.workers)
            return wait_all(processes)  # which stops every worker, however it ends
        except UsageError as error:  # nothing was started, or what was is stopped
            fail(error)
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (Terminated)
            stop(processes)
            return interrupt_name_and_status(interrupt)[1]


if __name__ == "__main__":
    sys.exit(main())
