"""The Contact header: '*' or a list of name-addrs with expires, q, +sip.instance, reg-id
(RFC 3261 §20.10, RFC 5626), like Kamailio's parse_contact.

A message may carry several Contact headers, each with several comma-separated
contacts; `Contacts.contacts` holds them all in order.
"""

from __future__ import annotations

from .errors import SipParseError
from .nameaddr import NameAddr, parse_nameaddr
from .scan import find_param, split_commas, unquote


class Contact(NameAddr):
    __slots__ = ("hf", "start", "end")

    @property
    def expires(self) -> int | None:
        """The expires parameter as int; None when absent or not a number."""
        v = find_param(self.params, "expires")
        if v is None or not v.isdigit() or not v.isascii():
            return None
        return min(int(v), 2**32 - 1)

    @property
    def q(self) -> float | None:
        """The q parameter (0..1); None when absent or invalid."""
        v = find_param(self.params, "q")
        if v is None:
            return None
        try:
            q = float(v)
        except ValueError:
            return None
        return q if 0.0 <= q <= 1.0 else None

    @property
    def instance(self) -> str | None:
        """+sip.instance without its quotes: '<urn:uuid:...>'."""
        v = find_param(self.params, "+sip.instance")
        return unquote(v) if v is not None else None

    @property
    def reg_id(self) -> int | None:
        v = find_param(self.params, "reg-id")
        return int(v) if v is not None and v.isdigit() and v.isascii() and len(v) < 10 else None

    @property
    def methods(self) -> str | None:
        v = find_param(self.params, "methods")
        return unquote(v) if v is not None else None


class Contacts:
    """All Contact headers of a message: `star` or `contacts`."""

    __slots__ = ("star", "contacts")

    def __init__(self, star: bool, contacts: list[Contact]):
        self.star = star
        self.contacts = contacts

    def __iter__(self):
        return iter(self.contacts)

    def __len__(self):
        return len(self.contacts)

    def __bool__(self):
        return self.star or bool(self.contacts)


def parse_contact_value(value: str) -> tuple[bool, list[Contact]]:
    """One Contact header body: (is_star, contacts)."""
    # the common form, one plain `<uri>` (no display name, params or second contact):
    # what parse_nameaddr gives for it, without the general scan
    n = len(value)
    if n > 2 and value[0] == "<" and value.find(">") == n - 1 and "," not in value \
            and '"' not in value and value.find("<", 1) < 0:
        uri = value[1:-1].strip()
        if uri:
            c = Contact(value, "", uri, [], True)
            c.hf = None
            c.start = 0
            c.end = n
            return False, [c]
    v = value.strip()
    if v == "*":
        return True, []
    out = []
    for s, e in split_commas(value):
        na = parse_nameaddr(value[s:e])
        c = Contact(na.text, na.display, na.uri, na.params, na.bracketed)
        c.hf = None
        c.start = s
        c.end = e
        out.append(c)
    if not out:
        raise SipParseError("empty Contact")
    return False, out


def parse_contacts(headers) -> Contacts:
    """Contacts from a list of Contact HeaderFields ('*' must stand alone, RFC 3261 §10.2.2)."""
    star = False
    contacts: list[Contact] = []
    for hf in headers:
        parsed = hf.parsed
        if parsed is None:
            parsed = hf.parsed = parse_contact_value(hf.value)
        is_star, lst = parsed
        if is_star:
            star = True
        for c in lst:
            c.hf = hf
        contacts.extend(lst)
    if star and (contacts or len(headers) > 1):
        raise SipParseError("Contact: * mixed with other contacts")
    return Contacts(star, contacts)
