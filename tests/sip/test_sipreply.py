"""The C reply builder (kp_sipreply.c) against build_reply's Python path: for any
request -- the corpus, mutated ones -- and any code, reason, To-tag, source address,
force_rport, extra headers and body, the bytes are the same, or both fail the same way.
(tests/sip/test_sipscan.py compares the whole build_reply with the frozen reference.)"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamapy.sip import reply
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import RecvInfo, SipMsg
from tests.sip.corpus import CORPUS
from tests.sip.test_fuzz import mutate

REQUESTS = sorted(k for k, v in CORPUS.items() if not v.startswith(b"SIP/"))

SOURCES = [
    ("192.0.2.1", 5060),      # not the Via host: received=
    ("10.0.0.1", 5062),       # the corpus' usual Via host
    ("127.0.0.1", 5097),
    ("2001:db8::1", 5070),    # IPv6, other case / brackets in the Via
    ("2001:DB8::1", 5070),
]


def both(msg, *args):
    """(C path, Python path) outcomes of one build_reply call."""
    def run(fn):
        try:
            return "ok", fn()
        except (SipParseError, UnicodeEncodeError) as e:
            return "err", type(e).__name__, str(e)
    sc = msg._sc
    c = run(lambda: reply._reply_from_plan(msg, sc, *args)) if sc is not None else ("ok", None)
    py = run(lambda: reply._build_in_python(msg, *args))
    return c, py


def check(data: bytes, src, code, reason, to_tag, headers, body, server, force):
    try:
        msg = SipMsg(data, RecvInfo(src[0], src[1]))
    except SipParseError:
        return
    c, py = both(msg, code, reason, to_tag, headers, body, server, force)
    if c == ("ok", None):
        return  # left to Python: nothing to compare
    assert c == py, (data, c, py)


@pytest.mark.parametrize("name", REQUESTS)
@pytest.mark.parametrize("src", SOURCES)
@pytest.mark.parametrize("code", [100, 180, 200, 302, 404, 603])
def test_corpus_same_bytes(name, src, code):
    for to_tag in (None, "abc.1234"):
        for force in (False, True):
            check(CORPUS[name], src, code, "Some Reason", to_tag,
                  "Contact: <sip:a@b>;expires=60\r\n", "", reply.SERVER_HEADER, force)
    check(CORPUS[name], src, code, "OK", None, "", "v=0\r\n", "", False)
    check(CORPUS[name], src, code, "OK", None, "", b"\x00\xffbinary", "", False)


def test_the_plan_is_used_for_a_plain_request():
    """The corpus' OPTIONS goes through the C builder (so the comparisons above are not
    vacuous) and the result is the expected reply."""
    msg = SipMsg(CORPUS["options"], RecvInfo("192.0.2.1", 5099))
    out = reply._reply_from_plan(msg, msg._sc, 200, "OK", "t1", "X: y\r\n", "", "Server: k", True)
    assert out is not None
    assert out.startswith(b"SIP/2.0 200 OK\r\n")
    assert b";rport=5099;received=192.0.2.1" in out
    assert b";tag=" in out and b"X: y\r\nServer: k\r\nContent-Length: 0\r\n\r\n" in out


def test_non_latin1_reason_fails_as_before():
    msg = SipMsg(CORPUS["options"], RecvInfo("192.0.2.1", 5099))
    assert reply._reply_from_plan(msg, msg._sc, 200, "Ok \u20ac", None, "", "", "", False) is None
    with pytest.raises(UnicodeEncodeError):
        reply.build_reply(msg, 200, "Ok \u20ac")


def test_a_reply_bigger_than_the_buffer_grows_it():
    msg = SipMsg(CORPUS["options"], RecvInfo("192.0.2.1", 5099))
    big = "X-Big: " + "a" * 40000 + "\r\n"
    out = reply.build_reply(msg, 200, "OK", headers=big)
    assert big.encode() in out and out.endswith(b"Content-Length: 0\r\n\r\n")
    assert out == reply._build_in_python(msg, 200, "OK", None, big, "", reply.SERVER_HEADER, False)


weird = st.sampled_from(list(b":;,<>\"\\ \t\r\n@[]=/?%0aZ\x00\xff\x0b"))
ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                         st.one_of(weird, st.integers(0, 255))), min_size=1, max_size=6)
args = st.tuples(st.sampled_from(SOURCES), st.sampled_from([100, 180, 183, 200, 299, 300, 486]),
                 st.sampled_from([None, "", "tag9"]), st.booleans())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REQUESTS), ops, args)
def test_mutations_same_bytes(name, mutation, a):
    src, code, to_tag, force = a
    check(mutate(CORPUS[name], mutation), src, code, "Reason", to_tag, "A: b\r\n", "", "S: x", force)
