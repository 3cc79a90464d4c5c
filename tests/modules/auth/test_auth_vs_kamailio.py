"""auth/auth_db verdicts and challenges, kamapy against Kamailio 5.6.3.

Both servers run configs/auth_db.cfg (beside this file) on one SQLite subscriber table
made with Kamailio's own SQL schema (Debian's kamailio-sqlite-modules ships it; the
test is skipped without it). A small digest UAC (uac.py) sends the same requests to
both; what is compared: the return code each function gave (X-Rc), the reply status,
and the challenge header with the nonce replaced (its length is compared: the layout
is Kamailio's). Nonces are made per server, so every answered challenge is answered
with that server's own nonce.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sqlite3
import struct
import time
from pathlib import Path

import pytest

from tests.modules.auth.uac import Uac, header, parse_challenge, status_of
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

SCHEMA = Path("/usr/share/kamailio/db_sqlite")
CFG = Path(__file__).resolve().parent / "configs" / "auth_db.cfg"

pytestmark = [
    pytest.mark.skipif(not kamailio_path(), reason="kamailio not installed"),
    pytest.mark.skipif(not (SCHEMA / "auth_db-create.sql").exists()
                       or not os.path.exists(os.path.join(MODULES, "db_sqlite.so")),
                       reason="kamailio-sqlite-modules (schema + db_sqlite) not installed"),
]


def kamailio_schema_db(path: Path):
    """A database as kamdbctl makes it: Kamailio's version and subscriber DDL as shipped."""
    con = sqlite3.connect(path)
    con.executescript((SCHEMA / "standard-create.sql").read_text())
    con.executescript((SCHEMA / "auth_db-create.sql").read_text())
    for user, pw in (("alice", "secret"), ("carol", "pw2")):
        ha1 = hashlib.md5(f"{user}:127.0.0.1:{pw}".encode()).hexdigest()
        ha1b = hashlib.md5(f"{user}@127.0.0.1:127.0.0.1:{pw}".encode()).hexdigest()
        con.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                    (user, "127.0.0.1", pw, ha1, ha1b))
    con.commit()
    con.close()


def _pair(tmp_path_factory, alg: str):
    d = tmp_path_factory.mktemp("authdb")
    dbfile = d / "kamailio.sqlite"
    kamailio_schema_db(dbfile)
    text = CFG.read_text()
    fmt = {"mpath": MODULES, "dburl": f"sqlite://{dbfile}", "calc": "1", "pwcol": "password", "alg": alg}
    kam = KamailioServer(text, fmt={k: v for k, v in fmt.items() if k != "mpath"})
    kp = KamapyServer(text, children=1, fmt=fmt)
    kam.start()
    try:
        kp.start()
    except Exception:
        kam.stop()
        raise
    return {"kamailio": kam, "kamapy": kp}


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    pair = _pair(tmp_path_factory, "")
    yield pair
    for srv in pair.values():
        srv.stop()


@pytest.fixture(scope="module")
def servers256(tmp_path_factory):
    pair = _pair(tmp_path_factory, "SHA-256")
    yield pair
    for srv in pair.values():
        srv.stop()


def _both(servers, run):
    """run(uac) on a fresh UAC per server -> {name: result}."""
    out = {}
    for name, srv in servers.items():
        u = Uac(("127.0.0.1", srv.port))
        try:
            out[name] = run(u)
        finally:
            u.close()
    return out


def _rc(reply: str):
    return status_of(reply), header(reply, "X-Rc")


def _norm_challenge(reply: str) -> str:
    line = re.search(r"^(WWW|Proxy)-Authenticate:.*$", reply, re.M | re.I)
    if not line:
        return f"{status_of(reply)} (no challenge)"
    text = line.group(0).rstrip("\r")
    return f"{status_of(reply)} " + re.sub(r'nonce="([^"]*)"', lambda m: f'nonce=<{len(m.group(1))}>', text)


def _same(servers, run):
    res = _both(servers, run)
    assert res["kamapy"] == res["kamailio"], res
    return res["kamapy"]


def _answer(u, fn: str, password: str = "secret", method: str = "REGISTER", qop="auto", **kw):
    """Challenge (www for REGISTER, proxy otherwise), answer it, return the verdict."""
    ch_kind = "www" if method == "REGISTER" else "proxy"
    first = u.request(method, extra=f"X-Ch: {ch_kind}\r\nX-Flags: 1")
    ch = parse_challenge(first)
    host, port = u.server
    uri = f"sip:{host}:{port}" if method == "REGISTER" else f"sip:bob@{host}:{port}"
    auth = u.authorization(ch, method, uri, password, qop=qop, **kw)
    return u.request(method, auth=auth, extra=f"X-Fn: {fn}"), auth


# ------------------------------------------------------------------ challenges


@pytest.mark.parametrize("kind,flags,method", [
    ("www", 0, "REGISTER"), ("www", 1, "REGISTER"), ("www", 2, "REGISTER"), ("www", 16, "REGISTER"),
    ("www", 17, "REGISTER"), ("proxy", 0, "INVITE"), ("proxy", 1, "MESSAGE"), ("auth", 1, "REGISTER"),
    ("auth", 0, "INVITE"), ("auth", 0, "ACK"),
])
def test_challenge_headers(servers, kind, flags, method):
    def run(u):
        r = u.request(method, extra=f"X-Ch: {kind}\r\nX-Flags: {flags}")
        return _norm_challenge(r) if r else "no reply"
    got = _same(servers, run)
    if method != "ACK":
        assert "Digest realm=\"127.0.0.1\"" in got


def test_auth_get_www_authenticate(servers):
    # the header text into a variable: compare its length (the nonce length is the layout's)
    got = _same(servers, lambda u: (_rc(u.request("OPTIONS", extra="X-Ch: get\r\nX-Flags: 1")),
                                    header(u.request("OPTIONS", extra="X-Ch: get\r\nX-Flags: 1"), "X-Wa")))
    assert got[0] == (200, "1")


# ------------------------------------------------------------------ verdicts


def test_no_credentials(servers):
    got = _same(servers, lambda u: [_rc(u.request("REGISTER", extra=f"X-Fn: {fn}"))
                                    for fn in ("www", "check", "pv", "has", "proxy")])
    assert got[0] == (200, "-5")


@pytest.mark.parametrize("fn,method", [("www", "REGISTER"), ("check", "REGISTER"), ("pv", "REGISTER"),
                                       ("proxy", "INVITE"), ("check", "INVITE"), ("pvcheck", "INVITE"),
                                       ("pvproxy", "MESSAGE")])
def test_good_password(servers, fn, method):
    got = _same(servers, lambda u: _rc(_answer(u, fn, method=method)[0]))
    assert got == (200, "1")


def test_loaded_credentials_and_wrong_password(servers):
    def run(u):
        ok = _answer(u, "www")[0]
        bad = _answer(u, "www", password="nope")[0]
        return _rc(ok), header(ok, "X-Ha1"), _rc(bad), header(bad, "X-Ha1")
    got = _same(servers, run)
    assert got[0] == (200, "1") and got[2] == (200, "-2")
    assert got[1] == hashlib.md5(b"alice:127.0.0.1:secret").hexdigest()


def test_unknown_user_and_identity_mismatch(servers):
    def run(u):
        unknown = _answer(u, "www", user="nobody")[0]
        # auth user carol, From/To alice: auth_check(..., 1) refuses, flags 0 accepts
        mism = _answer(u, "check", user="carol", password="pw2")[0]
        ok0 = _answer(u, "check0", user="carol", password="pw2")[0]
        return _rc(unknown), _rc(mism), _rc(ok0)
    got = _same(servers, run)
    assert got == ((200, "-3"), (200, "-8"), (200, "1"))


def test_nonce_count_replay_and_one_time_nonce(servers):
    def run(u):
        first, auth = _answer(u, "www")
        replay = u.request("REGISTER", auth=auth, extra="X-Fn: www")          # same nc: stale
        nc2 = u.request("REGISTER", auth=_bump_nc(u, auth, "secret"), extra="X-Fn: www")
        # no qop: the one-time nonce check applies, a second use is refused (-6)
        plain, auth2 = _answer(u, "www", qop=None)
        again = u.request("REGISTER", auth=auth2, extra="X-Fn: www")
        return [_rc(x) for x in (first, replay, nc2, plain, again)]
    got = _same(servers, run)
    assert got == [(200, "1"), (200, "-4"), (200, "1"), (200, "1"), (200, "-6")]


def _bump_nc(u, auth: str, password: str, nc: str = "00000002") -> str:
    nonce = re.search(r'nonce="([^"]*)"', auth).group(1)
    ch = {"header": "www", "realm": "127.0.0.1", "nonce": nonce, "qop": "auth"}
    host, port = u.server
    return u.authorization(ch, "REGISTER", f"sip:{host}:{port}", password, nc=nc)


def _stale_nonce(since: int) -> str:
    raw = struct.pack(">II", since + 30, since) + b"\x00" * 16
    return base64.b64encode(raw).decode()


def _creds(**over) -> str:
    p = {"username": '"alice"', "realm": '"127.0.0.1"', "nonce": '"' + _stale_nonce(1000) + '"',
         "uri": '"sip:127.0.0.1"', "response": '"' + "0" * 32 + '"'}
    p.update(over)
    return "Authorization: Digest " + ", ".join(f"{k}={v}" for k, v in p.items() if v is not None)


BAD = {
    "stale-old": _creds(),
    "stale-future": _creds(nonce='"' + _stale_nonce(int(time.time()) + 3600) + '"'),
    "short-nonce": _creds(nonce='"abc"'),
    "garbage-nonce": _creds(nonce='"' + "!" * 32 + '"'),
    "long-nonce": _creds(nonce='"' + "A" * 200 + '"'),
    "no-uri": _creds(uri=None),
    "no-response": _creds(response=None),
    "no-username": _creds(username=None),
    "no-realm": _creds(realm=None),
    "no-nonce": _creds(nonce=None),
    "unterminated-quote": 'Authorization: Digest username="alice, realm="127.0.0.1"',
    "trailing-comma": _creds() + ",",
    "empty-token": _creds(nc=""),
    "no-equals": 'Authorization: Digest username',
    "basic": "Authorization: Basic YWxpY2U6c2VjcmV0",
    "scheme-only": "Authorization: Digest",
    "other-realm": _creds(realm='"elsewhere"'),
    "realm-case": _creds(realm='"127.0.0.1"'.upper()),
    "qop-no-nc": _creds(qop="auth", cnonce='"x"'),
    "huge-username": _creds(username='"' + "a" * 4000 + '"'),
    "unknown-alg": _creds(algorithm="FOO-1"),
    "dup-params": _creds() + ', realm="elsewhere"',
    "space-before-eq": 'Authorization: Digest username ="alice", realm = "127.0.0.1", nonce="x", uri="u", '
                       'response="r"',
    "junk-after-quote": _creds(username='"alice"junk'),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_credentials(servers, case):
    got = _same(servers, lambda u: [_rc(u.request("REGISTER", auth=BAD[case], extra=f"X-Fn: {fn}"))
                                    for fn in ("www", "check", "pv", "has")])
    assert got[0][0] == 200  # a verdict, never a crash or silence


def test_stale_is_minus_four(servers):
    got = _same(servers, lambda u: _rc(u.request("REGISTER", auth=BAD["stale-old"], extra="X-Fn: www")))
    assert got == (200, "-4")


def test_ack_cancel_prack_pass(servers):
    got = _same(servers, lambda u: [_rc(u.request(m, extra="X-Fn: check")) for m in ("PRACK", "OPTIONS")])
    assert got[0] == (200, "1") and got[1] == (200, "-5")


def test_is_subscriber_and_has_credentials(servers):
    def run(u):
        sub = _rc(u.request("OPTIONS", extra="X-Fn: sub"))
        u2 = Uac(u.server, user="nobody")
        try:
            nosub = _rc(u2.request("OPTIONS", extra="X-Fn: sub"))
        finally:
            u2.close()
        has = _rc(u.request("OPTIONS", auth=_creds(), extra="X-Fn: has"))
        return sub, nosub, has
    got = _same(servers, run)
    assert got == ((200, "1"), (200, "-2"), (200, "1"))


def test_expired_nonce_gets_stale_challenge(servers):
    """nonce_expire is 3 s in this config: the same credentials after it are -4, and
    the stock-style route answers with stale=true."""
    def run(u):
        ok, auth = _answer(u, "stock")
        time.sleep(4.1)  # whole seconds: expire < now needs more than 3 s past the nonce
        # a higher nc passes the nonce-count check and meets the expiry
        again = u.request("REGISTER", auth=_bump_nc(u, auth, "secret", "00000002"), extra="X-Fn: www")
        challenged = u.request("REGISTER", auth=_bump_nc(u, auth, "secret", "00000003"), extra="X-Fn: stock")
        return _rc(ok), _rc(again), _norm_challenge(challenged)
    # both servers at once: the wait is paid once
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(2) as ex:
        futs = {name: ex.submit(_both, {name: srv}, run) for name, srv in servers.items()}
        res = {name: f.result()[name] for name, f in futs.items()}
    assert res["kamapy"] == res["kamailio"], res
    got = res["kamapy"]
    assert got[0] == (200, "1") and got[1] == (200, "-4")
    assert got[2].startswith("401 ") and "stale=true" in got[2]


def test_sha256(servers256):
    def run(u):
        ch = _norm_challenge(u.request("REGISTER", extra="X-Ch: www\r\nX-Flags: 1"))
        ok = _rc(_answer(u, "www", alg="SHA-256")[0])
        bad = _rc(_answer(u, "www", password="nope", alg="SHA-256")[0])
        md5 = _rc(_answer(u, "www", alg="MD5")[0])  # an MD5 response is the wrong length
        return ch, ok, bad, md5
    got = _same(servers256, run)
    assert "algorithm=SHA-256" in got[0]
    assert got[1:] == ((200, "1"), (200, "-2"), (200, "-1"))


@pytest.mark.parametrize("body", ["", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"])
def test_auth_int_d_auth_1(servers, body):
    """D-auth-1: Kamailio 5.6.3 checks auth-int against an unset H(body) and refuses a
    correct response; kamapy hashes the body. Fails when the two stop differing."""
    def run(u):
        ch = parse_challenge(u.request("REGISTER", extra="X-Ch: www\r\nX-Flags: 2"))
        host, port = u.server
        good = u.authorization(ch, "REGISTER", f"sip:{host}:{port}", "secret", qop="auth-int", body=body)
        ok = _rc(u.request("REGISTER", auth=good, extra="X-Fn: www", body=body))
        ch = parse_challenge(u.request("REGISTER", extra="X-Ch: www\r\nX-Flags: 2"))
        bad = u.authorization(ch, "REGISTER", f"sip:{host}:{port}", "secret", qop="auth-int", body=body + "x")
        return ok, _rc(u.request("REGISTER", auth=bad, extra="X-Fn: www", body=body))
    res = _both(servers, run)
    assert res["kamailio"] == ((200, "-2"), (200, "-2"))
    assert res["kamapy"] == ((200, "1"), (200, "-2"))


def test_authentication_info_header(servers):
    """add_authinfo_hdr: the 200 after a good answer carries Authentication-Info (with
    one_time_nonce a fresh nextnonce); values that hash a per-server nonce are compared
    by length."""
    def run(u):
        r, _auth = _answer(u, "www")
        line = header(r, "Authentication-Info") or ""
        return _rc(r), re.sub(r'(nextnonce|rspauth)="([^"]*)"', lambda m: f"{m.group(1)}=<{len(m.group(2))}>", line)
    got = _same(servers, run)
    assert got[0] == (200, "1")
    assert got[1].startswith("nextnonce=<40>, qop=auth, rspauth=<32>, cnonce=\"0a4f113b\", nc=00000001"), got
