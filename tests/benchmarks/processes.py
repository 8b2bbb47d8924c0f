"""Running a child process and measuring it: wall time and its own peak resident memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def measured_run(command, env=None, cwd=REPO, timeout=1800):
    """Run command; return (completed process, wall seconds, peak RSS in MB of that child).

    The peak comes from wait4's rusage for this one child (ru_maxrss, KiB on Linux),
    so earlier children of the bench do not count.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd, text=True)
        try:
            _, status, usage = _wait4(child.pid, timeout)
        except TimeoutError:
            child.kill()
            child.wait()
            raise
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, child.returncode, out.read(), err.read())
    return done, seconds, usage.ru_maxrss / 1024


def _wait4(pid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        finished, status, usage = os.wait4(pid, os.WNOHANG)
        if finished:
            return finished, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running after {timeout} s")
        time.sleep(0.05)


def python_script(name, *args):
    return [sys.executable, str(HERE / name), *map(str, args)]
