"""uac_auth(): answer a 401/407 in failure_route with credentials (Kamailio 5.6 uac
auth.c, auth_hdr.c, auth_alg.c).

The challenge is read from the picked branch's reply with Kamailio's uac parser
(realm and nonce required, algorithm MD5 only, qop taken as "auth" when it starts so);
credentials come from the auth_*_avp PVs (an empty realm PV matches any realm) or else
the `credential` modparams (user:realm:password, the last one given wins for a realm).
The request gets the branch's URI as R-URI and the header

    [Proxy-]Authorization: Digest username="u", realm="r", nonce="n", uri="<branch uri>"
        [, opaque="o"][, qop=auth, nc=00000001, cnonce="<hash of the nonce>"],
        response="<md5>", algorithm=MD5

so the script's next t_relay() sends it. cnonce is Kamailio's get_hash1_raw of the
nonce in decimal, so both servers send the same bytes. MD5 through hashlib.
"""

from __future__ import annotations

import hashlib
import logging

from kamapy.hashes import hash1_raw
from kamapy.pv.dset import ruri_mark_new
from kamapy.sip.lumps import append_header

from .bound import tmb as _tmb

log = logging.getLogger("kamapy.uac")

AUTHENTICATE_MD5, AUTHENTICATE_MD5SESS, AUTHENTICATE_STALE, QOP_AUTH, QOP_AUTH_INT = 1, 2, 4, 8, 16
MODE_HA1 = 1
NC = "00000001"


class Credential:
    __slots__ = ("user", "realm", "passwd")

    def __init__(self, user, realm, passwd):
        self.user, self.realm, self.passwd = user, realm, passwd


class State:
    creds: list = []          # newest first, as Kamailio links them
    realm_pv = None
    user_pv = None
    passwd_pv = None


S = State()


def parse_credential(text: str) -> Credential:
    """"user:realm:password" with blanks allowed around the colons; ValueError else."""
    parts = [p.strip() for p in (text or "").split(":")]
    if len(parts) < 3:
        raise ValueError(f"parse error in <{text}>: user:realm:password expected")
    user, realm, passwd = parts[0], parts[1], ":".join(parts[2:]).strip()
    if not user or not realm or not passwd or any(c.isspace() for c in user + realm + passwd):
        raise ValueError(f"parse error in <{text}>")
    return Credential(user, realm, passwd)


def parse_authenticate(body: str) -> dict | None:
    """Kamailio's uac parse_authenticate_body; None on a parse error."""
    p = 0
    end = len(body)
    while p < end and body[p].isspace():
        p += 1
    if p + 6 >= end or body[p:p + 6].lower() != "digest" or not body[p + 6].isspace():
        return None
    p += 7
    while p < end and body[p].isspace():
        p += 1
    if p == end:
        return None
    auth = {"flags": 0, "realm": None, "nonce": None, "opaque": None, "qop": None, "domain": None}
    while p < end:
        state, quoted = None, False
        low = body[p:p + 9].lower()
        if p + 4 < end:
            for name, q in (("realm", True), ("nonce", True), ("stale", False), ("domain", True),
                            ("opaque", True)):
                if low.startswith(name[:4]):
                    if p + len(name) < end and low.startswith(name):
                        p += len(name)
                        state, quoted = name, q
                    else:
                        p += 4
                    break
            else:
                if low.startswith("algo"):
                    if p + 9 < end and low.startswith("algorithm"):
                        p += 9
                        state = "algorithm"
                    else:
                        p += 4
                elif low.startswith("qop"):
                    state = "qop"
                    p += 3
        elif p + 3 < end and low.startswith("qop"):
            p += 3
            state = "qop"
        n = 0
        while p < end and not body[p].isspace() and body[p] != "=":
            n += 1
            p += 1
        if p == end:
            return None
        if n:
            state = None
        while p < end and body[p].isspace():
            p += 1
        if p == end or body[p] != "=":
            return None
        p += 1
        while p < end and body[p].isspace():
            p += 1
        if p + 1 >= end or (quoted and body[p] != '"'):
            return None
        if not quoted and body[p] == '"':
            quoted = True
        if quoted:
            p += 1
            s = p
            while p < end and body[p] != '"':
                p += 1
            if p == end:
                return None
        else:
            s = p
            while p < end and not body[p].isspace() and body[p] != ",":
                p += 1
        val = body[s:p] or None
        p += 1 if quoted else 0
        while p < end and body[p].isspace():
            p += 1
        if p < end and body[p] == ",":
            p += 1
            while p < end and body[p].isspace():
                p += 1
        if state == "qop":
            auth["qop"] = val
            if val and val.startswith("auth"):
                auth["flags"] |= QOP_AUTH
        elif state in ("realm", "nonce", "domain", "opaque"):
            auth[state] = val
        elif state == "algorithm":
            if val is not None and len(val) == 3:
                if val.lower() == "md5":
                    auth["flags"] |= AUTHENTICATE_MD5
            else:
                log.error("unsupported algorithm %r", val)
                return None
        elif state == "stale":
            if val is not None and val.lower() == "true":
                auth["flags"] |= AUTHENTICATE_STALE
            elif not (val is not None and val.lower() == "false"):
                log.error("unsupported stale value %r", val)
                return None
    if auth["nonce"] is None or auth["realm"] is None:
        log.error("realm or nonce missing")
        return None
    return auth


def challenge(reply, code: int) -> dict | None:
    """The parsed WWW-/Proxy-Authenticate of a 401/407 to a request uac sent itself
    (uac_reg's REGISTER, uac_req_send's request); None, logged as Kamailio does, when it
    has none or it does not parse."""
    hname = "www-authenticate" if code == 401 else "proxy-authenticate"
    try:
        hdrs = reply.get_headers(hname)
    except Exception:
        hdrs = []
    if not hdrs:
        log.error("failed to extract authenticate hdr")
        return None
    auth = parse_authenticate(hdrs[0].value)
    if auth is None:
        log.error("failed to parse auth hdr body")
    return auth


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("latin-1", "replace")).hexdigest()


def response(method: str, uri: str, crd: Credential, auth: dict, ha1_mode: bool) -> tuple[str, str | None]:
    """(response, cnonce or None)."""
    qop = auth["flags"] & (QOP_AUTH | QOP_AUTH_INT)
    cnonce = str(hash1_raw(auth["nonce"].encode("latin-1"))) if qop else None
    if ha1_mode:
        ha1 = crd.passwd[:32]
        if auth["flags"] & AUTHENTICATE_MD5SESS:
            ha1 = hashlib.md5(bytes.fromhex(ha1) + f":{auth['nonce']}:{cnonce or ''}".encode()).hexdigest()
    else:
        ha1 = _md5(f"{crd.user}:{crd.realm}:{crd.passwd}")
    ha2 = _md5(f"{method}:{uri}")
    if auth["qop"]:
        q = auth["qop"].split(",", 1)[0]
        return _md5(f"{ha1}:{auth['nonce']}:{NC}:{cnonce or ''}:{q}:{ha2}"), cnonce
    return _md5(f"{ha1}:{auth['nonce']}:{ha2}"), cnonce


def header(code: int, uri: str, crd: Credential, auth: dict, resp: str, cnonce: str | None) -> str:
    name = "Authorization" if code == 401 else "Proxy-Authorization"
    h = (f'{name}: Digest username="{crd.user}", realm="{crd.realm}", nonce="{auth["nonce"]}", '
         f'uri="{uri}"')
    if auth["opaque"]:
        h += f', opaque="{auth["opaque"]}"'
    if auth["flags"] & (QOP_AUTH | QOP_AUTH_INT):
        h += f', qop=auth, nc={NC}, cnonce="{cnonce}"'
    return h + f', response="{resp}", algorithm=MD5\r\n'


def _pv_text(pv, msg):
    if pv is None:
        return None
    v = pv.get(msg)
    return None if v is None else str(v)


def find_credential(msg, realm: str) -> Credential | None:
    if S.realm_pv is not None:
        r = _pv_text(S.realm_pv, msg)
        if not r or r == realm:
            u, p = _pv_text(S.user_pv, msg), _pv_text(S.passwd_pv, msg)
            if u and p:
                return Credential(u, r or realm, p)
    for c in S.creds:
        if c.realm == realm:
            return c
    return None


def uac_auth(msg, mode: int = 0) -> int:
    from kamapy.sip.msg import SipMsg
    tmb = _tmb()
    t = tmb.t_gett(msg)
    if t is None:
        log.critical("no current transaction found")
        return -1
    branch, reply = tmb.t_picked(msg)
    if branch is None or branch < 0 or branch >= len(t.branches):
        log.critical("no picked branch (%s)", branch)
        return -1
    b = t.branches[branch]
    if reply is None:
        reply = b.reply
    code = b.code
    if not reply:
        log.error("cannot process a FAKED reply" if code else "empty reply on picked branch")
        return -1
    rpl = reply if hasattr(reply, "get_headers") else SipMsg(reply if isinstance(reply, bytes) else bytes(reply))
    if code not in (401, 407):
        log.error("reply is not an auth request")
        return -1
    hname = "www-authenticate" if code == 401 else "proxy-authenticate"
    try:
        hdrs = rpl.get_headers(hname)
    except Exception as e:
        log.error("failed to parse reply: %s", e)
        return -1
    if not hdrs:
        log.error("reply has no auth hdr (%s)", hname)
        return -1
    auth = parse_authenticate(hdrs[0].value)
    if auth is None:
        log.error("failed to parse auth hdr body")
        return -1
    crd = find_credential(msg, auth["realm"])
    if crd is None:
        log.info('no credential for realm "%s"', auth["realm"])
        return -1
    uri = b.uri
    resp, cnonce = response(msg.method, uri, crd, auth, bool(mode & MODE_HA1))
    msg.set_ruri(uri)
    # Kamailio's ruri_mark_new(): the next t_relay() in failure_route takes the R-URI as a
    # new branch even when it equals the one tried (tm compares with the R-URI the route
    # started with; no value makes it differ)
    ruri_mark_new(msg)
    append_header(msg, header(code, uri, crd, auth, resp, cnonce))
    # the dialog module (track_cseq_updates) accounts for the CSeq this request takes
    # downstream (Kamailio: cenv->cb_cseq_update after FL_UAC_AUTH)
    from kamapy import cfgenv
    fn = cfgenv.cseq_update[0]
    if fn is not None and fn(msg) < 0:
        return -1
    return 1
