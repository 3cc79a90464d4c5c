"""Property tests: generated messages parse to what generated them; mutated messages
raise nothing but SipParseError, whatever accessor is called."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import append_header
from kamapy.sip.msg import RecvInfo
from kamapy.sip.outgoing import build_message, build_reply_forward, build_request
from kamapy.sip.receive_checks import parse_received
from kamapy.sip.reply import build_reply, sl_to_tag
from tests.sip.corpus import CORPUS
from tests.sip.test_corpus import every_accessor

token = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~", min_size=1, max_size=12)
label = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
host = st.one_of(
    st.builds(lambda labels: ".".join(labels), st.lists(label, min_size=1, max_size=3)),
    st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(0, 255)] * 4),
    st.builds(lambda a, b: f"[2001:db8::{a:x}:{b:x}]", st.integers(0, 65535), st.integers(0, 65535)),
)
port = st.one_of(st.none(), st.integers(1, 65535))
method = st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE", "MESSAGE", "SUBSCRIBE", "NOTIFY"])
name_hdr = st.sampled_from(["X-Foo", "User-Agent", "Subject", "Accept", "P-Thing"])
value_txt = st.text("abcdefghijklmnopqrstuvwxyz0123456789 ;=,<>@:./", min_size=1, max_size=30).map(str.strip) \
    .filter(lambda v: v)


def hp(h, p):
    return h if p is None else f"{h}:{p}"


@st.composite
def messages(draw):
    f = {
        "method": draw(method), "ruser": draw(token), "rhost": draw(host), "rport": draw(port),
        "vhost": draw(host), "vport": draw(port), "branch": "z9hG4bK" + draw(token),
        "rport_flag": draw(st.booleans()), "ftag": draw(token), "ttag": draw(st.one_of(st.none(), token)),
        "callid": draw(token) + "@" + draw(label), "cseq": draw(st.integers(0, 2**32 - 1)),
        "display": draw(st.one_of(st.just(""), token)),
        "extra": draw(st.lists(st.tuples(name_hdr, value_txt), max_size=4)),
        "body": draw(st.text("abcdefghij=\r\n 0123", max_size=40)),
        "compact": draw(st.booleans()),
    }
    ruri = f"sip:{f['ruser']}@{hp(f['rhost'], f['rport'])}"
    via = f"SIP/2.0/UDP {hp(f['vhost'], f['vport'])};branch={f['branch']}" + (";rport" if f["rport_flag"] else "")
    disp = f'"{f["display"]}" ' if f["display"] else ""
    to = f"<sip:{f['ruser']}@{f['rhost']}>" + (f";tag={f['ttag']}" if f["ttag"] else "")
    def n(full, short):
        return (short if f["compact"] else full)
    lines = [f"{f['method']} {ruri} SIP/2.0",
             f"{n('Via', 'v')}: {via}",
             f"{n('From', 'f')}: {disp}<sip:a@{f['vhost']}>;tag={f['ftag']}",
             f"{n('To', 't')}: {to}",
             f"{n('Call-ID', 'i')}: {f['callid']}",
             f"CSeq: {f['cseq']} {f['method']}"]
    lines += [f"{k}: {v}" for k, v in f["extra"]]
    lines.append(f"{n('Content-Length', 'l')}: {len(f['body'])}")
    data = ("\r\n".join(lines) + "\r\n\r\n" + f["body"]).encode("latin-1")
    return f, data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_generated_messages_parse_to_their_fields(gen):
    f, data = gen
    m = parse_received(data + b" " * 32 if len(data) < 32 else data, RecvInfo())
    assert m.method == f["method"]
    u = m.parsed_ruri
    assert (u.user, u.host, u.port) == (f["ruser"], f["rhost"], f["rport"])
    v = m.via1
    assert (v.host, v.port, v.branch, v.rport) == (f["vhost"], f["vport"], f["branch"],
                                                   "" if f["rport_flag"] else None)
    assert m.from_hdr.tag == f["ftag"] and m.to_hdr.tag == f["ttag"]
    assert m.from_hdr.display_name == f["display"]
    assert m.callid == f["callid"] and m.cseq.num == f["cseq"] and m.cseq.method == f["method"]
    for k, val in f["extra"]:
        assert val in [h.value for h in m.get_headers(k)]
    if len(data) >= 32:
        assert build_message(m) == data
        assert m.body == f["body"] and m.content_length == len(f["body"])


def mutate(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for kind, pos, byte in ops:
        if not b:
            break
        i = pos % len(b)
        if kind == 0:
            b[i] = byte
        elif kind == 1:
            del b[i]
        elif kind == 2:
            b.insert(i, byte)
        else:
            b[i:i] = bytes(b[i:i + byte % 16])
    return bytes(b)


interesting = st.sampled_from(list(b":;,<>\"\\ \t\r\n@[]=/?%0aZ\x00\xff"))
ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                         st.one_of(interesting, st.integers(0, 255))), min_size=1, max_size=6)


def exercise(data: bytes):
    """Parse and use a (possibly broken) message; only SipParseError may come out."""
    try:
        m = parse_received(data, RecvInfo("192.0.2.1", 5060))
    except SipParseError:
        return
    for step in (lambda: every_accessor(m), lambda: build_message(m),
                 lambda: build_reply(m, 200, "OK", to_tag=sl_to_tag(m)) if m.type == 1 else build_reply_forward(m),
                 lambda: (append_header(m, "X: y"), build_request(m, "SIP/2.0/UDP a;branch=z9hG4bKq"))
                 if m.type == 1 else None):
        try:
            step()
        except SipParseError:
            pass


corpus = st.sampled_from(sorted(CORPUS.values()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus, ops)
def test_mutations_raise_only_sip_parse_error(data, mutation):
    exercise(mutate(data, mutation))


@pytest.mark.slow
@settings(max_examples=100_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corpus, ops)
def test_mutations_raise_only_sip_parse_error_long(data, mutation):
    exercise(mutate(data, mutation))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data):
    exercise(data)
