"""TCP over the wire: one kamapy (children=2, tcp_children=2) with a UDP and a TCP
listener on the same port, SIPp callers and callees over TCP (-t t1, -t tn) and
UDP, raw sockets for framing, keepalives and bad input, the tcp RPCs.

With two UDP workers and two TCP readers, a reply or in-dialog request that must
leave on a connection another process owns is the normal case here (a UDP callee's
200 for a TCP caller, a TCP-registered contact called from UDP).
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port_block, free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient
from tests.support.sipp import SippRun, sipp_path

from .stream import read_messages, wait_closed

pytestmark = [pytest.mark.wire]

HERE = Path(__file__).parent
CFG = (HERE / "tcp_proxy.cfg").read_text()
UAC = str(HERE / "tcp_uac_call.xml")
UAS = str(HERE / "tcp_uas_call.xml")
MAX_CONNS = 40
LIFETIME = 4

needs_sipp = pytest.mark.skipif(sipp_path() is None, reason="sipp not installed")


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    uas, = free_udp_ports(1)
    rpc = str(tmp_path_factory.mktemp("tcp") / "rpc.sock")
    server = KamapyServer(CFG, fmt={"uas": uas, "lifetime": LIFETIME, "maxconn": MAX_CONNS, "rpc": rpc})
    with server:
        yield server, uas, rpc


def request(method: str, ruri: str, lport: int, n: int = 1, extra: str = "", body: str = "",
            transport: str = "TCP") -> bytes:
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:{lport};branch=z9hG4bK-t{n}-{lport}\r\n"
            f"From: <sip:t@127.0.0.1>;tag=f{n}\r\nTo: <{ruri}>\r\nCall-ID: tcp-{n}-{lport}\r\n"
            f"CSeq: {n} {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def connect(server) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.port), timeout=3)
    return s


def udp_ping(server) -> bool:
    with SipClient(("127.0.0.1", server.port)) as c:
        return c.ping(1.0)


# ---------------------------------------------------------------------- raw TCP
def test_options_pvs_and_pipelining(net):
    server, _, _ = net
    with connect(server) as s:
        lport = s.getsockname()[1]
        # two requests in one segment, then one cut in three pieces
        s.sendall(request("OPTIONS", f"sip:127.0.0.1:{server.port}", lport, 1)
                  + request("OPTIONS", f"sip:127.0.0.1:{server.port}", lport, 2))
        third = request("OPTIONS", f"sip:127.0.0.1:{server.port}", lport, 3)
        for part in (third[:10], third[10:100], third[100:]):
            s.sendall(part)
            time.sleep(0.05)
        replies = read_messages(s, 3)
    assert [r.split(b"\r\n", 1)[0] for r in replies] == [b"SIP/2.0 200 OK"] * 3
    assert [re.search(rb"CSeq: (\d+)", r).group(1) for r in replies] == [b"1", b"2", b"3"]
    assert b"Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bK-t1-%d\r\n" % (lport, lport) in replies[0]
    log = server.log()
    lines = re.findall(r"tcp-test: OPTIONS proto=tcp conid=(\d+) Ri=127\.0\.0\.1 Rp=(\d+)", log)
    assert lines and all(rp == str(server.port) for _, rp in lines)


def test_crlf_ping_gets_pong(net):
    server, _, _ = net
    with connect(server) as s:
        s.sendall(b"\r\n\r\n")
        s.settimeout(2)
        assert s.recv(10) == b"\r\n"
        # a single CRLF (a pong) is not answered, and the stream goes on
        s.sendall(b"\r\n" + request("OPTIONS", f"sip:127.0.0.1:{server.port}", 1, 7))
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")


def test_tcp_contact_reached_from_udp(net):
    """REGISTER over TCP (its connection owned by a TCP reader); an INVITE from UDP
    (a UDP worker) for that AOR must reuse the registered connection -- its alias is
    the source address -- through its owner, and the callee's 200 on that connection
    goes back to the UDP caller."""
    server, _, _ = net
    with connect(server) as s:
        lport = s.getsockname()[1]
        aor = f"sip:locbob@127.0.0.1:{server.port}"
        reg = (f"REGISTER sip:127.0.0.1:{server.port} SIP/2.0\r\n"
               f"Via: SIP/2.0/TCP 127.0.0.1:{lport};branch=z9hG4bK-r1\r\n"
               f"From: <{aor}>;tag=r1\r\nTo: <{aor}>\r\nCall-ID: reg-{lport}\r\nCSeq: 1 REGISTER\r\n"
               f"Contact: <sip:bob@127.0.0.1:{lport};transport=tcp>\r\nExpires: 60\r\n"
               f"Content-Length: 0\r\n\r\n")
        s.sendall(reg.encode())
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(3)
        uport = udp.getsockname()[1]
        inv = (f"INVITE {aor} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{uport};branch=z9hG4bK-u2;rport\r\n"
               f"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <{aor}>\r\nCall-ID: loc-{lport}\r\n"
               f"CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:alice@127.0.0.1:{uport}>\r\n"
               f"Content-Length: 0\r\n\r\n")
        udp.sendto(inv.encode(), ("127.0.0.1", server.port))
        got = read_messages(s, 1, timeout=3)
        assert got and got[0].startswith(b"INVITE sip:bob@127.0.0.1:%d;transport=tcp SIP/2.0" % lport), got
        invite = got[0].decode()
        vias = re.findall(r"(?m)^Via: (.*)\r$", invite)
        assert vias[0].startswith(f"SIP/2.0/TCP 127.0.0.1:{server.port};branch=z9hG4bK")
        assert vias[1].startswith(f"SIP/2.0/UDP 127.0.0.1:{uport};") and f"rport={uport}" in vias[1]
        # answer on the connection: the 200 goes back to the UDP caller
        hdr = {k.lower(): v for k, v in re.findall(r"(?m)^([A-Za-z-]+): (.*)\r$", invite)}
        ok = ("SIP/2.0 200 OK\r\n" + "".join(f"Via: {v}\r\n" for v in vias)
              + f"From: {hdr['from']}\r\nTo: {hdr['to']};tag=b1\r\nCall-ID: {hdr['call-id']}\r\n"
              f"CSeq: {hdr['cseq']}\r\nContact: <sip:bob@127.0.0.1:{lport};transport=tcp>\r\n"
              "Content-Length: 0\r\n\r\n")
        s.sendall(ok.encode())
        codes = []
        deadline = time.monotonic() + 3
        while 200 not in codes and time.monotonic() < deadline:
            try:
                data, _ = udp.recvfrom(65535)
            except socket.timeout:
                break
            codes.append(int(data.split(b" ", 2)[1]))
        udp.close()
        assert 200 in codes, (codes, server.log()[-2000:])


def test_tcp_rpcs(net):
    server, _, rpc = net
    with connect(server) as s:
        s.sendall(request("OPTIONS", f"sip:127.0.0.1:{server.port}", 9, 9))
        assert read_messages(s, 1)
        lport = s.getsockname()[1]
        info = rpc_call(rpc, "core.tcp_info")
        assert info["readers"] == 2 and info["max_connections"] == MAX_CONNS
        assert info["opened_connections"] >= 1 and info["opened_tls_connections"] == 0
        conns = rpc_call(rpc, "core.tcp_list")
        mine = [c for c in conns if c["src_port"] == lport]
        assert len(mine) == 1, conns
        c = mine[0]
        assert (c["type"], c["state"], c["src_ip"], c["dst_port"]) == ("TCP", "CONN_OK", "127.0.0.1", server.port)
        assert 0 < c["timeout"] <= LIFETIME and c["lifetime"] == LIFETIME
        assert rpc_call(rpc, "core.tcp_options")["connection_lifetime"] == LIFETIME


# ---------------------------------------------------------------------- bad input
def test_ten_megabytes_without_end_of_headers_closes_only_that_connection(net):
    server, _, _ = net
    good = connect(server)
    bad = connect(server)
    chunk = b"X" * 65536
    sent = 0
    try:
        while sent < 10 * 1024 * 1024:
            bad.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed by the server before all of it went: what we want
    assert wait_closed(bad, 3.0)
    bad.close()
    assert "bad stream" in server.log()
    # nothing else lost: the other connection and UDP still answer
    good.sendall(request("OPTIONS", f"sip:127.0.0.1:{server.port}", 5, 5))
    assert read_messages(good, 1)[0].startswith(b"SIP/2.0 200 OK")
    good.close()
    assert udp_ping(server)


def test_no_content_length_closes_the_connection(net):
    server, _, _ = net
    with connect(server) as s:
        msg = request("OPTIONS", f"sip:127.0.0.1:{server.port}", 3, 3).replace(b"Content-Length: 0\r\n", b"")
        s.sendall(msg)
        assert wait_closed(s, 3.0)
    assert "no Content-Length header" in server.log()


def test_idle_connections_bounded_by_tcp_max_connections(net):
    server, _, rpc = net
    socks = []
    try:
        for _ in range(MAX_CONNS + 20):
            socks.append(connect(server))
        time.sleep(0.5)
        info = rpc_call(rpc, "core.tcp_info")
        assert info["opened_connections"] <= MAX_CONNS
        closed = sum(wait_closed(s, 0.05) for s in socks)
        assert closed >= 20
        assert "maximum number of connections exceeded" in server.log()
        assert udp_ping(server)
    finally:
        for s in socks:
            s.close()
    # once they are gone, connections are accepted again
    deadline = time.monotonic() + 3
    while rpc_call(rpc, "core.tcp_info")["opened_connections"] > 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    with connect(server) as s:
        s.sendall(request("OPTIONS", f"sip:127.0.0.1:{server.port}", 4, 4))
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")


def test_slowloris_closed_by_tcp_msg_read_timeout(net):
    """One byte every 0.25 s keeps the connection busy but never finishes a message:
    closed 2 s (tcp_msg_read_timeout) after it began, UDP answered meanwhile."""
    server, _, _ = net
    msg = request("OPTIONS", f"sip:127.0.0.1:{server.port}", 8, 8)
    with connect(server) as s:
        t0 = time.monotonic()
        closed = False
        for b in msg[:40]:
            try:
                s.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if wait_closed(s, 0.25):
                closed = True
                break
        took = time.monotonic() - t0
    assert closed and 1.5 <= took <= 5, took
    assert "not read whole within 2 s (tcp_msg_read_timeout)" in server.log()
    assert udp_ping(server)


def test_idle_connection_closed_after_lifetime(net):
    server, _, _ = net
    with connect(server) as s:
        s.sendall(request("OPTIONS", f"sip:127.0.0.1:{server.port}", 6, 6))
        assert read_messages(s, 1)
        t0 = time.monotonic()
        assert wait_closed(s, LIFETIME + 3)
        assert time.monotonic() - t0 >= LIFETIME - 1


# ---------------------------------------------------------------------- SIPp calls
def call(server, uas_port, caller: str, callee: str, service: str, calls: int = 1):
    uas = SippRun(UAS, "127.0.0.1", "-m", str(calls), "-t", callee, "-timeout", "20s",
                  "-max_socket", "100", local_port=uas_port).start()
    time.sleep(0.3)
    uac = SippRun(UAC, f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{server.port}", "-t", caller,
                  "-s", service, "-m", str(calls), "-l", "10", "-recv_timeout", "6000", "-timeout", "20s",
                  "-max_socket", "100", local_port=free_udp_ports(1)[0]).start()
    try:
        uac.wait(25)
        uas.wait(25)
    finally:
        uac.kill()
        uas.kill()
    return uac.stats(), uas.stats()


def ok(stats) -> tuple[int, int]:
    return int(stats["SuccessfulCall(C)"]), int(stats["FailedCall(C)"])


@needs_sipp
@pytest.mark.parametrize("caller,callee,service", [
    ("t1", "t1", "tcp"),    # TCP both ways
    ("u1", "t1", "tcp"),    # UDP caller, TCP callee: opened by a reader on a UDP worker's behalf
    ("t1", "u1", "udp"),    # TCP caller, UDP callee: the 200 (a UDP worker) leaves on the reader's connection
])
def test_call_through_tm(net, caller, callee, service):
    server, uas, _ = net
    uac_stats, uas_stats = call(server, uas, caller, callee, service)
    assert ok(uac_stats) == (1, 0), server.log()[-3000:]
    assert ok(uas_stats) == (1, 0)


@needs_sipp
def test_calls_one_connection_each(net):
    server, uas, _ = net
    uac_stats, uas_stats = call(server, uas, "tn", "tn", "tcp", calls=6)
    assert ok(uac_stats) == (6, 0), server.log()[-3000:]
    assert ok(uas_stats) == (6, 0)


@needs_sipp
@pytest.mark.parametrize("mode", ["t1", "tn"])
def test_sipp_options(net, mode):
    server, _, _ = net
    # the local port is SIPp's for TCP too: one free for both (a port free for UDP may
    # be held in TCP); on a failure the message carries what SIPp said
    run = SippRun("options_uac.xml", f"127.0.0.1:{server.port}", "-t", mode, "-m", "20", "-r", "50",
                  "-timeout", "15s", "-max_socket", "30", local_port=free_port_block(1))
    stats = run.run(20)
    assert ok(stats) == (20, 0), (stats, run.errors(), server.log()[-2000:])
