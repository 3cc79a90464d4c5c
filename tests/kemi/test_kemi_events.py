"""The modules' event_callback parameters with cfgengine "python": the script method a
module's parameter names runs where its event_route would, with the event name
(Kamailio's sr_kemi_route(..., EVENT_ROUTE, &callback, &evname)). One server: htable's
htable:mod-init, dialog's dialog:start / dialog:end, tm's tm:local-request and uac's
uac:reply on a uac_req_send() request, and xhttp's xhttp:request on an HTTP GET. And the
native engine warns at start-up that an event_callback is not called."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from tests.support.ports import free_port_block
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = """
debug=2
children=1
auto_aliases=no
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:HTTP_PORT
tcp_accept_no_cl=yes
loadmodule "htable"
loadmodule "sl"
loadmodule "tm"
loadmodule "rr"
loadmodule "pv"
loadmodule "textops"
loadmodule "siputils"
loadmodule "dialog"
loadmodule "uac"
loadmodule "xhttp"
loadmodule "app_python3"
modparam("htable", "htable", "ev=>size=4")
modparam("htable", "event_callback", "ksr_htable_event")
modparam("dialog", "event_callback", "ksr_dialog_event")
modparam("tm", "event_callback", "ksr_tm_event")
modparam("uac", "event_callback", "ksr_uac_event")
modparam("xhttp", "event_callback", "ksr_xhttp_event")
modparam("app_python3", "load", "SCRIPT")
cfgengine "python"
"""

SCRIPT = r'''
import KSR

def mod_init():
    return Handler()

class Handler:
    def ksr_htable_event(self, msg, evname):
        KSR.pv.sets("$sht(ev=>init)", evname)

    def ksr_dialog_event(self, msg, evname):
        # the dialog is the current one here, as in event_route[dialog:*]
        KSR.pv.sets("$sht(ev=>" + evname + ")", KSR.pv.gete("$dlg(callid)"))

    def ksr_tm_event(self, msg, evname):
        KSR.hdr.append("X-Event: " + evname + "\r\n")

    def ksr_uac_event(self, msg, evname):
        KSR.pv.sets("$sht(ev=>uac)", evname + " " + str(KSR.pv.get("$uac_req(evcode)")))

    def ksr_xhttp_event(self, msg, evname):
        KSR.xhttp.xhttp_reply(200, "OK", "text/plain", evname + " " + KSR.pv.get("$hu"))

    def ksr_request_route(self, msg):
        if KSR.is_OPTIONS() and KSR.pv.is_null("$rU"):
            KSR.sl.sl_send_reply(200, "OK")  # the test harness's liveness probe
            return
        if KSR.pv.get("$rU") == "state":
            for key in ("init", "dialog:start", "dialog:end", "uac"):
                KSR.hdr.append_to_reply("X-" + key.replace(":", "-") + ": "
                                        + KSR.pv.gete("$sht(ev=>" + key + ")") + "\r\n")
            KSR.sl.sl_send_reply(200, "State")
            return
        if KSR.pv.get("$rU") == "uac":
            KSR.pv.sets("$uac_req(method)", "MESSAGE")
            KSR.pv.sets("$uac_req(ruri)", KSR.pv.get("$hdr(X-To)"))
            KSR.pv.sets("$uac_req(furi)", "sip:kamapy@127.0.0.1")
            KSR.pv.sets("$uac_req(turi)", KSR.pv.get("$hdr(X-To)"))
            KSR.pv.seti("$uac_req(evroute)", 1)
            KSR.uac.uac_req_send()
            KSR.sl.sl_send_reply(202, "Sent")
            return
        if KSR.siputils.has_totag() > 0:
            if KSR.rr.loose_route() > 0:
                KSR.tm.t_relay()
                return
            KSR.sl.sl_send_reply(404, "Not here")
            return
        if KSR.is_INVITE():
            KSR.dialog.dlg_manage()
            KSR.rr.record_route()
        KSR.tm.t_relay()
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("kemiev")
    script = d / "events.py"
    script.write_text(SCRIPT)
    http = free_port_block(1)
    text = CFG.replace("SCRIPT", str(script)).replace("HTTP_PORT", str(http))
    with KamapyServer(text, children=1) as srv:
        srv.http_port = http
        yield srv


def sip(c: SipClient, method: str, ruri: str, *, tag: str, to_tag: str = "", extra: str = "",
        cseq: int = 1) -> bytes:
    to = f"<{ruri}>" + (f";tag={to_tag}" if to_tag else "")
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-{tag}-{method}-{cseq};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=f-{tag}\r\nTo: {to}\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@{c.host}:{c.port}>\r\n{extra}Content-Length: 0\r\n\r\n").encode()


def answer(req: bytes, code: int, to_tag: str, contact: str) -> bytes:
    lines = req.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    keep = [ln for ln in lines[1:] if ln.split(b":", 1)[0].lower() in
            (b"via", b"record-route", b"from", b"to", b"call-id", b"cseq")]
    keep = [ln + f";tag={to_tag}".encode() if ln.lower().startswith(b"to:") else ln for ln in keep]
    return (f"SIP/2.0 {code} OK\r\n".encode() + b"\r\n".join(keep)
            + f"\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n".encode())


def state(srv) -> dict[str, str]:
    with SipClient(("127.0.0.1", srv.port)) as c:
        reply = c.request(sip(c, "OPTIONS", f"sip:state@127.0.0.1:{srv.port}", tag=f"st{time.time_ns()}"))
    assert status_of(reply) == 200, srv.log()[-3000:]
    out = {}
    for line in reply.decode().split("\r\n"):
        if line.startswith("X-"):
            k, _, v = line.partition(": ")
            out[k[2:]] = v
    return out


def wait_state(srv, key: str, want: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        st = state(srv)
        if st.get(key) == want or time.monotonic() > deadline:
            return st
        time.sleep(0.1)


def test_htable_mod_init_callback_ran(server):
    assert state(server)["init"] == "htable:mod-init", server.log()[-3000:]


def test_dialog_start_and_end_callbacks(server):
    port = server.port
    tag = f"dlg{time.time_ns()}"
    with SipClient(("127.0.0.1", port)) as caller, SipClient(("127.0.0.1", port)) as callee:
        callee_uri = f"sip:bob@127.0.0.1:{callee.port}"
        caller.send(sip(caller, "INVITE", callee_uri, tag=tag))
        inv = callee.recv(3.0)
        assert inv is not None and inv.startswith(b"INVITE"), server.log()[-3000:]
        callee.send(answer(inv, 200, "b1", callee_uri))
        ok = caller.recv(3.0)
        while ok is not None and status_of(ok) < 200:
            ok = caller.recv(3.0)
        assert ok is not None and status_of(ok) == 200, server.log()[-3000:]
        rr = ok.split(b"Record-Route: ", 1)[1].split(b"\r\n", 1)[0].decode()
        caller.send(sip(caller, "ACK", callee_uri, tag=tag, to_tag="b1", extra=f"Route: {rr}\r\n"))
        assert callee.recv(3.0).startswith(b"ACK")
        st = wait_state(server, "dialog-start", f"{tag}@127.0.0.1")
        assert st["dialog-start"] == f"{tag}@127.0.0.1", (st, server.log()[-3000:])
        caller.send(sip(caller, "BYE", callee_uri, tag=tag, to_tag="b1", cseq=2, extra=f"Route: {rr}\r\n"))
        bye = callee.recv(3.0)
        assert bye is not None and bye.startswith(b"BYE")
        callee.send(answer(bye, 200, "b1", callee_uri))
        assert status_of(caller.recv(3.0)) == 200
    st = wait_state(server, "dialog-end", f"{tag}@127.0.0.1")
    assert st["dialog-end"] == f"{tag}@127.0.0.1", (st, server.log()[-3000:])


def test_tm_local_request_and_uac_reply_callbacks(server):
    port = server.port
    with SipClient(("127.0.0.1", port)) as c, SipClient(("127.0.0.1", port)) as target:
        to = f"sip:carol@127.0.0.1:{target.port}"
        reply = c.request(sip(c, "MESSAGE", f"sip:uac@127.0.0.1:{port}", tag=f"u{time.time_ns()}",
                              extra=f"X-To: {to}\r\n"))
        assert status_of(reply) == 202, server.log()[-3000:]
        req = target.recv(3.0)
        assert req is not None and req.startswith(b"MESSAGE " + to.encode()), server.log()[-3000:]
        # tm:local-request ran on it before it went out: what it appended is on the wire
        assert b"\r\nX-Event: tm:local-request\r\n" in req, req
        target.send(answer(req, 200, "c1", to))
    st = wait_state(server, "uac", "uac:reply 200")
    assert st["uac"] == "uac:reply 200", (st, server.log()[-3000:])


def test_xhttp_request_callback(server):
    with socket.create_connection(("127.0.0.1", server.http_port), timeout=3) as s:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 3
        while b"xhttp:request" not in data and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK"), (data, server.log()[-3000:])
    assert data.endswith(b"xhttp:request /status"), data


def test_native_engine_warns_the_callback_is_not_called(tmp_path):
    cfg = tmp_path / "n.cfg"
    cfg.write_text('listen=udp:127.0.0.1:5999\nloadmodule "sl"\nloadmodule "pv"\nloadmodule "htable"\n'
                   'modparam("htable", "event_callback", "ksr_htable_event")\n'
                   'request_route {\n  sl_send_reply("200", "OK");\n}\n')
    p = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True,
                       text=True, timeout=60, cwd=str(REPO))
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert 'n.cfg:5:' in out and 'modparam("htable", "event_callback") names a KEMI function' in out, out
