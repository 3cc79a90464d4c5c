"""rtpengine.show / enable / ping / reload / get_hash_total, in Kamailio's layout
(rtpengine.c rtpengine_rpc_*)."""

from __future__ import annotations

from kamapy.rpc.errors import RpcError

from .engine import cfg, ping
from .nodes import PERMANENT, now_s, registry


def _url(params):
    if not params:
        raise RpcError(500, "Not enough parameters")
    return str(params[0])


def _iterate(url: str, cb):
    if not registry.sets:
        raise RpcError(404, "Instance not found (no sets loaded)")
    match_all = url.startswith("all")
    found = False
    for rset in registry.sets:
        for node in rset.nodes:
            if match_all or node.url == url:
                cb(node, rset)
                found = True
    if not found:
        raise RpcError(404, "Instance not found")


def _info(node, rset) -> dict:
    out = {"url": node.url, "set": rset.id, "index": node.idx, "weight": node.weight}
    recheck = registry.recheck(node)
    disabled = registry.disabled(node)
    out["disabled"] = "1(permanent)" if disabled and recheck == PERMANENT else int(disabled)
    out["recheck_ticks"] = "N/A" if recheck == PERMANENT else max(0, recheck - now_s())
    return out


def rpc_show(_rpc, params):
    url = _url(params)
    out = []
    _iterate(url, lambda n, s: out.append(_info(n, s)))
    return out


def rpc_enable(_rpc, params):
    if not params or len(params) < 2:
        raise RpcError(500, "Not enough parameters")
    url = str(params[0])
    try:
        flag = 1 if int(params[1]) else 0
    except (TypeError, ValueError):
        raise RpcError(500, "Not enough parameters") from None
    result = [flag]

    def cb(node, _rset):
        if flag:
            # enabling pings first: a node that does not answer stays disabled, for now
            if ping(node):
                registry.set_state(node, False, 0)
            else:
                registry.disable_for(node, cfg.disable_tout)
                result[0] = 2
        else:
            registry.set_state(node, True, PERMANENT)

    _iterate(url, cb)
    status = {0: "disable", 1: "enable"}.get(result[0], "fail")
    return {"url": url, "status": status}


def rpc_ping(_rpc, params):
    url = _url(params)
    failed = [False]

    def cb(node, _rset):
        if not ping(node):
            registry.disable_for(node, cfg.disable_tout)
            failed[0] = True

    _iterate(url, cb)
    return {"url": url, "status": "fail" if failed[0] else "success"}


def rpc_reload(_rpc, _params):
    # the node list comes from rtpengine_sock; only a database list can be reloaded
    raise RpcError(500, "No Database URL")


def rpc_get_hash_total(_rpc, _params):
    return registry.total_calls()
