"""TCP side by side with Kamailio 5.6.3: the same config on both, the same requests
over TCP, the answers compared after normalising what must differ (ports, tags,
branch hashes, the Server line). The differential runner speaks UDP only, hence this
file.

Covered: an sl reply to a request with rport and a foreign sent-by (received=,
rport=), a stateless forward() to a UDP next hop (our Via with ;i=<conid>), tm to a
;transport=tcp next hop and its 200 back on the caller's connection (Record-Route
with transport=tcp), the CRLF keepalive.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_udp_ports
from tests.support.server import KamapyServer

from .stream import StreamReader, reply_to

pytestmark = [pytest.mark.wire, pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed")]

CFG = r"""
debug=2
children=1
tcp_children=1
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
server_signature=no
{mpath_line}
loadmodule "pv{so}"
loadmodule "tm{so}"
loadmodule "sl{so}"
loadmodule "rr{so}"
request_route {
  if (method=="OPTIONS" && $rU==$null) { sl_send_reply("200","OK"); exit; }
  if ($rU == "sl") { force_rport(); sl_send_reply("404", "Nope"); exit; }
  if ($rU == "fwd") { $du = "sip:127.0.0.1:{sink}"; forward(); exit; }
  if ($rU == "tmudp") { record_route(); $du = "sip:127.0.0.1:{sink}"; t_relay(); exit; }
  if ($rU == "tm") { record_route(); $du = "sip:127.0.0.1:{tsink};transport=tcp"; t_relay(); exit; }
}
"""


def start(cls, sink, tsink):
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
    text = text.replace("{so}", ".so" if cls is KamailioServer else "")
    server = cls(text, fmt={"sink": sink, "tsink": tsink})
    server.start()
    return server


@pytest.fixture(scope="module")
def pair():
    out = {}
    servers = []
    try:
        for cls in (KamailioServer, KamapyServer):
            sink, tsink = free_udp_ports(2)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", sink))
            udp.settimeout(2)
            tcp = socket.socket()
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind(("127.0.0.1", tsink))
            tcp.listen(4)
            tcp.settimeout(3)
            server = start(cls, sink, tsink)
            servers.append(server)
            out[cls.name] = (server, udp, tcp, sink, tsink)
        yield out
    finally:
        for s in servers:
            s.stop()
        for _, udp, tcp, _, _ in out.values():
            udp.close()
            tcp.close()


def invite(user, port, lport, via_host="127.0.0.1", rport=False):
    return (f"INVITE sip:{user}@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP {via_host}:{lport};branch=z9hG4bK{user}x1{';rport' if rport else ''}\r\n"
            f"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: c-{user}\r\nCSeq: 1 INVITE\r\n"
            f"Max-Forwards: 70\r\nContact: <sip:a@127.0.0.1:{lport};transport=tcp>\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def norm(data: bytes, **ports) -> str:
    text = data.decode("latin-1")
    for name, value in sorted(ports.items(), key=lambda kv: -len(str(kv[1]))):
        text = text.replace(str(value), "{" + name + "}")
    text = re.sub(r"tag=[0-9a-f]{32}\.[0-9a-f]+", "tag=<sl-tag>", text)
    text = re.sub(r"branch=z9hG4bK[0-9a-f.]+(?=[;\r])", "branch=z9hG4bK<ours>", text)
    return text


def both(pair, fn):
    return {name: fn(*entry) for name, entry in pair.items()}


def test_sl_reply_with_rport_and_foreign_sent_by(pair):
    def run(server, udp, tcp, sink, tsink):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
            lport = c.getsockname()[1]
            c.sendall(invite("sl", server.port, 5999, via_host="10.9.9.9", rport=True))
            got = StreamReader(c).messages(1)
        return norm(got[0], port=server.port, cport=lport) if got else None
    out = both(pair, run)
    assert out["kamapy"] is not None and out["kamapy"] == out["kamailio"], out
    assert "received=127.0.0.1" in out["kamapy"] and "rport={cport}" in out["kamapy"]


def test_stateless_forward_to_udp_writes_the_connection_id(pair):
    def run(server, udp, tcp, sink, tsink):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
            lport = c.getsockname()[1]
            c.sendall(invite("fwd", server.port, lport))
            data, _ = udp.recvfrom(65535)
        # the connection ids differ by how many connections each server has seen
        return re.sub(r";i=[0-9a-f]+", ";i=<id>", norm(data, port=server.port, cport=lport, sink=sink))
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    assert ";i=<id>" in out["kamapy"]


def test_tm_to_tcp_next_hop_and_the_200_back(pair):
    def run(server, udp, tcp, sink, tsink):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
            lport = c.getsockname()[1]
            c.sendall(invite("tm", server.port, lport))
            r = StreamReader(c)
            trying = r.messages(1)
            conn, _ = tcp.accept()
            with conn:
                relayed = StreamReader(conn).messages(1)[0]
                conn.sendall(reply_to(relayed, 200, "OK", "zz",
                                      f"Contact: <sip:b@127.0.0.1:{tsink};transport=tcp>\r\n"))
                final = r.messages(1)
                time.sleep(0.1)
        p = dict(port=server.port, cport=lport, tsink=tsink)
        relayed_n = re.sub(r";i=[0-9a-f]+", ";i=<id>", norm(relayed, **p))
        return norm(trying[0], **p), relayed_n, norm(final[0], **p) if final else None
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    assert "Record-Route: <sip:127.0.0.1:{port};transport=tcp;lr;ftag=1>" in out["kamapy"][1]
    assert out["kamapy"][2].startswith("SIP/2.0 200 OK")


def test_tcp_caller_udp_callee_double_record_route(pair):
    """UDP on one side, TCP on the other: two Record-Routes (r2=on), the UDP one on
    top for the callee; the callee's 200 goes back on the caller's connection."""
    def run(server, udp, tcp, sink, tsink):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
            lport = c.getsockname()[1]
            c.sendall(invite("tmudp", server.port, lport))
            r = StreamReader(c)
            r.messages(1)   # 100
            relayed, addr = udp.recvfrom(65535)
            udp.sendto(reply_to(relayed, 200, "OK", "uu", f"Contact: <sip:b@127.0.0.1:{sink}>\r\n"), addr)
            final = r.messages(1)
        p = dict(port=server.port, cport=lport, sink=sink)
        return re.sub(r";i=[0-9a-f]+", ";i=<id>", norm(relayed, **p)), norm(final[0], **p) if final else None
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    rr = re.findall(r"Record-Route: (.*)\r", out["kamapy"][0])
    assert rr == ["<sip:127.0.0.1:{port};r2=on;lr;ftag=1>", "<sip:127.0.0.1:{port};transport=tcp;r2=on;lr;ftag=1>"]
    assert out["kamapy"][1].startswith("SIP/2.0 200 OK")


def test_crlf_keepalive(pair):
    def run(server, udp, tcp, sink, tsink):
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
            c.sendall(b"\r\n\r\n")
            c.settimeout(2)
            return c.recv(16)
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"] == b"\r\n"
