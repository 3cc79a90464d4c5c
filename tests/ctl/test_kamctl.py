"""Debian's kamctl with CTLENGINE="RPCFIFO" against kamapy's jsonrpcs FIFO (served
from a thread with the fake server state; test_kamctl_wire.py does it against a
running kamapy)."""

import pytest

from .kamctl_runner import KAMCTL, kamctl, reply_json

pytestmark = pytest.mark.skipif(KAMCTL is None, reason="kamctl (Debian package kamailio) not installed")


def test_kamctl_ps(served, tmp_path):
    res = kamctl(tmp_path, served[0].path, "ps")
    assert res.returncode == 0, res.stderr
    out = reply_json(res.stdout)
    assert [p["PID"] for p in out["result"]] == [1000, 1001, 1002, 1004]
    assert out["result"][3]["DSC"] == "timer"


def test_kamctl_uptime(served, tmp_path):
    out = reply_json(kamctl(tmp_path, served[0].path, "uptime").stdout)
    assert set(out["result"]) == {"now", "up_since", "uptime"} and out["result"]["uptime"] >= 42


def test_kamctl_stats_all_and_group(served, tmp_path):
    res = kamctl(tmp_path, served[0].path, "stats")
    lines = [line.strip().strip('",') for line in res.stdout.splitlines() if "=" in line]
    assert "core:rcv_requests = 7" in lines and "sl:sent_replies = 5" in lines
    res = kamctl(tmp_path, served[0].path, "stats", "sl")
    lines = [line.strip().strip('",') for line in res.stdout.splitlines() if "=" in line]
    assert lines == ["sl:200_replies = 4", "sl:sent_replies = 5", "sl:xxx_replies = 0"]


def test_kamctl_rpc_fault(served, tmp_path):
    out = reply_json(kamctl(tmp_path, served[0].path, "rpc", "no.such").stdout)
    assert out["error"] == {"code": 500, "message": "Method Not Found"}
