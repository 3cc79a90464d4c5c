"""CSeq: sequence number and method (RFC 3261 §20.16), like Kamailio's parse_cseq.

Kamailio reads the number as a token, not as digits: "CSeq: eight INVITE", "-1" or a
number past 2^32 parse (sanity_check's cseq_value check is what refuses them), so the
message is routed and $cs gives the token as written. What fails is the shape: no
method, a line break between number and method, anything after the method."""

from __future__ import annotations

from .errors import SipParseError
from .methods import method_id

_SPACE = " \t"
_WS = " \t\r\n"
# RFC 3261 token characters besides letters and digits
_TOKEN_PUNCT = frozenset("-.!%*_+`'~")


class CSeq:
    __slots__ = ("num", "number", "method", "method_id")

    def __init__(self, num: int | None, number: str, method: str):
        self.num = num          # the number as int; None when not digits (Kamailio's str2int fails)
        self.number = number    # as written, what transaction keys hash
        self.method = method
        self.method_id = method_id(method)

    def __str__(self):
        return f"{self.number} {self.method}"

    def __repr__(self):
        return f"CSeq({self.num}, {self.method!r})"


def cseq_num(number: str) -> int | None:
    """The number as an int when it is 1..10 ASCII digits, else None."""
    if number.isdigit() and number.isascii() and len(number) <= 10:
        return int(number)
    return None


def _is_token(s: str) -> bool:
    return s.isascii() and all(c.isalnum() or c in _TOKEN_PUNCT for c in s)


def parse_cseq(value: str) -> CSeq:
    """value: the header body as received (folding kept; parse_cseq of the joined
    value cannot see a fold between the number and the method)."""
    v = value.strip(_WS)
    i = 0
    n = len(v)
    while i < n and v[i] not in _WS:
        i += 1
    number = v[:i]
    j = i
    while j < n and v[j] in _SPACE:  # spaces and tabs only: a line break ends it
        j += 1
    k = j
    while k < n and v[k] not in _WS:
        k += 1
    method = v[j:k]
    if not number or not method:
        raise SipParseError("bad CSeq: no method")
    if k < n:  # only LWS may follow the method, and v is stripped
        raise SipParseError("bad CSeq: junk after the method")
    if not _is_token(method):
        raise SipParseError("bad CSeq method")
    return CSeq(cseq_num(number), number, method)
