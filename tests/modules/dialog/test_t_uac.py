"""tm's local transactions (modules/tm/t_uac.py), over the wire through the
tm.t_uac_start RPC: the request as build_uac_req lays it out (checked against
Kamailio 5.6.3 by hand: same header order, Max-Forwards added, extra headers last),
retransmitted until a reply, absorbed after it, and counted in tm.stats. These sit
with the dialog tests because the dialog module is their first user."""

from __future__ import annotations

import os
import socket
import tempfile
import time

import pytest

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

CFG = r"""
debug=2
children=1
server_signature=no
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "tm"
loadmodule "jsonrpcs"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("tm", "fr_timer", 2000)
request_route {
    if (method == "MESSAGE") {
        t_uac_send("OPTIONS", "$hdr(X-Target)", "", "", "From: <sip:cfg@example.com>\r\nTo: <sip:t@example.com>\r\n", "");
    }
    sl_send_reply("200", "OK");
    exit;
}
"""


@pytest.fixture(scope="module")
def srv():
    rundir = tempfile.mkdtemp(prefix="kptuac")
    with KamapyServer(CFG, children=1, fmt={"rundir": rundir}) as s:
        s.rpc = lambda m, *p: rpc_call(os.path.join(rundir, "rpc.sock"), m, *p)
        yield s


@pytest.fixture
def ua():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def _recv_all(sock, until: float) -> list[tuple[float, bytes]]:
    out, t0 = [], time.monotonic()
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            data = sock.recvfrom(65535)[0]
            out.append((time.monotonic() - t0, data))
        except socket.timeout:
            break
    return out


def _recv_first(sock, wait: float) -> bytes | None:
    """The first datagram: answer it at once, before tm's fr_timer (2 s) can fire."""
    sock.settimeout(wait)
    try:
        return sock.recvfrom(65535)[0]
    except socket.timeout:
        return None


def _answer(req: bytes, code: int = 200) -> bytes:
    lines = req.decode().split("\r\n")
    keep = [x for x in lines if x.split(":")[0] in ("Via", "From", "Call-ID", "CSeq")]
    to = next(x for x in lines if x.startswith("To:"))
    return (f"SIP/2.0 {code} OK\r\n" + "\r\n".join(keep) + f"\r\n{to};tag=ua1\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def test_request_layout_retransmission_and_reply(srv, ua):
    port = ua.getsockname()[1]
    before = srv.rpc("tm.stats")
    srv.rpc("tm.t_uac_start", "OPTIONS", f"sip:bob@127.0.0.1:{port}", ".", ".",
            "From: <sip:alice@example.com>;tag=abc\r\nTo: <sip:bob@example.com>\r\nX-Foo: 1\r\n")
    got = _recv_all(ua, time.monotonic() + 0.8)
    assert len(got) == 2, got                         # the request and one retransmission (T1)
    assert 0.35 < got[1][0] - got[0][0] < 0.75
    first = got[0][1].decode()
    head = [x.split(":")[0] for x in first.split("\r\n\r\n")[0].split("\r\n")[1:]]
    assert head == ["Via", "To", "From", "CSeq", "Call-ID", "Max-Forwards", "Content-Length", "X-Foo"]
    assert first.startswith(f"OPTIONS sip:bob@127.0.0.1:{port} SIP/2.0\r\n")
    assert "\r\nFrom: <sip:alice@example.com>;tag=abc\r\n" in first
    assert "\r\nCSeq: 10 OPTIONS\r\n" in first
    assert got[1][1] == got[0][1]                     # retransmitted as sent
    ua.sendto(_answer(got[0][1]), ("127.0.0.1", srv.port))
    assert _recv_all(ua, time.monotonic() + 1.2) == []  # no more retransmissions
    after = srv.rpc("tm.stats")
    assert after["total_local"] == before["total_local"] + 1
    assert after["2xx"] == before["2xx"] + 1


def test_unanswered_request_gives_up_at_fr_timer(srv, ua):
    port = ua.getsockname()[1]
    srv.rpc("tm.t_uac_start", "OPTIONS", f"sip:bob@127.0.0.1:{port}", ".", ".",
            "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\nCSeq: 7 OPTIONS\r\n")
    got = _recv_all(ua, time.monotonic() + 3.2)
    # T1 doubling from 0.5 s: 0, .5, 1.5 (then 3.5 is past fr_timer 2 s)
    assert 2 <= len(got) <= 4, [g[0] for g in got]
    assert all(b"CSeq: 7 OPTIONS\r\n" in g[1] for g in got)
    assert b";tag=" in got[0][1].split(b"\r\nFrom:")[1].split(b"\r\n")[0]  # a From tag was made up
    assert got[-1][0] - got[0][0] < 2.2


def test_rpc_refuses_missing_headers(srv):
    with pytest.raises(RuntimeError, match="From missing"):
        srv.rpc("tm.t_uac_start", "OPTIONS", "sip:bob@127.0.0.1:9", ".", ".", "To: <sip:b@x>\r\n")


def test_wait_block_gives_the_final_reply(srv, ua):
    import threading
    port = ua.getsockname()[1]

    def answer():
        got = _recv_first(ua, 2)
        if got:
            ua.sendto(_answer(got, 486).replace(b"486 OK", b"486 Busy Here"), ("127.0.0.1", srv.port))
    th = threading.Thread(target=answer)
    th.start()
    r = srv.rpc("tm.t_uac_wait_block", "OPTIONS", f"sip:bob@127.0.0.1:{port}", ".", ".",
                "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n")
    th.join()
    assert r == {"code": 486, "text": "Busy Here"}


def test_t_uac_wait_lists_the_reply(srv, ua):
    import threading
    port = ua.getsockname()[1]

    def answer():
        got = _recv_first(ua, 2)
        if got:
            ua.sendto(_answer(got, 200).replace(b"Content-Length", f"Contact: <sip:b@127.0.0.1:{port}>\r\nContent-Length".encode()),
                      ("127.0.0.1", srv.port))
    th = threading.Thread(target=answer)
    th.start()
    r = srv.rpc("tm.t_uac_wait", "OPTIONS", f"sip:bob@127.0.0.1:{port}", ".", ".",
                "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.com>\r\n")
    th.join()
    assert r[:5] == [200, "OK", f"sip:b@127.0.0.1:{port}", f"sip:b@127.0.0.1:{port}", ""]
    assert r[5].startswith("Via: SIP/2.0/UDP") and "CSeq: 10 OPTIONS" in r[5]


def test_t_uac_send_from_the_config(srv, ua):
    port = ua.getsockname()[1]
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind(("127.0.0.1", 0))
    c.sendto((f"MESSAGE sip:x@127.0.0.1:{srv.port} SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP 127.0.0.1:{c.getsockname()[1]};branch=z9hG4bKm1\r\n"
              "From: <sip:m@x>;tag=1\r\nTo: <sip:x@x>\r\nCall-ID: m1\r\nCSeq: 1 MESSAGE\r\n"
              f"X-Target: sip:t@127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n").encode(),
             ("127.0.0.1", srv.port))
    got = _recv_all(ua, time.monotonic() + 0.3)
    c.close()
    assert got and got[0][1].startswith(f"OPTIONS sip:t@127.0.0.1:{port} SIP/2.0".encode())
    assert b"\r\nFrom: <sip:cfg@example.com>;tag=" in got[0][1]
    ua.sendto(_answer(got[0][1]), ("127.0.0.1", srv.port))
