"""RFC 2617 / RFC 8760 digest arithmetic through hashlib (MD5 and SHA-256)."""

from __future__ import annotations

import hashlib

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
HEX_LEN = {"MD5": 32, "SHA-256": 64}


def _h(alg, text: str) -> str:
    return alg(text.encode("latin-1", "replace")).hexdigest()


def calc_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """H(username:realm:password)."""
    return _h(ALGORITHMS[algorithm], f"{username}:{realm}:{password}")


def calc_response(algorithm: str, ha1: str, nonce: str, nc: str, cnonce: str, qop: str,
                  method: str, uri: str, body: str | None = None) -> str:
    """The request-digest: H(HA1:nonce[:nc:cnonce:qop]:H(method:uri[:H(body)])).
    `body` is given for qop=auth-int. With no qop (RFC 2069) nc/cnonce are left out."""
    alg = ALGORITHMS[algorithm]
    a2 = f"{method}:{uri}"
    if body is not None:
        a2 += ":" + _h(alg, body)
    ha2 = _h(alg, a2)
    if qop:
        return _h(alg, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(alg, f"{ha1}:{nonce}:{ha2}")
