"""No server: one line, exit code 1, never a traceback — and quickly."""

import os
import subprocess
import sys
import time

from tests.support.server import REPO


def kamapyctl(*args, timeout=20):
    return subprocess.run([sys.executable, "-m", "kamapy.ctl", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO))


def test_missing_fifo(tmp_path):
    res = kamapyctl("--fifo", str(tmp_path / "none.fifo"), "ps")
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip() == f"Error: no kamapy FIFO at {tmp_path / 'none.fifo'} (is the server running with jsonrpcs?)"


def test_fifo_nobody_reads(tmp_path):
    os.mkfifo(tmp_path / "dead.fifo")
    res = kamapyctl("--fifo", str(tmp_path / "dead.fifo"), "uptime")
    assert res.returncode == 1 and "not running" in res.stderr and "Traceback" not in res.stderr


def test_socket_that_never_answers_times_out(tmp_path):
    import socket
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    silent.bind(str(tmp_path / "silent.sock"))
    try:
        start = time.monotonic()
        res = kamapyctl("--socket", str(tmp_path / "silent.sock"), "--timeout", "0.5", "ps")
        assert res.returncode == 1
        assert res.stderr.strip() == f"Error: no answer from kamapy at socket {tmp_path / 'silent.sock'} within 0.5s"
        assert time.monotonic() - start < 10
    finally:
        silent.close()


def test_url_refused():
    res = kamapyctl("--url", "http://127.0.0.1:9/RPC", "ps")
    assert res.returncode == 1 and res.stderr.startswith("Error: no kamapy answering at http://127.0.0.1:9/RPC")
