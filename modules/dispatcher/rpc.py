"""dispatcher.* RPC commands, with Kamailio 5.6's reply layout and fault texts."""

from __future__ import annotations

from kamapy.rpc.errors import RpcError

from . import core
from . import dslist as L

NORMAL, SHORT, FULL = 1, 2, 3


def _flags_text(flags: int) -> str:
    if flags & L.INACTIVE:
        c = "I"
    elif flags & L.DISABLED:
        c = "D"
    elif flags & L.TRYING:
        c = "T"
    else:
        c = "A"
    return c + ("P" if flags & L.PROBING else "X")


def _dest(d: L.Dest, mode: int) -> dict:
    sh = core.shared()
    out = {"URI": d.uri, "FLAGS": _flags_text(sh.flags.get(d.slot)), "PRIORITY": d.priority}
    if mode == FULL:
        out.update({"HOST": d.host, "IPADDR": d.ip or "", "PORT": d.port, "PROTOID": d.proto,
                    "DNSTIME_SEC": 0, "DNSTIME_USEC": 0})
    a = d.attrs
    if mode != SHORT and a.body is not None:
        out["ATTRS"] = {"BODY": a.body, "DUID": a.duid, "MAXLOAD": a.maxload,
                        "WEIGHT": a.weight, "RWEIGHT": a.rweight, "SOCKET": a.socket,
                        "SOCKNAME": a.sockname, "OBPROXY": a.obproxy}
    if core.cfg.ping_latency_stats:
        avg, std, est, mx, _mn, tmo, _c, _m2 = core.lat_stats(d.slot)
        out["LATENCY"] = {"AVG": round(avg, 6), "STD": round(std, 6), "EST": round(est, 6),
                          "MAX": mx, "TIMEOUT": tmo}
    if core.cfg.hash_size > 0:
        out["RUNTIME"] = {"DLGLOAD": sh.dload.get(d.slot)}
    return out


def rpc_list(_rpc, params):
    mode = NORMAL
    if params:
        m = str(params[0]).lower()
        mode = SHORT if m == "short" else FULL if m == "full" else NORMAL
    lst = core.current()
    if lst is None or lst.nr_sets <= 0:
        raise RpcError(500, "No Destination Sets")
    records = [{"SET": {"ID": s.id, "TARGETS": [{"DEST": _dest(d, mode)} for d in s.dests]}}
               for s in lst.tree.walk()]
    return {"NRSETS": lst.nr_sets, "RECORDS": records}


def _do_reload():
    if core.shared() is None:
        raise RpcError(500, "Not ready for reload")
    if not core.reload_allowed():
        raise RpcError(500, "Ongoing reload")
    if core.load() != 0:
        raise RpcError(500, "Reload Failed")


def rpc_reload(_rpc, _params):
    _do_reload()
    return "Ok. Dispatcher successfully reloaded."


def _state_value(text: str) -> int:
    if not text:
        raise RpcError(500, "Invalid State Parameter")
    c0 = text[0]
    probing = len(text) > 1 and text[1] in "Pp"
    if c0 in "0Ii":
        return L.INACTIVE | (L.PROBING if probing else 0)
    if c0 in "1Aa":
        return L.PROBING if probing else 0
    if c0 in "2Dd":
        return L.DISABLED
    if c0 in "3Tt":
        return L.TRYING | (L.PROBING if probing else 0)
    raise RpcError(500, "Unknown State Value")


def _set_state(params, by_duid: bool):
    if len(params) < 3:
        raise RpcError(500, "Invalid Parameters")
    state, group, dest = str(params[0]), params[1], str(params[2])
    try:
        group = int(group)
    except (TypeError, ValueError):
        raise RpcError(500, "Invalid Parameters") from None
    stval = _state_value(state)
    if dest == "all":
        core.reinit_state(group, None, stval)
    elif core.reinit_state(group, None if by_duid else dest, stval,
                           duid=dest if by_duid else None) < 0:
        raise RpcError(500, "State Update Failed")
    return "Ok. Dispatcher state updated."


def rpc_set_state(_rpc, params):
    return _set_state(params, False)


def rpc_set_duid_state(_rpc, params):
    return _set_state(params, True)


def rpc_ping_active(_rpc, params):
    sh = core.shared()
    old = sh.misc.get(0)
    if not params:
        return {"OldPingState": old}
    try:
        new = int(params[0])
    except (TypeError, ValueError):
        return {"OldPingState": old}
    sh.misc.set(0, new)
    return {"NewPingState": new, "OldPingState": old}


def rpc_hash(_rpc, params):
    if len(params) < 2:
        raise RpcError(500, "Invalid Parameters")
    try:
        nslots = int(params[0])
    except (TypeError, ValueError):
        raise RpcError(500, "Invalid Parameters") from None
    v2 = str(params[2]) if len(params) > 2 else None
    h = L.ds_hash(str(params[1]), v2)
    return {"hashid": h, "slot": h % nslots if nslots > 0 else 0}


def _current_rows():
    import msgpack
    raw = core.shared().tbl.get(b"rows")
    return [tuple(r) for r in msgpack.unpackb(raw, raw=False, strict_map_key=False)["rows"]] \
        if raw else []


def _check_change(params):
    """dispatcher.add / dispatcher.remove: the list is loaded, a group and a URI are
    given and no reload is under way (Kamailio's answers, in its order)."""
    if core.shared() is None:
        raise RpcError(500, "Not ready for reload")
    if len(params) < 2:
        raise RpcError(500, "Invalid Parameters")
    if not core.reload_allowed():
        raise RpcError(500, "Ongoing reload")


def rpc_add(_rpc, params):
    _check_change(params)
    try:
        group = int(params[0])
        flags = int(params[2]) if len(params) > 2 else 0
        prio = int(params[3]) if len(params) > 3 else 0
    except (TypeError, ValueError):
        raise RpcError(500, "Invalid Parameters") from None
    attrs = str(params[4]) if len(params) > 4 else None
    rows = _current_rows() + [(group, str(params[1]), flags, prio, attrs)]
    if L.make_dest(str(params[1]), flags, prio, attrs) is None or core.load(rows) != 0:
        raise RpcError(500, "Adding dispatcher dst failed")
    return "Ok. Dispatcher destination added."


def rpc_remove(_rpc, params):
    _check_change(params)
    try:
        group = int(params[0])
    except (TypeError, ValueError):
        raise RpcError(500, "Invalid Parameters") from None
    uri = str(params[1])
    rows = _current_rows()
    keep = [r for r in rows if not (r[0] == group and r[1] == uri)]
    if len(keep) == len(rows) or core.load(keep) != 0:
        raise RpcError(500, "Removing dispatcher dst failed")
    return "Ok. Dispatcher destination removed."
