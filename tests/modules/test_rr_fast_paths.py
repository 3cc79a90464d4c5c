"""rr fast paths against the general code: loose_route() for the usual in-dialog request
(loose._fast_loose_route, always tried first) and the Record-Route anchor read from the
scan (SipMsg.first_header_start). Every message is handled twice, on fresh copies: as
shipped, and with the fast path replaced by "not handled" (the general code decides) or
the anchor taken from msg.headers; everything loose_route/record_route leaves behind must match:
return code, the request as forwarded (all lumps applied), the lumps themselves, $du,
the R-URI, flags, forced socket, routed params and what the rr callbacks saw."""

from __future__ import annotations

import itertools
import re

import pytest
from kamapy_modules import rr
from kamapy_modules.rr import loose, record, route_params
from kamapy_modules.rr.route_set import first_route
from kamapy_modules.rr.settings import settings
from module_test_messages import PROXY_IP, forwarded, request, sent, use_sockets

from kamapy.runtime import rt
from kamapy.sip.msg import RecvInfo, SipMsg

PROXY_V6 = "2001:db8::10"
ALIAS = "proxy.example.net"
SDP = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


@pytest.fixture(autouse=True)
def proxy():
    old_socks, old_aliases = rt.sockets, rt.aliases
    socks = use_sockets(("udp", PROXY_IP, 5060), ("udp", "192.0.2.11", 5080), ("udp", PROXY_V6, 5060))
    rt.aliases = [(ALIAS, 0, 0)]
    settings.load({p.name: p.default for p in rr.exports.params})
    yield socks
    rt.sockets, rt.aliases = old_socks, old_aliases
    settings.load({p.name: p.default for p in rr.exports.params})
    route_params._callbacks.clear()


# ------------------------------------------------------------------ the messages
OURS = f"sip:{PROXY_IP}"
FOREIGN = "sip:p2.example.net;lr"

# each: the Route header lines ([] none)
ROUTES = {
    "ours-lr": [f"Route: <{OURS};lr>"],
    "ours-no-lr": [f"Route: <{OURS}>"],
    "ours-params": [f"Route: <{OURS};lr;ftag=fromtag1;did=a1b.2c3>"],
    "ours-params-nat": [f"Route: <{OURS};lr;ftag=totag9;nat=yes>"],
    "ours-port": ["Route: <sip:192.0.2.11:5080;lr;ftag=fromtag1>"],
    "ours-port-5060": [f"Route: <sip:{PROXY_IP}:5060;lr>"],
    "ours-udp": [f"Route: <{OURS};transport=udp;lr;ftag=x>"],
    "ours-UDP-upper": [f"Route: <{OURS};lr;TRANSPORT=UDP>"],
    "ours-tcp": [f"Route: <{OURS};transport=tcp;lr>"],        # no TCP socket: not ours
    "ours-TCP-upper": [f"Route: <{OURS};lr;TRANSPORT=TCP>"],   # (after ours-lr: same memo host)
    "ours-Transport-mixed": [f"Route: <{OURS};lr;Transport=Tcp;ftag=f>"],
    "ours-sips": [f"Route: <sips:{PROXY_IP};lr>"],            # 5061 by default: not ours
    "ours-user": [f"Route: <sip:rr@{PROXY_IP};lr;ftag=f>"],
    "ours-name": [f"Route: <sip:{ALIAS};lr;ftag=fromtag1>"],
    "ours-name-upper": [f"Route: <sip:{ALIAS.upper()};lr>"],
    "ours-v6": [f"Route: <sip:[{PROXY_V6}];lr;ftag=fromtag1>"],
    "ours-v6-port": [f"Route: <sip:[{PROXY_V6}]:5060;lr>"],
    "other-port": [f"Route: <sip:{PROXY_IP}:5062;lr>"],
    "foreign": [f"Route: <{FOREIGN}>"],
    "foreign-strict": ["Route: <sip:strict.example.net>"],
    "foreign-v6": ["Route: <sip:[2001:db8::99];lr>"],
    "two-in-one": [f"Route: <{OURS};lr>, <{FOREIGN}>"],
    "two-in-one-strict": [f"Route: <{OURS};lr>,<sip:strict.example.net>"],
    "two-lines": [f"Route: <{OURS};lr;ftag=fromtag1>", f"Route: <{FOREIGN}>"],
    "two-lines-strict": [f"Route: <{OURS};lr>", "Route: <sip:strict.example.net>", "Route: <sip:p3;lr>"],
    "two-lines-ours-last": [f"Route: <{FOREIGN}>", f"Route: <{OURS};lr>"],
    "r2-pair": [f"Route: <{OURS};r2=on;lr;ftag=f>", "Route: <sip:192.0.2.11:5080;r2=on;lr;ftag=f>"],
    "r2-pair-one-line": [f"Route: <{OURS};r2=on;lr>, <sip:192.0.2.11:5080;r2=on;lr>, <{FOREIGN}>"],
    "r2-alone": [f"Route: <{OURS};r2=on;lr;ftag=f>"],
    "r2-in-value": [f"Route: <{OURS};lr;ftag=abr2cd>"],
    "r2-upper": [f"Route: <{OURS};R2=on;lr>", "Route: <sip:192.0.2.11:5080;R2=on;lr>"],
    "r2-upper-alone": [f"Route: <{OURS};R2=ON;lr;ftag=f>"],
    "comma-in-brackets": [f"Route: <{OURS};lr;x=a,b>"],
    "display-name": [f'Route: "proxy" <{OURS};lr>'],
    "header-param": [f"Route: <{OURS};lr>;x=1"],
    "no-brackets": [f"Route: {OURS};lr"],
    "spaces-inside": [f"Route: <  {OURS};lr  >"],
    "trailing-ws": [f"Route: <{OURS};lr>   "],
    "odd-ws": [f"Route:\x0b<{OURS};lr>\x0b"],
    "lower-name": [f"route: <{OURS};lr>"],
    "upper-name-space": [f"ROUTE : <{OURS};lr>"],
    "quote-in-uri": [f'Route: <{OURS};lr;x="a">'],
    "bad-uri": ["Route: <sip:bad host;lr>"],
    "unclosed": [f"Route: <{OURS};lr"],
    "double-lt": [f"Route: <<{OURS};lr>"],
    "empty-brackets": ["Route: <>"],
    "empty-value": ["Route: "],
    "empty-and-ours": ["Route: ", f"Route: <{OURS};lr>"],
    "comma-only": [f"Route: <{OURS};lr>,"],
    "tel": ["Route: <tel:+15551234;lr>"],
    "none": [],
}

RURIS = {
    "ua": "sip:bob@203.0.113.9:5062",
    "ua-params": "sip:bob@203.0.113.9;transport=udp",
    "ours": f"sip:{PROXY_IP};lr;nat=yes",           # a strict router before us
    "ours-name": f"sip:{ALIAS};lr",
    "ours-v6": f"sip:[{PROXY_V6}];lr",
    "bad": "sip:bob@203.0.113.9:5o6o",
}


def make(method, ruri, routes, to_tag="totag9", from_tag="fromtag1", body=""):
    """A fresh message (bytes-identical each time for the same arguments)."""
    cseq = f"2 {method}" if method != "ACK" else "1 ACK"
    return request(method, ruri, headers="\r\n".join(routes), to_tag=to_tag, from_tag=from_tag,
                   cseq=cseq, body=body, sock=rt.sockets[0])


def folded(routes_line):
    """A message whose Route header continues on a folded line (the scan stops)."""
    text = (f"BYE sip:bob@203.0.113.9 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKabc\r\n"
            "From: <sip:alice@example.org>;tag=fromtag1\r\n"
            "To: <sip:bob@example.com>;tag=totag9\r\n"
            "Call-ID: fold@198.51.100.7\r\nCSeq: 2 BYE\r\n"
            f"{routes_line}\r\nContent-Length: 0\r\n\r\n")
    rcv = RecvInfo(src_ip="198.51.100.7", src_port=5060, dst_ip=PROXY_IP, dst_port=5060, sock=rt.sockets[0])
    return SipMsg(text.encode("latin-1"), rcv)


# ------------------------------------------------------------------ observing a run
def built(build, msg):
    try:
        return build(msg)
    except Exception as e:  # compared like any other result
        return ("raised", type(e).__name__, str(e))


def lump_tree(lump):
    if lump is None:
        return None
    return (lump.op, lump.offset, lump.length, lump.text, lump.kind,
            lump_tree(lump.before), lump_tree(lump.after))


def outcome(msg, rc, seen):
    """Everything a later step could observe after loose_route()."""
    params_regex = re.compile("ftag=|nat=yes|did=")
    return {
        "rc": rc,
        "forwarded": built(forwarded, msg),
        "sent": built(sent, msg),
        "lumps": [lump_tree(lp) for lp in msg.lumps or ()],
        "dst_uri": msg.dst_uri,
        "new_uri": msg.new_uri,
        "current_uri": msg.current_uri,
        "xflags": msg.xflags,
        "force_send_socket": msg.force_send_socket,
        "routed": msg.module_data.get(route_params.ROUTED_KEY, "unset"),
        "routed_params": route_params.routed_params(msg),
        "check_route_param": route_params.check_route_param(msg, params_regex),
        "ftag": route_params.get_route_param(msg, "ftag"),
        "direction": route_params.flow_direction(msg),
        "next_hop_route": rr.w_rr_next_hop_route(msg),
        "route_uri": built(lambda m: getattr(first_route(m), "uri_text", None), msg),  # $route_uri
        "callbacks": list(seen),
    }


_REAL_FAST = loose._fast_loose_route


def run_loose(factory, mode, fast):
    if not fast:
        loose._fast_loose_route = lambda msg, mode: None  # "not mine": the general code decides
    try:
        msg = factory()
        seen = []
        route_params._callbacks[:] = [(lambda m, p, arg: seen.append((p, arg, len(m.lumps or ()))), "cb")]
        try:
            rc = loose.loose_route(msg, mode)
        except Exception as e:
            rc = ("raised", type(e).__name__, str(e))
        return outcome(msg, rc, seen)
    finally:
        loose._fast_loose_route = _REAL_FAST


@pytest.fixture
def general_calls(monkeypatch):
    """How many times the general code ran (the fast path answered the others)."""
    calls = []
    real = loose._loose_route

    def counting(msg, mode):
        calls.append(msg)
        return real(msg, mode)

    monkeypatch.setattr(loose, "_loose_route", counting)
    return calls


METHODS = [("ACK", ""), ("BYE", ""), ("INVITE", SDP)]
SETTINGS = [  # (enable_double_rr, force_send_socket, loose_route_mode)
    (1, 0, 0), (0, 0, 0), (1, 1, 0), (2, 0, 1),
]
MODES = [None, 0, 1]


def cases():
    for (method, body), rname, uname, to_tag in itertools.product(
            METHODS, ROUTES, RURIS, ("totag9", None)):
        yield method, body, rname, uname, to_tag


@pytest.mark.parametrize("double_rr,force_socket,lr_mode", SETTINGS)
def test_loose_route_fast_path_matches_general(double_rr, force_socket, lr_mode, general_calls):
    settings.enable_double_rr = double_rr
    settings.force_send_socket = force_socket
    settings.loose_route_mode = lr_mode
    n = 0
    taken = set()
    for method, body, rname, uname, to_tag in cases():
        for mode in MODES:
            def factory(method=method, body=body, rname=rname, uname=uname, to_tag=to_tag):
                return make(method, RURIS[uname], ROUTES[rname], to_tag=to_tag, body=body)
            before = len(general_calls)
            fast = run_loose(factory, mode, True)
            if len(general_calls) == before:
                taken.add((method, rname, uname, to_tag, mode))
            general = run_loose(factory, mode, False)
            assert fast == general, (method, rname, uname, to_tag, mode)
            n += 1
    assert n == len(METHODS) * len(ROUTES) * len(RURIS) * 2 * len(MODES)
    if force_socket:
        assert not taken  # force_send_socket: always the general code
    else:
        assert {(m, "ours-params", "ua", "totag9", None) for m, _ in METHODS} <= taken
        assert ("BYE", "ours-lr", "ours", "totag9", 1) in taken  # mode 1: R-URI not checked
        assert ("BYE", "ours-lr", "ours", "totag9", 0) not in taken
        assert not {t for t in taken if t[3] is None and t[1] != "none"}  # no To-tag


def test_loose_route_fast_path_matches_general_on_folded_and_odd_messages(general_calls):
    factories = [
        lambda: folded(f"Route: <{OURS};lr;\r\n ftag=fromtag1>"),
        lambda: folded(f"Route: <{OURS};lr;ftag=fromtag1>\r\nRoute:\r\n <{FOREIGN}>"),
        lambda: folded(f"Route: <{OURS};lr;ftag=fromtag1>"),   # no fold at all
        lambda: make("BYE", RURIS["ua"], [f"Route: <{OURS};lr>"], from_tag="bobtag"),
        lambda: make("ACK", RURIS["ua"], [f"Route: <{OURS};lr;ftag=fromtag1>", "X-Note: a,b"]),
        lambda: make("BYE", "sip:bob@203.0.113.9?subject=x", [f"Route: <{OURS};lr>"]),
    ]
    for i, factory in enumerate(factories):
        for mode in MODES:
            assert run_loose(factory, mode, True) == run_loose(factory, mode, False), (i, mode)


def test_after_a_rewritten_ruri(general_calls):
    """The R-URI check sees the current R-URI ($ru set before loose_route)."""
    for new in (RURIS["ua"], RURIS["ours"], None):
        def factory(new=new):
            msg = make("BYE", RURIS["ua"], [f"Route: <{OURS};lr;ftag=fromtag1>"])
            msg.set_ruri(new)
            return msg
        assert run_loose(factory, None, True) == run_loose(factory, None, False), new


def test_the_fast_path_is_taken_for_the_usual_in_dialog_request(general_calls):
    plain = [
        ("ACK", "ours-lr"), ("BYE", "ours-params"), ("INVITE", "ours-params-nat"),
        ("BYE", "ours-port"), ("BYE", "ours-udp"), ("ACK", "ours-name"), ("BYE", "ours-v6"),
        ("BYE", "ours-no-lr"), ("BYE", "r2-in-value"), ("BYE", "none"),
    ]
    for method, rname in plain:
        del general_calls[:]
        msg = make(method, RURIS["ua"], ROUTES[rname], body=SDP if method == "INVITE" else "")
        rc = loose.loose_route(msg)
        assert rc == (-1 if rname == "none" else 1), rname
        assert general_calls == [], f"{rname}: fell back to the general code"
    # and a few that must not be
    for rname, uname, to_tag in [("foreign", "ua", "t"), ("two-in-one", "ua", "t"), ("two-lines", "ua", "t"),
                                 ("ours-lr", "ours", "t"), ("ours-lr", "ua", None), ("r2-alone", "ua", "t"),
                                 ("display-name", "ua", "t"), ("bad-uri", "ua", "t")]:
        del general_calls[:]
        loose.loose_route(make("BYE", RURIS[uname], ROUTES[rname], to_tag=to_tag))
        assert len(general_calls) == 1, rname


def test_fast_path_counts_in_a_loop(general_calls):
    """Many dialogs (many ftags): every one on the fast path, the memo stays bounded."""
    for n in range(600):
        msg = make("BYE", f"sip:bob{n}@203.0.113.{n % 200}:5062",
                   [f"Route: <{OURS};lr;ftag=tag{n};did=d{n}>"])
        assert loose.loose_route(msg) == 1
        assert route_params.routed_params(msg) == f";lr;ftag=tag{n};did=d{n}"
    assert general_calls == []
    assert len(loose._memo) <= loose._MEMO_MAX


def test_memo_follows_socket_and_alias_changes(general_calls):
    def factory():
        return make("BYE", RURIS["ua"], ["Route: <sip:new.example.net;lr;ftag=f>"])
    assert run_loose(factory, None, True)["rc"] == 1
    assert run_loose(factory, None, True)["dst_uri"] == "sip:new.example.net;lr;ftag=f"  # foreign
    rt.add_alias("new.example.net")                      # appended in place
    assert run_loose(factory, None, True) == run_loose(factory, None, False)
    assert run_loose(factory, None, True)["dst_uri"] is None  # ours now
    rt.aliases = []                                       # replaced
    assert run_loose(factory, None, True)["dst_uri"] == "sip:new.example.net;lr;ftag=f"
    use_sockets(("udp", "192.0.2.99", 5060))             # PROXY_IP no longer ours
    msg = make("BYE", RURIS["ua"], [f"Route: <{OURS};lr>"])
    assert loose.loose_route(msg) == 1 and msg.dst_uri == f"{OURS};lr"


# ------------------------------------------------------------------ record_route
_REAL_FIRST_HEADER_START = SipMsg.first_header_start


def _general_first_header_start(msg):
    hdrs = msg.headers  # every HeaderField made: the general reading
    return hdrs[0].start if hdrs else msg.eoh


def run_record(factory, fast, steps):
    if not fast:
        SipMsg.first_header_start = property(_general_first_header_start)
    try:
        msg = factory()
        rcs = [step(msg) for step in steps]
        return rcs, built(forwarded, msg), built(sent, msg), [lump_tree(lp) for lp in msg.lumps or ()]
    finally:
        SipMsg.first_header_start = _REAL_FIRST_HEADER_START


def test_record_route_fast_attach_matches_general(proxy):
    initial = [
        lambda: request("INVITE", "sip:bob@example.com", sock=proxy[0]),
        lambda: request("INVITE", "sip:bob@example.com", sock=proxy[0], body=SDP),
        lambda: request("SUBSCRIBE", "sips:bob@example.com", sock=proxy[1],
                        headers="Event: presence\r\nRoute: <sip:edge.example.net;lr>"),
        lambda: request("INVITE", f"sip:bob@[{PROXY_V6}]", sock=proxy[2], from_tag="ft6"),
        lambda: make("INVITE", RURIS["ua"], ROUTES["ours-params"], body=SDP),
        lambda: make("BYE", RURIS["ua"], ROUTES["two-lines"]),
        lambda: folded(f"Route: <{OURS};lr;\r\n ftag=fromtag1>"),
        lambda: folded("X-A: 1"),
        lambda: SipMsg(b"INVITE sip:bob@example.com SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bKn\n"
                       b"From: <sip:a@example.org>;tag=t1\nTo: <sip:bob@example.com>\nCall-ID: lf\n"
                       b"CSeq: 1 INVITE\nContent-Length: 0\n\n",
                       RecvInfo(src_ip="198.51.100.7", src_port=5060, dst_ip=PROXY_IP, dst_port=5060,
                                sock=proxy[0])),
    ]
    sequences = [
        [rr.w_record_route],
        [lambda m: rr.w_record_route(m, ";nat=yes"), lambda m: rr.w_add_rr_param(m, "b=2")],
        [lambda m: rr.w_add_rr_param(m, "a=1"), rr.w_record_route],
        [lambda m: rr.w_record_route_preset(m, "1.2.3.4:5090", "5.6.7.8;r2=on")],
        [lambda m: rr.w_record_route_advertised_address(m, "pbx.example.net:5080")],
        [rr.w_loose_route, rr.w_record_route],
        [rr.w_record_route, rr.w_remove_record_route],
    ]
    for dbl in (1, 0, 2):
        settings.enable_double_rr = dbl
        for i, factory in enumerate(initial):
            for j, steps in enumerate(sequences):
                assert run_record(factory, True, steps) == run_record(factory, False, steps), (dbl, i, j)


def test_record_route_double_rr_with_a_forced_socket(proxy):
    def factory():
        msg = request("INVITE", "sip:bob@203.0.113.9", sock=proxy[0])
        msg.force_send_socket = proxy[1]
        return msg
    assert run_record(factory, True, [rr.w_record_route]) == run_record(factory, False, [rr.w_record_route])


def test_attach_without_header_lines_uses_the_end_of_the_header_block(proxy):
    """No header at all (scan has no record): the general code's msg.eoh."""
    def factory():
        return SipMsg(b"OPTIONS sip:x@example.com SIP/2.0\r\n\r\n",
                      RecvInfo(src_ip="198.51.100.7", src_port=5060, dst_ip=PROXY_IP, dst_port=5060,
                               sock=proxy[0]))

    def attach(msg):
        rr_hdr = record.RecordRoute("sip", "", None, "", "", 0)
        record._attach(msg, rr_hdr)
        return 0

    assert run_record(factory, True, [attach]) == run_record(factory, False, [attach])
    msg = factory()
    attach(msg)
    assert sent(msg) == f"OPTIONS sip:x@example.com SIP/2.0\r\nRecord-Route: <sip:{PROXY_IP};lr>\r\n\r\n"


def test_first_header_start_from_the_scan(proxy):
    msg = make("INVITE", RURIS["ua"], ROUTES["ours-lr"])
    assert msg.first_header_start == msg.text.index("Via:")
    assert msg._headers is None  # no HeaderField list was built for it
    assert msg.first_header_start == _general_first_header_start(msg)
