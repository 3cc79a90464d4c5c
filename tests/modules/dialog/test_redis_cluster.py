"""Dialogs shared by two kamapy nodes through a real Redis (issue 22, replication.py):
node A on 127.0.0.2 and node B on 127.0.0.3, the same port, each treating the other's
address as its own (alias=) so a request Record-Routed through one can be handled by
the other once its node is gone -- the role a dispatcher or a moved address plays in
front of a real cluster. The UAs are ua.py's raw-UDP caller and callee; moving the
caller's next hop to B stands for the dispatcher's fail-over."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.ports import free_udp_port
from tests.support.redisserver import RedisServer
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipp import SippRun, sipp_path

from .ua import Callee, Caller, reply_to, status

CFG = r"""
debug=2
children=2
listen=udp:{ip}:{port}
alias=udp:127.0.0.2:{port}
alias=udp:127.0.0.3:{port}
loadmodule "sl"
loadmodule "tm"
loadmodule "rr"
loadmodule "siputils"
loadmodule "textops"
loadmodule "xlog"
loadmodule "pv"
loadmodule "jsonrpcs"
loadmodule "dialog"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("tm", "wt_timer", 1000)
modparam("tm", "fr_timer", 1500)
modparam("dialog", "profiles_with_value", "caller")
modparam("dialog", "profiles_no_value", "all")
modparam("dialog", "h_id_start", {hid})
modparam("dialog", "h_id_step", 4)
modparam("dialog", "redis_url", "{redis}")
modparam("dialog", "redis_node", "{node}")
modparam("dialog", "redis_prefix", "{prefix}")
modparam("dialog", "redis_node_ttl", 2)
modparam("dialog", "redis_fail_mode", {fail_mode})
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("MESSAGE") && $hdr(X-Remote-Cmd) != $null) {
        if (dlg_remote_profile("$hdr(X-Remote-Cmd)", "$hdr(X-Remote-Prof)", "$hdr(X-Remote-Val)",
                "$hdr(X-Remote-Uid)", "$hdr(X-Remote-Exp)")) {
            sl_send_reply("200", "Remote Done");
        } else {
            sl_send_reply("404", "Remote Failed");
        }
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            xlog("L_INFO", "INDLG $rm $ci status=$DLG_status\n");
            t_relay();
            exit;
        }
        if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        if ($hdr(X-Timeout) != $null) { $dlg_ctx(timeout_bye) = 1; }
        if (!dlg_manage()) { sl_send_reply("500", "Dialog State Unavailable"); exit; }
        if (!get_profile_size("caller", "$fU", "$var(n)")) {
            sl_send_reply("500", "Dialog State Unavailable");
            exit;
        }
        if ($var(n) >= 2) {
            xlog("L_INFO", "REFUSED $fU\n");
            sl_send_reply("486", "Too Many Calls");
            exit;
        }
        set_dlg_profile("caller", "$fU");
        set_dlg_profile("all");
        $dlg_var(x) = "y-" + $fU;
        if ($hdr(X-Timeout) != $null) {
            $var(t) = $(hdr(X-Timeout){s.int});
            dlg_set_timeout("$var(t)");
        }
        record_route();
    }
    t_relay();
}
event_route[dialog:end] { xlog("L_INFO", "DLGEND $dlg(callid) var=$dlg_var(x)\n"); }
"""

SCEN = Path(__file__).parent / "scenarios"

pytestmark = pytest.mark.skipif(not RedisServer().available, reason="redis-server / redis-py missing")


class Node(KamapyServer):
    def __init__(self, ip: str, node: str, hid: int, port: int, redis_url: str, prefix: str,
                 fail_mode: int = 0):
        self.rundir = tempfile.mkdtemp(prefix="kpdlgr")
        super().__init__(CFG, port=port, args=["-m", "64"], host=ip,
                         fmt={"ip": ip, "rundir": self.rundir, "node": node, "hid": hid,
                              "redis": redis_url, "prefix": prefix, "fail_mode": fail_mode})
        self.ip = ip

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def kill_all(self):
        """SIGKILL the master and every child at once: the node dies with its calls."""
        import signal

        from tests.support.server import alive, descendants
        pids = [self.pid] + descendants(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)


@contextlib.contextmanager
def running(*nodes):
    """Start the nodes side by side (each start is mostly Python's own), stop them all."""
    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        futures = [pool.submit(n.start) for n in nodes]
    try:
        for f in futures:
            f.result()
        yield nodes
    finally:
        for n in nodes:
            n.stop()
            n.tmp.cleanup()


def wait_for(fn, timeout: float = 6.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


@pytest.fixture(scope="module")
def redis():
    srv = RedisServer().start()  # its own: the outage test stops it
    yield srv
    srv.stop()


@pytest.fixture
def callee():
    c = Callee()
    c.start()
    yield c
    c.stop()


_n = [0]


def _cluster(redis, fail_mode=(0, 0)):
    _n[0] += 1
    port = free_udp_port()
    prefix = f"t{os.getpid()}-{_n[0]}:"
    a = Node("127.0.0.2", "A", 1, port, redis.url, prefix, fail_mode[0])
    b = Node("127.0.0.3", "B", 2, port, redis.url, prefix, fail_mode[1])
    return a, b, prefix


def _call(node, callee, user, extra=""):
    c = Caller(node.port, callee.port, user)
    c.proxy = (node.ip, node.port)
    c.extra = extra
    return c, c.invite()


def _callids(node) -> set[str]:
    return {d["call-id"] for d in node.rpc("dlg.list")}


def test_calls_listed_everywhere_and_limit_holds_across_nodes(redis):
    """SIPp callers through three nodes at once, users u1 and u2 from each; a limit
    of 2 calls per user: A's and B's calls go through, C's are refused with 486."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    a, b, prefix = _cluster(redis)
    c = Node("127.0.0.4", "C", 3, a.port, redis.url, prefix)
    uas_port = free_udp_port()
    with running(a, b, c):
        uas = SippRun(str(SCEN / "dlg_uas.xml"), f"127.0.0.1:{a.port}", "-m", "4",
                      local_port=uas_port).start()
        runs = []
        try:
            def uac(node):
                return SippRun(str(SCEN / "cluster_uac.xml"), f"127.0.0.1:{uas_port}", "-rsa",
                               f"{node.ip}:{node.port}", "-s", "svc", "-m", "2", "-r", "20",
                               "-d", "4000", "-timeout", "20", local_port=free_udp_port()).start()
            runs = [uac(a), uac(b)]
            assert wait_for(lambda: [d["state"] for d in c.rpc("dlg.list")] == [4] * 4), c.rpc("dlg.list")
            for node in (a, b, c):  # every node lists the four calls, answered
                dlgs = node.rpc("dlg.list")
                assert len(dlgs) == 4 and {d["state"] for d in dlgs} == {4}
                assert {d["h_id"] % 4 for d in dlgs} == {1, 2}  # A's and B's own ids
                assert {d["from_uri"].split("@")[0] for d in dlgs} == {"sip:u1", "sip:u2"}
            assert c.rpc("dlg.profile_get_size", "caller", "u1") == 2
            assert a.rpc("dlg.profile_get_size", "all") == 4
            runs.append(uac(c))  # u1 and u2 already have two calls each
            for r in runs:
                r.wait(25)
            uas.wait(10)
        finally:
            for r in runs:
                r.kill()
            uas.kill()
        st = [r.stats() for r in runs]
        assert [int(x["SuccessfulCall(C)"]) for x in st] == [2, 2, 2], st
        assert "REFUSED u1" in c.log() and "REFUSED u2" in c.log()  # the scenario's 486 branch
        assert "REFUSED" not in a.log() + b.log()
        assert wait_for(lambda: all(n.rpc("dlg.list") == [] for n in (a, b, c)))
        assert c.rpc("dlg.profile_get_size", "caller", "u1") == 0
        assert b.rpc("dlg.profile_get_size", "all") == 0


def test_node_killed_with_live_calls(redis, callee):
    a, b, prefix = _cluster(redis)
    r = redis.client()
    with running(a, b):
        c1, r1 = _call(a, callee, "carol")
        c2, r2 = _call(a, callee, "carol", "X-Timeout: 7\r\n")
        assert (r1, r2) == (200, 200)
        assert wait_for(lambda: len(b.rpc("dlg.list")) == 2)
        a.kill_all()
        # B: A's calls still count (they are up) until they are ended
        assert b.rpc("dlg.profile_get_size", "caller", "carol") == 2
        assert wait_for(lambda: not r.exists(prefix + "hb:A"), timeout=4)
        # the caller's BYE comes to B now (the dispatcher's fail-over)
        c1.proxy = ("127.0.0.3", b.port)
        assert c1.bye() == 200
        assert wait_for(lambda: c1.callid not in _callids(b))
        assert b.rpc("dlg.profile_get_size", "caller", "carol") == 1
        # c2's timeout (7 s after its 200) fires on B: BYE to both sides
        c2.sock.settimeout(8)
        bye = None
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            m = c2.recv(deadline - time.monotonic())
            if m and m.startswith(b"BYE "):
                bye = m
                c2.sock.sendto(reply_to(m, 200, "OK"), ("127.0.0.3", b.port))
                break
        assert bye is not None, b.log()
        assert wait_for(lambda: any(m.startswith(b"BYE ") and c2.callid.encode() in m
                                    for m in callee.received))
        assert wait_for(lambda: b.rpc("dlg.list") == [])
        assert b.rpc("dlg.profile_get_size", "caller", "carol") == 0
        assert b.rpc("dlg.profile_get_size", "all") == 0
        assert f"DLGEND {c2.callid} var=y-carol" in b.log()
        assert int(b.rpc("stats.fetchn", "dialog:expired_dialogs")["dialog.expired_dialogs"]) == 1
        assert not [k for k in r.scan_iter(prefix + "d:*")]
        for c in (c1, c2):
            c.close()


@pytest.mark.parametrize("outage", [
    2.0, pytest.param(10.0, marks=pytest.mark.slow)])
def test_redis_outage_then_resync(redis, callee, outage):
    a, b, prefix = _cluster(redis, fail_mode=(0, 1))
    with running(a, b):
        c1, r1 = _call(a, callee, "dave")
        assert r1 == 200
        assert wait_for(lambda: _callids(b) == {c1.callid})
        redis.halt()
        try:
            t0 = time.monotonic()
            # A (fail mode 0) goes on with what it holds; B (1) refuses with a 500
            c2, r2 = _call(a, callee, "erin")
            c3, r3 = _call(b, callee, "erin")
            assert (r2, r3) == (200, 500)
            assert "redis" in a.log() and "unavailable" in a.log()
            assert c1.bye() == 200  # ended while Redis is away
            time.sleep(max(0.0, outage - (time.monotonic() - t0)))
        finally:
            redis.resume()  # empty again: no persistence
        # both nodes write back what they hold: c2 is seen on B, c1 is gone
        assert wait_for(lambda: _callids(b) == {c2.callid}, timeout=8), b.log()
        assert _callids(a) == {c2.callid}
        assert b.rpc("dlg.profile_get_size", "caller", "erin") == 1
        c4, r4 = _call(b, callee, "erin")
        assert r4 == 200
        assert c2.bye() == 200 and c4.bye() == 200
        assert wait_for(lambda: a.rpc("dlg.list") == [] and b.rpc("dlg.list") == [])
        for c in (c1, c2, c3, c4):
            c.close()


def _bye_to(caller, node, timeout=5.0):
    """The caller's side of a BYE the node sends: answered 200, returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = caller.recv(deadline - time.monotonic())
        if m and m.startswith(b"BYE "):
            caller.sock.sendto(reply_to(m, 200, "OK"), (node.ip, node.port))
            return m
    return None


def test_dead_nodes_calls_ended_by_rpc_on_survivor(redis, callee):
    """A owns two calls and is SIGKILLed; on B dlg.end_dlg (by h_entry/h_id) and
    dlg.terminate_dlg (by Call-ID and tags) take them over from Redis and send the
    BYEs to both sides: the calls are gone on B, from Redis, and from the profiles."""
    a, b, prefix = _cluster(redis)
    r = redis.client()
    with running(a, b):
        c1, r1 = _call(a, callee, "fred")
        c2, r2 = _call(a, callee, "fred")
        assert (r1, r2) == (200, 200)
        assert wait_for(lambda: len(b.rpc("dlg.list")) == 2)
        views = {d["call-id"]: d for d in b.rpc("dlg.list")}
        a.kill_all()
        # A's heartbeat still there: B leaves A's dialog alone
        with pytest.raises(RuntimeError, match="Dialog not found"):
            b.rpc("dlg.end_dlg", views[c1.callid]["h_entry"], views[c1.callid]["h_id"])
        assert wait_for(lambda: not r.exists(prefix + "hb:A"), timeout=4)
        d1 = views[c1.callid]
        assert not b.rpc("dlg.end_dlg", d1["h_entry"], d1["h_id"])
        assert _bye_to(c1, b) is not None, b.log()
        d2 = views[c2.callid]
        assert not b.rpc("dlg.terminate_dlg", c2.callid, d2["caller"]["tag"], d2["callee"]["tag"])
        assert _bye_to(c2, b) is not None, b.log()
        for c in (c1, c2):
            assert wait_for(lambda c=c: any(m.startswith(b"BYE ") and c.callid.encode() in m
                                            for m in callee.received)), b.log()
        assert wait_for(lambda: b.rpc("dlg.list") == []), b.rpc("dlg.list")
        assert b.rpc("dlg.profile_get_size", "caller", "fred") == 0
        assert b.rpc("dlg.profile_get_size", "all") == 0
        assert f"DLGEND {c1.callid} var=y-fred" in b.log()
        assert wait_for(lambda: not [k for k in r.scan_iter(prefix + "d:*")])
        assert not r.smembers(prefix + "n:A") and not r.smembers(prefix + "n:B")
        for c in (c1, c2):
            c.close()


def _remote(probe, node, cmd, prof, val, uid, exp=""):
    """dlg_remote_profile(cmd, prof, val, uid, exp) run by node's script (a MESSAGE):
    the reply's status, 200 if it returned true."""
    probe.proxy = (node.ip, node.port)
    probe._send((
        f"MESSAGE sip:srv@{node.ip}:{node.port} SIP/2.0\r\n{probe._via()}"
        f"From: <sip:probe@x>;tag=p3\r\nTo: <sip:srv@x>\r\nCall-ID: r{time.time_ns()}\r\n"
        f"CSeq: 1 MESSAGE\r\nX-Remote-Cmd: {cmd}\r\nX-Remote-Prof: {prof}\r\n"
        f"X-Remote-Val: {val}\r\nX-Remote-Uid: {uid}\r\nX-Remote-Exp: {exp}\r\n"
        f"Content-Length: 0\r\n\r\n").encode())
    return status(probe.recv())


def test_remote_profile_items_shared(redis):
    """dlg_remote_profile items (what a dmq notification would add) go to Redis next
    to the dialogs: one added on A counts on B, removed on B it stops counting on
    A, and one with an expires stops counting everywhere by itself."""
    a, b, _prefix = _cluster(redis)
    with running(a, b):
        probe = Caller(a.port, 9, "probe")

        def remote(node, cmd, prof, val, uid, exp=""):
            return _remote(probe, node, cmd, prof, val, uid, exp)
        far = int(time.time()) + 3600
        assert remote(a, "add", "caller", "gina", "u-1", far) == 200
        assert remote(a, "add", "caller", "gina", "u-1", far) == 200   # the same item once
        assert remote(a, "add", "all", "", "u-2") == 200               # no expires
        assert remote(b, "add", "caller", "gina", "u-3", int(time.time()) + 2) == 200
        for n in (a, b):
            assert n.rpc("dlg.profile_get_size", "caller", "gina") == 2
            assert n.rpc("dlg.profile_get_size", "all") == 1
        assert remote(b, "rm", "caller", "gina", "u-1") == 200        # added on A
        assert remote(b, "rm", "caller", "gina", "u-1") == 404
        assert a.rpc("dlg.profile_get_size", "caller", "gina") == 1
        assert wait_for(lambda: a.rpc("dlg.profile_get_size", "caller", "gina") == 0, timeout=5)
        assert remote(a, "rm", "all", "", "u-2") == 200
        assert b.rpc("dlg.profile_get_size", "all") == 0
        probe.close()


@pytest.mark.parametrize("persistent,outage", [
    (False, 2.0), (True, 2.0), pytest.param(True, 10.0, marks=pytest.mark.slow)])
def test_remote_profile_changes_during_outage_written_back(persistent, outage):
    """dlg_remote_profile adds and removes made on both nodes while Redis is away are
    written back by each node's timer when it returns (with their expires): restarted
    empty, the items added meanwhile count on both nodes; restarted with its data, the
    removes made meanwhile (one of an item the other node added) are applied too."""
    srv = RedisServer().start(appendonly=persistent)
    a, b, prefix = _cluster(srv)
    r = srv.client()
    try:
        with running(a, b):
            probe = Caller(a.port, 9, "probe")
            far = int(time.time()) + 3600
            assert _remote(probe, a, "add", "caller", "hal", "u-1", far) == 200
            assert _remote(probe, a, "add", "all", "", "u-2") == 200
            for n in (a, b):
                assert n.rpc("dlg.profile_get_size", "caller", "hal") == 1
                assert n.rpc("dlg.profile_get_size", "all") == 1
            srv.halt()
            try:
                t0 = time.monotonic()
                assert _remote(probe, a, "add", "caller", "hal", "u-3", far + 3) == 200
                assert _remote(probe, a, "rm", "caller", "hal", "u-1") == 200
                assert _remote(probe, b, "add", "caller", "hal", "u-4", far + 4) == 200
                assert _remote(probe, b, "rm", "all", "", "u-2") == 404  # not B's: -1, yet noted
                # meanwhile each node counts what it holds
                assert a.rpc("dlg.profile_get_size", "caller", "hal") == 1
                assert b.rpc("dlg.profile_get_size", "caller", "hal") == 1
                time.sleep(max(0.0, outage - (time.monotonic() - t0)))
            finally:
                srv.resume()
            # each node's write-back first: before A's, the sizes read 2 as well (u-1 still
            # in Redis, u-4 written back by B), so the sizes alone do not say it is done
            for n, k in ((a, "2 remote profile changes made while redis was away written back "
                          "(1 added, 1 removed)"), (b, "(1 added, 1 removed)")):
                assert wait_for(lambda n=n, k=k: k in n.log(), timeout=6), n.log()
            for n in (a, b):
                assert wait_for(lambda n=n: n.rpc("dlg.profile_get_size", "caller", "hal") == 2,
                                timeout=6), n.log()
            members = dict(r.zrange(prefix + "p:caller\0hal", 0, -1, withscores=True))
            assert members == {b"r:u-3": far + 3, b"r:u-4": far + 4}, members  # u-1 removed
            assert set(r.zrange(prefix + "p:caller", 0, -1)) == {b"r:u-3", b"r:u-4"}
            # u-2: gone with an empty Redis; removed by B's write-back from a persistent one
            assert r.zrange(prefix + "p:all", 0, -1) == []
            assert a.rpc("dlg.profile_get_size", "all") == 0
            # after the write-back an rm on either node goes straight to Redis again
            assert _remote(probe, b, "rm", "caller", "hal", "u-3") == 200
            assert a.rpc("dlg.profile_get_size", "caller", "hal") == 1
            probe.close()
    finally:
        srv.stop()
