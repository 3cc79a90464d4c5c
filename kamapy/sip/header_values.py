"""Bodies of the simple headers: Call-ID, Content-Length, Content-Type, Expires,
Max-Forwards, Event and the token lists (Supported, Require, Allow ...)."""

from __future__ import annotations

from .errors import SipParseError
from .scan import parse_int, parse_params, split_tokens


def parse_callid(value: str) -> str:
    v = value.strip()
    if not v or any(c in v for c in " \t\r\n"):
        raise SipParseError("bad Call-ID")
    return v


def parse_content_length(value: str) -> int:
    return parse_int(value, "Content-Length", 2**31 - 1)


def parse_expires(value: str) -> int:
    return parse_int(value, "Expires")


def parse_max_forwards(value: str) -> int:
    return parse_int(value, "Max-Forwards", 255)


class MediaType:
    """Content-Type: type/subtype;params."""

    __slots__ = ("type", "subtype", "params")

    def __init__(self, type_: str, subtype: str, params):
        self.type = type_
        self.subtype = subtype
        self.params = params

    @property
    def mime(self) -> str:
        """'application/sdp', lowercase."""
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        for n, v in self.params:
            if n.lower() == name.lower():
                return v
        return None

    def __str__(self):
        return self.mime

    def __repr__(self):
        return f"MediaType({self.mime!r})"


def parse_content_type(value: str) -> MediaType:
    semi = value.find(";")
    main = value if semi < 0 else value[:semi]
    slash = main.find("/")
    if slash <= 0:
        raise SipParseError("bad Content-Type")
    t = main[:slash].strip().lower()
    st = main[slash + 1:].strip().lower()
    if not t or not st or " " in t or " " in st:
        raise SipParseError("bad Content-Type")
    params = parse_params(value[semi + 1:]) if semi >= 0 else []
    return MediaType(t, st, params)


class Event:
    """Event: package[.template];id=...;params (RFC 6665)."""

    __slots__ = ("name", "params")

    def __init__(self, name, params):
        self.name = name
        self.params = params

    @property
    def id(self) -> str | None:
        for n, v in self.params:
            if n.lower() == "id":
                return v
        return None

    def __repr__(self):
        return f"Event({self.name!r})"


def parse_event(value: str) -> Event:
    semi = value.find(";")
    name = (value if semi < 0 else value[:semi]).strip()
    if not name or " " in name:
        raise SipParseError("bad Event")
    return Event(name, parse_params(value[semi + 1:]) if semi >= 0 else [])


def parse_token_list(values) -> list[str]:
    """Supported/Require/Allow ... over all headers of that name."""
    out = []
    for v in values:
        out.extend(split_tokens(v))
    return out
