"""rr's pseudo-variables: $route_uri, $fti / $tti (the tags of the dialog's initial
request, whichever way this request flows) and $rdir(id|name)."""

from __future__ import annotations

from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.pv.registry import PvDef
from kamapy.sip.errors import SipParseError

from .route_params import RR_FLOW_DOWNSTREAM, flow_direction
from .route_set import first_route


class RouteUriPv(Pv):
    """$route_uri: the URI of the first Route entry as received."""

    __slots__ = ()

    def get(self, msg):
        entry = first_route(msg)
        return entry.uri_text if entry is not None else None


def _initial_tag(msg, from_side: bool):
    try:
        downstream = flow_direction(msg) == RR_FLOW_DOWNSTREAM
        hdr = msg.from_hdr if downstream == from_side else msg.to_hdr
        return hdr.tag
    except SipParseError:
        return None


class FromTagInitialPv(Pv):
    __slots__ = ()

    def get(self, msg):
        return _initial_tag(msg, True)


class ToTagInitialPv(Pv):
    __slots__ = ()

    def get(self, msg):
        return _initial_tag(msg, False)


class DirectionPv(Pv):
    """$rdir(id): 1 downstream, 2 upstream; $rdir(name): "downstream"/"upstream"."""

    __slots__ = ("as_name",)

    def __init__(self, spec):
        super().__init__(spec)
        inner = (spec.inner or "").strip()
        if inner not in ("id", "name"):
            raise PvError(f"$rdir takes id or name, not {inner!r}", 0)
        self.as_name = inner == "name"

    def get(self, msg):
        direction = flow_direction(msg)
        if self.as_name:
            return "downstream" if direction == RR_FLOW_DOWNSTREAM else "upstream"
        return direction


PVS = [
    PvDef("route_uri", RouteUriPv),
    PvDef("fti", FromTagInitialPv),
    PvDef("tti", ToTagInitialPv),
    PvDef("rdir", DirectionPv, inner="required"),
]
