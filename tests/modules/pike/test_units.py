"""pike's IP tree without a server: how many hits make an address hot (the tree grows
one level per quarter of reqs_density), the unit swap, remove_latency, pike.top."""

from __future__ import annotations

import ipaddress

import pytest
from kamapy_modules.pike import tree as tree_mod
from kamapy_modules.pike.tree import STATUS_ALL, STATUS_HOT, IpTree

from kamapy.mem import shm


@pytest.fixture(scope="module", autouse=True)
def pool():
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(32 << 20)


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


def hits_until_blocked(t: IpTree, addr: bytes, limit: int = 500) -> int:
    for n in range(1, limit):
        rc = t.check(addr)
        if rc != 1:
            assert rc == -2
            assert t.check(addr) == -1
            return n
    raise AssertionError("never blocked")


def test_ipv4_blocks_after_the_tree_grew():
    t = IpTree(16, 120)
    # root 1 + 3 hits per inner level until it splits (x/4 = 4), then 16 leaf hits
    assert hits_until_blocked(t, ip("10.0.0.1")) == 22
    # a neighbour in the same /24 starts at the hot prefix: only its leaf to fill
    assert hits_until_blocked(t, ip("10.0.0.2")) < 22


def test_ipv6_address_is_a_deeper_tree():
    t = IpTree(16, 120)
    assert hits_until_blocked(t, ip("2001:db8::1")) > 22


def test_swap_moves_the_unit_and_unblocks(monkeypatch):
    t = IpTree(8, 120)
    a = ip("192.0.2.9")
    hits_until_blocked(t, a)
    t.swap()
    assert t.check(a) == -1  # the previous unit is still hot
    t.swap()
    t.swap()
    assert t.check(a) == 1  # two quiet units: unblocked


def test_remove_latency_forgets_the_address(monkeypatch):
    now = [1000]
    monkeypatch.setattr(tree_mod, "ticks", lambda: now[0])
    t = IpTree(8, 5)
    a = ip("198.51.100.1")
    for _ in range(5):
        t.check(a)
    assert len(t.nodes) > 1
    now[0] += 6
    for _ in range(6):  # leaves go first, then their fathers, one level per run
        t.clean()
        now[0] += 6
    assert len(t.nodes) == 0


def test_top_lists_hot_leaves():
    t = IpTree(8, 120)
    hits_until_blocked(t, ip("203.0.113.5"))
    rows = t.top(STATUS_HOT)
    assert [r["ip_addr"] for r in rows] == ["203.0.113.5"]
    assert rows[0]["status"] == "HOT" and rows[0]["leaf_hits_curr"] >= 8 and 0 < rows[0]["expires"] <= 120
    assert t.top(STATUS_ALL) == rows
