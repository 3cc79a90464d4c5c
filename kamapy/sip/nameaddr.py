"""name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1), like Kamailio's
parse_to_body: the body of From, To, Contact, Route, Record-Route, Path, Refer-To ...

`"Alice" <sip:alice@example.com>;tag=1928` -> display '"Alice"', uri 'sip:alice@...',
params [("tag", "1928")]. Without <...> the parameters after the URI belong to the
header, not to the URI (RFC 3261 §20.10), exactly as Kamailio reads them.
"""

from __future__ import annotations

from .errors import SipParseError
from .scan import WS, has_param, parse_params, skip_quoted, unquote
from .uri import SipUri, parse_uri


class NameAddr:
    __slots__ = ("text", "display", "uri", "params", "bracketed", "_parsed_uri")

    def __init__(self, text, display, uri, params, bracketed):
        self.text = text            # the whole element as written
        self.display = display      # as written (quotes kept), '' when none
        self.uri = uri              # the URI text
        self.params = params        # header parameters, ordered [(name, value|None)]
        self.bracketed = bracketed  # True when the URI was inside <...>
        self._parsed_uri = None

    @property
    def parsed_uri(self) -> SipUri:
        if self._parsed_uri is None:
            self._parsed_uri = parse_uri(self.uri)
        return self._parsed_uri

    @property
    def display_name(self) -> str:
        """The display name without quotes/escapes."""
        return unquote(self.display)

    @property
    def tag(self) -> str | None:
        """The tag parameter; None when absent (also when written as a bare ';tag')."""
        for n, v in self.params:  # find_param(self.params, "tag"), inlined
            if n == "tag" or n.lower() == "tag":
                return v
        return None

    def param(self, name: str) -> str | None:
        """A parameter's value; '' for a flag parameter; None when absent."""
        lname = name.lower()
        for n, v in self.params:
            if n.lower() == lname:
                return "" if v is None else v
        return None

    def has_param(self, name: str) -> bool:
        return has_param(self.params, name)

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"NameAddr({self.text!r})"


def parse_nameaddr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec (with its header params)."""
    s = 0
    e = len(text)
    while s < e and text[s] in WS:
        s += 1
    while e > s and text[e - 1] in WS:
        e -= 1
    if s == e:
        raise SipParseError("empty name-addr")
    whole = text[s:e]
    i = s
    display = ""
    if text[i] == '"':
        j = skip_quoted(text, i, e)
        display = text[i:j]
        i = j
        while i < e and text[i] in WS:
            i += 1
        if i >= e or text[i] != "<":
            raise SipParseError("quoted display name without <uri>")
    lt = text.find("<", i, e)
    if lt >= 0:
        if not display:
            display = text[i:lt].strip()
            if '"' in display or ">" in display:
                raise SipParseError("bad display name")
        gt = text.find(">", lt + 1, e)
        if gt < 0:
            raise SipParseError("unclosed <uri>")
        uri = text[lt + 1:gt].strip()
        rest = text[gt + 1:e]
        bracketed = True
    else:
        if ">" in text[i:e]:
            raise SipParseError("stray >")
        semi = text.find(";", i, e)
        if semi < 0:
            uri = text[i:e]
            rest = ""
        else:
            uri = text[i:semi].rstrip()
            rest = text[semi:e]
        if any(c in uri for c in " \t"):
            raise SipParseError("addr-spec with spaces")
        bracketed = False
    if not uri:
        raise SipParseError("empty uri")
    rest = rest.strip()
    if rest:
        if rest[0] != ";":
            raise SipParseError("junk after uri")
        params = parse_params(rest[1:])
    else:
        params = []
    return NameAddr(whole, display, uri, params, bracketed)
