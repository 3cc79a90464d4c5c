"""Pieces of nathelper's pinging without a server: the SIP ping request and its reply
recognition, the spreading of one round, the choice of target, usrloc's keepalive
timeout."""

from __future__ import annotations

import pytest
from kamapy_modules.nathelper import ping
from kamapy_modules.nathelper.sipping import Pinger, reverse_hex, reverse_hex2int
from kamapy_modules.usrloc import UContact, keepalive

from kamapy.net.socket_info import SocketInfo
from kamapy.sip.local_request import build_local_request, new_branch
from kamapy.sip.msg import SipMsg
from tests.support.bound_modules import load_for_test


def _sock(host="192.0.2.5", port=5060, **kw):
    return SocketInfo("udp", host, port, **kw)


def test_reverse_hex_is_low_nibble_first_and_round_trips():
    assert reverse_hex(0x12345) == "54321"
    assert reverse_hex(0) == "0"
    assert reverse_hex(0xdeadbeef) == "feebdaed"
    for n in (0, 1, 15, 16, 0xffffffff, 123456789):
        assert reverse_hex2int(reverse_hex(n)) == n
    assert reverse_hex2int("xz") is None


def test_local_request_layout():
    data = build_local_request("OPTIONS", "sip:a@198.51.100.1:5070", _sock(port=5080),
                               from_="sip:p@x", from_tag="t1", to="sip:a@198.51.100.1:5070",
                               call_id="c1@h", cseq=7, branch="z9hG4bK1234567",
                               route="<sip:10.0.0.1;lr>", headers=[("X-A", "1")])
    assert data == (b"OPTIONS sip:a@198.51.100.1:5070 SIP/2.0\r\n"
                    b"Via: SIP/2.0/UDP 192.0.2.5:5080;branch=z9hG4bK1234567\r\n"
                    b"Route: <sip:10.0.0.1;lr>\r\n"
                    b"From: sip:p@x;tag=t1\r\nTo: sip:a@198.51.100.1:5070\r\n"
                    b"Call-ID: c1@h\r\nCSeq: 7 OPTIONS\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n")
    assert new_branch().startswith("z9hG4bK") and len(new_branch()) == 14


def test_local_request_via_uses_advertised_address_and_ipv6_brackets():
    adv = build_local_request("INFO", "sip:a@h", _sock(advertise_host="203.0.113.9", advertise_port=5999),
                              from_="sip:p@x", to="sip:a@h", call_id="c", cseq=1, branch="z9hG4bK1")
    assert b"Via: SIP/2.0/UDP 203.0.113.9:5999;branch=z9hG4bK1\r\n" in adv
    v6 = build_local_request("INFO", "sip:a@h", _sock("::1", 5060), from_="sip:p@x", to="sip:a@h",
                             call_id="c", cseq=1, branch="z9hG4bK1")
    assert b"Via: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1\r\n" in v6


def _reply_to(req: bytes, extra_via: bool = False, method: str | None = None) -> SipMsg:
    lines = req.decode().split("\r\n")
    heads = {ln.split(":", 1)[0]: ln for ln in lines[1:] if ":" in ln}
    via = heads["Via"] + ("\r\nVia: SIP/2.0/UDP 10.9.9.9;branch=z9hG4bKx" if extra_via else "")
    cseq = heads["CSeq"] if method is None else f"CSeq: 1 {method}"
    text = (f"SIP/2.0 200 OK\r\n{via}\r\n{heads['From']}\r\n{heads['To']};tag=u\r\n"
            f"{heads['Call-ID']}\r\n{cseq}\r\nContent-Length: 0\r\n\r\n")
    return SipMsg(text.encode())


def test_ping_reply_is_recognised_and_gives_ruid_and_aor_hash():
    p = Pinger("OPTIONS", "sip:pinger@kamapy.test")
    req = p.build("sip:bob@198.51.100.7:6000", _sock(), "", "uloc-5f1e-2a-1", 0x1a2b3c4d)
    assert req.startswith(b"OPTIONS sip:bob@198.51.100.7:6000 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.5:5060;")
    rpl = _reply_to(req)
    assert p.is_ping_reply(rpl)
    assert p.keepalive_of(rpl) == ("uloc-5f1e-2a-1", 0x1a2b3c4d)  # a ruid with '-' in it too
    assert not p.is_ping_reply(_reply_to(req, extra_via=True))  # a second Via: not ours
    assert not p.is_ping_reply(_reply_to(req, method="INFO"))
    other = Pinger("OPTIONS", "sip:pinger@kamapy.test")  # another server's Call-ID prefix
    assert not other.is_ping_reply(rpl)
    assert Pinger("OPTIONS", "sip:else@x").keepalive_of(rpl) is None


def test_round_spreads_contacts_over_the_interval(monkeypatch):
    clock = [100.0]
    sent_at: list[float] = []
    contacts = [("a%d" % i, UContact.new(f"sip:a{i}@198.51.100.1", ruid=f"r{i}")) for i in range(200)]
    load_for_test(monkeypatch, "usrloc")  # ping_round binds usrloc's aor hash
    monkeypatch.setattr(ping.cfg, "interval", 2)
    monkeypatch.setattr(ping.cfg, "state", None)
    monkeypatch.setattr(ping, "enabled", lambda: True)
    monkeypatch.setattr(ping, "contacts_of", lambda idx: iter(contacts))
    monkeypatch.setattr(ping, "plan", lambda c, aor, h: c)
    monkeypatch.setattr(ping, "send_step", lambda ts: sent_at.extend([clock[0]] * len(ts)) or len(ts))

    def sleep(d):
        clock[0] += d

    n, nxt = ping.ping_round(0, clock=lambda: clock[0], sleep=sleep, stop=lambda: False)
    assert n == 200 and sum(map(len, nxt)) == 200  # the next round's contacts, read ahead and clock[0] == pytest.approx(102.0)  # one round lasts the interval
    steps = {}
    for t in sent_at:
        steps[round((t - 100.0) * 10)] = steps.get(round((t - 100.0) * 10), 0) + 1
    assert len(steps) >= 18 and max(steps.values()) <= 25  # 20 steps, ~10 each, no burst
    # the same contacts land in the same steps next round: one ping per interval each
    first = list(sent_at)
    sent_at.clear()
    ping.ping_round(0, nxt, 102.0, clock=lambda: clock[0], sleep=sleep, stop=lambda: False)
    assert [t - 2.0 for t in sent_at] == pytest.approx(first)


def test_plan_picks_received_skips_disabled_and_tcp(monkeypatch):
    s = _sock("127.0.0.1", 5060)
    s.sock = object()  # only looked at, never used here
    monkeypatch.setattr(ping.rt, "sockets", [s])
    monkeypatch.setattr(ping.cfg, "disable_flag", 1 << 8)
    monkeypatch.setattr(ping.cfg, "sipping_flag", 0)
    monkeypatch.setattr(ping.cfg, "force_socket", None)
    c = UContact.new("sip:u@10.0.0.5:5062", received="sip:198.51.100.4:40000", socket="udp:127.0.0.1:5060")
    t = ping.plan(c, "u", 1)
    assert (t.ip, t.port, t.sock, t.data) == ("198.51.100.4", 40000, s, b"\0\0\0\0")
    c.cflags = 1 << 8
    assert ping.plan(c, "u", 1) is None
    tcp = UContact.new("sip:u@10.0.0.5:5062;transport=tcp")
    assert ping.plan(tcp, "u", 1) is None
    plain = UContact.new("sip:u@198.51.100.8")
    assert ping.plan(plain, "u", 1).port == 5060


def test_keepalive_timeout_counts_registrations_and_answers(monkeypatch):
    monkeypatch.setattr(keepalive.state, "timeout", 30)
    monkeypatch.setattr(keepalive.state, "table", None)
    c = UContact.new("sip:u@h", ruid="r1", socket="udp:127.0.0.1:5060", last_modified=1000.0)
    assert not keepalive.timed_out(c, 1029.0)
    assert keepalive.timed_out(c, 1031.0)
    tcp = UContact.new("sip:u@h", ruid="r2", socket="tcp:127.0.0.1:5060", last_modified=1000.0)
    assert not keepalive.timed_out(tcp, 5000.0)  # UDP contacts only, as Kamailio
    monkeypatch.setattr(keepalive.state, "timeout", 0)
    assert not keepalive.timed_out(c, 5000.0)


def test_send_step_batches_udp_pings_and_sends_the_rest_one_by_one(monkeypatch):
    """send_step(): plain 4-byte pings leave in one sendmmsg batch per socket (all
    reach their sockets, IPv4 and IPv6 alike); a SIP ping goes through send()."""
    import socket

    from kamapy.net.udp_batch import pack_sockaddr

    class Si:
        def __init__(self, sock):
            self.sock = sock

    rx = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
    rx6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)  # dual-stack: sends to v4-mapped too
    try:
        for r in rx:
            r.bind(("127.0.0.1", 0))
            r.settimeout(2)
        rx6.bind(("::1", 0))
        rx6.settimeout(2)
        tx.bind(("::", 0))
        tx4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx4.bind(("127.0.0.1", 0))
        si4, si6 = Si(tx4), Si(tx)
        targets = [ping.Target("127.0.0.1", r.getsockname()[1], si4, ping.UDP_PING, None,
                               pack_sockaddr("127.0.0.1", r.getsockname()[1])) for r in rx]
        targets.append(ping.Target("::1", rx6.getsockname()[1], si6, ping.UDP_PING, None,
                                   pack_sockaddr("::1", rx6.getsockname()[1])))
        one_by_one = []
        monkeypatch.setattr(ping, "send", lambda t: one_by_one.append(t) or True)
        sip = ping.Target("127.0.0.1", 9, si4, b"OPTIONS sip:x SIP/2.0\r\n\r\n")
        assert ping.send_step([*targets, sip]) == 7
        assert one_by_one == [sip]
        for r in [*rx, rx6]:
            data, src = r.recvfrom(64)
            assert data == ping.UDP_PING
    finally:
        for s in [*rx, rx6, tx]:
            s.close()
        tx4.close()
