"""Fixtures for the native layer: a private shm pool per test and a fork helper that
never leaves a process behind."""

import os
import signal
import sys
import time
import traceback

import pytest

from kamapy.mem.shm import Pool

POOL_SIZE = 16 * 1024 * 1024


@pytest.fixture
def pool():
    p = Pool(POOL_SIZE)
    yield p
    p.close()


def start_child(target, *args):
    """Fork; the child runs target(*args) and exits 0, or 1 on any exception."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            target(*args)
            code = 0
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
        finally:
            os._exit(code)
    return pid


def reap(pids, timeout=30.0):
    """Wait for every pid; kill whatever is still running at the deadline. Returns
    {pid: exit code (negative = killed by that signal)}."""
    pending, codes = set(pids), {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                codes[pid] = os.waitstatus_to_exitcode(status)
                pending.discard(pid)
        if pending:
            time.sleep(0.002)
    for pid in pending:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        codes[pid] = "timeout"
    return codes


def run_children(n, target, timeout=30.0):
    """Run target(i) for i in range(n) in n forked children, all released at once so
    they really overlap; fail unless all exit 0."""
    gate_r, gate_w = os.pipe()

    def gated(i):
        os.close(gate_w)
        os.read(gate_r, 1)  # EOF once the parent and every sibling closed gate_w
        target(i)

    pids = []
    try:
        for i in range(n):
            pids.append(start_child(gated, i))
    finally:
        os.close(gate_w)
        os.close(gate_r)
        codes = reap(pids, timeout)
    bad = {pid: code for pid, code in codes.items() if code != 0}
    assert not bad, f"children failed: {bad}"


@pytest.fixture
def fork_run():
    return run_children


@pytest.fixture
def fork_tools():
    """(start_child, reap) for tests that steer children by hand."""
    return start_child, reap
