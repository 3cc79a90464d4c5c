"""String tests and request-line tests (Kamailio textops): is_method, cmp_str,
cmp_istr, starts_with, ends_with, str_find, in_list, is_privacy.

Return codes as Kamailio: cmp_str 1 equal, -1 first greater, -2 first smaller.
"""

from __future__ import annotations

from kamapy.sip.errors import SipParseError
from kamapy.sip.methods import METHOD_IDS, METHOD_OTHER
from kamapy.sip.msg import REQUEST


class MethodSet:
    """is_method's argument, resolved at load time: a bit mask plus other names."""

    __slots__ = ("mask", "others")

    def __init__(self, spec: str):
        self.mask = 0
        self.others = set()
        for name in spec.split("|"):
            name = name.strip()
            if not name:
                raise ValueError(f"bad method list {spec!r}")
            bit = METHOD_IDS.get(name.upper())
            if bit is None:
                self.others.add(name.upper())
            else:
                self.mask |= bit


def is_method(msg, methods: MethodSet) -> int:
    if msg.type == REQUEST:
        mid = msg.method_id
        if mid != METHOD_OTHER:  # a known method: its bit answers (every request of the bench)
            return 1 if mid & methods.mask else -1
        name = msg.method
    else:
        try:
            cseq = msg.cseq
        except SipParseError:
            return -1
        mid, name = cseq.method_id, cseq.method
    if mid & methods.mask and mid != METHOD_OTHER:
        return 1
    return 1 if mid == METHOD_OTHER and name.upper() in methods.others else -1


def _inline_is_method(methods: MethodSet):
    """is_method's answer to a request as an expression for the config's generated call
    (kamapy.cfg.compiler._make_call), in the caller's frame: its method bit against the
    mask; a reply (method_id 0: its CSeq decides) calls is_method. Only for a list of
    known names: then an unknown method (METHOD_OTHER, a bit no name maps to) is -1
    there as here; a list with other names needs them compared."""
    if methods.others:
        return None
    return "(1 if k_m & k_mask else -1) if (k_m := msg.method_id) else handler(msg, a0)", {"k_mask": methods.mask}


is_method.inline = _inline_is_method


def _cmp(a: str, b: str) -> int:
    if a == b:
        return 1
    return -1 if a > b else -2


def cmp_str(msg, a: str, b: str) -> int:
    return _cmp(a, b)


def cmp_istr(msg, a: str, b: str) -> int:
    return _cmp(a.lower(), b.lower())


def starts_with(msg, text: str, prefix: str) -> int:
    if len(text) < len(prefix):
        return -1
    return _cmp(text[:len(prefix)], prefix)


def ends_with(msg, text: str, suffix: str) -> int:
    if len(text) < len(suffix):
        return -1
    return _cmp(text[len(text) - len(suffix):], suffix)


def str_find(msg, text: str, needle: str) -> int:
    """1 + the position of needle in text, -1 when absent."""
    i = text.find(needle) if needle else -1
    return i + 1 if i >= 0 else -1


def str_ifind(msg, text: str, needle: str) -> int:
    return str_find(msg, text.lower(), needle.lower())


def in_list(msg, subject: str, items: str, separator: str) -> int:
    sep = separator[:1] or ","
    return 1 if any(subject == part.strip() for part in items.split(sep)) else -1


def in_list_prefix(msg, subject: str, items: str, separator: str) -> int:
    sep = separator[:1] or ","
    return 1 if any(p.strip() and subject.startswith(p.strip()) for p in items.split(sep)) else -1


PRIVACY_VALUES = ("user", "header", "session", "none", "critical", "id", "history")


def is_privacy(msg, value: str) -> int:
    wanted = value.strip().lower()
    for hf in msg.get_headers("privacy"):
        for token in hf.value.replace(",", ";").split(";"):
            if token.strip().lower() == wanted:
                return 1
    return -1


def privacy_value(value) -> str:
    if str(value).strip().lower() not in PRIVACY_VALUES:
        raise ValueError(f"unknown privacy value {value!r}")
    return str(value)
