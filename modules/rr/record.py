"""Record-Route headers (Kamailio: rr record.c): record_route(), record_route_preset(),
record_route_advertised_address(), add_rr_param(), remove_record_route().

The header is `Record-Route: <sip:[user@]host[:port][;transport=x][;r2=on];lr[;ftag=tag]
[params]>`, placed above the first header (and so above the Via we add when sending),
host and port being those of the socket the request arrived on (its advertised address
if it has one; port left out when 5060).

Double record-routing (enable_double_rr): when the request leaves from another socket
than it came in on, a second Record-Route for the outgoing socket goes on top and both
carry ;r2=on (2: always both). The outgoing socket is only known when the message is
built, so then the header text is computed at that moment (RecordRouteLump).
"""

from __future__ import annotations

import logging
import socket

from kamapy.runtime import rt
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import ADD, Lump, anchor_lump
from kamapy.sip.msg import PROTO_NAMES, PROTO_TCP, PROTO_TLS, PROTO_UDP, PROTO_WS, PROTO_WSS

from .outbound import record_route_user
from .route_params import RR_FLOW_UPSTREAM, is_direction
from .settings import settings

log = logging.getLogger("kamapy.rr")

STATE_KEY = "rr.state"
CRLF = "\r\n"



class RecordRoute:
    """What one record_route*() call asked for; renders the header line(s)."""

    __slots__ = ("scheme", "user", "host", "ftag", "params", "extra_params", "double", "removed")

    def __init__(self, scheme, user, host, ftag, params, double):
        self.scheme = scheme        # "sip" or "sips"
        self.user = user            # '' or the user part
        self.host = host            # None: the sockets'; else a fixed "host[:port][;params]"
        self.ftag = ftag            # '' or the tag
        self.params = params        # the call's own ";a=b" params
        self.extra_params = ""      # add_rr_param() before or after the call
        self.double = double        # 0 no, 1 when the sockets differ, 2 always
        self.removed = False

    def _line(self, hostport: str, r2: bool, preset: bool = False) -> str:
        prefix = f"Record-Route: <{self.scheme}:" + (self.user + "@" if self.user else "")
        tag = ";ftag=" + self.ftag if self.ftag else ""
        if preset:  # Kamailio's preset puts ;lr after the params
            return f"{prefix}{hostport}{tag}{self.extra_params}{settings.lr}>{CRLF}"
        return (f"{prefix}{hostport}{';r2=on' if r2 else ''}{settings.lr}{tag}"
                f"{self.params}{self.extra_params}>{CRLF}")

    def render(self, msg, send_sock=None) -> str:
        if self.removed:
            return ""
        if self.host is not None:
            return self._line(self.host, False, preset=self.double < 0)
        inbound = msg.rcv.sock
        two = self.double == 2 or (self.double == 1 and send_sock is not None
                                   and inbound is not None and send_sock is not inbound)
        line = self._line(socket_hostport(msg, inbound, True), two)
        if two:
            return self._line(socket_hostport(msg, send_sock, ws_out=_to_websocket(msg)), True) + line
        return line

    @property
    def depends_on_send_socket(self) -> bool:
        return self.host is None and self.double == 1 and len(rt.sockets) > 1


class RecordRouteLump(Lump):
    """A text lump whose text is rendered when the message is built, for the
    Record-Route that depends on the socket the request leaves from."""

    __slots__ = ("msg", "rr")

    def __init__(self, msg, rr: RecordRoute):
        self.msg = msg
        self.rr = rr
        super().__init__(ADD, 0, 0, "", "record-route")

    @property
    def text(self):
        return self.rr.render(self.msg, predicted_send_socket(self.msg))

    def clone(self):
        c = RecordRouteLump(self.msg, self.rr)  # RrState.branch_copy() gives it its own rr
        c.offset, c.length, c.kind = self.offset, self.length, self.kind
        return c

    @text.setter
    def text(self, _value):
        pass


def socket_hostport(msg, si, inbound: bool = False, ws_out: bool = False) -> str:
    """host[:port][;transport=x] of a listen socket as a Record-Route shows it. The
    inbound one of a request that came over a WebSocket says transport=ws (ws and
    wss alike), as Kamailio's SUBST_RCV_PROTO writes it; so does the outbound one of
    a request going to a ws/wss next hop from a TCP/TLS socket (`ws_out`, SUBST_SND_*)."""
    host = msg.advertised_address  # set_advertised_address() for this message
    port = msg.advertised_port
    if si is None:
        proto = msg.rcv.proto
        host = host or msg.rcv.dst_ip
        port = port or msg.rcv.dst_port
    else:
        proto = si.proto
        if host is None:
            host = si.via_host
            if not si.advertise_host and rt.core is not None and getattr(rt.core, "advertised_address", None):
                host = rt.core.advertised_address
        port = port or si.via_port
    if ":" in host and host[:1] != "[":
        host = f"[{host}]"
    out = host if str(port) in ("", "0", "5060") else f"{host}:{port}"
    if (inbound and msg.rcv.proto in (PROTO_WS, PROTO_WSS)) or (ws_out and proto in (PROTO_TCP, PROTO_TLS)):
        out += ";transport=ws"
    elif proto not in (0, PROTO_UDP):
        out += ";transport=" + PROTO_NAMES.get(proto, "udp")
    return out


def _to_websocket(msg) -> bool:
    """The request's next hop is a ws/wss one ($du or R-URI transport=ws/wss)."""
    from kamapy.sip.next_hop import next_hop
    try:
        return next_hop(msg)[0] in ("ws", "wss")
    except (SipParseError, ValueError):
        return False


def predicted_send_socket(msg):
    """The socket the request will leave from (UDP: the forced one, else the first
    socket of the next hop's address family -- kamapy.net.send.choose_socket)."""
    from kamapy.net.socket_info import SocketInfo
    from kamapy.sip.msg import PROTO_IDS
    from kamapy.sip.next_hop import next_hop

    forced = msg.force_send_socket
    if isinstance(forced, SocketInfo):
        return forced
    try:
        proto, host, _port = next_hop(msg)
    except (SipParseError, ValueError):
        return msg.rcv.sock
    af = socket.AF_INET6 if ":" in host else socket.AF_INET
    return rt.first_socket(PROTO_IDS.get(proto, PROTO_UDP), af) or msg.rcv.sock


# ------------------------------------------------------------------ per-message state
class RrState:
    __slots__ = ("pending_params", "added")

    def __init__(self):
        self.pending_params = ""  # add_rr_param() before any record_route*()
        self.added: list[tuple[RecordRoute, Lump]] = []

    def branch_copy(self, lump_map: dict):
        """This state for one tm branch, over the branch's copies of the lumps
        (lump_map: id(original) -> copy): an add_rr_param() in branch_route changes
        that branch's Record-Route only, as Kamailio's branch lumps do."""
        s = RrState()
        s.pending_params = self.pending_params
        for rr, lump in self.added:
            rr2 = RecordRoute(rr.scheme, rr.user, rr.host, rr.ftag, rr.params, rr.double)
            rr2.extra_params, rr2.removed = rr.extra_params, rr.removed
            copy = lump_map.get(id(lump), lump)
            if isinstance(copy, RecordRouteLump):
                copy.rr = rr2
            s.added.append((rr2, copy))
        return s


def _state(msg) -> RrState:
    state = msg.module_data.get(STATE_KEY)
    if state is None:
        state = msg.module_data[STATE_KEY] = RrState()
    return state


def _scheme(msg) -> str:
    if settings.ignore_sips:
        return "sip"
    try:
        return "sips" if msg.parsed_ruri.scheme == "sips" else "sip"
    except SipParseError:
        return "sip"


def _username(msg) -> str | None:
    """The Record-Route's user part: the R-URI user with add_username, a flow token
    when outbound applies ('' for none; None: the token could not be made)."""
    if not settings.add_username:
        return record_route_user(msg)
    if settings.custom_user_pv is not None:
        value = settings.custom_user_pv.get(msg)
        if value not in (None, ""):
            return str(value)
    try:
        return msg.parsed_ruri.user
    except SipParseError:
        return ""


def _attach(msg, rr: RecordRoute) -> Lump:
    """Put the Record-Route text above the first header."""
    anchor = anchor_lump(msg, msg.first_header_start, "record-route")
    if rr.depends_on_send_socket:
        lump = RecordRouteLump(msg, rr)
    else:
        lump = Lump(ADD, anchor.offset, 0, rr.render(msg), "record-route")
    lump.offset = anchor.offset
    lump.before = anchor.before
    anchor.before = lump
    return lump


def _add(msg, rr: RecordRoute):
    state = _state(msg)
    rr.extra_params = state.pending_params
    state.pending_params = ""
    lump = _attach(msg, rr)
    state.added.append((rr, lump))


def _ftag(msg) -> str | None:
    """The ;ftag= value with append_fromtag: the From tag, or the To tag of a request
    going upstream ('' without append_fromtag; None: From/To unparsable, logged)."""
    if not settings.append_fromtag:
        return ""
    try:
        return (msg.to_tag if is_direction(msg, RR_FLOW_UPSTREAM) else msg.from_tag) or ""
    except SipParseError as e:
        log.error("From/To parsing failed: %s", e)
        return None


def _record(msg, host: str | None, params: str, double: int) -> int:
    """A Record-Route with our user part and ftag (-1: no user part, -2: no ftag)."""
    user = _username(msg)
    if user is None:
        return -1
    ftag = _ftag(msg)
    if ftag is None:
        return -2
    _add(msg, RecordRoute(_scheme(msg), user, host, ftag, params, double))
    return 0


def record_route(msg, params: str | None = None) -> int:
    return _record(msg, None, params or "", settings.enable_double_rr)


def record_route_preset(msg, data: str) -> int:
    user = _username(msg)
    if user is None:
        return -1
    ftag = ""
    if settings.append_fromtag:
        try:
            ftag = msg.from_hdr.tag or ""
        except SipParseError as e:
            log.error("From parsing failed: %s", e)
            return -2
    if data.lower().startswith(("sip:", "sips:")):
        data = data.split(":", 1)[1]  # the scheme is ours to choose
    rr = RecordRoute(_scheme(msg), user, data, ftag, "", -1)
    _add(msg, rr)
    return 0


def record_route_advertised_address(msg, address: str) -> int:
    # with a single transport the "other side" always has the same address: one header
    return _record(msg, address, "", 0)


def add_rr_param(msg, param: str) -> int:
    """Add ';name=value' to the Record-Route(s) of this message, before or after
    record_route()."""
    if not param:
        return -1
    if param[0] != ";":
        param = ";" + param
    state = _state(msg)
    if not state.added:
        state.pending_params += param
        return 0
    for rr, _lump in state.added:
        rr.extra_params += param
    _rerender(msg)
    return 0


def remove_record_route(msg) -> int:
    state = _state(msg)
    for rr, _lump in state.added:
        rr.removed = True
    state.pending_params = ""
    _rerender(msg)
    return 1


def _rerender(msg):
    for rr, lump in _state(msg).added:
        if not isinstance(lump, RecordRouteLump):
            lump.text = rr.render(msg)


def record_routed(msg) -> bool:
    state = msg.module_data.get(STATE_KEY)
    return bool(state and any(not rr.removed for rr, _ in state.added))
