"""build_reply_forward's fast path (the datagram minus the top Via line, from the scan)
against its general path (_build_reply_forward: a Via deletion lump and the lump
engine): for the corpus replies, hand-made ones (one Via, two Vias in one line, two Via
lines, compact form, odd whitespace, bodies, LF line ends ...) and mutations of them,
over datagram and stream transports, the fast path gives the same bytes or declines."""

from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamapy.sip import outgoing
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header
from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.receive_checks import parse_received
from tests.sip.corpus import CORPUS
from tests.sip.test_fuzz import mutate

BODY = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
REST = ("From: <sip:a@example.com>;tag=f1\r\n"
        "To: <sip:b@example.com>;tag=t1\r\n"
        "Call-ID: cid-1@example.com\r\n"
        "CSeq: 1 INVITE\r\n")


def reply(vias: str, body: str = "", first: str = "SIP/2.0 200 OK\r\n", cl: int | None = None,
          rest: str = REST) -> bytes:
    n = len(body.encode("latin-1")) if cl is None else cl
    return (first + vias + rest + f"Content-Length: {n}\r\n\r\n" + body).encode("latin-1")


V1 = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKaaaa.0"
V2 = "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-xyz;rport=5062;received=192.0.2.70"

HAND = {
    "one_via": reply(f"Via: {V1}\r\n"),
    "two_lines": reply(f"Via: {V1}\r\nVia: {V2}\r\n"),
    "two_lines_body": reply(f"Via: {V1}\r\nVia: {V2}\r\n", BODY),
    "two_in_one_line": reply(f"Via: {V1}, {V2}\r\n"),
    "two_in_one_line_body": reply(f"Via: {V1},{V2}\r\n", BODY),
    "one_line_then_line": reply(f"Via: {V1}, {V2}\r\nVia: SIP/2.0/TCP h3;branch=z9hG4bK3\r\n"),
    "compact": reply(f"v: {V1}\r\nv: {V2}\r\n"),
    "compact_upper": reply(f"V:{V1}\r\nVIA: {V2}\r\n"),
    "odd_ws": reply(f"Via :  SIP / 2.0 / UDP   10.0.0.1 : 5060 ; branch = z9hG4bKodd \r\nVia: {V2}\r\n"),
    "trailing_ws": reply(f"Via: {V1} \t \r\nVia: {V2}\r\n"),
    "tab_sep": reply(f"Via:\t{V1}\r\nVia:\t{V2}\r\n"),
    "folded_via": reply(f"Via: SIP/2.0/UDP 10.0.0.1:5060\r\n ;branch=z9hG4bKf\r\nVia: {V2}\r\n"),
    "folded_later": reply(f"Via: {V1}\r\nVia: {V2}\r\n", rest=REST + "Subject: a\r\n b\r\n"),
    "via_not_first": reply(f"Via: {V1}\r\nVia: {V2}\r\n",
                           rest=REST).replace(b"Via: " + V1.encode() + b"\r\n", b"")
                                     .replace(b"CSeq: 1 INVITE\r\n",
                                              b"CSeq: 1 INVITE\r\nVia: " + V1.encode() + b"\r\n"),
    "ipv6": reply("Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK6\r\n"
                  "Via: SIP/2.0/UDP [2001:db8::2];branch=z9hG4bK7\r\n"),
    "wrong_cl": reply(f"Via: {V1}\r\nVia: {V2}\r\n", BODY, cl=3),
    "no_cl": (f"SIP/2.0 180 Ringing\r\nVia: {V1}\r\nVia: {V2}\r\n{REST}\r\n").encode(),
    "no_cl_body": (f"SIP/2.0 200 OK\r\nVia: {V1}\r\nVia: {V2}\r\n{REST}\r\n{BODY}").encode(),
    "latin1": reply(f"Via: {V1}\r\nVia: {V2}\r\n", "caf\xe9\xff\x00",
                    first="SIP/2.0 486 Occup\xe9\r\n"),
    "lf_only": reply(f"Via: {V1}\r\nVia: {V2}\r\n", BODY).replace(b"\r\n", b"\n"),
    "quoted_param": reply(f'Via: {V1};x="a,b"\r\nVia: {V2}\r\n'),
    "many_params": reply(f"Via: {V1};a;b;c;d;e;f;g;h;i;j\r\nVia: {V2}\r\n"),
    "no_via": reply(""),
    "request": (f"OPTIONS sip:a@b SIP/2.0\r\nVia: {V1}\r\nVia: {V2}\r\n{REST}"
                "Content-Length: 0\r\n\r\n").encode(),
    "no_eoh": f"SIP/2.0 200 OK\r\nVia: {V1}\r\nVia: {V2}\r\n{REST}".encode(),
}

REPLIES = {k: v for k, v in CORPUS.items() if v.startswith(b"SIP/")}
BASES = {**REPLIES, **HAND}
PROTOS = ("udp", "UDP", "sctp", "tcp", "tls", "ws", "wss", "TCP")


class _Declined(Exception):
    pass


def parse(data: bytes):
    try:
        return SipMsg(data, RecvInfo("192.0.2.1", 5060))
    except SipParseError:
        return None


def run(fn):
    try:
        return "ok", fn()
    except (SipParseError, UnicodeEncodeError) as e:
        return "err", type(e).__name__, str(e)


def fast_only(msg, proto):
    """The fast path's bytes, or None when it declines (the general path is not run)."""
    with mock.patch.object(outgoing, "_build_reply_forward", side_effect=_Declined):
        try:
            return outgoing.build_reply_forward(msg, proto)
        except _Declined:
            return None


def check(data: bytes, proto: str, lump: bool = False):
    """Fast path == general path, or the fast path declines. Returns True when it did not."""
    m_fast, m_gen, m_all = parse(data), parse(data), parse(data)
    if m_fast is None:
        return False
    if lump:
        for m in (m_fast, m_gen, m_all):
            try:
                append_header(m, "X-Added: 1")
            except SipParseError:
                return False
    general = run(lambda: outgoing._build_reply_forward(m_gen, proto))
    fast = fast_only(m_fast, proto)
    # the public function as a whole gives the general path's outcome in every case
    assert run(lambda: outgoing.build_reply_forward(m_all, proto)) == general, (data, proto)
    if fast is None:
        return False
    assert general == ("ok", fast), (data, proto, general, fast)
    assert type(fast) is bytes
    return True


@pytest.mark.parametrize("name", sorted(BASES))
@pytest.mark.parametrize("proto", PROTOS)
def test_same_bytes_or_declined(name, proto):
    check(BASES[name], proto)
    assert not check(BASES[name], proto, lump=True)  # lumps: always the general path


@pytest.mark.parametrize("name", ["two_lines", "two_lines_body", "compact", "compact_upper", "trailing_ws",
                                  "tab_sep", "via_not_first", "ipv6", "wrong_cl", "no_cl", "no_cl_body",
                                  "latin1", "lf_only", "one_via",
                                  "two_in_one_line", "two_in_one_line_body", "one_line_then_line",
                                  "no_eoh"])  # Kamailio ends the block at the buffer's end
def test_fast_path_taken_for_simple_replies(name):
    assert check(HAND[name], "udp")


@pytest.mark.parametrize("name", ["folded_via", "quoted_param", "no_via", "request",
                                  "many_params", "odd_ws", "folded_later"])
def test_fast_path_declines(name):
    """Left to the general path: what the scan does not parse as a simple top Via
    (folding, odd spacing, too many params), a request, no end of the header block, a
    folded line anywhere."""
    for proto in PROTOS:
        assert not check(HAND[name], proto)


@pytest.mark.parametrize("proto", ["tcp", "tls", "ws", "wss", "TLS"])
def test_stream_transports_take_the_general_path(proto):
    assert not check(HAND["two_lines"], proto)


def test_plain_200_with_two_via_lines():
    data = reply(f"Via: {V1}\r\nVia: {V2}\r\n", BODY)
    m = parse(data)
    out = fast_only(m, "udp")
    assert out is not None
    assert out == data.replace(f"Via: {V1}\r\n".encode(), b"")
    assert out == outgoing._build_reply_forward(parse(data), "udp")
    # the public function, as tm calls it
    assert outgoing.build_reply_forward(parse(data)) == out


def test_corpus_replies_use_the_fast_path_where_they_can():
    assert check(CORPUS["ringing_fork1"], "udp")
    assert check(CORPUS["ok_fork2"], "udp")  # two vias in one header line (SIPp writes them so)


interesting = st.sampled_from(list(b":;,<>\"\\ \t\r\n@[]=/?%0aZvV\x00\xff"))
ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                         st.one_of(interesting, st.integers(0, 255))), min_size=1, max_size=6)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(BASES)), ops, st.sampled_from(PROTOS))
def test_mutations_same_bytes_or_declined(name, mutation, proto):
    check(mutate(BASES[name], mutation), proto)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(BASES)), ops)
def test_mutations_with_lumps_decline(name, mutation):
    assert not check(mutate(BASES[name], mutation), "udp", lump=True)


def test_mutations_are_not_vacuous():
    """Enough mutated replies still take the fast path for the comparison to mean something."""
    import random
    rnd = random.Random(7)
    taken = 0
    for i in range(400):
        base = HAND["two_lines_body"] if i % 2 else REPLIES["ringing_fork1"]
        mutation = [(rnd.randrange(4), rnd.randrange(10**6), rnd.randrange(256))]
        taken += check(mutate(base, mutation), "udp")
    assert taken > 100


# ---------------------------------------------------------------- tm's reply_tid
# (it reads the top Via's branch from the scan when it can: same result as via1.branch)

def _reply_tid_reference(msg):
    from kamapy_modules.tm.matching import MCOOKIE, TID_LEN
    branch = msg.via1.branch
    if branch is None or len(branch) < len(MCOOKIE) + TID_LEN + 2 or not branch.startswith(MCOOKIE):
        return None
    tid = branch[len(MCOOKIE):len(MCOOKIE) + TID_LEN]
    if branch[len(MCOOKIE) + TID_LEN] != ".":
        return None
    idx = branch[len(MCOOKIE) + TID_LEN + 1:]
    if not (idx.isascii() and idx.isdigit()):
        return None
    return tid, int(idx)


def test_reply_tid_non_ascii_digit_index_is_not_ours():
    """'²'.isdigit() is true but int('²') raises: such a branch is simply not ours."""
    from kamapy_modules.tm.matching import reply_tid
    m = parse(reply(f"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK{TID}.\u00b2\r\nVia: {V2}\r\n"))
    assert m is not None and reply_tid(m) is None


def _tid_outcome(fn, data):
    # tm sees replies that passed receive (a line refused above the top Via drops it)
    try:
        m = parse_received(data, RecvInfo("192.0.2.1", 5060))
    except SipParseError:
        return None
    try:
        return "ok", fn(m)
    except (SipParseError, ValueError) as e:
        return "err", type(e).__name__, str(e)


TID = "0123456789abcdef"
BRANCHES = [f"z9hG4bK{TID}.0", f"z9hG4bK{TID}.12", f"z9hG4bK{TID}x1", f"z9hG4bK{TID}.", f"z9hG4bK{TID}.a",
            "z9hG4bK-sipp-1", "abc", "", None, f"Z9HG4BK{TID}.1"]


def tid_replies():
    out = list(BASES.values())
    for br in BRANCHES:
        p = "" if br is None else (";branch" if br == "" else f";branch={br}")
        out.append(reply(f"Via: SIP/2.0/UDP 10.0.0.1{p}\r\nVia: {V2}\r\n"))
        out.append(reply(f"Via: SIP/2.0/UDP 10.0.0.1;rport{p};BRANCH=z9hG4bK{TID}.7\r\n"))
        out.append(reply(f"v: SIP/2.0/UDP 10.0.0.1 ; Branch = {br}, {V2}\r\n"))
    return out


def test_reply_tid_same_as_via1_branch():
    from kamapy_modules.tm.matching import reply_tid
    found = 0
    for data in tid_replies():
        a = _tid_outcome(reply_tid, data)
        assert a == _tid_outcome(_reply_tid_reference, data), data
        found += a is not None and a[0] == "ok" and a[1] is not None
    assert found >= 3


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(tid_replies()), ops)
def test_reply_tid_mutations(data, mutation):
    from kamapy_modules.tm.matching import reply_tid
    data = mutate(data, mutation)
    assert _tid_outcome(reply_tid, data) == _tid_outcome(_reply_tid_reference, data)
