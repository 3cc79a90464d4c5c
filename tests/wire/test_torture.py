"""RFC 4475-style torture over the wire: malformed messages sent to a running kamapy.

Each one must be answered or dropped (with a log line), and the server must still
answer an OPTIONS right after it — with the same worker processes (none crashed)
and no Python traceback in its log.
"""

from __future__ import annotations

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
request_route {
    if (method == "OPTIONS" && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    # touch the headers a real config reads, so lazily parsed errors surface here
    if ($fU != $null && $tU != $null && $ci != $null && $cs != $null && $ua != "x") {
        sl_send_reply("404", "Not Found $rU");
        exit;
    }
    sl_send_reply("400", "Bad");
}
"""

VIA = "Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{n}torture"
HDRS = ("From: <sip:caller@example.com>;tag=98asjd8\r\n"
        "To: <sip:j.user@example.com>\r\n"
        "Call-ID: torture{n}@127.0.0.1\r\n"
        "CSeq: 8 INVITE\r\n"
        "Max-Forwards: 70\r\n")


def base(n, first="INVITE sip:j.user@example.com SIP/2.0", via=None, hdrs=None, tail="Content-Length: 0\r\n\r\n"):
    v = (via if via is not None else VIA) + "\r\n"
    return first + "\r\n" + v + (hdrs if hdrs is not None else HDRS) + tail


def torture_messages() -> list[str]:
    """50 malformed messages of the kinds RFC 4475 §3.1.2 describes (our own texts)."""
    m = []
    add = m.append
    # -- request line
    add(base(0, first="INVITE sip:j.user@example.com SIP/7.0"))                 # badvers
    add(base(1, first="INVITE <sip:j.user@example.com> SIP/2.0"))               # ltgtruri
    add(base(2, first="INVITE sip:j user@example.com SIP/2.0"))                 # lwsruri
    add(base(3, first="INVITE  sip:j.user@example.com  SIP/2.0"))               # lwsstart
    add(base(4, first="INVITE sip:j.user@example.com SIP/2.0 "))                # trws
    add(base(5, first="INVITE sip:j.user@example.com"))                         # no version
    add(base(6, first="INVITE"))                                                # lone method
    add(base(7, first="sip:j.user@example.com SIP/2.0"))                        # no method
    add(base(8, first="INV\x00ITE sip:j.user@example.com SIP/2.0"))             # NUL in method
    add(base(9, first="INVITE sip:[::1:5060 SIP/2.0"))                          # unbalanced IPv6 ref
    add(base(10, first="INVITE sip:user@host:99999999 SIP/2.0"))                # port overflow
    add(base(11, first="INVITE sip:%zz@example.com SIP/2.0"))                   # bad escape
    # -- status lines (replies that are not ours)
    add("SIP/2.0 4294967301 better not break the receiver\r\n" + VIA + "\r\n" + HDRS + "\r\n")  # bigcode
    add("SIP/2.0 20 OK\r\n" + VIA + "\r\n" + HDRS + "\r\n")                      # 2-digit code
    add("SIP/2.0 OK\r\n" + VIA + "\r\n" + HDRS + "\r\n")                         # no code
    # -- Via
    add(base(15, via="Via: SIP/2.0/UDP"))                                        # no sent-by
    add(base(16, via="Via: SIP/2.0/UDP 127.0.0.1:port;branch=z9hG4bKx"))       # bad port
    add(base(17, via="Via: SIP/2.0/UDP 127.0.0.1:70000;branch=z9hG4bKx"))      # port > 65535
    add(base(18, via="Via: SIP/2.0 127.0.0.1;branch=z9hG4bKx"))                # no transport
    add(base(19, via="Via: SIP/2.0/UDP [::1;branch=z9hG4bKx"))                 # unbalanced IPv6
    add(base(20, via="Via: SIP/2.0/UDP 127.0.0.1;;;branch=;rport=abc"))        # junk params
    add(base(21, via=""))                                                        # no Via at all
    add(base(22, via="Via: ,,,,"))                                               # empty list
    # -- From / To
    add(base(23, hdrs=HDRS.replace("From: <sip:caller@example.com>", 'From: "caller <sip:caller@example.com>')))  # quotbal
    add(base(24, hdrs=HDRS.replace("To: <sip:j.user@example.com>", "To: sip:j.user@example.com;tag=;;,;")))  # badinv01
    add(base(25, hdrs=HDRS.replace("From: <sip:caller@example.com>", "From: <sip:caller@exa mple.com>")))  # badaspec
    add(base(26, hdrs=HDRS.replace("From: <sip:caller@example.com>", "From: Bell, Alexander <sip:a.g.bell@bell-tel.com>")))  # baddn
    add(base(27, hdrs=HDRS.replace("To: <sip:j.user@example.com>\r\n", "")))  # no To
    add(base(28, hdrs=HDRS.replace("From: <sip:caller@example.com>;tag=98asjd8\r\n", "")))  # no From
    add(base(29, hdrs=HDRS.replace("To: <sip:j.user@example.com>", "To: <sip:j.user@example.com")))  # unclosed <
    # -- Call-ID / CSeq / Max-Forwards
    add(base(30, hdrs=HDRS.replace("Call-ID: torture{n}@127.0.0.1\r\n", "")))  # no Call-ID
    add(base(31, hdrs=HDRS.replace("CSeq: 8 INVITE", "CSeq: 8")))            # no CSeq method
    add(base(32, hdrs=HDRS.replace("CSeq: 8 INVITE", "CSeq: eight INVITE")))  # non-numeric CSeq
    add(base(33, hdrs=HDRS.replace("CSeq: 8 INVITE", "CSeq: 36893488147419103232 INVITE")))  # scalar02
    add(base(34, hdrs=HDRS.replace("CSeq: 8 INVITE", "CSeq: 8 REGISTER")))   # mismatch01
    add(base(35, hdrs=HDRS.replace("Max-Forwards: 70", "Max-Forwards: 300")))  # scalar02
    add(base(36, hdrs=HDRS.replace("Max-Forwards: 70", "Max-Forwards: -1")))
    add(base(37, hdrs=HDRS.replace("CSeq: 8 INVITE\r\n", "")))               # no CSeq
    # -- Content-Length and body
    add(base(38, tail="Content-Length: 9999\r\n\r\nv=0\r\n"))               # clerr
    add(base(39, tail="Content-Length: -999\r\n\r\n"))                      # ncl
    add(base(40, tail="Content-Length: abc\r\n\r\n"))
    add(base(41, tail="Content-Length: 0\r\n"))                              # no end of headers
    add(base(42, tail="Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0\r\no=garbage"))
    # -- header syntax
    add(base(43, tail="NoColonHere\r\nContent-Length: 0\r\n\r\n"))           # header without colon
    add(base(44, tail=" folded-before-anything\r\nContent-Length: 0\r\n\r\n"))
    add(base(45, tail=": empty name\r\nContent-Length: 0\r\n\r\n"))
    add(base(46, tail="Bad Name: x\r\nContent-Length: 0\r\n\r\n"))            # space in name
    add(base(47, tail="X-Long: " + "a" * 20000 + "\r\nContent-Length: 0\r\n\r\n"))  # huge header
    # -- raw garbage
    add("\x00\x01\x02\x03" * 40)                                                # binary noise
    add("\xff\xfe" + base(49)[2:])                                              # non-ASCII start
    assert len(m) == 50
    return m


@pytest.fixture(scope="module")
def server():
    with KamapyServer(CFG, children=2) as srv:
        yield srv


def test_fifty_malformed_messages_are_answered_or_dropped(server):
    workers = set(server.workers())
    answered = 0
    with SipClient(("127.0.0.1", server.port)) as c:
        for n, text in enumerate(torture_messages()):
            data = text.replace("{lport}", str(c.port)).replace("{n}", str(n)).encode("latin-1")
            c.send(data)
            reply = c.recv(0.15)
            if reply is not None:
                answered += 1
                code = status_of(reply)
                assert code is not None and 100 <= code < 700, (n, reply[:80])
                # the request's Call-ID comes back unchanged
            assert status_of(c.request(c.options(), timeout=2.0)) == 200, f"no answer after message {n}"
    assert set(server.workers()) == workers, "a worker died"
    log = server.log()
    assert "Traceback" not in log
    # every drop is logged, every answer is a reply: together they cover all 50
    assert answered >= 10
    assert log.count("bad message") + answered >= 48
