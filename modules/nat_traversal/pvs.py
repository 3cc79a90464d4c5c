"""$source_uri and $keepalive.socket(endpoint) (Kamailio nat_traversal 5.6 README 7)."""

from __future__ import annotations

from kamapy.pv.base import Pv
from kamapy.pv.registry import PvDef
from kamapy.sip.msg import PROTO_NAMES, PROTO_UDP

from . import endpoints

_TRANSPORT = {"tcp": "tcp", "tls": "tls", "sctp": "sctp", "ws": "ws", "wss": "ws"}


class SourceUriPv(Pv):
    __slots__ = ()

    def get(self, msg):
        rcv = msg.rcv
        uri = endpoints.source_uri(rcv.src_ip, rcv.src_port)
        if rcv.proto != PROTO_UDP:
            t = _TRANSPORT.get(PROTO_NAMES.get(rcv.proto, ""))
            if t:
                uri += f";transport={t}"
        return uri


class KeepaliveSocketPv(Pv):
    """The local socket (proto:ip:port) an endpoint in the table is kept alive from;
    $null when it is not there. The name is a string or a PV."""

    __slots__ = ("inner", "inner_pv")

    def __init__(self, spec):
        super().__init__(spec)
        self.inner = spec.inner
        self.inner_pv = spec.inner_pv

    def get(self, msg):
        uri = self.inner_pv.get(msg) if self.inner_pv is not None else self.inner
        if uri is None:
            return None
        rec = endpoints.get(str(uri))
        return rec["s"] if rec else None


PVS = [PvDef("source_uri", SourceUriPv), PvDef("keepalive.socket", KeepaliveSocketPv, inner="required")]
