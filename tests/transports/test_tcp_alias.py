"""force_tcp_alias() / add_tcp_alias(port), side by side with Kamailio 5.6.3.

A UA on TCP sends from an ephemeral port but says in its Via that it listens on L.
After force_tcp_alias() a request the server sends to <its ip>:L over TCP (here a
stateless forward() from a UDP trigger, so another process than the TCP reader sends
it) goes on the UA's existing connection; without the alias the server opens a new
connection to L. Also: the port argument, and the per-connection limit (Kamailio:
TCP_CON_MAX_ALIASES = 12 entries, three per port, the connection's own included, so
three aliases and the fourth fails). The same scenario once more on kamapy with the
routing in a KEMI script (KSR.add_tcp_alias_via(), KSR.add_tcp_alias(port)).
"""

from __future__ import annotations

import socket

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_port_block, free_tcp_port
from tests.support.server import KamapyServer

from .stream import StreamReader

pytestmark = [pytest.mark.wire, pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed")]

CFG = r"""
debug=2
children=2
tcp_children=2
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
server_signature=no
{mpath_line}
loadmodule "pv{so}"
loadmodule "sl{so}"
request_route {
  if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
  if ($rU == "alias") {
    if (force_tcp_alias()) { sl_send_reply("200", "aliased"); } else { sl_send_reply("500", "alias failed"); }
    exit;
  }
  if ($rU == "aliasp") {
    if (add_tcp_alias({aport})) { sl_send_reply("200", "aliased"); } else { sl_send_reply("500", "alias failed"); }
    exit;
  }
  if ($rU == "plain") { sl_send_reply("200", "not aliased"); exit; }
  if ($rU == "send") { $du = "sip:127.0.0.1:" + $hdr(X-Port) + ";transport=tcp"; forward(); exit; }
}
"""


KEMI_CFG = """
debug=2
children=2
tcp_children=2
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
server_signature=no
loadmodule "pv"
loadmodule "sl"
loadmodule "kex"
loadmodule "app_python3"
modparam("app_python3", "load", "{script}")
cfgengine "python"
"""

KEMI_SCRIPT = """
import KSR


def reply(ok):
    if ok > 0:
        KSR.sl.sl_send_reply(200, "aliased")
    else:
        KSR.sl.sl_send_reply(500, "alias failed")


def mod_init():
    return kamailio()


class kamailio:
    def child_init(self, rank):
        return 0

    def ksr_request_route(self, msg):
        ru = KSR.pv.get("$rU")
        if ru is None:
            KSR.sl.sl_send_reply(200, "OK")
        elif ru == "alias":
            reply(KSR.add_tcp_alias_via())
        elif ru == "aliasp":
            reply(KSR.add_tcp_alias({aport}))
        elif ru == "plain":
            KSR.sl.sl_send_reply(200, "not aliased")
        elif ru == "send":
            KSR.setdsturi("sip:127.0.0.1:" + KSR.hdr.get("X-Port") + ";transport=tcp")
            KSR.forward()
        return 1
"""


def start_kemi(aport, d):
    script = d / "alias_kemi.py"
    script.write_text(KEMI_SCRIPT.replace("{aport}", str(aport)))
    return KamapyServer(KEMI_CFG, port=free_port_block(1), fmt={"script": script}).start()


def start(cls, aport):
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
    text = text.replace("{so}", ".so" if cls is KamailioServer else "")
    return cls(text, port=free_port_block(1), fmt={"aport": aport}).start()


def request(method, user, server_port, via_port, n, extra=""):
    return (f"{method} sip:{user}@127.0.0.1:{server_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 127.0.0.1:{via_port};branch=z9hG4bK-al{n}-{via_port}\r\n"
            f"From: <sip:ua@127.0.0.1>;tag=al{n}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: alias-{n}-{via_port}\r\nCSeq: {n} {method}\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Length: 0\r\n\r\n").encode()


def status(msg: bytes) -> str:
    return msg.split(b"\r\n", 1)[0].decode()


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(4)
    s.settimeout(1.0)
    return s


def trigger(server, port, n):
    """A UDP MESSAGE the server forwards to 127.0.0.1:port over TCP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.sendto(request("MESSAGE", "send", server.port, u.getsockname()[1], n, f"X-Port: {port}\r\n").replace(
            b"SIP/2.0/TCP", b"SIP/2.0/UDP"), ("127.0.0.1", server.port))


def where_it_went(server, conn: socket.socket, lsock: socket.socket, port: int, n: int) -> str:
    """'same connection' or 'new connection' (or 'nowhere') for a request to port."""
    trigger(server, port, n)
    got = StreamReader(conn).messages(1, 2.0)
    if got and b"Call-ID: alias-%d-" % n in got[0]:
        return "same connection"
    try:
        new, _ = lsock.accept()
    except socket.timeout:
        return "nowhere"
    with new:
        got = StreamReader(new).messages(1, 2.0)
    return "new connection" if got and got[0].startswith(b"MESSAGE ") else "new connection, nothing read"


def scenario(server, aport) -> dict:
    out = {}
    # force_tcp_alias(): the top Via's port becomes an alias of this connection
    lport = free_tcp_port()
    with listener(lport) as ls, socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
        c.sendall(request("OPTIONS", "alias", server.port, lport, 1))
        out["alias reply"] = status(StreamReader(c).messages(1)[0])
        out["alias"] = where_it_went(server, c, ls, lport, 2)
    # no alias: a new connection to the Via port
    lport = free_tcp_port()
    with listener(lport) as ls, socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
        c.sendall(request("OPTIONS", "plain", server.port, lport, 3))
        out["plain reply"] = status(StreamReader(c).messages(1)[0])
        out["plain"] = where_it_went(server, c, ls, lport, 4)
    # add_tcp_alias(port): that port, whatever the Via says
    with listener(aport) as ls, socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
        c.sendall(request("OPTIONS", "aliasp", server.port, free_tcp_port(), 5))
        out["port arg reply"] = status(StreamReader(c).messages(1)[0])
        out["port arg"] = where_it_went(server, c, ls, aport, 6)
    # the limit: four different Via ports on one connection
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
        r = StreamReader(c)
        codes = []
        for i, p in enumerate((41001, 41002, 41003, 41004, 41001)):
            c.sendall(request("OPTIONS", "alias", server.port, p, 10 + i))
            codes.append(status(r.messages(1)[0]))
        out["limit"] = codes
    # on UDP it does nothing and is true
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.settimeout(2)
        u.sendto(request("OPTIONS", "alias", server.port, u.getsockname()[1], 20).replace(
            b"SIP/2.0/TCP", b"SIP/2.0/UDP"), ("127.0.0.1", server.port))
        out["udp"] = status(u.recvfrom(65535)[0])
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = {}
    for name in ("kamailio", "kamapy", "kamapy-kemi"):
        aport = free_tcp_port()
        if name == "kamapy-kemi":
            server = start_kemi(aport, tmp_path_factory.mktemp("alias-kemi"))
        else:
            server = start(KamailioServer if name == "kamailio" else KamapyServer, aport)
        try:
            out[name] = scenario(server, aport)
        finally:
            server.stop()
    return out


def test_force_tcp_alias_same_as_kamailio(results):
    assert results["kamapy"] == results["kamailio"] == results["kamapy-kemi"], results
    got = results["kamapy"]
    assert got["alias"] == "same connection" and got["port arg"] == "same connection"
    assert got["plain"] == "new connection"
    assert got["alias reply"] == "SIP/2.0 200 aliased" and got["udp"] == "SIP/2.0 200 aliased"


def test_alias_limit_per_connection(results):
    got = results["kamapy"]["limit"]
    # three aliases fit, the fourth does not; one already there is no new one
    assert got == ["SIP/2.0 200 aliased"] * 3 + ["SIP/2.0 500 alias failed", "SIP/2.0 200 aliased"], results
