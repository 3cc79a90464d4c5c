"""name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1), like Kamailio's
parse_to_body: the body of From, To, Contact, Route, Record-Route, Path, Refer-To ...

`"Alice" <sip:alice@example.com>;tag=1928` -> display '"Alice"', uri 'sip:alice@...',
params [("tag", "1928")]. Without <...> the parameters after the URI belong to the
header, not to the URI (RFC 3261 §20.10), exactly as Kamailio reads them.
"""

from __future__ import annotations

from .errors import SipParseError
from .scan import WS, has_param, param_method, parse_params, skip_quoted, unquote
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

    param = param_method  # one function for both classes, no extra call

    def has_param(self, name: str) -> bool:
        return has_param(self.params, name)

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"NameAddr({self.text!r})"


def parse_nameaddr(text: str) -> NameAddr:
    """Parse one name-addr or addr-spec (with its header params)."""
    return _parse(text, False)


def parse_to_body(text: str) -> NameAddr:
    """parse_nameaddr with the stricter rules of Kamailio's To/From body parser
    (parse_to / parse_addr_spec), for From and To: no blank inside <uri>, no empty
    parameter (';;', a trailing ';'), no blank inside a parameter name or value, a ','
    only in the tag's value; a NUL after a complete addr-spec or parameter ends the
    body there, one anywhere else (display name, <uri>, quoted value) is an error."""
    z = text.find("\0")
    if z >= 0:
        text = _cut_at_nul(text, z)
    return _parse(text, True)


def _cut_at_nul(text: str, z: int) -> str:
    head = text[:z]
    i = 0
    quoted = False
    while i < z:  # inside a quoted string at the NUL?
        c = head[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        i += 1
    if quoted or head.rfind("<") > head.rfind(">"):
        raise SipParseError("NUL inside the name-addr")
    return head


def _check_strict_params(rest: str) -> None:
    """rest: the header parameters after the URI, starting with ';'."""
    i = 1
    n = len(rest)
    while True:
        # one parameter: name [= value], up to the next ';' outside quotes
        j = i
        while j < n and rest[j] not in ';="':
            j += 1
        name = rest[i:j].strip(WS)
        if not name or any(c in name for c in " \t,"):
            raise SipParseError("bad header parameter name")
        if j < n and rest[j] == '"':
            raise SipParseError("quote in a header parameter name")
        if j < n and rest[j] == "=":
            k = j + 1
            while k < n and rest[k] in WS:
                k += 1
            if k < n and rest[k] == '"':
                k = skip_quoted(rest, k, n)
                while k < n and rest[k] in WS:
                    k += 1
                if k < n and rest[k] != ";":
                    raise SipParseError("junk after a quoted parameter value")
                j = k
            else:
                j = k
                while j < n and rest[j] != ";":
                    j += 1
                value = rest[k:j].rstrip(WS)
                if any(c in value for c in ' \t="'):
                    raise SipParseError("bad header parameter value")
                # a ',' is kept in the tag's value only (some user agents put one there)
                if "," in value and name.lower() != "tag":
                    raise SipParseError("',' in a header parameter value")
        if j >= n:
            return
        i = j + 1


def _parse(text: str, strict: bool) -> NameAddr:
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
        if strict and any(c in uri for c in " \t"):
            raise SipParseError("blank inside <uri>")
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
        if strict:
            _check_strict_params(rest)
        params = parse_params(rest[1:])
    else:
        params = []
    return NameAddr(whole, display, uri, params, bracketed)
