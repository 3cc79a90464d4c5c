"""Differential: what a function call is worth in the config language, asked of
Kamailio 5.6 itself and of kamapy with the same config. Assigned directly (also in
parentheses) a call gives its return code, -1 when it fails; inside a larger
expression -- arithmetic, a comparison -- it counts as 1 or 0."""

from __future__ import annotations

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

pytestmark = pytest.mark.wire

CFG = r"""#!KAMAILIO
debug=1
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
request_route {
    if (is_method("REGISTER")) {
        save("location");
        exit;
    }
    $var(a) = is_method("INVITE");
    $var(b) = lookup("location");
    $var(c) = lookup("location") + 10;
    $var(d) = is_method("OPTIONS");
    $var(e) = (lookup("location"));
    if (lookup("location") == -1) { $var(f) = "eq-1"; } else { $var(f) = "ne-1"; }
    $var(g) = !is_method("INVITE");
    $var(h) = is_method("OPTIONS") * 5;
    sl_send_reply("404", "a=$var(a) b=$var(b) c=$var(c) d=$var(d) e=$var(e) f=$var(f) g=$var(g) h=$var(h)");
}
"""


def options(client, user: str) -> bytes:
    host, port = client.server
    return (f"OPTIONS sip:{user}@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {client.host}:{client.port};branch=z9hG4bK-o-{user};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:a@{host}>;tag=1\r\nTo: <sip:{user}@{host}>\r\n"
            f"Call-ID: o-{user}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def register(client, user: str) -> bytes:
    host, port = client.server
    return (f"REGISTER sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {client.host}:{client.port};branch=z9hG4bK-r-{user};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{user}@{host}>;tag=1\r\nTo: <sip:{user}@{host}>\r\n"
            f"Call-ID: r-{user}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@10.0.0.1>\r\n"
            f"Expires: 600\r\nContent-Length: 0\r\n\r\n").encode()


def status_line(reply: bytes | None) -> str:
    assert reply is not None
    return reply.split(b"\r\n", 1)[0].decode()


@pytest.mark.parametrize("registered", [False, True])
def test_function_values_as_kamailio_gives_them(registered):
    if kamailio_path() is None:
        pytest.skip("kamailio is not installed")
    lines = []
    for server in (KamailioServer(CFG), KamapyServer(CFG, children=1, fmt={"mpath": MODULES})):
        with server, SipClient(("127.0.0.1", server.port)) as c:
            if registered:
                assert c.request(register(c, "zed")) is not None
            lines.append(status_line(c.request(options(c, "zed"))))
    kamailio, kamapy = lines
    assert kamapy == kamailio
    assert ("b=1" if registered else "b=-1") in kamapy  # the comparison is not vacuous
