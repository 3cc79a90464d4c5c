"""The scan's two verdicts (kp_sipscan.h KP_SS_RECV_OK, KP_SS_CLEAN) against the checks
they stand for, written out here in Python as receive_checks and SipMsg made them
before: on the corpus and on mutated messages, the C flag and the expression agree."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kamapy.sip import sipscan as ss
from kamapy.sip.errors import SipParseError
from tests.sip.corpus import CORPUS
from tests.sip.test_fuzz import mutate

F = ss.FIRST


def recv_ok(sc, text) -> bool:
    version = text[:sc[ss.A1]] if sc[ss.TYPE] == 2 else text[sc[ss.C0]:sc[ss.C1]]
    if not (version == "SIP/2.0" and sc[ss.V_OK] and sc[ss.TO_OK] and sc[ss.CS_OK] and sc[ss.CID_OK]):
        return False
    frm, cl, n = sc[F + ss.H_FROM], sc[F + ss.H_CL], sc[ss.NHDR]
    return bool((sc[ss.CL_OK] or (cl < 0 and sc[ss.STOP] == ss.STOP_END)) and frm >= 0
                and (frm != n - 1 or sc[ss.STOP] != ss.STOP_FOLD)
                and (sc[ss.BADMIN] >= n or sc[ss.BADMIN] > max(
                    frm, sc[F + ss.H_TO], sc[F + ss.H_CALLID], sc[F + ss.H_CSEQ], sc[F + ss.H_VIA],
                    cl if cl >= 0 else n - 1)))


def clean(sc) -> bool:
    return sc[ss.STOP] == ss.STOP_END and sc[ss.BADMIN] >= sc[ss.NHDR]


def check(data: bytes):
    try:
        sc = ss.scan(data)
    except SipParseError:
        return
    assert sc[ss.RECV_OK] == recv_ok(sc, data.decode("latin-1"))
    assert sc[ss.CLEAN] == clean(sc)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(name):
    check(CORPUS[name])


def test_version_spellings():
    base = CORPUS[sorted(CORPUS)[0]]
    for v in (b"SIP/2.0", b"sip/2.0", b"SIP/2.00", b"SIP/2.", b"HTTP/1.1"):
        data = base.replace(b"SIP/2.0", v, 1)
        check(data)
    reply = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n" \
            b"To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    check(reply)
    assert ss.scan(reply)[ss.RECV_OK] == 1
    check(reply.replace(b"SIP/2.0 200", b"SIP/2.1 200", 1))
    assert ss.scan(reply.replace(b"SIP/2.0 200", b"SIP/2.1 200", 1))[ss.RECV_OK] == 0


weird = st.sampled_from(list(b":;,<>\"\\ \t\r\n@[]=/?%0aZ\x00\xff\x0b\x0c\x1c\x85\xa0\xb2"))
ops = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10**6),
                         st.one_of(weird, st.integers(0, 255))), min_size=1, max_size=6)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CORPUS.values())), ops)
def test_mutations(data, mutation):
    check(mutate(data, mutation))
