"""path: Path headers for REGISTERs that pass through us (RFC 3327; Kamailio: modules/path).

An intermediate proxy (an edge node, a load balancer) calls add_path() on a REGISTER
before relaying it to the registrar: the registrar stores the Path with the binding and
puts it back as the Route set of every request it later sends to that binding, so
those requests come back through us. add_path_received() also carries the address the
REGISTER came from (`;received=sip:ip:port`); with `use_received`, loose_route() on our
own Route entry sets $du to it, so we reach the UA through its NAT binding.

    Path: <sip:[user@]out-host[:port][;transport=x];lr[;received=...][;params][;r2=on]>

The host part is the socket the request leaves from, known only when it is built (a
computed lump, as rr's Record-Route); with enable_r2 a second header for the socket it
came in on follows. The header goes above the first Path already there, else at the
end of the headers -- where Kamailio puts it.

With the outbound module loaded (RFC 5626), add_path() and add_path_received() -- the
forms without a user -- put a flow token for the flow the REGISTER came on into the
user part when outbound applies to it (a first hop with ;reg-id in the Contact), and
;ob after ;lr when we are the first hop (a single Via), as Kamailio's handleOutbound:

    Path: <sip:FLOWTOKEN@edge:5060;transport=tcp;lr;ob>
"""

from __future__ import annotations

import logging
from urllib.parse import unquote

from kamapy_modules.rr import api as rr_api

from kamapy.module import REQUEST_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.pv.dset import ruri_mark_new
from kamapy.sip.errors import SipParseError
from kamapy.sip.lumps import ADD, Lump, anchor_lump
from kamapy.sip.msg import PROTO_SCTP, PROTO_TCP, PROTO_TLS, PROTO_UDP, PROTO_WS, PROTO_WSS

log = logging.getLogger("kamapy.path")

CRLF = "\r\n"

# how the transport of the received address is written in format 0 (escaped, since the
# value is itself a URI parameter)
_PROTO_SUFFIX = {PROTO_TCP: "%3Btransport%3Dtcp", PROTO_TLS: "%3Btransport%3Dtls",
                 PROTO_SCTP: "%3Btransport%3Dsctp", PROTO_WS: "%3Btransport%3Dws",
                 PROTO_WSS: "%3Btransport%3Dws"}
_PROTO_BY_ID = {PROTO_UDP: "udp", PROTO_TCP: "tcp", PROTO_TLS: "tls", PROTO_SCTP: "sctp",
                PROTO_WS: "ws", PROTO_WSS: "wss"}


class _Settings:
    use_received = 0
    received_format = 0
    received_name = "received"
    enable_r2 = 0
    sockname_mode = 0


settings = _Settings()


def _hostport(msg, si, inbound: bool) -> str:
    out = rr_api.socket_hostport(msg, si, inbound)
    if settings.sockname_mode and si is not None and getattr(si, "name", None):
        out += ";sn=" + si.name
    return out


class PathLump(Lump):
    """The Path line(s), rendered when the message is built (the outgoing socket)."""

    __slots__ = ("msg", "prefix", "suffix")

    def __init__(self, msg, prefix: str, suffix: str):
        self.msg, self.prefix, self.suffix = msg, prefix, suffix
        super().__init__(ADD, 0, 0, "", "path")

    @property
    def text(self):
        msg = self.msg
        out = self.prefix + _hostport(msg, rr_api.predicted_send_socket(msg), False) + self.suffix
        if settings.enable_r2:
            out += self.prefix + _hostport(msg, msg.rcv.sock, True) + self.suffix
        return out

    @text.setter
    def text(self, _value):
        pass

    def clone(self):
        c = PathLump(self.msg, self.prefix, self.suffix)
        c.offset, c.length, c.kind = self.offset, self.length, self.kind
        return c


def _received(msg) -> str:
    rcv = msg.rcv
    ip = rcv.src_ip
    if ":" in ip and not ip.startswith("["):
        ip = f"[{ip}]"
    if settings.received_format == 0:
        return f";{settings.received_name}=sip:{ip}:{rcv.src_port}{_PROTO_SUFFIX.get(rcv.proto, '')}"
    return f";{settings.received_name}={ip}~{rcv.src_port}~{rcv.proto}"


class _ObBinding:
    __slots__ = ("api",)

    def __init__(self):
        self.api = None  # outbound's ObApi (path_obb), or None


obb = _ObBinding()


def _outbound_user(msg):
    """(flow token, first hop?) when outbound applies, ('', False) when not, None on error."""
    api = obb.api
    if api is None or not api.use_outbound(msg):
        return "", False
    try:
        token = api.encode_flow_token(msg.rcv)
    except ValueError as e:
        log.error("encoding outbound flow-token: %s", e)
        return None
    try:
        first_hop = msg.via2 is None
    except SipParseError:
        first_hop = True
    return token, first_hop


def prepend_path(msg, user: str | None, received: bool, params: str | None,
                 ob: bool = False) -> int:
    suffix = ";lr"
    if received:
        suffix += _received(msg)
    if ob:
        suffix += ";ob"
    if params:
        suffix += ";" + params
    suffix += (";r2=on" if settings.enable_r2 else "") + ">" + CRLF
    prefix = "Path: <sip:" + (user + "@" if user else "")
    first = msg.get_header("path")
    offset = first.start if first is not None else msg.eoh
    anchor = anchor_lump(msg, offset, "path")
    lump = PathLump(msg, prefix, suffix)
    lump.offset = anchor.offset
    lump.before = anchor.before
    anchor.before = lump
    return 1


def _add(msg, user, params, received: bool) -> int:
    if user is None and params is None:  # add_path() / add_path_received(): outbound may apply
        got = _outbound_user(msg)
        if got is None:
            return -1
        token, first_hop = got
        return prepend_path(msg, token or None, received, None, ob=first_hop and bool(token))
    return prepend_path(msg, user, received, params)


def w_add_path(msg, user=None, params=None) -> int:
    return _add(msg, user, params, False)


def w_add_path_received(msg, user=None, params=None) -> int:
    return _add(msg, user, params, True)


# ------------------------------------------------------------------ use_received
def _param_value(params: str, name: str) -> str | None:
    name = name.lower()
    for part in params.split(";"):
        key, eq, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip() if eq else ""
    return None


def received_dst_uri(value: str) -> str | None:
    """The $du a received parameter's value stands for (None: malformed)."""
    if settings.received_format == 0:
        return unquote(value, encoding="latin-1")
    parts = value.split("~")
    if len(parts) != 3 or not parts[2][:1].isdigit():
        log.error("invalid received format")
        return None
    proto = int(parts[2][0])
    if proto == PROTO_UDP:
        return f"sip:{parts[0]}:{parts[1]}"
    name = _PROTO_BY_ID.get(proto)
    if name is None:
        log.error("unknown proto in received param")
        return None
    return f"sip:{parts[0]}:{parts[1]};transport={name}"


def rr_callback(msg, params: str, _param=None):
    """loose_route() handled our own Route entry: its received parameter, if any,
    becomes the destination (Kamailio's path_rr_callback)."""
    value = _param_value(params or "", settings.received_name)
    if not value:
        return
    dst = received_dst_uri(value)
    if dst is None:
        return
    msg.dst_uri = dst
    ruri_mark_new(msg)  # a new branch for t_relay


def _check_format(value):
    if value not in (0, 1):
        raise ValueError("received_format is 0 or 1")


def mod_init():
    v = exports.values
    settings.use_received = v["use_received"]
    settings.received_format = v["received_format"]
    settings.received_name = v["received_name"] or "received"
    settings.enable_r2 = v["enable_r2"]
    settings.sockname_mode = v["sockname_mode"]
    from kamapy.loader import bind_api, loaded
    obb.api = bind_api("outbound") if loaded("outbound") else None  # ob_load_api(&path_obb)
    if settings.use_received:
        from kamapy.loader import loaded
        if not loaded("rr"):
            log.error("failed to load rr-API (use_received needs the rr module loaded)")
            return -1
        rr_api.register_rrcb(rr_callback)
    return 0


_ARGS = (Arg("spve", optional=True), Arg("spve", optional=True))

exports = ModuleExports(
    name="path",
    params=[
        Param("use_received", int, 0),
        Param("received_format", int, 0, validate=_check_format),
        Param("received_name", str, "received"),
        Param("enable_r2", int, 0),
        Param("sockname_mode", int, 0),
    ],
    functions=[
        Function("add_path", w_add_path, _ARGS, REQUEST_ROUTE),
        Function("add_path_received", w_add_path_received, _ARGS, REQUEST_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
