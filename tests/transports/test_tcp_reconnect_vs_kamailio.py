"""In-dialog requests over TCP after a peer closed its connection mid-call, side by side
with Kamailio 5.6.3 (issue 16). The same record_route + loose_route proxy on both; the
caller A and callee B are raw sockets, each with a TCP listener of its own at its
Contact address.

Kamailio keys an outgoing TCP connection by the destination address: a request to an
address with an open connection goes on it; with none (the peer closed it), a new one is
opened; if nothing listens there, the refused connect fails the first send and tm
answers 477 at once (Kamailio's tcpconn_1st_send writes right after connect()).
"""

from __future__ import annotations

import itertools
import socket
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.server import KamapyServer

from .stream import StreamReader, headers, reply_to

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
loadmodule "xlog{so}"
modparam("tm", "fr_timer", 4000)  # long: a loaded test machine answers late; the 477 case must not depend on it
modparam("tm", "fr_inv_timer", 1500)
request_route {
  if (method=="OPTIONS" && $rU==$null) { sl_send_reply("200","OK"); exit; }
  if (loose_route()) {
    if (!t_relay()) { xlog("L_ERR", "reconnect-test: relay of $rm failed\n"); }
    exit;
  }
  if (method=="INVITE") { record_route(); t_relay(); exit; }
  sl_send_reply("404", "Not here");
}
"""

_ids = itertools.count(1)


def start(cls):
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
    text = text.replace("{so}", ".so" if cls is KamailioServer else "")
    return cls(text).start()


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    return s


@pytest.fixture(scope="module")
def pair():
    servers = []
    try:
        for cls in (KamailioServer, KamapyServer):
            servers.append(start(cls))
        yield servers
    finally:
        for s in servers:
            s.stop()


def request(method, ruri, via_port, frm, to, call_id, cseq, route="", contact=""):
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 127.0.0.1:{via_port};branch=z9hG4bK{call_id}{method}{cseq}\r\n"
            f"From: {frm}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Max-Forwards: 70\r\n{route}{contact}Content-Length: 0\r\n\r\n").encode()


def first_line(msg: bytes | None) -> str | None:
    """A reply's status line, a request's method and R-URI user (the ports differ)."""
    if not msg:
        return None
    line = msg.split(b"\r\n", 1)[0].decode()
    return line if line.startswith("SIP/") else line.split(":")[0] + ":" + line.split(":")[1].split("@")[0]


def one(reader, timeout=2.0):
    got = reader.messages(1, timeout)
    return got[0] if got else None


def accept(lsock, timeout):
    lsock.settimeout(timeout)
    try:
        return lsock.accept()[0]
    except socket.timeout:
        return None


class Call:
    """A on a connection to the proxy, B reached by the proxy at B's listener; the
    call set up (INVITE/200/ACK) with the proxy's Record-Route."""

    def __init__(self, server, contact_own=False):
        self.server = server
        self.a_listen, self.b_listen = listener(), listener()
        self.bport = self.b_listen.getsockname()[1]
        self.a = socket.create_connection(("127.0.0.1", server.port), timeout=3)
        self.a_port = self.a.getsockname()[1]
        # the port A's Contact names: its listener, or the connection's own (then
        # nothing listens there once A closed it)
        self.a_contact = self.a_port if contact_own else self.a_listen.getsockname()[1]
        self.ar = StreamReader(self.a)
        self.cid = f"rc{next(_ids)}-{server.name}"
        self.a_uri = f"sip:a@127.0.0.1:{self.a_contact};transport=tcp"
        self.b_uri = f"sip:b@127.0.0.1:{self.bport};transport=tcp"
        self.a_tag, self.b_tag = "<sip:a@x>;tag=1", "<sip:b@y>;tag=zz"

    def setup(self):
        self.a.sendall(request("INVITE", self.b_uri, self.a_port, self.a_tag, "<sip:b@y>", self.cid, 1,
                               contact=f"Contact: <{self.a_uri}>\r\n"))
        self.b = accept(self.b_listen, 3)
        assert self.b is not None, "the INVITE never reached B"
        self.br = StreamReader(self.b)
        inv = one(self.br)
        self.route = "".join(f"Route: {v}\r\n" for v in headers(inv).get("record-route", []))
        assert self.route, inv
        self.b.sendall(reply_to(inv, 200, "OK", "zz", f"Contact: <{self.b_uri}>\r\n"))
        assert first_line(self.final(self.ar)) == "SIP/2.0 200 OK"
        self.a.sendall(request("ACK", self.b_uri, self.a_port, self.a_tag, self.b_tag, self.cid, 1, self.route))
        return first_line(one(self.br))

    @staticmethod
    def final(reader, timeout=6.0):
        """The first reply above 1xx (the proxy's 100 Trying skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = one(reader, deadline - time.monotonic())
            if msg is None:
                return None
            if not msg.startswith(b"SIP/2.0 1"):
                return msg
        return None

    def bye_from_a(self):
        self.a.sendall(request("BYE", self.b_uri, self.a_port, self.a_tag, self.b_tag, self.cid, 2, self.route))

    def bye_from_b(self):
        self.b.sendall(request("BYE", self.a_uri, self.bport, self.b_tag, self.a_tag, self.cid, 1, self.route))

    def close(self):
        for s in ("a", "b", "a_listen", "b_listen"):
            if getattr(self, s, None) is not None:
                getattr(self, s).close()


def both(pair, fn, **kw):
    out = {}
    for server in pair:
        call = Call(server, **kw)
        try:
            out[server.name] = fn(call)
        finally:
            call.close()
    return out


def test_open_connection_is_reused_for_the_next_in_dialog_request(pair):
    """ACK and BYE go to B on the connection the INVITE opened; no new connect."""
    def run(c):
        ack = c.setup()
        c.bye_from_a()
        bye = one(c.br)
        fresh = accept(c.b_listen, 0.3)
        if fresh is not None:
            fresh.close()
        c.b.sendall(reply_to(bye, 200, "OK"))
        return ack, first_line(bye), fresh is not None, first_line(c.final(c.ar))
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    assert out["kamapy"] == ("ACK sip:b", "BYE sip:b", False, "SIP/2.0 200 OK")


def test_callee_closed_its_connection_bye_opens_a_new_one(pair):
    """B closes after the ACK: the caller's BYE goes on a new connection to B's
    address, B's 200 on it gets back to A."""
    def run(c):
        ack = c.setup()
        c.b.close()
        c.b = None
        time.sleep(0.3)
        c.bye_from_a()
        conn = accept(c.b_listen, 2)
        if conn is None:
            return ack, None, first_line(c.final(c.ar))
        with conn:
            bye = one(StreamReader(conn))
            conn.sendall(reply_to(bye, 200, "OK"))
            return ack, first_line(bye), first_line(c.final(c.ar))
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    assert out["kamapy"] == ("ACK sip:b", "BYE sip:b", "SIP/2.0 200 OK")


def test_caller_closed_bye_to_its_listening_contact(pair):
    """A closes mid-call; B's BYE goes on a new connection to A's Contact (A listens)."""
    def run(c):
        c.setup()
        c.a.close()
        c.a = None
        time.sleep(0.3)
        c.bye_from_b()
        conn = accept(c.a_listen, 2)
        if conn is None:
            return None, first_line(c.final(c.br))
        with conn:
            bye = one(StreamReader(conn))
            conn.sendall(reply_to(bye, 200, "OK"))
            return first_line(bye), first_line(c.final(c.br))
    out = both(pair, run)
    assert out["kamapy"] == out["kamailio"], out
    bye, final = out["kamapy"]
    assert (bye, final) == ("BYE sip:a", "SIP/2.0 200 OK"), out


def test_caller_closed_nothing_listens_at_its_contact(pair):
    """A's Contact is its closed connection's own address: the connect is refused at
    once, the send fails, t_relay() returns false and tm answers B 477 right away
    (not fr_timer's 408); both log the refused connect."""
    def run(c):
        c.setup()
        c.a.close()
        c.a = None
        time.sleep(0.3)
        t0 = time.monotonic()
        c.bye_from_b()
        final = c.final(c.br, 3.0)
        took = time.monotonic() - t0
        time.sleep(0.2)   # the log lines written
        log = c.server.log()
        refused = [ln for ln in log.splitlines() if "connect & send" in ln and str(c.a_port) in ln]
        return (first_line(final), took < 2.0, "reconnect-test: relay of BYE failed" in log,
                bool(refused) and ("Connection refused" in refused[-1] or "ECONNREFUSED" in refused[-1]))
    out = both(pair, run, contact_own=True)
    assert out["kamapy"] == out["kamailio"], out
    assert out["kamapy"] == ("SIP/2.0 477 Unfortunately error on sending to next hop occurred (477/TM)",
                             True, True, True)
