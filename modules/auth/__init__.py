"""auth: digest authentication (Kamailio 5.6's auth module).

Nonces in Kamailio's binary layout (see nonce.py), challenges built as Kamailio builds
them (`WWW-Authenticate: Digest realm="r", nonce="n"[, qop="auth"][, stale=true]
[, algorithm=A]`), credentials read with Kamailio's parser rules (creds.py), and the
return codes Kamailio documents:

     1 authenticated             -4 stale nonce (also: auth_checks_* mismatch, nc replay)
    -1 error (malformed, bad or  -5 no credentials for the realm
       foreign nonce ...)        -6 one-time nonce reused
    -2 wrong password            -8 authentication user differs from From/To (checks & 1)
    -3 unknown user (auth_db)

ACK, CANCEL and PRACK are never challenged: the check functions return 1 for them.
auth_db and pv_* reach the checks through pre_auth / check_response / post_auth here
(Kamailio's bind_auth_s API).
"""

from __future__ import annotations

import hmac
import logging

from kamapy.loader import BoundApi
from kamapy.module import (
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)
from kamapy.runtime import rt
from kamapy.sip.lumps import del_lump
from kamapy.sip.methods import METHOD_ACK, METHOD_CANCEL, METHOD_PRACK, METHOD_PUBLISH, METHOD_REGISTER

from . import creds as C
from . import nonce as N
from .digest import ALGORITHMS, HEX_LEN, calc_ha1, calc_response

log = logging.getLogger("kamapy.auth")
_slb = BoundApi("sl")  # sl_load_api: the replies

# Kamailio's auth_cfg_result_t
AUTH_USER_MISMATCH = -8
AUTH_NONCE_REUSED = -6
AUTH_NO_CREDENTIALS = -5
AUTH_STALE_NONCE = -4
AUTH_USER_UNKNOWN = -3
AUTH_INVALID_PASSWORD = -2
AUTH_ERROR = -1
AUTH_OK = 1

# pre_auth outcomes (Kamailio's auth_result_t)
NONCE_REUSED, NO_CREDENTIALS, STALE_NONCE, ERROR, NOT_AUTHENTICATED, DO_AUTHENTICATION, \
    AUTHENTICATED, BAD_CREDENTIALS = "reused", "none", "stale", "error", "not-auth", "do", "ok", "bad"

PRE_AUTH_RC = {NONCE_REUSED: AUTH_NONCE_REUSED, STALE_NONCE: AUTH_STALE_NONCE,
               NO_CREDENTIALS: AUTH_NO_CREDENTIALS, ERROR: AUTH_ERROR, BAD_CREDENTIALS: AUTH_ERROR,
               NOT_AUTHENTICATED: AUTH_ERROR, AUTHENTICATED: AUTH_OK}

AUTH_CHECK_ID_F = 1
AUTH_CHECK_SKIPFWD_F = 2

_NO_AUTH_METHODS = METHOD_ACK | METHOD_CANCEL | METHOD_PRACK


class _State:
    nonces: N.NonceState | None = None
    algorithm = "MD5"          # what responses and HA1 are computed with
    alg_param = ""             # the modparam as written ("" = no algorithm= in challenges)
    hex_len = 32
    realm_prefix = ""
    challenge_avp = "digest_challenge"


S = _State()


def _p(name):
    return exports.param(name)


# ------------------------------------------------------------------ arguments


class _PvArg:
    """A realm/table argument that is one whole pseudo-variable: read per message."""

    __slots__ = ("pv",)

    def __init__(self, pv):
        self.pv = pv

    def __call__(self, msg):
        v = self.pv.get(msg)
        return None if v is None else str(v)


def var_str(text: str):
    """Kamailio's fixup_var_str_12: a parameter that is exactly one pseudo-variable is
    read per message; anything else ("sip.$fd" too) is the literal text."""
    if text.startswith("$"):
        from kamapy.pv import parse_pv
        try:
            return _PvArg(parse_pv(text))
        except Exception:  # not one whole PV: a literal, as Kamailio's fix_param falls back
            return text
    return text


def arg_value(msg, value):
    return value(msg) if isinstance(value, _PvArg) else value


VAR_STR = Arg("raw", fixup=var_str)


# ------------------------------------------------------------------ hashing API


def ha1(username: str, realm: str, password: str) -> str:
    """H(A1) with the module's algorithm (auth_db's calculate_ha1 uses this)."""
    return calc_ha1(S.algorithm, username, realm, password)


def strip_realm(realm: str) -> str:
    p = S.realm_prefix
    if p and len(p) <= len(realm) and realm.startswith(p):
        return realm[len(p):]
    return realm


# ------------------------------------------------------------------ challenges


def challenge_header(msg, realm: str, qop: str | None, stale: bool, proxy: bool) -> str:
    """The whole header line, CRLF included (Kamailio's get_challenge_hf)."""
    name = _p("proxy_challenge_header") if proxy else _p("www_challenge_header")
    realm = strip_realm(realm)
    nonce = S.nonces.new_nonce(msg, rt.rank)
    hf = f'{name}: Digest realm="{realm}", nonce="{nonce}"'
    if qop:
        hf += f', qop="{qop}"'
    if stale:
        hf += ", stale=true"
    if S.alg_param:
        hf += f", algorithm={S.alg_param}"
    return hf + "\r\n"


def _send_reply(msg, code: int, reason: str, hdr: str | None) -> int:
    if hdr:
        if msg.reply_lumps is None:
            msg.reply_lumps = []
        msg.reply_lumps.append(hdr)
    slb = _slb()
    if _p("force_stateless_reply"):
        return slb.sreply(msg, code, reason)
    return slb.freply(msg, code, reason)


def _challenge(msg, realm, flags, proxy: bool, only_build: bool = False):
    qop = "auth-int" if flags & 2 else "auth" if flags & 1 else None
    try:
        hf = challenge_header(msg, realm, qop, bool(flags & 16), proxy)
    except Exception as e:  # shm exhausted or similar: Kamailio answers 500 unless flags & 4
        log.error("error while creating challenge: %s", e)
        if not flags & 4 and not only_build and _send_reply(msg, 500, "Internal Server Error", None) < 0:
            return -4
        return -2
    if only_build:
        return hf
    if proxy:
        return -3 if _send_reply(msg, 407, "Proxy Authentication Required", hf) < 0 else 1
    return -3 if _send_reply(msg, 401, "Unauthorized", hf) < 0 else 1


def _bad_args(msg, flags) -> int:
    if not (flags or 0) & 4:
        if _send_reply(msg, 500, "Internal Server Error", None) < 0:
            return -4
    return -1


def _checked_challenge(msg, realm, flags, proxy: bool) -> int:
    """www_challenge / proxy_challenge / auth_challenge: refuse an empty realm or a
    missing flags value (logged, 500 unless flag 4), else send the challenge."""
    realm = arg_value(msg, realm)
    if not realm or flags is None:
        log.error("invalid realm value - empty content" if not realm else "invalid flags value")
        return _bad_args(msg, flags)
    return _challenge(msg, realm, flags, proxy=proxy)


def www_challenge(msg, realm, flags) -> int:
    return _checked_challenge(msg, realm, flags, False)


def proxy_challenge(msg, realm, flags) -> int:
    return _checked_challenge(msg, realm, flags, True)


def auth_challenge(msg, realm, flags) -> int:
    if msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return 1
    return _checked_challenge(msg, realm, flags, msg.method_id != METHOD_REGISTER)


def auth_get_www_authenticate(msg, realm, flags, dst) -> int:
    realm = arg_value(msg, realm)
    if not realm or flags is None:
        return -1
    # built without the message, as Kamailio does: no auth_checks_* part in the nonce
    hf = _challenge(None, realm, flags, proxy=False, only_build=True)
    if isinstance(hf, int):
        return hf
    dst.set(msg, hf)
    return 1


# ------------------------------------------------------------------ the checks (API)


def pre_auth(msg, realm: str, hftype: str):
    """(outcome, credentials, realm after realm_prefix): Kamailio's pre_auth."""
    if msg.method_id & _NO_AUTH_METHODS:
        return AUTHENTICATED, None, realm
    realm = strip_realm(realm)
    try:
        rc, cred = C.find_credentials(msg, realm, hftype)
    except Exception as e:  # a header block too broken to index
        log.error("error while looking for credentials: %s", e)
        return ERROR, None, realm
    if rc < 0:
        log.error("error while parsing credentials")
        return ERROR, None, realm
    if rc > 0:
        return NO_CREDENTIALS, None, realm
    msg.module_data.setdefault("auth.authorized", {})[hftype] = cred
    if cred.missing():
        log.error("credentials are not filled properly")
        return BAD_CREDENTIALS, cred, realm
    res = S.nonces.check(cred.nonce, cred.nc, msg)
    if res in (N.EXTRA_FAILED, N.STALE):
        cred.stale = True
        return STALE_NONCE, cred, realm
    if res == N.REUSED:
        return NONCE_REUSED, cred, realm
    if res != N.OK:
        log.debug("invalid nonce value received (%s)", res)
        return NOT_AUTHENTICATED, cred, realm
    return DO_AUTHENTICATION, cred, realm


def check_response(cred, method: str, ha1_hex: str, msg=None) -> str:
    """AUTHENTICATED / NOT_AUTHENTICATED / BAD_CREDENTIALS (a response of the wrong length)."""
    if len(cred.response) != S.hex_len:
        return BAD_CREDENTIALS
    body = None
    if cred.qop_parsed == C.QOP_AUTHINT:
        # H(entity-body) of the request (Kamailio 5.6 leaves it unset: see D-auth-1)
        body = msg.body if msg is not None else ""
    expected = calc_response(S.algorithm, ha1_hex, cred.nonce, cred.nc or "", cred.cnonce or "",
                             cred.qop or "", method, cred.uri, body)
    ok = hmac.compare_digest(expected.encode("latin-1"), cred.response.encode("latin-1", "replace"))
    return AUTHENTICATED if ok else NOT_AUTHENTICATED


def post_auth(msg, cred, ha1_hex: str | None) -> str:
    if cred.stale and not msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return NOT_AUTHENTICATED
    if _p("add_authinfo_hdr") and ha1_hex:
        rspauth = calc_response(S.algorithm, ha1_hex, cred.nonce, cred.nc or "", cred.cnonce or "",
                                cred.qop or "", "", cred.uri)
        nextnonce = S.nonces.new_nonce(msg, rt.rank) if S.nonces.otn_enabled else cred.nonce
        hdr = (f'Authentication-Info: nextnonce="{nextnonce}", qop={cred.qop or ""}, '
               f'rspauth="{rspauth}", cnonce="{cred.cnonce or ""}", nc={cred.nc or ""}\r\n')
        if msg.reply_lumps is None:
            msg.reply_lumps = []
        msg.reply_lumps.append(hdr)
    return AUTHENTICATED


def authorized_credentials(msg):
    """The credentials the last check used (Authorization first), or None."""
    found = msg.module_data.get("auth.authorized") or {}
    return found.get(C.AUTHORIZATION) or found.get(C.PROXY_AUTHORIZATION)


def _uri_user_host(nameaddr):
    u = nameaddr.parsed_uri
    return (u.user or ""), (u.host or "")


def check_identity(msg, cred, use_domain: bool, skip_fwd: bool = False) -> int:
    """flags & 1 of auth_check / pv_auth_check: the authentication user must be the To
    user (REGISTER, PUBLISH: From and To the same too) or the From user."""
    try:
        f_user, f_host = _uri_user_host(msg.from_hdr)
        reg = msg.method_id & (METHOD_REGISTER | METHOD_PUBLISH)
        if reg:
            t_user, t_host = _uri_user_host(msg.to_hdr)
    except Exception:
        return AUTH_ERROR
    from kamapy.sip.methods import METHOD_BYE, METHOD_INVITE, METHOD_MESSAGE, METHOD_UPDATE
    fwd = METHOD_INVITE | METHOD_BYE | METHOD_PRACK | METHOD_UPDATE | METHOD_MESSAGE
    if not (skip_fwd and msg.method_id & fwd):
        if cred.user != (t_user if reg else f_user):
            return AUTH_USER_MISMATCH
    if reg:
        if f_user != t_user or (use_domain and f_host != t_host):
            return AUTH_USER_MISMATCH
        if msg.method_id & METHOD_PUBLISH:
            try:
                r = msg.parsed_ruri
            except Exception:
                return AUTH_ERROR
            if f_user != (r.user or "") or (use_domain and f_host != (r.host or "")):
                return AUTH_USER_MISMATCH
    return AUTH_OK


# ------------------------------------------------------------------ pv_* functions


def _challenge_avp(msg, hftype, realm, flags):
    qop = "auth-int" if flags & 8 else "auth" if flags & 4 else None
    from kamapy.pv.avp import add_avp
    hf = challenge_header(msg, realm, qop, False, hftype == C.PROXY_AUTHORIZATION)
    add_avp(msg, S.challenge_avp, hf)


def pv_authenticate(msg, realm: str, passwd: str, flags: int, hftype: str, method: str) -> int:
    outcome, cred, srealm = pre_auth(msg, realm, hftype)
    if outcome == DO_AUTHENTICATION:
        h = passwd if flags & 1 else calc_ha1(S.algorithm, cred.username, srealm, passwd)
        r = check_response(cred, method, h, msg)
        if r == AUTHENTICATED:
            ret = AUTH_OK if post_auth(msg, cred, h) == AUTHENTICATED else AUTH_ERROR
        else:
            ret = AUTH_INVALID_PASSWORD if r == NOT_AUTHENTICATED else AUTH_ERROR
    else:
        ret = PRE_AUTH_RC[outcome]
    if ret < 0 and flags & 14:
        try:
            _challenge_avp(msg, hftype, realm, flags)
        except Exception as e:
            log.error("error while creating challenge: %s", e)
            ret = AUTH_ERROR
    return ret


def _pv_args(realm, passwd, flags) -> bool:
    if not realm:
        log.error("invalid realm value - empty content")
        return False
    if not passwd:
        log.error("invalid password value - empty content")
        return False
    if flags is None:
        log.error("invalid flags value")
        return False
    return True


def pv_www_authenticate(msg, realm, passwd, flags, method=None) -> int:
    if not _pv_args(realm, passwd, flags):
        return AUTH_ERROR
    if method is not None and not method:
        log.error("invalid method value - empty content")
        return AUTH_ERROR
    return pv_authenticate(msg, realm, passwd, flags, C.AUTHORIZATION, method or msg.method)


def pv_proxy_authenticate(msg, realm, passwd, flags) -> int:
    if not _pv_args(realm, passwd, flags):
        return AUTH_ERROR
    return pv_authenticate(msg, realm, passwd, flags, C.PROXY_AUTHORIZATION, msg.method)


def pv_auth_check(msg, realm, passwd, flags, checks) -> int:
    if msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return AUTH_OK
    if not _pv_args(realm, passwd, flags) or checks is None:
        return AUTH_ERROR
    hftype = C.AUTHORIZATION if msg.method_id == METHOD_REGISTER else C.PROXY_AUTHORIZATION
    ret = pv_authenticate(msg, realm, passwd, flags, hftype, msg.method)
    if ret == AUTH_OK and checks & AUTH_CHECK_ID_F:
        cred = authorized_credentials(msg)
        if cred is None:
            return AUTH_OK if msg.method_id & _NO_AUTH_METHODS else AUTH_ERROR
        return check_identity(msg, cred, bool(_p("use_domain")))
    return ret


# ------------------------------------------------------------------ credentials


def consume_credentials(msg) -> int:
    if msg.method_id & _NO_AUTH_METHODS:
        return -1
    cred = authorized_credentials(msg)
    if cred is None:
        log.error("no authorized credentials found (error in scripts)")
        return -1
    hf = cred.hf
    del_lump(msg, hf.start, hf.end - hf.start)
    return 1


def has_credentials(msg, realm) -> int:
    for hftype in (C.PROXY_AUTHORIZATION, C.AUTHORIZATION):
        try:
            rc, _ = C.find_credentials(msg, realm or "", hftype)
        except Exception:
            rc = -1
        if rc == 0:
            return 1
    return -1


# ------------------------------------------------------------------ module


def _power_of_two(size: int, order: int, default: int) -> int:
    if order:
        return 1 << order
    size = size or default
    return 1 << (size.bit_length() - 1)


def _check():
    errors = []
    alg = _p("algorithm")
    if alg and alg not in ALGORITHMS:
        errors.append(("algorithm", f'invalid algorithm {alg!r}: possible values are "", "MD5" or "SHA-256"'))
    qop = (_p("qop") or "").strip().lower()
    if qop not in ("", "auth", "auth-int"):
        errors.append(("qop", f"unsupported qop parameter value {_p('qop')!r}"))
    attr = _p("challenge_attr") or ""
    if not attr.startswith("$") or len(attr) < 2:
        errors.append(("challenge_attr", "invalid value of challenge_attr: it must be an AVP, like $digest_challenge"))
    if _p("nonce_expire") <= 0:
        errors.append(("nonce_expire", "nonce_expire must be positive"))
    return errors


def mod_init():
    for _, message in _check():
        log.error("%s", message)
        return -1
    if _slb.bind() is None:
        log.error("cannot bind to SL API: load the sl module")
        return -1
    from kamapy.pv.avp import parse_avp_name
    S.challenge_avp = parse_avp_name(_p("challenge_attr")[1:])
    S.alg_param = _p("algorithm") or ""
    S.algorithm = S.alg_param or "MD5"
    S.hex_len = HEX_LEN[S.algorithm]
    S.realm_prefix = _p("realm_prefix") or ""
    nc = bool(_p("nonce_count"))
    if nc and not (_p("qop") or "").strip():
        log.warning("nonce-count support enabled, but qop not set")
        nc = False
    pools = min(max(_p("nid_pool_no") or 1, 1), 64)
    pools = 1 << (pools.bit_length() - 1)
    nc_size = _power_of_two(_p("nc_array_size"), _p("nc_array_order"), 1 << 20)
    otn_size = _power_of_two(_p("otn_in_flight_no"), _p("otn_in_flight_order"), 1 << 20)
    if nc and pools >= nc_size:
        log.error("nid_pool_no (%d) too high for the configured nc_array_size (%d)", pools, nc_size)
        return -1
    S.nonces = N.NonceState(
        secret=_p("secret"),
        checks=(_p("auth_checks_register"), _p("auth_checks_no_dlg"), _p("auth_checks_in_dlg")),
        expire=_p("nonce_expire"), max_drift=_p("nonce_auth_max_drift"), nc=nc,
        otn=bool(_p("one_time_nonce")), nc_size=nc_size, otn_size=otn_size, pools=pools)
    return 0


_RT = REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE

exports = ModuleExports(
    name="auth",
    params=[
        Param("secret", str, None),
        Param("nonce_expire", int, 300),
        Param("nonce_auth_max_drift", int, 3),
        Param("protect_contacts", int, 0),  # declared by Kamailio 5.6, used by nothing there either
        Param("challenge_attr", str, "$digest_challenge"),
        Param("proxy_challenge_header", str, "Proxy-Authenticate"),
        Param("www_challenge_header", str, "WWW-Authenticate"),
        Param("qop", str, "auth"),
        Param("auth_checks_register", int, 0),
        Param("auth_checks_no_dlg", int, 0),
        Param("auth_checks_in_dlg", int, 0),
        Param("nonce_count", int, 0),
        Param("nc_array_size", int, 0),
        Param("nc_array_order", int, 0),
        Param("one_time_nonce", int, 0),
        Param("otn_in_flight_no", int, 0),
        Param("otn_in_flight_order", int, 0),
        Param("nid_pool_no", int, 1),
        Param("force_stateless_reply", int, 0),
        Param("realm_prefix", str, ""),
        Param("use_domain", int, 0),
        Param("algorithm", str, ""),
        Param("add_authinfo_hdr", int, 0),
    ],
    functions=[
        Function("consume_credentials", consume_credentials, (), REQUEST_ROUTE),
        Function("www_challenge", www_challenge, (VAR_STR, Arg("igp")), _RT),
        Function("proxy_challenge", proxy_challenge, (VAR_STR, Arg("igp")), _RT),
        Function("auth_challenge", auth_challenge, (VAR_STR, Arg("igp")), _RT),
        Function("pv_www_authorize", pv_www_authenticate, (Arg("spve"), Arg("spve"), Arg("igp")),
                 REQUEST_ROUTE),
        Function("pv_www_authenticate", pv_www_authenticate,
                 (Arg("spve"), Arg("spve"), Arg("igp"), Arg("spve", optional=True)), REQUEST_ROUTE),
        Function("pv_proxy_authorize", pv_proxy_authenticate, (Arg("spve"), Arg("spve"), Arg("igp")),
                 REQUEST_ROUTE),
        Function("pv_proxy_authenticate", pv_proxy_authenticate, (Arg("spve"), Arg("spve"), Arg("igp")),
                 REQUEST_ROUTE),
        Function("auth_get_www_authenticate", auth_get_www_authenticate,
                 (VAR_STR, Arg("igp"), Arg("pvar")), REQUEST_ROUTE),
        Function("has_credentials", has_credentials, (Arg("spve"),), REQUEST_ROUTE),
        Function("pv_auth_check", pv_auth_check, (Arg("spve"), Arg("spve"), Arg("igp"), Arg("igp")),
                 REQUEST_ROUTE),
    ],
    mod_init=mod_init,
    check=_check,
)
