"""A fake server state for the RPC unit tests: process table, sockets, aliases,
statistics and shm figures that the core commands read, restored after each test."""

from __future__ import annotations

import time

import pytest

from kamapy import stats
from kamapy.net.socket_info import SocketInfo
from kamapy.rpc import core_commands, stats_commands
from kamapy.rpc.registry import core_registry
from kamapy.runtime import rt

SHM = {"total": 33554432, "free": 30780272, "used": 2532560, "real_used": 2774160,
       "max_used": 2774160, "fragments": 1}


class FakeProcTable:
    def __init__(self, entries):
        self._entries = entries

    def entries(self):
        return list(self._entries)


@pytest.fixture
def fake_server(monkeypatch):
    monkeypatch.setattr(rt, "proctable", FakeProcTable([
        (0, 1000, 0, "main process - attendant"),
        (2, 1002, 2, "udp receiver child=1 sock=udp:127.0.0.1:5060"),
        (1, 1001, 1, "udp receiver child=0 sock=udp:127.0.0.1:5060"),
        (3, 0, 0, ""),  # a free slot
        (4, 1004, -1, "timer"),
    ]))
    monkeypatch.setattr(rt, "sockets", [SocketInfo("udp", "127.0.0.1", 5060),
                                        SocketInfo("udp", "::1", 5070)])
    monkeypatch.setattr(rt, "aliases", [("example.com", 5080, 0), ("foo.org", 0, 0), ("bar.net", 0, 1)])
    monkeypatch.setattr(rt, "started", time.time() - 42)
    monkeypatch.setattr(stats, "_groups", {})
    # private counters: no shm pool in a unit test
    monkeypatch.setattr(stats, "_counter_array", stats._LocalCounters)
    core = stats.declare("core", stats.CORE_STATS)
    sl = stats.declare("sl", ["sent_replies", "200_replies", "xxx_replies"])
    core["rcv_requests"].inc(7)
    core["fwd_requests"].inc(3)
    sl["sent_replies"].inc(5)
    sl["200_replies"].inc(4)
    monkeypatch.setattr(core_commands, "shm_info", lambda: dict(SHM))
    monkeypatch.setattr(stats_commands, "shm_info", lambda: dict(SHM))
    return rt


@pytest.fixture
def registry():
    return core_registry()
