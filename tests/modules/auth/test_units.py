"""auth without a server: the credential parser's rules, the digest arithmetic (RFC
2617 and RFC 7616 vectors), the nonce layout and its checks (auth_checks_*, expiry,
nonce-count, one-time nonces) on a private shm pool."""

from __future__ import annotations

import base64
import struct

import pytest
from kamapy_modules.auth import creds as C
from kamapy_modules.auth import nonce as N
from kamapy_modules.auth.digest import calc_ha1, calc_response

from kamapy.mem import shm
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import RecvInfo, SipMsg

# ------------------------------------------------------------------ parser


def test_parse_fields_and_username_parts():
    c = C.parse_credentials('Digest username="sip:bob@example.com", realm="r", nonce="n", uri="sip:x", '
                            'response="abc", qop=auth, nc=00000001, cnonce="c", algorithm=MD5, opaque="o"')
    assert (c.username, c.user, c.domain) == ("sip:bob@example.com", "bob", "example.com")
    assert (c.realm, c.nonce, c.uri, c.response, c.nc, c.cnonce, c.opaque) == \
        ("r", "n", "sip:x", "abc", "00000001", "c", "o")
    assert c.qop_parsed == C.QOP_AUTH and c.alg_parsed == C.ALG_MD5
    assert c.missing() == 0


@pytest.mark.parametrize("value", ["Basic abc=", "Digest", "Digestx a=b", "  bearer x"])
def test_other_schemes_are_skipped(value):
    assert C.parse_credentials(value) is C.UNKNOWN_SCHEME


@pytest.mark.parametrize("value", [
    'Digest username="a", realm="r",',        # trailing comma
    'Digest username="a',                      # no closing quote
    "Digest nc=, realm=r",                     # empty token
    "Digest username",                         # no '='
    'Digest username= ',                       # no value
])
def test_parse_errors(value):
    with pytest.raises(SipParseError):
        C.parse_credentials(value)


def test_parser_quirks_as_kamailio():
    c = C.parse_credentials('Digest realm="a", realm="b", usernamex="u", username ="v"junk, qop=AUTH-INT')
    assert c.realm == "b"                        # the last one wins
    assert c.username == "v"                     # blank before '=', junk to the comma skipped
    assert c.qop_parsed == C.QOP_AUTHINT
    c = C.parse_credentials('Digest algorithm=SHA-256, qop=foo, username="ab"')
    assert c.alg_parsed == C.ALG_OTHER and c.qop_parsed == C.QOP_OTHER
    assert c.user == "ab" and c.domain is None  # two characters: not split
    assert c.missing() == (C.E_DIG_REALM | C.E_DIG_NONCE | C.E_DIG_URI | C.E_DIG_RESPONSE)
    q = C.parse_credentials('Digest qop=auth, username="x"')
    assert q.missing() & C.E_DIG_NC and q.missing() & C.E_DIG_CNONCE


# ------------------------------------------------------------------ arithmetic


def test_rfc2617_vector():
    ha1 = calc_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    r = calc_response("MD5", ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth",
                      "GET", "/dir/index.html")
    assert r == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_sha256_vector():
    ha1 = calc_ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")
    r = calc_response("SHA-256", ha1, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
                      "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET", "/dir/index.html")
    assert r == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


def test_auth_int_hashes_the_body():
    ha1 = calc_ha1("MD5", "u", "r", "p")
    assert calc_response("MD5", ha1, "n", "1", "c", "auth-int", "M", "u", "a") != \
        calc_response("MD5", ha1, "n", "1", "c", "auth-int", "M", "u", "b")


# ------------------------------------------------------------------ base64 as Kamailio


def test_b64_decode():
    raw = bytes(range(29))
    assert N.b64_decode(base64.b64encode(raw).decode()) == raw
    assert N.b64_decode("abc") is None and N.b64_decode("ab=c") is None
    assert N.b64_decode("A" * 64) is None                  # more than a nonce can hold
    assert len(N.b64_decode("!!!!" * 8)) == 24            # garbage decodes, no error


# ------------------------------------------------------------------ nonces


@pytest.fixture(scope="module")
def pool():
    return shm.Pool(8 << 20)


def _msg(method="REGISTER", ruri="sip:127.0.0.1", callid="c1", to_tag="", src="127.0.0.1"):
    text = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
            f"From: <sip:a@x>;tag=ft\r\nTo: <sip:a@x>{';tag=' + to_tag if to_tag else ''}\r\n"
            f"Call-ID: {callid}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n")
    return SipMsg(text.encode(), RecvInfo(src_ip=src))


def _state(pool, **kw):
    args = dict(secret="0123456789abcdef0123456789abcdef", checks=(0, 0, 0), expire=30, max_drift=3,
                nc=False, otn=False, nc_size=1 << 12, otn_size=1 << 12, pools=1, pool=pool)
    args.update(kw)
    return N.NonceState(**args)


def test_layout_and_plain_check(pool):
    st = _state(pool)
    n = st.new_nonce(_msg())
    raw = base64.b64decode(n)
    assert len(n) == 32 and len(raw) == 24
    expire, since = struct.unpack(">II", raw[:8])
    assert expire - since == 30
    assert st.check(n, None, _msg()) == N.OK
    bad = base64.b64encode(raw[:8] + bytes(16)).decode()
    assert st.check(bad, None, _msg()) == N.NO_MATCH
    assert st.check("short", None, _msg()) == N.TOO_SHORT
    assert st.check(None, None, _msg()) == N.INVALID
    # another secret does not verify it; the same secret elsewhere does (a cluster)
    assert _state(pool, secret="other").check(n, None, _msg()) == N.NO_MATCH
    assert _state(pool).check(n, None, _msg()) == N.OK


def test_expiry_and_clock(pool, monkeypatch):
    st = _state(pool, expire=5)
    n = st.new_nonce(_msg())
    now = N.time.time()
    monkeypatch.setattr(N.time, "time", lambda: now + 10)
    assert st.check(n, None, _msg()) == N.STALE
    old = base64.b64encode(struct.pack(">II", 2000, 1000) + bytes(16)).decode()
    assert st.check(old, None, _msg()) == N.STALE      # made before this server started


def test_auth_checks_bind_the_request(pool):
    st = _state(pool, checks=(1 | 2 | 8, 0, 4))
    n = st.new_nonce(_msg())
    assert len(base64.b64decode(n)) == 40
    assert st.check(n, None, _msg()) == N.OK
    assert st.check(n, None, _msg(ruri="sip:other")) == N.EXTRA_FAILED
    assert st.check(n, None, _msg(callid="c2")) == N.EXTRA_FAILED
    assert st.check(n, None, _msg(src="127.0.0.2")) == N.EXTRA_FAILED
    # in-dialog requests use auth_checks_in_dlg (4: the From tag)
    ind = st.new_nonce(_msg("BYE", to_tag="tt"))
    assert st.check(ind, None, _msg("BYE", to_tag="tt", callid="zz")) == N.OK


def test_nonce_count(pool):
    st = _state(pool, nc=True)
    n = st.new_nonce(_msg())
    assert len(base64.b64decode(n)) == 29 and base64.b64decode(n)[-1] & N.NF_VALID_NC_ID
    assert st.check(n, "00000001", _msg()) == N.OK
    assert st.check(n, "00000001", _msg()) == N.STALE   # replay
    assert st.check(n, "00000003", _msg()) == N.OK      # may skip
    assert st.check(n, "00000002", _msg()) == N.STALE   # but not go back
    assert st.check(n, "00000100", _msg()) == N.STALE   # above 255
    assert st.check(n, "0000001", _msg()) == N.BAD_NC
    assert st.check(n, "0000000g", _msg()) == N.BAD_NC
    # a nonce whose slot was reused by newer ones is refused (stale)
    for _ in range((1 << 12) + 1):
        st.new_nonce(_msg())
    assert st.check(n, "00000009", _msg()) == N.STALE


def test_one_time_nonce(pool):
    st = _state(pool, otn=True)
    n = st.new_nonce(_msg())
    assert st.check(n, None, _msg()) == N.OK
    assert st.check(n, None, _msg()) == N.REUSED
    plain = _state(pool, secret="0123456789abcdef0123456789abcdef").new_nonce(_msg())
    assert st.check(plain, None, _msg()) == N.STALE     # not marked for tracking: refused


# ------------------------------------------------------------------ uac's RR encoding


def test_uac_rr_encoding_round_trip():
    from kamapy_modules.uac.replace import decode, encode
    for raw in (b"", b"a", b"ab", b"abc", bytes(range(40))):
        text = encode(raw)
        assert len(text) == (len(raw) + 2) // 3 * 4 and "=" not in text
        if raw:
            assert decode(text) == raw
    assert decode("ab!d") is None


def test_uac_event_callback_without_kemi_engine_is_warned(tmp_path):
    import subprocess
    import sys
    cfg = tmp_path / "u.cfg"
    cfg.write_text('loadmodule "tm"\nloadmodule "rr"\nloadmodule "uac"\n'
                   'modparam("uac", "event_callback", "ksr_uac_event")\nrequest_route { exit; }\n')
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    # Kamailio ignores it without a KEMI engine (a debug line); kamapy says so (tests/kemi/test_kemi_events)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "u.cfg:4" in r.stdout + r.stderr and "there is no KEMI engine" in r.stdout + r.stderr


@pytest.mark.parametrize("text,needle", [
    ('loadmodule "sl"\nloadmodule "auth_db"\nrequest_route { exit; }\n', 'add loadmodule "auth"'),
    ('loadmodule "sl"\nloadmodule "auth"\nmodparam("auth", "algorithm", "SHA-512")\nrequest_route { exit; }\n',
     "x.cfg:3:"),
    ('loadmodule "sl"\nloadmodule "auth"\nrequest_route { www_challenge("r", "zz"); }\n', "x.cfg:3:"),
    ('loadmodule "sl"\nloadmodule "auth"\nloadmodule "auth_db"\n'
     'modparam("auth_db", "load_credentials", "$avp(a)=")\nrequest_route { exit; }\n', "x.cfg:4:"),
])
def test_bad_auth_configs_refused(tmp_path, text, needle):
    import subprocess
    import sys
    cfg = tmp_path / "x.cfg"
    cfg.write_text(text)
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], capture_output=True, text=True,
                       timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and needle in out and "Traceback" not in out, out


# ------------------------------------------------------------------ never a crash

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_DIGESTISH = st.text(alphabet='Digestusernamrlocpqf=",\\ \t\r\n@:;xyz0123456789', max_size=120)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_DIGESTISH, st.text(max_size=80), _DIGESTISH.map(lambda s: "Digest " + s)))
def test_parsers_never_raise_anything_else(value):
    from kamapy_modules.uac.auth import parse_authenticate
    try:
        c = C.parse_credentials(value)
    except SipParseError:
        c = None
    if isinstance(c, C.Credentials):
        c.missing()
    assert parse_authenticate(value) is None or "nonce" in parse_authenticate(value)


@settings(max_examples=200, deadline=None)
@given(nonce=st.text(max_size=70), nc=st.one_of(st.none(), st.text(max_size=10)))
def test_nonce_check_never_raises(pool, nonce, nc):
    if "s" not in _STATES:
        _STATES["s"] = _state(pool, nc=True, otn=True)
    st_ = _STATES["s"]
    assert st_.check(nonce, nc, _msg()) in (N.OK, N.INVALID, N.TOO_SHORT, N.NO_MATCH, N.EXTRA_FAILED,
                                            N.STALE, N.BAD_NC, N.REUSED)


_STATES: dict = {}
