"""SipMsg's named header accessors (hdr_value, has_hdr, hdr_line, hdr_value_span,
hdr_spans, hdr_count, first_header_start, via1_branch, to_uri, cseq_num, to_tag, from_tag,
maxfwd_digits) against the HeaderField-based calls
their docstrings name: the same value or the same SipParseError, on the corpus, on
hand-made edge cases (folding, odd whitespace, bare LF, refused lines, compact and
unknown names) and on random mutations of the corpus. Each pair runs on fresh copies
(so neither sees the other's caches) and also one after the other on one message."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import SipMsg
from kamapy.sip.sipscan import KEYS
from tests.sip.corpus import CORPUS
from tests.sip.test_fuzz import mutate, ops

NAMES = [k for k in KEYS if k] + ["m", "v", "i", "Max-Forwards", "CONTACT", "x-unknown", "X-Note", "route"]


def _hf(m, k):
    return m.get_header(k)


DEFINITIONS = {
    "hdr_value": (lambda m, k: m.hdr_value(k), lambda m, k: None if _hf(m, k) is None else _hf(m, k).value),
    "has_hdr": (lambda m, k: m.has_hdr(k), lambda m, k: _hf(m, k) is not None),
    "header_value": (lambda m, k: m.header_value(k), lambda m, k: None if _hf(m, k) is None else _hf(m, k).value),
    "hdr_line": (lambda m, k: m.hdr_line(k),
                 lambda m, k: None if _hf(m, k) is None else (_hf(m, k).start, _hf(m, k).end)),
    "hdr_value_span": (lambda m, k: m.hdr_value_span(k),
                       lambda m, k: None if _hf(m, k) is None else m.raw_value_span(_hf(m, k))),
    "hdr_count": (lambda m, k: m.hdr_count(k), lambda m, k: len(m.get_headers(k))),
    "hdr_spans": (lambda m, k: m.hdr_spans(k),
                  lambda m, k: None if _hf(m, k) is None else
                  (_hf(m, k).start, *m.raw_value_span(_hf(m, k)), _hf(m, k).end, _not_one(m, k))),
}


def _not_one(m, k):
    try:
        return len(m.get_headers(k)) != 1
    except SipParseError:
        return True


def _maxfwd_general(m):
    """maxfwd_digits' definition: (value, span) of a 1-5 ASCII digit value, None absent."""
    span = m.hdr_value_span("max-forwards")
    if span is None:
        return None
    v = m.text[span[0]:span[1]].strip()
    return (int(v), span) if v.isdigit() and v.isascii() and len(v) <= 5 else ("not plain", span)


def _maxfwd_fast(m):
    r = m.maxfwd_digits()
    return _maxfwd_general(m) if r is False else r  # False: it defers to the general reading


PROPS = {
    "via1_branch": (lambda m: m.via1_branch, lambda m: m.via1.branch),
    "to_uri": (lambda m: m.to_uri, lambda m: m.to_hdr.uri),
    "cseq_num": (lambda m: m.cseq_num, lambda m: m.cseq.num),
    "to_tag": (lambda m: m.to_tag, lambda m: m.to_hdr.tag),
    "from_tag": (lambda m: m.from_tag, lambda m: m.from_hdr.tag),
    "maxfwd_digits": (_maxfwd_fast, _maxfwd_general),
}


def result(f, *args):
    try:
        return ("ok", f(*args))
    except SipParseError as e:
        return ("raised", str(e))


def check(data: bytes):
    """Compare every accessor with its definition; returns how many pairs ran."""
    try:
        SipMsg(data)
    except SipParseError:
        return 0
    n = 0
    for what, (fast, general) in DEFINITIONS.items():
        for k in NAMES:
            a = result(fast, SipMsg(data), k)
            b = result(general, SipMsg(data), k)
            assert a == b, (what, k, data)
            # on one message, each leaves the state the other would (a lookup that
            # fails part way through a re-index changes what the next one sees)
            m = SipMsg(data)
            twice = (result(general, m, k), result(general, m, k))
            m = SipMsg(data)
            assert (result(fast, m, k), result(general, m, k)) == twice, (what, k, "fast first", data)
            m = SipMsg(data)
            assert (result(general, m, k), result(fast, m, k)) == twice, (what, k, "general first", data)
            n += 1
    for what, (fast, general) in PROPS.items():
        a = result(fast, SipMsg(data))
        assert a == result(general, SipMsg(data)), (what, data)
        m = SipMsg(data)
        twice = (result(general, m), result(general, m))
        m = SipMsg(data)
        assert (result(fast, m), result(general, m)) == twice, (what, "fast first", data)
        m = SipMsg(data)
        assert (result(general, m), result(fast, m)) == twice, (what, "general first", data)
        n += 1
    # first_header_start: headers[0].start (or eoh); where that fails (a refused line
    # further down) it still answers, from the scan, with the first line's start
    g = result(lambda m: (m.headers[0].start if m.headers else m.eoh), SipMsg(data))
    a = result(lambda m: m.first_header_start, SipMsg(data))
    if g[0] == "ok":
        assert a == g, ("first_header_start", data)
    elif a[0] == "ok":
        m = SipMsg(data)
        # the line after the first line (leading empty lines are skipped before it)
        fle = m.first_line_end
        nl = fle + (2 if data[fle:fle + 2] == b"\r\n" else 1)
        assert a[1] == nl and m.type in (1, 2), ("first_header_start", data)
    n += 1
    return n


def _req(headers: str, nl: str = "\r\n") -> bytes:
    head = ["INVITE sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1",
            "From: <sip:a@example.org>;tag=f1", "To: <sip:bob@example.com>;tag=t1",
            "Call-ID: c1@x", "CSeq: 1 INVITE"]
    return (nl.join(head) + nl + headers + "Content-Length: 0" + nl + nl).encode("latin-1")


EDGES = {
    "plain": _req("Max-Forwards: 70\r\nRoute: <sip:p1;lr>\r\nRoute: <sip:p2;lr>\r\n"),
    "compact": _req("m: <sip:a@1.2.3.4>\r\nk: path\r\n"),
    "odd-ws": _req("Max-Forwards:\x0b70\x0b\r\nRoute:\x85<sip:p;lr> \x0c\r\n"),
    "no-space": _req("Max-Forwards:70\r\nExpires:\t 60 \t\r\n"),
    "empty": _req("Route: \r\nSubject:\r\nUser-Agent:   \r\n"),
    "folded-route": _req("Route: <sip:p1;lr;\r\n ftag=x>\r\nMax-Forwards: 70\r\n"),
    "folded-last": _req("Route: <sip:p1;lr>\r\nX-Note: a\r\n b\r\n"),
    "folded-mf": _req("Max-Forwards: \r\n 70\r\n"),
    "bare-lf": _req("Max-Forwards: 70\nRoute: <sip:p;lr>\n", nl="\n"),
    "mixed-lf": _req("Max-Forwards: 70\nRoute: <sip:p;lr>\r\n"),
    "dup-mf": _req("Max-Forwards: 70\r\nRoute: <sip:p;lr>\r\nMax-Forwards: 69\r\n"),
    "dup-to": _req("To: <sip:c@example.com>\r\nRoute: <sip:p;lr>\r\n"),
    "dup-callid-early": (b"INVITE sip:b@x SIP/2.0\r\nCall-ID: a\r\nCall-ID: b\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\n"
                         b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCSeq: 1 INVITE\r\nRoute: <sip:p;lr>\r\n\r\n"),
    "bad-via-2nd": _req("Via: SIP/2.0/UDP bad host\r\nRoute: <sip:p;lr>\r\n"),
    "bad-cseq-2nd": _req("CSeq: x\r\n"),
    "cseq-token": _req("").replace(b"CSeq: 1 INVITE", b"CSeq: eight INVITE"),
    "cseq-big": _req("").replace(b"CSeq: 1 INVITE", b"CSeq: 99999999999 INVITE"),
    "no-eoh": _req("Route: <sip:p;lr>\r\n")[:-4],
    "no-colon": _req("Route <sip:p;lr>\r\n"),
    "bad-name": _req("Ro ute: <sip:p;lr>\r\n"),
    "bare-branch": _req("").replace(b";branch=z9hG4bKa1", b";branch"),
    "no-branch": _req("").replace(b";branch=z9hG4bKa1", b""),
    "two-vias": _req("").replace(b"branch=z9hG4bKa1", b"branch=z9hG4bKa1, SIP/2.0/TCP h2;branch=z9hG4bKb"),
    "to-display": _req("").replace(b"To: <sip:bob@example.com>", b'To: "B \\"b\\"" <sip:bob@example.com>'),
    "to-no-brackets": _req("").replace(b"To: <sip:bob@example.com>;tag=t1", b"To: sip:bob@example.com"),
    "no-headers": b"OPTIONS sip:x@example.com SIP/2.0\r\n\r\n",
    "reply": (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bK0123456789abcdef.0\r\n"
              b"From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: r\r\nCSeq: 1 INVITE\r\n"
              b"Contact: <sip:b@192.0.2.9>\r\nContent-Length: 0\r\n\r\n"),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_accessors_match_their_definitions_on_the_corpus(name):
    assert check(CORPUS[name]) > len(NAMES) * len(DEFINITIONS)


@pytest.mark.parametrize("name", sorted(EDGES))
def test_accessors_match_their_definitions_on_edge_cases(name):
    assert check(EDGES[name]) > 0


def test_edge_cases_reach_the_interesting_answers():
    """Guard against a comparison that only ever sees None == None."""
    m = SipMsg(EDGES["odd-ws"])
    assert m.hdr_value("max-forwards") == "70"
    s, e = m.hdr_value_span("max-forwards")
    assert m.text[s:e] == "\x0b70\x0b"
    assert m.hdr_count("route") == 1 and m.hdr_count("Max-Forwards") == 1
    m = SipMsg(EDGES["plain"])
    assert m.hdr_count("route") == 2 and m.hdr_value("route") == "<sip:p1;lr>"
    st, vs, ve, en, more = m.hdr_spans("route")
    assert (m.text[st:en], m.text[vs:ve], more) == ("Route: <sip:p1;lr>\r\n", "<sip:p1;lr>", True)
    assert SipMsg(EDGES["odd-ws"]).hdr_spans("route")[4] is False
    s, e = m.hdr_line("route")
    assert m.text[s:e] == "Route: <sip:p1;lr>\r\n"
    assert m.first_header_start == m.text.index("Via:")
    assert m.via1_branch == "z9hG4bKa1" and m.to_uri == "sip:bob@example.com" and m.cseq_num == 1
    assert SipMsg(EDGES["folded-route"]).hdr_value("route") == "<sip:p1;lr; ftag=x>"
    assert SipMsg(EDGES["compact"]).hdr_value("contact") == "<sip:a@1.2.3.4>"
    assert SipMsg(EDGES["bare-branch"]).via1_branch == ""
    m = SipMsg(EDGES["dup-mf"])  # the first Max-Forwards is read before the second stops parse_headers
    assert m.hdr_value("max-forwards") == "70"
    with pytest.raises(SipParseError):
        m.hdr_count("max-forwards")  # a full read reaches the refused line
    assert SipMsg(EDGES["dup-mf"]).hdr_spans("max-forwards")[4] is True  # ... but the first line reads
    with pytest.raises(SipParseError):
        SipMsg(EDGES["dup-to"]).hdr_value("route")  # a line after the second To
    assert SipMsg(EDGES["dup-mf"]).first_header_start == EDGES["dup-mf"].index(b"Via:")
    assert SipMsg(EDGES["no-headers"]).first_header_start == len(EDGES["no-headers"]) - 2
    assert SipMsg(EDGES["reply"]).via1_branch == "z9hG4bK0123456789abcdef.0"


def test_module_data_is_a_per_message_dict():
    a, b = SipMsg(EDGES["plain"]), SipMsg(EDGES["plain"])
    a.module_data["x.y"] = 1
    assert b.module_data == {} and a.module_data == {"x.y": 1}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CORPUS.values()) + sorted(EDGES.values())), ops)
def test_accessors_match_their_definitions_on_mutations(data, mutation):
    check(mutate(data, mutation))


KEY_TUPLES = [("require", "path", "contact", "expires", "supported", "allow", "user-agent"),
              ("contact",), (), ("max-forwards", "x-unknown", "route"), ("v", "m", "CONTACT", "i"),
              tuple(NAMES)]


def _values_outcome(fn):
    try:
        return "ok", fn()
    except SipParseError as e:
        return "err", e.reason


def check_hdr_values(data: bytes):
    """hdr_values(keys) == [hdr_value(k) for k in keys] (a tuple or a list of keys, on
    fresh messages, then a second time on each)."""
    for keys in KEY_TUPLES:
        for form in (tuple, list):
            try:
                a, b = SipMsg(data), SipMsg(data)
            except SipParseError:
                return
            for _ in range(2):
                want = _values_outcome(lambda b=b, keys=keys: [b.hdr_value(k) for k in keys])
                got = _values_outcome(lambda a=a, keys=form(keys): a.hdr_values(keys))
                assert got == want, (data, keys)


@pytest.mark.parametrize("name", sorted(CORPUS) + sorted(f"edge:{k}" for k in EDGES))
def test_hdr_values_is_hdr_value_per_key(name):
    check_hdr_values(EDGES[name[5:]] if name.startswith("edge:") else CORPUS[name])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CORPUS.values()) + sorted(EDGES.values())), ops)
def test_hdr_values_on_mutations(data, mutation):
    check_hdr_values(mutate(data, mutation))
