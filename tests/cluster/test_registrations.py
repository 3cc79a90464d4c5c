"""Issue 22's registration acceptance on the cluster lab: users registered through the
dispatcher across 3 nodes sharing one location table (usrloc db_mode 3 on PostgreSQL;
Redis once db_redis is there); a call through any node reaches any user; a node
SIGKILLed: its users' next REGISTER goes to the others at the first try, and calls to
the other nodes' users never fail meanwhile.

The default run has 300 users; the 10,000-user run is `slow`."""

from __future__ import annotations

import random
import time

import pytest

from tests.cluster.lab import ClusterLab
from tests.cluster.registrations import Phones, bindings, calls, node_cfg, redis_available, register
from tests.support.sipp import sipp_path

pytestmark = pytest.mark.wire

EXPIRES = 30  # the users' registration interval in the failure test


def _storage_params():
    out = [pytest.param("pg", id="pg")]
    out.append(pytest.param("redis", id="redis", marks=pytest.mark.skipif(
        not redis_available(), reason="the db_redis module is not there yet")))
    return out


def _lab(storage: str, **kw) -> ClusterLab:
    if storage == "pg":
        return ClusterLab(node_cfg("pg"), nodes=3, pg=True, **kw)
    return ClusterLab(node_cfg("redis"), nodes=3, redis=True, **kw)


def _check(result: dict, n: int, what: str, lab: ClusterLab, _sipp=None):
    assert result["ok"] == n and result["failed"] == 0, (
        f"{what}: {result['ok']}/{n} ok, {result['failed']} failed\n"
        f"{result.get('errors', '')}\n{lab.logs()}")


def scenario(storage: str, n_users: int, rate: int, expires: int = EXPIRES):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    users = [f"cl{i}" for i in range(1, n_users + 1)]
    lab = _lab(storage)
    try:
        lab.start()
    except RuntimeError as e:
        if "not installed" in str(e):
            pytest.skip(str(e))
        raise
    try:
        return _run(lab, users, rate, expires)
    finally:
        lab.stop()


def _run(lab: ClusterLab, users: list[str], rate: int, expires: int) -> dict:
    n_users = len(users)
    with Phones() as phones:
        front = lab.front.hostport
        # 1. everyone registers through the front: the AOR hash spreads them
        r = register(front, users, phones.port, expires=expires, rate=rate)
        _check(r, n_users, "REGISTER", lab)
        where = bindings(lab)
        assert set(where) == set(users)
        per_node = {h: sum(1 for v in where.values() if v == h) for h in lab.hosts}
        assert all(count > n_users // 6 for count in per_node.values()), per_node

        # 2. a call through any node (and through the front) reaches any user
        sample = random.Random(22).sample(users, min(100, n_users))
        for node in lab.nodes:
            _check(calls(node.hostport, sample, rate=rate), len(sample), f"calls via {node.hostport}", lab)
        _check(calls(front, sample, rate=rate), len(sample), "calls via the front", lab)

        # 3. kill node 2; calls to the others' users keep flowing through the front
        dead = lab.hosts[1]
        theirs = [u for u in users if where[u] == dead]
        others = [u for u in users if where[u] != dead]
        window = calls(front, others * 2 if len(others) < 200 else others[:400],
                       rate=min(rate, 100), start=True)
        time.sleep(0.5)
        killed_at = time.monotonic()
        lab.kill(1)
        # the users re-register (their refresh: same Call-ID, next CSeq); the front's
        # REGISTERs for the dead node time out (fr_timer 1 s) or find it marked
        # inactive by probing, and go to the next node: each succeeds at its first try
        r = register(front, users, phones.port, cseq=2, expires=expires, rate=rate)
        _check(r, n_users, "re-REGISTER after the kill", lab)
        back_in = time.monotonic() - killed_at
        assert back_in < expires / 2, f"re-registration took {back_in:.1f}s"
        where2 = bindings(lab)
        stale = sorted(u for u, v in where2.items() if v == dead)
        assert not stale, f"{len(stale)} bindings still via {dead}: {stale[:10]}\n{lab.logs()}"
        assert {where2[u] for u in theirs} <= set(lab.hosts) - {dead}
        w = window.wait(120)
        _check(w, window_n(window), "calls to the other nodes' users during the kill", lab, window)
        # the dead node's users are reachable again, through the survivors
        _check(calls(front, theirs[:100], rate=rate), min(100, len(theirs)), "calls to the moved users", lab)
    return {"register_s": r["seconds"], "reregistered_s": back_in, "moved": len(theirs)}


def window_n(run) -> int:
    return int(run.cmd[run.cmd.index("-m") + 1])


@pytest.mark.parametrize("storage", _storage_params())
def test_register_call_and_node_failure(storage):
    scenario(storage, 300, 100)


@pytest.mark.slow
@pytest.mark.parametrize("storage", _storage_params())
def test_register_call_and_node_failure_10k(storage):
    scenario(storage, 10_000, 400, expires=120)  # 10,000 REGISTERs at 400/s take 25 s
