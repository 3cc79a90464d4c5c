"""DNS over the wire: a real kamapy (2 workers) resolving next hops through a real
dnsmasq (its own loopback address and port, pointed at by KAMAPY_RESOLV_CONF), between
SIPp callers and callees.

The callee names live in the kama.test zone: NAPTR on kama.test (TCP ordered first,
UDP preferred by dns_udp_pref and the only transport served), SRV with weights 1:3
for lb.kama.test, and three failover names whose priority-10 target is silent,
answers 503 or is not there at all, with a working priority-20 target behind it.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time

import pytest

from tests.dns.peers import Dnsmasq, dnsmasq_path
from tests.support.ports import free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(sipp_path() is None, reason="sipp not installed"),
              pytest.mark.skipif(dnsmasq_path() is None, reason="dnsmasq not installed")]

SCEN = os.path.join(os.path.dirname(__file__), "scenarios")

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
alias=proxy.kama.test
dns_try_naptr=yes
dns_srv_lb=yes
use_dns_failover=yes
use_dst_blocklist=yes
dst_blocklist_expire=30
dns_retr_time=1
dns_retr_no=1
loadmodule "tm"
loadmodule "sl"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("tm", "fr_timer", 1000)

request_route {
    if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (method == "ACK") {
        if (t_check_trans()) { t_relay(); exit; }
        forward();  # the ACK of a 2xx: to the callee's Contact, statelessly
        exit;
    }
    if (uri == myself && $rd != "127.0.0.1") { sl_send_reply("299", "Myself"); exit; }
    if ($rU == "nofo") { t_set_disable_failover(1); }
    if ($rU == "svc") {
        $ru = "sip:svc@kama.test";
    } else {
        $ru = "sip:" + $rU + "@" + $rU + ".kama.test";
    }
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
"""


class SilentPeer:
    """A callee that receives and never answers: counts INVITEs per Call-ID."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.callids: dict[str, int] = {}
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                data = self.sock.recv(65535)
            except (socket.timeout, OSError):
                continue
            m = re.search(rb"\r\nCall-ID:\s*(\S+)", data, re.I)
            if data.startswith(b"INVITE") and m:
                cid = m.group(1).decode()
                self.callids[cid] = self.callids.get(cid, 0) + 1

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dns")
    names = ["svc", "tcp", "a", "b", "silent", "e503", "dead", "good", "silent2"]
    ports = dict(zip(names, free_udp_ports(len(names)), strict=True))
    records = [
        "--host-record=ua1.kama.test,127.0.0.1",
        # TCP comes first by order; kamapy serves UDP only (and prefers it): UDP wins
        "--naptr-record=kama.test,10,50,s,SIP+D2T,,_sip._tcp.kama.test",
        "--naptr-record=kama.test,20,50,s,SIP+D2U,,_sip._udp.kama.test",
        f"--srv-host=_sip._tcp.kama.test,ua1.kama.test,{ports['tcp']},10,100",
        f"--srv-host=_sip._udp.kama.test,ua1.kama.test,{ports['svc']},10,100",
        f"--srv-host=_sip._udp.lb.kama.test,ua1.kama.test,{ports['a']},10,1",
        f"--srv-host=_sip._udp.lb.kama.test,ua1.kama.test,{ports['b']},10,3",
        f"--srv-host=_sip._udp.fos.kama.test,ua1.kama.test,{ports['silent']},10,10",
        f"--srv-host=_sip._udp.fos.kama.test,ua1.kama.test,{ports['good']},20,10",
        f"--srv-host=_sip._udp.fo5.kama.test,ua1.kama.test,{ports['e503']},10,10",
        f"--srv-host=_sip._udp.fo5.kama.test,ua1.kama.test,{ports['good']},20,10",
        f"--srv-host=_sip._udp.fod.kama.test,ua1.kama.test,{ports['dead']},10,10",
        f"--srv-host=_sip._udp.fod.kama.test,ua1.kama.test,{ports['good']},20,10",
        f"--srv-host=_sip._udp.nofo.kama.test,ua1.kama.test,{ports['silent2']},10,10",
        f"--srv-host=_sip._udp.nofo.kama.test,ua1.kama.test,{ports['good']},20,10",
    ]
    dnsmasq = Dnsmasq(records, ttl=60).start(tmp)
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    saved = {k: os.environ.get(k) for k in ("KAMAPY_RESOLV_CONF", "KAMAPY_HOSTS")}
    os.environ["KAMAPY_RESOLV_CONF"] = str(dnsmasq.resolv_conf(tmp / "resolv.conf"))
    os.environ["KAMAPY_HOSTS"] = str(hosts)
    server = KamapyServer(CFG, fmt={"rundir": tmp})
    try:
        with server:
            yield server, dnsmasq, ports, tmp
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        dnsmasq.stop()


def uas(scenario: str, port: int, *extra: str) -> SippRun:
    return SippRun(os.path.join(SCEN, scenario), "127.0.0.1", "-timeout", "30s", *extra,
                   local_port=port).start()


def uac(server, service: str, calls: int = 1, *extra: str) -> SippRun:
    return SippRun(os.path.join(SCEN, "uac_invite.xml"), f"127.0.0.1:{server.port}",
                   "-s", service, "-m", str(calls), "-recv_timeout", "8000", "-timeout", "30s",
                   *extra, local_port=free_udp_ports(1)[0])


def calls_of(run: SippRun) -> tuple[int, int]:
    st = run.stats()
    return int(st["SuccessfulCall(C)"]), int(st["FailedCall(C)"])


def stop_uas(*runs: SippRun):
    """SIGUSR1: SIPp ends once its calls are done and writes its statistics."""
    import signal
    for r in runs:
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGUSR1)
    for r in runs:
        try:
            r.wait(10)
        except Exception:
            r.kill()


def test_naptr_srv_a_call_reaches_the_uas(env):
    server, dnsmasq, ports, _ = env
    callee = uas("uas_ok.xml", ports["svc"], "-m", "1")
    time.sleep(0.2)
    caller = uac(server, "svc").start()
    try:
        caller.wait(15)
        callee.wait(10)
    finally:
        caller.kill()
        callee.kill()
    assert calls_of(caller) == (1, 0), server.log()
    assert calls_of(callee) == (1, 0)
    q = dnsmasq.queries()
    assert any("query[NAPTR] kama.test" in x for x in q), q
    assert any("query[SRV] _sip._udp.kama.test" in x for x in q), q
    # the TCP NAPTR was never followed: kamapy cannot send over TCP here
    assert not any("_sip._tcp.kama.test" in x for x in q), q


def test_srv_weights_1_to_3_over_400_calls(env):
    server, _dnsmasq, ports, _ = env
    a = uas("uas_ok.xml", ports["a"])
    b = uas("uas_ok.xml", ports["b"])
    time.sleep(0.3)
    caller = uac(server, "lb", 400, "-r", "200", "-l", "40").start()
    try:
        caller.wait(40)
    finally:
        caller.kill()
        stop_uas(a, b)
    assert calls_of(caller) == (400, 0), server.log()[-3000:]
    na, nb = calls_of(a)[0], calls_of(b)[0]
    assert na + nb == 400
    assert 80 <= na <= 120, (na, nb)  # 25 % +- 5 %


def test_priority_failover_on_a_silent_target_then_blocklist(env):
    server, _dnsmasq, ports, tmp = env
    silent = SilentPeer(ports["silent"])
    good = uas("uas_ok.xml", ports["good"], "-m", "2")
    time.sleep(0.2)
    try:
        t0 = time.monotonic()
        c1 = uac(server, "fos").start()
        c1.wait(15)
        first = time.monotonic() - t0
        t0 = time.monotonic()
        c2 = uac(server, "fos").start()
        c2.wait(15)
        second = time.monotonic() - t0
        good.wait(10)
    finally:
        silent.close()
        good.kill()
    assert calls_of(c1) == (1, 0) and calls_of(c2) == (1, 0), server.log()[-3000:]
    assert calls_of(good) == (2, 0)
    assert first >= 1.0  # the silent target had its fr_timer
    assert second < first  # the second call skipped it: blocklisted
    assert len(silent.callids) == 1, silent.callids  # tried for one call only
    view = rpc_call(str(tmp / "rpc.sock"), "dst_blocklist.view")
    text = "\n".join(view)
    assert f"port: {ports['silent']}" in text and "ip: 127.0.0.1" in text, text


def test_priority_failover_on_503(env):
    server, _dnsmasq, ports, _ = env
    busy = uas("uas_503.xml", ports["e503"], "-m", "2")
    good = uas("uas_ok.xml", ports["good"], "-m", "2")
    time.sleep(0.2)
    caller = uac(server, "fo5", 2, "-r", "1").start()
    try:
        caller.wait(15)
        busy.wait(10)
        good.wait(10)
    finally:
        for r in (caller, busy, good):
            r.kill()
    assert calls_of(caller) == (2, 0), server.log()[-3000:]
    assert calls_of(busy) == (2, 0)   # a 503 does not blocklist (tm blst_503=0)
    assert calls_of(good) == (2, 0)
    assert "DNS failover" in server.log()


def test_priority_failover_on_a_target_that_is_gone(env):
    server, _dnsmasq, ports, _ = env
    good = uas("uas_ok.xml", ports["good"], "-m", "1")
    time.sleep(0.2)
    caller = uac(server, "fod").start()
    try:
        caller.wait(15)
        good.wait(10)
    finally:
        caller.kill()
        good.kill()
    assert calls_of(caller) == (1, 0), server.log()[-3000:]


def _invite(server, ruri_user: str, callid: str) -> bytes:
    return (f"INVITE sip:{ruri_user}@127.0.0.1:{server.port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{{lport}};branch=z9hG4bK-{callid}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:a@127.0.0.1>;tag=t{callid}\r\n"
            f"To: <sip:{ruri_user}@kama.test>\r\n"
            f"Call-ID: {callid}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def test_nxdomain_is_answered_and_cached_negatively(env):
    server, dnsmasq, _ports, tmp = env
    with SipClient(("127.0.0.1", server.port)) as c:
        lport = c.sock.getsockname()[1]
        replies = []
        for i in range(2):
            data = _invite(server, "nx", f"nx{i}").replace("{lport}", str(lport)).encode()
            c.send(data)
            r = c.recv(3)
            while r is not None and status_of(r) == 100:
                r = c.recv(3)
            replies.append(r)
    assert [status_of(r) for r in replies] == [478, 478], replies  # sl_reply_error, as Kamailio
    assert b"Unresolvable destination" in replies[0]
    asked = [x for x in dnsmasq.queries() if "nx.kama.test" in x]
    # NAPTR, SRV and A once each: the second call was answered from negative entries
    assert len([x for x in asked if "query[A] nx.kama.test" in x]) == 1, asked
    view = rpc_call(str(tmp / "rpc.sock"), "dns.view")
    neg = [e for e in view if e["name"] == "nx.kama.test" and e["type"] == "A"]
    assert neg and neg[0]["negative_entry"] == "yes" and 0 < neg[0]["expires"] <= 60, neg


def test_dns_view_shows_remaining_ttl_and_lookup(env):
    _server, _dnsmasq, _ports, tmp = env
    sock = str(tmp / "rpc.sock")
    view = rpc_call(sock, "dns.view")
    srv = [e for e in view if e["name"] == "_sip._udp.lb.kama.test"]
    assert srv and srv[0]["type"] == "SRV" and 0 < srv[0]["expires"] <= 60, view
    weights = sorted(r["rr_weight"] for r in srv[0]["records"])
    assert weights == [1, 3]
    hosts = [e for e in view if e["name"] == "localhost" and e.get("source") == "hosts"]
    assert hosts and hosts[0]["permanent"] == "yes"
    got = rpc_call(sock, "dns.lookup", "A", "ua1.kama.test")
    assert got["records"][0]["rr_ip"] == "127.0.0.1"
    assert rpc_call(sock, "dns.mem_info")["used"] > 0


def test_t_set_disable_failover_stops_at_the_first_address(env):
    from tests.dns.test_cache_wire import call
    server, _dnsmasq, ports, _ = env
    silent = SilentPeer(ports["silent2"])
    good = SilentPeer(ports["good"])  # would see the INVITE if failover happened
    try:
        status, took = call(server, "nofo", "nofo-1", timeout=4)
    finally:
        silent.close()
        good.close()
    assert status == 408 and took >= 1.0, (status, took)
    assert len(silent.callids) == 1 and not good.callids, (silent.callids, good.callids)


def test_dst_blocklist_add_and_delete_all_over_rpc(env):
    from tests.dns.test_cache_wire import Callee, call
    server, _dnsmasq, ports, tmp = env
    sock = str(tmp / "rpc.sock")
    callee = Callee(ports["svc"])
    try:
        rpc_call(sock, "dst_blocklist.add", "127.0.0.1", ports["svc"], 1, 0)
        status, _ = call(server, "svc", "blst-1")
        assert status == 477, status  # every address of the target is blocklisted
        assert callee.invites == 0
        rpc_call(sock, "dst_blocklist.delete_all")
        assert rpc_call(sock, "dst_blocklist.view") in ([], None) or not any(
            f"port: {ports['svc']}" in x for x in rpc_call(sock, "dst_blocklist.view"))
        status, _ = call(server, "svc", "blst-2")
        assert status == 200 and callee.invites == 1, server.log()[-2000:]
    finally:
        callee.close()


def test_myself_with_alias_names_and_auto_aliases(env):
    """alias=proxy.kama.test, and auto_aliases: the hosts file names 127.0.0.1
    localhost, so localhost:<port> is us too (Kamailio lists it the same way)."""
    server, _dnsmasq, _ports, tmp = env
    for host, cid in (("proxy.kama.test", "me-1"), ("localhost", "me-2")):
        with SipClient(("127.0.0.1", server.port)) as c:
            lport = c.sock.getsockname()[1]
            msg = _invite(server, "me", cid).replace("{lport}", str(lport))
            msg = msg.replace(f"INVITE sip:me@127.0.0.1:{server.port}", f"INVITE sip:me@{host}:{server.port}")
            c.send(msg.encode())
            r = c.recv(2)
            assert status_of(r) == 299, (host, r)
    aliases = rpc_call(str(tmp / "rpc.sock"), "core.aliases_list")["aliases"]
    names = {(a["alias"]["address"], a["alias"]["port"]) for a in aliases}
    assert ("localhost", server.port) in names and ("proxy.kama.test", "*") in names, names


def test_dns_add_srv_over_rpc_routes_a_name_dns_does_not_know(env):
    from tests.dns.test_cache_wire import Callee, call
    server, _dnsmasq, ports, tmp = env
    sock = str(tmp / "rpc.sock")
    status, _ = call(server, "added", "add-0")
    assert status == 478  # unknown to dnsmasq: NXDOMAIN
    rpc_call(sock, "dns.delete_all")  # the negative entries go (not the hosts file's)
    rpc_call(sock, "dns.add_srv", "_sip._udp.added.kama.test", 60, 10, 10, ports["svc"], "ua1.kama.test", 0)
    rpc_call(sock, "dns.add_a", "ua1.kama.test", 60, "127.0.0.1", 0)
    callee = Callee(ports["svc"])
    try:
        status, _ = call(server, "added", "add-1")
    finally:
        callee.close()
    assert status == 200 and callee.invites == 1, server.log()[-2000:]
    entry = rpc_call(sock, "dns.lookup", "SRV", "_sip._udp.added.kama.test")
    assert entry["records"][0]["rr_port"] == ports["svc"]
    rpc_call(sock, "dns.delete_srv", "_sip._udp.added.kama.test")
    with pytest.raises(RuntimeError):
        rpc_call(sock, "dns.delete_srv", "_sip._udp.added.kama.test")  # 400 Not found
