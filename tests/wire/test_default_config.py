"""The default config (etc/kamapy.cfg) and the everyday modules on the wire: a real
kamapy answering over loopback. The default-config tests run on both engines: the
cfg's route blocks and the same logic in etc/kamapy.py (-A WITH_KEMI)."""

from __future__ import annotations

import time

import pytest

from tests.support.default_config import ENGINES, engine_args
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire


def default_cfg() -> str:
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    return text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")


@pytest.fixture(scope="module")
def default_servers():
    """{engine: a server on etc/kamapy.cfg}: its route blocks, and etc/kamapy.py."""
    with KamapyServer(default_cfg(), children=2) as native, \
            KamapyServer(default_cfg(), children=2, args=engine_args("kemi")) as kemi:
        yield {"native": native, "kemi": kemi}


@pytest.fixture(params=ENGINES)
def default_server(request, default_servers):
    return default_servers[request.param]


def request(c: SipClient, method: str, ruri: str, extra: str = "", cseq: str | None = None,
            max_forwards: int = 70, to_tag: str = "") -> bytes:
    n = time.time_ns()
    to = f"<{ruri}>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} {ruri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-{n};rport\r\n"
        f"Max-Forwards: {max_forwards}\r\n"
        f"From: <sip:alice@127.0.0.1>;tag=a{n}\r\n"
        f"To: {to}\r\n"
        f"Call-ID: w{n}@{c.host}\r\n"
        f"CSeq: {cseq or '1 ' + method}\r\n"
        f"Contact: <sip:alice@{c.host}:{c.port}>\r\n"
        f"{extra}"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def test_keepalive_options(default_server):
    with SipClient(("127.0.0.1", default_server.port)) as c:
        reply = c.request(c.options())
        assert status_of(reply) == 200, default_server.log()[-3000:]


def test_max_forwards_zero_is_483(default_server):
    with SipClient(("127.0.0.1", default_server.port)) as c:
        reply = c.request(request(c, "INVITE", f"sip:bob@127.0.0.1:{default_server.port}", max_forwards=0))
        assert status_of(reply) == 483


def test_insane_request_is_400(default_server):
    with SipClient(("127.0.0.1", default_server.port)) as c:
        reply = c.request(request(c, "INVITE", f"sip:bob@127.0.0.1:{default_server.port}", cseq="1 BYE"))
        assert status_of(reply) == 400
        assert b"CSeq method does not match request method" in reply


def test_unknown_user_is_404(default_server):
    with SipClient(("127.0.0.1", default_server.port)) as c:
        reply = c.request(request(c, "MESSAGE", f"sip:nobody@127.0.0.1:{default_server.port}"))
        assert status_of(reply) == 404, default_server.log()[-3000:]


def test_register_then_invite_is_relayed_with_record_route(default_server):
    port = default_server.port
    with SipClient(("127.0.0.1", port)) as bob, SipClient(("127.0.0.1", port)) as alice:
        reg = request(bob, "REGISTER", f"sip:127.0.0.1:{port}", extra="Expires: 60\r\n")
        reg = reg.replace(b"To: <sip:127.0.0.1", b"To: <sip:bob@127.0.0.1")
        reg = reg.replace(b"Contact: <sip:alice@", b"Contact: <sip:bob@")
        assert status_of(bob.request(reg)) == 200, default_server.log()[-3000:]
        alice.send(request(alice, "INVITE", f"sip:bob@127.0.0.1:{port}"))
        got = bob.recv(3.0)
        assert got is not None and got.startswith(b"INVITE sip:bob@"), default_server.log()[-3000:]
        assert f"Record-Route: <sip:127.0.0.1:{port};lr>".encode() in got


# The differential corpus's proxy flows (tests/differential/cases/proxy: register, calls
# answered, busy, cancelled, forked, re-INVITE, SUBSCRIBE/NOTIFY, Max-Forwards, 404s),
# played against both engines at once: the normalised transcripts must be the same bytes.
# A few ordinary ones in the default run, the whole group in the slow one.
PROXY_CASES = REPO / "tests" / "differential" / "cases" / "proxy"
QUICK_CASES = ("call-registered", "call-cancelled", "call-busy", "flow-in-dialog-no-route",
               "invite-not-registered", "flow-subscribe-notify", "flow-mf-0")


def _case_params():
    out = []
    for p in sorted(PROXY_CASES.glob("*.toml")):
        marks = () if p.stem in QUICK_CASES else (pytest.mark.slow,)
        out.append(pytest.param(p, id=p.stem, marks=marks))
    return out


@pytest.mark.parametrize("case_path", _case_params())
def test_native_and_kemi_give_the_same_transcript(default_servers, case_path):
    from concurrent.futures import ThreadPoolExecutor

    from tests.differential.runner import diff, load_case, play
    case = load_case(case_path)
    with ThreadPoolExecutor(2) as pool:
        native, kemi = pool.map(lambda srv: play(case, srv.port).normalised(),
                                (default_servers["native"], default_servers["kemi"]))
    assert sum(len(v) for v in native.values()) > 0 or case.id == "flow-cancel-unknown"
    problem = diff(native, kemi)
    assert not problem, f"{case.id}: native (want) vs etc/kamapy.py (got):\n{problem}"


MODULES_CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "rr"
loadmodule "maxfwd"
loadmodule "textops"
loadmodule "siputils"
loadmodule "sanity"
loadmodule "xlog"
request_route {
    if (!mf_process_maxfwd_header("10")) {
        sl_send_reply("483", "Too Many Hops");
        exit;
    }
    if (!sanity_check()) {
        exit;
    }
    if (is_method("OPTIONS") && $rU == $null) {
        append_to_reply("X-Seen: $rm from $si\r\n");
        sl_send_reply("200", "OK");
        exit;
    }
    xinfo("routing $rm $ru\n");
    if (has_totag()) {
        if (loose_route()) {
            append_hf("X-Routed: yes\r\n");
            forward();
            exit;
        }
        sl_send_reply("404", "No route");
        exit;
    }
    record_route(";nat=yes");
    forward();
}
"""


@pytest.fixture(scope="module")
def modules_server():
    with KamapyServer(MODULES_CFG, children=2) as srv:
        yield srv


def test_append_to_reply_is_in_the_reply(modules_server):
    with SipClient(("127.0.0.1", modules_server.port)) as c:
        reply = c.request(c.options())
        assert status_of(reply) == 200
        assert f"X-Seen: OPTIONS from {c.host}".encode() in reply


def test_record_route_then_loose_route_over_forward(modules_server):
    port = modules_server.port
    with SipClient(("127.0.0.1", port)) as caller, SipClient(("127.0.0.1", port)) as callee:
        # initial request: forwarded to the callee with our Record-Route on top
        caller.send(request(caller, "MESSAGE", f"sip:bob@127.0.0.1:{callee.port}"))
        got = callee.recv(3.0)
        assert got is not None, modules_server.log()[-3000:]
        rr_line = f"Record-Route: <sip:127.0.0.1:{port};lr;ftag="
        assert rr_line.encode() in got and b";nat=yes>" in got
        # in-dialog request: Route set with us first, then the callee's URI as R-URI
        route = got.split(b"Record-Route: ", 1)[1].split(b"\r\n", 1)[0].decode()
        bye = request(caller, "BYE", f"sip:bob@127.0.0.1:{callee.port}", to_tag="b1",
                      extra=f"Route: {route}\r\n")
        caller.send(bye)
        got = callee.recv(3.0)
        assert got is not None and got.startswith(b"BYE "), modules_server.log()[-3000:]
        assert b"\r\nRoute:" not in got
        assert b"X-Routed: yes" in got


def test_loose_route_without_route_is_404(modules_server):
    with SipClient(("127.0.0.1", modules_server.port)) as c:
        reply = c.request(request(c, "BYE", f"sip:bob@127.0.0.1:{c.port}", to_tag="t"))
        assert status_of(reply) == 404


def test_modules_max_forwards_and_sanity(modules_server):
    with SipClient(("127.0.0.1", modules_server.port)) as c:
        uri = f"sip:bob@127.0.0.1:{c.port}"
        assert status_of(c.request(request(c, "MESSAGE", uri, max_forwards=0))) == 483
        reply = c.request(request(c, "MESSAGE", uri, extra="Proxy-Require: foo\r\n"))
        assert status_of(reply) == 420 and b"Unsupported: foo" in reply


