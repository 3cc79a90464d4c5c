"""The shm DNS cache and the hosts file over the wire: dnsmasq (TTL 3 s) is stopped
after the first call; calls keep reaching the callee from the cache, from any worker,
until the TTL runs out, then fail as Kamailio fails them (478 Unresolvable
destination from sl_reply_error). A name only the hosts file knows resolves with the
cache on, with no DNS server at all; an edited hosts file is read again."""

from __future__ import annotations

import os
import time

import pytest

from tests.dns.peers import Dnsmasq, dnsmasq_path
from tests.dns.test_wire import _invite
from tests.support.ports import free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(dnsmasq_path() is None, reason="dnsmasq not installed")]

CFG = r"""
debug=2
children=3
listen=udp:127.0.0.1:{port}
dns_retr_time=1
dns_retr_no=1
dns_cache_negative_ttl=30
loadmodule "tm"
loadmodule "sl"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("tm", "fr_timer", 1000)

request_route {
    if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (method == "ACK") { exit; }
    if ($rU == "hosts") {
        $ru = "sip:hosts@hostsonly.test:{callee}";  # a port: addresses only
    } else {
        $ru = "sip:" + $rU + "@" + $rU + ".kama.test";
    }
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
"""


class Callee:
    """A UDP callee that answers every INVITE 200 (its own socket: counts what came)."""

    def __init__(self, port: int, ip: str = "127.0.0.1"):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port))
        self.sock.settimeout(0.1)
        self.invites = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import re
        import socket
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            if not data.startswith(b"INVITE"):
                continue
            self.invites += 1
            head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            keep = [h for h in head[1:] if re.match(rb"(?i)(via|from|to|call-id|cseq):", h)]
            keep = [h + b";tag=callee" if h.lower().startswith(b"to:") else h for h in keep]
            reply = b"SIP/2.0 200 OK\r\n" + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"
            self.sock.sendto(reply, addr)

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnscache")
    (callee_port,) = free_udp_ports(1)
    records = [
        "--host-record=ua1.kama.test,127.0.0.1",
        f"--srv-host=_sip._udp.ttl.kama.test,ua1.kama.test,{callee_port},10,10",
    ]
    dnsmasq = Dnsmasq(records, ttl=3).start(tmp)
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n# only here\n127.0.0.1 hostsonly.test\n")
    saved = {k: os.environ.get(k) for k in ("KAMAPY_RESOLV_CONF", "KAMAPY_HOSTS")}
    os.environ["KAMAPY_RESOLV_CONF"] = str(dnsmasq.resolv_conf(tmp / "resolv.conf"))
    os.environ["KAMAPY_HOSTS"] = str(hosts)
    server = KamapyServer(CFG, fmt={"rundir": tmp, "callee": callee_port})
    callee = Callee(callee_port)
    try:
        with server:
            yield server, dnsmasq, callee, tmp, hosts, callee_port
    finally:
        callee.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        dnsmasq.stop()


def call(server, user: str, callid: str, timeout: float = 4.0) -> tuple[int | None, float]:
    """(final status, seconds) of one INVITE through the server."""
    t0 = time.monotonic()
    with SipClient(("127.0.0.1", server.port)) as c:
        lport = c.sock.getsockname()[1]
        c.send(_invite(server, user, callid).replace("{lport}", str(lport)).encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = c.recv(max(0.05, deadline - time.monotonic()))
            if r is not None and (status_of(r) or 0) >= 200:
                return status_of(r), time.monotonic() - t0
    return None, time.monotonic() - t0


def test_cache_outlives_the_server_until_the_ttl(env):
    server, dnsmasq, callee, tmp, _hosts, port = env
    assert call(server, "ttl", "c1")[0] == 200, server.log()[-2000:]
    entry = rpc_call(str(tmp / "rpc.sock"), "dns.lookup", "SRV", "_sip._udp.ttl.kama.test")
    assert 0 < entry["expires"] <= 3
    dnsmasq.stop()
    t_stop = time.monotonic()
    # several calls: whichever worker takes one finds the answer in shm
    for i in range(6):
        status, took = call(server, "ttl", f"c2-{i}")
        assert status == 200 and took < 0.8, (status, took, server.log()[-2000:])
    assert callee.invites == 7
    time.sleep(max(0.0, 3.5 - (time.monotonic() - t_stop)))
    status, took = call(server, "ttl", "c3")
    assert status == 478, server.log()[-2000:]  # 478 Unresolvable destination (sl_reply_error)
    assert took < 2.5  # one try of one second per step, within one budget
    assert "no server answered" in server.log() or "no answer from" in server.log()
    # failures are cached negatively: the SRV's at once, the host's A (not asked in
    # c3: its budget was spent) after one more bounded wait; then nothing waits
    status, took = call(server, "ttl", "c4")
    assert status == 478 and took < 1.5, took
    status, took = call(server, "ttl", "c5")
    assert status == 478 and took < 0.5, took
    view = rpc_call(str(tmp / "rpc.sock"), "dns.view")
    neg = [e for e in view if e["name"] == "_sip._udp.ttl.kama.test"]
    assert neg and neg[0]["negative_entry"] == "yes", view


def test_hosts_file_with_the_cache_on_and_no_dns_server(env):
    server, dnsmasq, callee, _tmp, _hosts, _port = env
    dnsmasq.stop()  # (the test before stopped it too): no DNS server at all
    before = callee.invites
    status, took = call(server, "hosts", "h1")
    assert status == 200 and took < 0.5, (status, took, server.log()[-2000:])
    assert callee.invites == before + 1


def test_hosts_file_is_read_again_when_it_changes(env):
    server, _dnsmasq, callee, tmp, hosts, port = env
    time.sleep(1.1)  # the file's mtime must move on; each process looks once a second
    hosts.write_text("127.0.0.1 localhost\n127.0.0.1 hostsonly.test\n127.0.0.1 renamed.kama.test\n")
    time.sleep(1.1)
    view = rpc_call(str(tmp / "rpc.sock"), "dns.view")
    assert any(e["name"] == "renamed.kama.test" and e.get("source") == "hosts" for e in view), view


def test_dns_reload_hosts_reaches_every_worker(env):
    """An edit that keeps the file's size and mtime (as a careful rewrite may) is seen
    after dns.reload_hosts, by whichever worker takes the next call."""
    import os as _os
    server, _dnsmasq, callee, tmp, hosts, _port = env
    st = _os.stat(hosts)
    text = hosts.read_text()
    hosts.write_text(text.replace("127.0.0.1 hostsonly.test", "127.0.0.9 hostsonly.test"))
    _os.utime(hosts, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = rpc_call(str(tmp / "rpc.sock"), "dns.reload_hosts")
    assert got["file"] == str(hosts)
    before = callee.invites
    for i in range(4):  # 3 workers: every one of them must have re-read the file
        status, _took = call(server, "hosts", f"reload-{i}", timeout=1.5)
        assert status in (408, None), status  # 127.0.0.9: nobody answers there
    assert callee.invites == before
