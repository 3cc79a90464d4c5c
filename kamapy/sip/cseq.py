"""CSeq: sequence number and method (RFC 3261 §20.16), like Kamailio's parse_cseq."""

from __future__ import annotations

from .errors import SipParseError
from .methods import method_id


class CSeq:
    __slots__ = ("num", "number", "method", "method_id")

    def __init__(self, num: int, number: str, method: str):
        self.num = num          # the number as int
        self.number = number    # as written (digits), what transaction keys hash
        self.method = method
        self.method_id = method_id(method)

    def __str__(self):
        return f"{self.number} {self.method}"

    def __repr__(self):
        return f"CSeq({self.num}, {self.method!r})"


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2:
        raise SipParseError("bad CSeq")
    number, method = parts
    if not number.isdigit() or not number.isascii() or len(number) > 10:
        raise SipParseError("bad CSeq number")
    num = int(number)
    if num >= 2**32:
        raise SipParseError("CSeq number out of range")
    if not method.isascii() or not method.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise SipParseError("bad CSeq method")
    return CSeq(num, number, method)
