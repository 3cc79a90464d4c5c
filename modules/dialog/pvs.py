"""dialog's pseudo-variables: $DLG_count, $DLG_status, $DLG_lifetime, $dlg(attr),
$dlg_ctx(attr), $dlg_var(key) (Kamailio: dlg_var.c). They read the current dialog of
the message: the one dlg_manage() made or matched, or loose_route() matched."""

from __future__ import annotations

from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.pv.registry import PvDef

from .handlers import ROUTE_KEY, current
from .store import store

DLG_ATTRS = ("ref", "h_id", "state", "to_rs", "dflags", "sflags", "callid", "to_uri",
             "to_tag", "toroute", "to_cseq", "from_rs", "h_entry", "from_uri", "from_tag",
             "lifetime", "start_ts", "from_cseq", "to_contact", "to_bindaddr",
             "from_contact", "from_bindaddr")
CTX_ATTRS = ("on", "set", "dir", "flags", "timeout", "timeout_bye", "timeout_route",
             "timeout_route_id")
CTX_KEY = "dlg.ctx"


def ctx(msg) -> dict:
    c = msg.module_data.get(CTX_KEY)
    if c is None:
        c = msg.module_data[CTX_KEY] = {}
    return c


class CountPv(Pv):
    __slots__ = ()

    def get(self, msg):
        from . import stats
        return stats.get("active_dialogs")


class StatusPv(Pv):
    __slots__ = ()

    def get(self, msg):
        # only a sequential request that loose_route() matched has one, as in Kamailio
        r = msg.module_data.get(ROUTE_KEY)
        return r[0] if r is not None else None


class LifetimePv(Pv):
    __slots__ = ()

    def get(self, msg):
        r = msg.module_data.get(ROUTE_KEY)
        return r[1] if r is not None else None


def _dlg_attr(d, name):
    v = {
        "ref": d.ref, "h_id": d.h_id, "h_entry": d.h_entry, "state": d.state,
        "dflags": d.dflags, "sflags": d.sflags, "callid": d.callid,
        "from_uri": d.from_uri, "to_uri": d.to_uri, "from_tag": d.tag[0], "to_tag": d.tag[1],
        "toroute": d.toroute, "lifetime": d.lifetime, "start_ts": d.start_ts,
        "from_cseq": d.cseq[0], "to_cseq": d.cseq[1], "from_rs": d.route_set[0],
        "to_rs": d.route_set[1], "from_contact": d.contact[0], "to_contact": d.contact[1],
        "from_bindaddr": d.socket[0], "to_bindaddr": d.socket[1],
    }[name]
    if v == "" and name in ("to_tag", "to_cseq", "to_rs", "from_rs", "to_contact",
                            "to_bindaddr", "toroute"):
        return None
    return v


class DlgPv(Pv):
    __slots__ = ("attr",)

    def __init__(self, spec):
        super().__init__(spec)
        self.attr = (spec.inner or "").strip()
        if self.attr not in DLG_ATTRS:
            raise PvError(f"unknown $dlg attribute {self.attr!r} (one of {', '.join(DLG_ATTRS)})", 0)

    def get(self, msg):
        d = current(msg)
        return _dlg_attr(d, self.attr) if d is not None else None


class DlgCtxPv(Pv):
    __slots__ = ("attr",)
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        self.attr = (spec.inner or "").strip()
        if self.attr not in CTX_ATTRS:
            raise PvError(f"unknown $dlg_ctx attribute {self.attr!r} (one of {', '.join(CTX_ATTRS)})", 0)

    def get(self, msg):
        c = ctx(msg)
        if self.attr == "set":
            return 1 if current(msg) is not None else 0
        if self.attr == "dir":
            return c.get("dir", 0)
        if self.attr == "timeout_route":
            return c.get("timeout_route") or None
        return c.get(self.attr, 0)

    def set(self, msg, value):
        if self.attr in ("set", "dir"):
            raise PvError(f"$dlg_ctx({self.attr}) is read-only")
        c = ctx(msg)
        if self.attr == "timeout_route":
            c[self.attr] = "" if value is None else str(value)
            return
        try:
            n = 0 if value is None else int(value)
        except (TypeError, ValueError):
            raise PvError(f"$dlg_ctx({self.attr}) takes an integer") from None
        c[self.attr] = n
        if self.attr == "timeout":
            from .timeouts import set_timeout
            d = current(msg)
            if d is not None:
                set_timeout(d.h_entry, d.h_id, n)


class DlgVarPv(Pv):
    """$dlg_var(key): stored in the dialog record (shm), so every process sees it."""

    __slots__ = ("key",)
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        self.key = (spec.inner or "").strip()
        if not self.key:
            raise PvError("$dlg_var needs a key", 0)

    def get(self, msg):
        d = current(msg)
        if d is None:
            return None
        return d.vars.get(self.key)

    def set(self, msg, value):
        d = current(msg)
        if d is None:
            return
        s = store()
        with s.locked(d.h_entry, d.h_id) as fresh:
            if fresh is None:
                return
            if value is None:
                fresh.vars.pop(self.key, None)
            else:
                fresh.vars[self.key] = str(value)
            s.save(fresh)


PVS = [
    PvDef("DLG_count", CountPv),
    PvDef("DLG_status", StatusPv),
    PvDef("DLG_lifetime", LifetimePv),
    PvDef("dlg", DlgPv, inner="required"),
    PvDef("dlg_ctx", DlgCtxPv, inner="required"),
    PvDef("dlg_var", DlgVarPv, inner="required"),
]
