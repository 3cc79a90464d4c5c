"""kamapy against Kamailio 5.6.3, both pointed at the same dnsmasq.

The differential runner starts Kamailio with the machine's /etc/resolv.conf and has
no way to give it another (Kamailio reads only /etc/resolv.conf, through libresolv,
and glibc takes no port there). So this module runs its own pair: dnsmasq on
<a loopback address of its own>:53, Kamailio in a private mount namespace
(`unshare -m`) where a test resolv.conf and hosts file are bind-mounted over
/etc/resolv.conf and /etc/hosts, and kamapy given the same files through
KAMAPY_RESOLV_CONF / KAMAPY_HOSTS. Same config text, same messages; what the caller
and each callee receive is normalised as the differential runner normalises it
(tests.differential.runner.normalise) and compared.

Needs root (port 53, mount namespaces); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import time

import pytest

from tests.differential.runner import normalise
from tests.dns.peers import BadServer, Dnsmasq, dnsmasq_path, loopback_ip
from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_udp_ports
from tests.support.server import KamapyServer


def _can_unshare() -> bool:
    """A private mount namespace with a bind mount works here (not in every container)."""
    import subprocess
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            "mount --bind /etc/hostname /etc/hostname"], capture_output=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


pytestmark = [
    pytest.mark.wire,
    pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed"),
    pytest.mark.skipif(dnsmasq_path() is None, reason="dnsmasq not installed"),
    pytest.mark.skipif(not _can_unshare(),
                       reason="needs root and mount namespaces (port 53, a private /etc/resolv.conf)"),
]

CFG = r"""#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
dns_try_naptr={naptr}
use_dns_failover={naptr}
dns_srv_lb=no
use_dns_cache=yes
dns_retr_time=1
dns_retr_no=1
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
modparam("tm", "fr_timer", 500)
modparam("tm", "retr_timer1", 2000)  # no retransmission within a case's window

request_route {
    if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (method == "ACK") { exit; }
    $ru = "sip:" + $rU + "@" + $hdr(X-Target);
    if (!t_relay()) { sl_reply_error(); }
    exit;
}
"""


class KamailioWithResolver(KamailioServer):
    """Kamailio seeing `resolv` as /etc/resolv.conf and `hosts` as /etc/hosts."""

    def __init__(self, cfg_text, resolv, hosts, **kw):
        super().__init__(cfg_text, **kw)
        self.resolv, self.hosts = str(resolv), str(hosts)

    def command(self):
        argv, cwd = super().command()
        script = ('mount --bind "$1" /etc/resolv.conf && mount --bind "$2" /etc/hosts '
                  '&& shift 2 && exec "$@"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh",
                self.resolv, self.hosts, *argv], cwd


class Peer:
    def __init__(self, name: str, port: int | None = None):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port or 0))
        self.port = self.sock.getsockname()[1]

    def drain(self, wait: float) -> list[bytes]:
        out = []
        end = time.monotonic() + wait
        while True:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                out.append(self.sock.recv(65535))
            except (socket.timeout, OSError):
                if time.monotonic() >= end:
                    return out

    def close(self):
        self.sock.close()


# two server pairs: NAPTR and DNS failover on; both off (marked slow: the wire tests'
# time budget holds one pair, and the first covers more)
@pytest.fixture(scope="module", params=["yes", pytest.param("no", marks=pytest.mark.slow)],
                ids=["naptr+failover", "plain"])
def pair(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dnsdiff")
    peers = {n: Peer(n) for n in ("udp", "tcp", "heavy", "light", "plain", "busy", "second", "mute")}
    bad = BadServer(ip=loopback_ip()).start()  # SERVFAIL source for sf.kama.test
    records = [
        "--host-record=ua.kama.test,127.0.0.1",
        "--naptr-record=kama.test,10,50,s,SIP+D2T,,_sip._tcp.kama.test",
        "--naptr-record=kama.test,20,50,s,SIP+D2U,,_sip._udp.kama.test",
        f"--srv-host=_sip._tcp.kama.test,ua.kama.test,{peers['tcp'].port},10,10",
        f"--srv-host=_sip._udp.kama.test,ua.kama.test,{peers['udp'].port},10,10",
        f"--srv-host=_sip._udp.w.kama.test,ua.kama.test,{peers['light'].port},10,1",
        f"--srv-host=_sip._udp.w.kama.test,ua.kama.test,{peers['heavy'].port},10,3",
        # failover: "busy" answers 503, then priority 20 ("second", silent)
        f"--srv-host=_sip._udp.fo.kama.test,ua.kama.test,{peers['busy'].port},10,10",
        f"--srv-host=_sip._udp.fo.kama.test,ua.kama.test,{peers['second'].port},20,10",
        # failover on silence: "mute" never answers (fr_timer), then "second"
        f"--srv-host=_sip._udp.fs.kama.test,ua.kama.test,{peers['mute'].port},10,10",
        f"--srv-host=_sip._udp.fs.kama.test,ua.kama.test,{peers['second'].port},20,10",
        "--host-record=plain.kama.test,127.0.0.1",
        f"--server=/sf.kama.test/{bad.ip}#{bad.port}",
    ]
    ip = loopback_ip()
    dnsmasq = Dnsmasq(records, ttl=60, ip=ip, port=53).start(tmp)
    resolv = tmp / "resolv.conf"
    resolv.write_text(f"nameserver {ip}\noptions timeout:1 attempts:1\n")
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    saved = {k: os.environ.get(k) for k in ("KAMAPY_RESOLV_CONF", "KAMAPY_HOSTS")}
    os.environ["KAMAPY_RESOLV_CONF"] = str(resolv)
    os.environ["KAMAPY_HOSTS"] = str(hosts)
    k_port, p_port = free_udp_ports(2)
    fmt = {"naptr": request.param}
    kam = KamailioWithResolver(CFG, resolv, hosts, port=k_port, fmt=fmt)
    kpy = KamapyServer(CFG.replace('mpath="{mpath}/"\n', ""), port=p_port, children=1, fmt=fmt)
    try:
        with kam, kpy:
            yield {"kamailio": kam, "kamapy": kpy}, peers, request.param
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        dnsmasq.stop()
        bad.stop()
        for p in peers.values():
            p.close()


def run(server, peers, case: str, target: str, wait: float = 0.9) -> dict:
    """Send one INVITE for `target` from a fresh caller socket and collect, per peer,
    what it received (the callees never answer: tm's fr_timer ends it with 408)."""
    caller = Peer("caller")
    try:
        for p in peers.values():
            p.drain(0.01)
        msg = (f"INVITE sip:{case}@127.0.0.1:{server.port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch=z9hG4bK-{case}\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:caller@127.0.0.1>;tag=f-{case}\r\n"
               f"To: <sip:{case}@kama.test>\r\n"
               f"Call-ID: {case}@127.0.0.1\r\nCSeq: 1 INVITE\r\n"
               f"X-Target: {target}\r\nContent-Length: 0\r\n\r\n").encode()
        caller.sock.sendto(msg, ("127.0.0.1", server.port))
        everyone = {"caller": caller, **peers}
        got = {n: [] for n in everyone}
        end = time.monotonic() + wait
        while time.monotonic() < end:
            for n, p in everyone.items():
                for m in p.drain(0.02):
                    got[n].append(m)
                    if n == "busy" and m.startswith(b"INVITE "):
                        p.sock.sendto(_reply(m, 503, "Service Unavailable"), ("127.0.0.1", server.port))
                    code = m.split(b" ", 2)[1] if m.startswith(b"SIP/2.0 ") else b""
                    if n == "caller" and code.isdigit() and int(code) >= 300:
                        # ACK each negative final reply (sl's and tm's carry different
                        # tags): no retransmissions to count
                        to = next(h for h in m.split(b"\r\n") if h.lower().startswith(b"to:"))
                        ack = (f"ACK sip:{case}@127.0.0.1:{server.port} SIP/2.0\r\n"
                               f"Via: SIP/2.0/UDP 127.0.0.1:{caller.port};branch=z9hG4bK-{case}\r\n"
                               "Max-Forwards: 70\r\n"
                               f"From: <sip:caller@127.0.0.1>;tag=f-{case}\r\n").encode()
                        ack += to + (f"\r\nCall-ID: {case}@127.0.0.1\r\nCSeq: 1 ACK\r\n"
                                     "Content-Length: 0\r\n\r\n").encode()
                        caller.sock.sendto(ack, ("127.0.0.1", server.port))
        ports = {"SERVER": server.port, **{n.upper(): p.port for n, p in everyone.items()}}
        sent = {f"z9hG4bK-{case}", f"f-{case}", f"{case}@127.0.0.1"}
        out = {}
        for n, msgs in got.items():
            seen = []
            for m in msgs:
                norm = normalise(m, ports, sent)
                # retransmissions are tm's timers, not DNS: each distinct message once
                # (how many copies of tm's 478 fit in the window differs: see the report)
                if norm not in seen:
                    seen.append(norm)
            if seen:
                out[n] = seen
        return out
    finally:
        caller.close()


def _reply(req: bytes, code: int, reason: str) -> bytes:
    head = req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
    keep = [h for h in head if h.split(b":", 1)[0].strip().lower() in (b"via", b"from", b"to", b"call-id", b"cseq")]
    keep = [h + b";tag=busy" if h.lower().startswith(b"to:") else h for h in keep]
    return f"SIP/2.0 {code} {reason}\r\n".encode() + b"\r\n".join(keep) + b"\r\nContent-Length: 0\r\n\r\n"


CASES = [
    # NAPTR (TCP first by order; UDP preferred, TCP disabled) -> UDP SRV; no NAPTR: UDP SRV
    ("naptr_then_srv", "kama.test", "udp"),
    ("srv_weights_no_lb", "w.kama.test", "heavy"),  # dns_srv_lb=no: the higher weight
    ("a_only_with_port", "plain.kama.test:{plain}", "plain"),
    ("nxdomain", "nosuch.kama.test", "478"),
    ("servfail", "x.sf.kama.test", "478"),
    # use_dns_failover: after busy's 503 the priority-20 target gets the request (the
    # same bytes but its own Via branch); failover off: the 503 (as 500) is the answer
    ("failover_503", "fo.kama.test", "busy"),
    ("failover_silence", "fs.kama.test", "mute"),
]


@pytest.mark.parametrize("case, target, where", CASES, ids=[c[0] for c in CASES])
def test_same_target_and_reply_as_kamailio(pair, case, target, where):
    servers, peers, naptr = pair
    target = target.replace("{plain}", str(peers["plain"].port))
    name = f"{case}-{naptr}"
    # with failover on, a two-address target runs two fr_timers of 0.5 s: room for both
    wait = 1.6 if naptr == "yes" else 1.0
    want = run(servers["kamailio"], peers, name, target, wait)
    got = run(servers["kamapy"], peers, name, target, wait)
    assert got == want, (f"kamailio: {want}\nkamapy: {got}\n{servers['kamapy'].log()[-1500:]}"
                         f"\n{servers['kamailio'].log()[-1500:]}")
    if case.startswith("failover_"):
        assert ("second" in want) == (naptr == "yes"), want
    if where.isdigit():
        assert any(m[0].startswith(f"SIP/2.0 {where} ") for m in want["caller"]), want
    else:
        assert where in want and want[where][0][0].startswith("INVITE "), want
