"""Digest credential PVs: $au $ad $aU $ar $adu $aa $adn $adc $adr $ado.

Read from Proxy-Authorization when the request has one, else Authorization (as
Kamailio's pv_get_authattr); $null for ACK and CANCEL, which carry no credentials.
"""

from __future__ import annotations

from ..sip.errors import SipParseError
from ..sip.methods import METHOD_ACK, METHOD_CANCEL
from .base import fn_pv
from .registry import PvDef


def _credentials(msg):
    if msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return None
    try:
        found = msg.credentials("proxy-authorization") or msg.credentials("authorization")
    except SipParseError:
        return None
    return found[0] if found else None


def _field(read):
    def get(msg):
        digest = _credentials(msg)
        return read(digest) if digest is not None else None
    return get


def _param(name):
    # with credentials present, a missing field reads as "" (Kamailio's empty str)
    return _field(lambda d: d.params.get(name) or "")


def _user(d):
    return d.user


def _domain(d):
    username = d.params.get("username") or ""
    return username.split("@", 1)[1] if "@" in username else ""


PVS = [
    PvDef("au", fn_pv("AuthUserPv", _field(_user))),
    PvDef("ad", fn_pv("AuthDomainPv", _field(_domain))),
    PvDef("aU", fn_pv("AuthUsernamePv", _param("username"))),
    PvDef("ar", fn_pv("AuthRealmPv", _param("realm"))),
    PvDef("adu", fn_pv("AuthDigestUriPv", _field(lambda d: d.params.get("uri") or None))),
    PvDef("aa", fn_pv("AuthAlgorithmPv", _param("algorithm"))),
    PvDef("adn", fn_pv("AuthNoncePv", _param("nonce"))),
    PvDef("adc", fn_pv("AuthCnoncePv", _param("cnonce"))),
    PvDef("adr", fn_pv("AuthResponsePv", _param("response"))),
    PvDef("ado", fn_pv("AuthOpaquePv", _param("opaque"))),
]
