"""SDP (RFC 4566) as Kamailio's parse_sdp reads it: session level, then one block per m=.

Every line keeps its offsets into the body (start of "x=", end before the line end) and
the connection/media lines know where their address and port sit, so nathelper,
rtpproxy and rtpengine can rewrite c=/m=/a= through body lumps without re-serialising.
"""

from __future__ import annotations

from .errors import SipParseError


class SdpLine:
    __slots__ = ("type", "value", "start", "end")

    def __init__(self, type_, value, start, end):
        self.type = type_    # 'v', 'o', 'c', 'm', 'a' ...
        self.value = value   # after "x="
        self.start = start   # offset of the type letter in the body
        self.end = end       # offset of the line end (CR or LF) in the body

    @property
    def value_start(self) -> int:
        return self.start + 2

    def __repr__(self):
        return f"SdpLine({self.type}={self.value!r})"


class Connection:
    """c=<nettype> <addrtype> <address>[/ttl][/n]."""

    __slots__ = ("line", "nettype", "addrtype", "address", "address_start", "address_end")

    def __init__(self, line: SdpLine):
        parts = line.value.split(" ")
        if len(parts) != 3 or not all(parts):
            raise SipParseError("bad SDP c= line")
        self.line = line
        self.nettype, self.addrtype, addr = parts
        self.address = addr.split("/", 1)[0]
        self.address_start = line.value_start + len(parts[0]) + len(parts[1]) + 2
        self.address_end = self.address_start + len(self.address)

    def __repr__(self):
        return f"Connection({self.addrtype} {self.address})"


class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>."""

    __slots__ = ("line", "username", "sess_id", "sess_version", "nettype", "addrtype", "address")

    def __init__(self, line: SdpLine):
        parts = line.value.split(" ")
        if len(parts) != 6:
            raise SipParseError("bad SDP o= line")
        self.line = line
        (self.username, self.sess_id, self.sess_version, self.nettype, self.addrtype,
         self.address) = parts


class Attributes:
    """a= lines of one level: [(name, value|None)] plus lookup helpers."""

    __slots__ = ("lines", "items")

    def __init__(self):
        self.lines: list[SdpLine] = []
        self.items: list[tuple[str, str | None]] = []

    def add(self, line: SdpLine):
        v = line.value
        c = v.find(":")
        self.lines.append(line)
        self.items.append((v, None) if c < 0 else (v[:c], v[c + 1:]))

    def get(self, name: str) -> str | None:
        """The value of the first a=name:value; '' for a flag (a=sendonly); None if absent."""
        for n, v in self.items:
            if n == name:
                return "" if v is None else v
        return None

    def get_all(self, name: str) -> list[str]:
        return [("" if v is None else v) for n, v in self.items if n == name]

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self.items)


DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


class Media:
    """One m= block: m=<media> <port>[/<count>] <proto> <fmt> ..."""

    __slots__ = ("line", "media", "port", "port_count", "proto", "formats", "connection",
                 "attributes", "lines", "port_start", "port_end", "session")

    def __init__(self, line: SdpLine, session):
        parts = line.value.split(" ")
        if len(parts) < 3 or not all(parts[:3]):
            raise SipParseError("bad SDP m= line")
        self.line = line
        self.session = session
        self.media = parts[0]
        port = parts[1]
        slash = port.find("/")
        port_only = port if slash < 0 else port[:slash]
        if not port_only.isdigit() or not port_only.isascii() or int(port_only) > 65535:
            raise SipParseError("bad SDP media port")
        if slash >= 0 and not (port[slash + 1:].isdigit() and port[slash + 1:].isascii()):
            raise SipParseError("bad SDP port count")
        self.port = int(port_only)
        self.port_count = int(port[slash + 1:]) if slash >= 0 else 1
        self.port_start = line.value_start + len(parts[0]) + 1
        self.port_end = self.port_start + len(port_only)
        self.proto = parts[2]
        self.formats = parts[3:]
        self.connection: Connection | None = None
        self.attributes = Attributes()
        self.lines = [line]

    @property
    def effective_connection(self) -> Connection | None:
        """This media's c= line, else the session's."""
        return self.connection or self.session.connection

    @property
    def direction(self) -> str:
        for n, _ in self.attributes.items:
            if n in DIRECTIONS:
                return n
        return self.session.direction

    @property
    def rtpmap(self) -> dict[str, str]:
        """{payload type: 'PCMU/8000'}."""
        out = {}
        for v in self.attributes.get_all("rtpmap"):
            pt, _, enc = v.partition(" ")
            out[pt] = enc.strip()
        return out

    @property
    def rtcp(self) -> str | None:
        return self.attributes.get("rtcp")

    def __repr__(self):
        return f"Media({self.media} {self.port} {self.proto})"


class Sdp:
    __slots__ = ("text", "lines", "version", "origin", "session_name", "connection",
                 "times", "attributes", "medias")

    def __init__(self, text):
        self.text = text
        self.lines: list[SdpLine] = []
        self.version = None
        self.origin: Origin | None = None
        self.session_name = None
        self.connection: Connection | None = None
        self.times: list[str] = []
        self.attributes = Attributes()
        self.medias: list[Media] = []

    @property
    def direction(self) -> str:
        for n, _ in self.attributes.items:
            if n in DIRECTIONS:
                return n
        return "sendrecv"

    def connections(self) -> list[Connection]:
        """Every c= line, session first, then per media in order."""
        out = [self.connection] if self.connection else []
        out.extend(m.connection for m in self.medias if m.connection)
        return out

    def __repr__(self):
        return f"Sdp({len(self.medias)} media)"


def parse_sdp(body: str) -> Sdp:
    """Parse an SDP body (CRLF or LF line ends); raise SipParseError on a bad line."""
    sdp = Sdp(body)
    media = None
    pos = 0
    n = len(body)
    while pos < n:
        eol = body.find("\n", pos)
        if eol < 0:
            eol = n
        line_end = eol - 1 if eol > pos and body[eol - 1] == "\r" else eol
        if line_end > pos:
            if line_end - pos < 2 or body[pos + 1] != "=":
                raise SipParseError("bad SDP line")
            t = body[pos]
            line = SdpLine(t, body[pos + 2:line_end], pos, line_end)
            sdp.lines.append(line)
            if t == "m":
                media = Media(line, sdp)
                sdp.medias.append(media)
            elif media is not None:
                media.lines.append(line)
                if t == "c":
                    media.connection = Connection(line)
                elif t == "a":
                    media.attributes.add(line)
            elif t == "v":
                sdp.version = line.value
            elif t == "o":
                sdp.origin = Origin(line)
            elif t == "s":
                sdp.session_name = line.value
            elif t == "c":
                sdp.connection = Connection(line)
            elif t == "t":
                sdp.times.append(line.value)
            elif t == "a":
                sdp.attributes.add(line)
        pos = eol + 1
    if sdp.version is None:
        raise SipParseError("SDP without v= line")
    return sdp
