"""dialog's RPC commands, in Kamailio's output layout (dialog.c internal_rpc_print_dlg):
dlg.list, dlg.list_ctx, dlg.profile_get_size, dlg.profile_list."""

from __future__ import annotations

import time

from kamapy.rpc.errors import RpcError

from . import state as st
from .profiles import profiles
from .store import store


def dialog_view(d, with_context: bool = False) -> dict:
    now = int(time.time())
    if d.end_ts:
        dur = d.end_ts - d.start_ts
    elif d.start_ts:
        dur = now - d.start_ts
    else:
        dur = 0
    alive = d.state < st.DELETED
    timeout = d.expires if alive else 0
    out = {
        "h_entry": d.h_entry, "h_id": d.h_id, "ref": d.ref, "call-id": d.callid,
        "from_uri": d.from_uri, "to_uri": d.to_uri, "state": d.state,
        "start_ts": d.start_ts, "init_ts": d.init_ts, "end_ts": d.end_ts,
        "duration": dur, "timeout": timeout, "lifetime": d.lifetime,
        "dflags": d.dflags, "sflags": d.sflags, "iflags": d.iflags,
    }
    for i, leg in ((0, "caller"), (1, "callee")):
        out[leg] = {"tag": d.tag[i], "contact": d.contact[i], "cseq": d.cseq[i],
                    "route_set": d.route_set[i], "socket": d.socket[i]}
    p = profiles()
    out["profiles"] = [({name: value} if p.has_value.get(name) else name)
                       # newest first: Kamailio links a profile at the head of the list
                       for name, value in (reversed(d.profiles) if alive else [])]
    out["variables"] = [{k: v} for k, v in (d.vars.items() if alive else [])]
    return out


def _cluster():
    """This node's dialogs, then (with redis_url) those the other nodes hold."""
    from .replication import replica
    own = store().all()
    rep = replica()
    if rep is None:
        return own
    remote = rep.remote_dialogs({(d.h_entry, d.h_id) for d in own})
    return sorted(own + remote, key=lambda d: (d.h_entry, d.h_id))


def _arg(params, i):
    return str(params[i]) if params and len(params) > i else None


def rpc_list(_rpc, _params):
    return [dialog_view(d) for d in _cluster()]


def rpc_list_ctx(_rpc, _params):
    # no module sits on top of dialog yet, so the context adds nothing
    return [dialog_view(d, True) for d in _cluster()]


def _profile(params):
    name = _arg(params, 0)
    if name is None:
        raise RpcError(400, "Too few parameters")
    if not profiles().known(name):
        raise RpcError(404, f"Profile not found: {name}")
    return name, _arg(params, 1)


def rpc_profile_get_size(_rpc, params):
    name, value = _profile(params)
    return profiles().size(name, value)


def rpc_profile_list(_rpc, params):
    name, value = _profile(params)
    out = []
    for d in _cluster():
        for n, v in d.profiles:
            if n == name and (value is None or not profiles().has_value[name] or v == value):
                out.append(dialog_view(d))
                break
    return out


def _match_downstream(d, callid: str, ftag: str | None) -> bool:
    return d.callid == callid and (ftag is None or d.tag[0] == ftag)


def rpc_dlg_list(_rpc, params):
    """dlg.dlg_list callid [from_tag]: the dialogs with that Call-ID (and From tag)."""
    callid = _arg(params, 0)
    if callid is None:
        raise RpcError(400, "Too few parameters")
    ftag = _arg(params, 1)
    return [dialog_view(d) for d in _cluster() if _match_downstream(d, callid, ftag)]


def rpc_dlg_list_ctx(_rpc, params):
    callid = _arg(params, 0)
    if callid is None:
        raise RpcError(400, "Too few parameters")
    ftag = _arg(params, 1)
    return [dialog_view(d, True) for d in _cluster() if _match_downstream(d, callid, ftag)]


def _take_over(did: str | None = None, callid: str | None = None) -> bool:
    """With redis_url: a dead node's dialog, by did or by Call-ID, taken over from
    Redis so that this node ends it (issue 22; the owner's heartbeat must be gone)."""
    from .replication import replica
    rep = replica()
    if rep is None:
        return False
    if did is not None:
        return rep.take_over(did)
    found = rep._call("match", lambda r: r.smembers(rep.prefix + "c:" + callid)) or ()
    took = False
    for x in sorted(v.decode() for v in found):
        took = rep.take_over(x) or took
    return took


def rpc_terminate_dlg(_rpc, params):
    """dlg.terminate_dlg callid from_tag to_tag: BYE both ways."""
    from . import requests
    from .match import by_ids
    if not params or len(params) < 3:
        raise RpcError(400, "Need a Callid ,from tag ,to tag")
    callid, ftag, ttag = (str(p) for p in params[:3])
    found = by_ids(callid, ftag, ttag)
    if found is None and _take_over(callid=callid):
        found = by_ids(callid, ftag, ttag)
    if found is None:
        raise RpcError(500, "Couldnt find callid in dialog")
    d = found[0]
    requests.bye(d.h_entry, d.h_id, "all")
    return None


def rpc_end_dlg(_rpc, params):
    """dlg.end_dlg h_entry h_id [extra_hdrs]: BYE both ways."""
    from . import requests
    try:
        h_entry, h_id = int(params[0]), int(params[1])
    except (TypeError, ValueError, IndexError):
        raise RpcError(500, "Invalid parameters") from None
    hdrs = _arg(params, 2) or ""
    d = store().load(h_entry, h_id)
    if d is None and _take_over(did=f"{h_entry}:{h_id}"):
        d = store().load(h_entry, h_id)
    if d is None or d.state == st.DELETED:
        raise RpcError(404, "Dialog not found")
    requests.bye(h_entry, h_id, "all", hdrs)
    return None


def rpc_bridge_dlg(_rpc, params):
    """dlg.bridge_dlg from to [op] [body]: dlg_bridge from the RPC side."""
    from . import requests
    if not params or len(params) < 2:
        raise RpcError(500, "Invalid parameters")
    frm, to = str(params[0]), str(params[1])
    op = _arg(params, 2) or ""
    if op == ".":
        op = ""
    body = _arg(params, 3)
    if not requests.bridge(frm, to, op, body.encode() if body else None):
        raise RpcError(500, "Failed to bridge")
    return None


def rpc_stats_active(_rpc, params):
    """dlg.stats_active [own]: dialogs by state (own: only those with a local socket)."""
    own = 0
    if params:
        try:
            own = int(params[0])
        except (TypeError, ValueError):
            own = 0
    counts = {st.UNCONFIRMED: 0, st.EARLY: 0, st.CONFIRMED_NA: 0, st.CONFIRMED: 0}
    for d in store().all():
        if own and not d.socket[0]:
            continue
        if d.state in counts:
            counts[d.state] += 1
    return {"starting": counts[st.UNCONFIRMED], "connecting": counts[st.EARLY],
            "answering": counts[st.CONFIRMED_NA], "ongoing": counts[st.CONFIRMED],
            "all": sum(counts.values())}


def rpc_is_alive(_rpc, params):
    """dlg.is_alive callid from_tag to_tag: "Alive" for a confirmed dialog."""
    from .match import by_ids
    if not params or len(params) < 3:
        raise RpcError(400, "Too few parameters (required callid, from-tag, to-tag)")
    found = by_ids(*(str(p) for p in params[:3]))
    if found is None:
        raise RpcError(404, "Dialog not found")
    if found[0].state != st.CONFIRMED:
        raise RpcError(500, "Dialog not in confirmed state")
    return "Alive"
