"""rtpproxy: drive RTP proxies over the rtpproxy control protocol (Kamailio 5.6
modules/rtpproxy, its README). Sippy rtpproxy and rtpengine's --listen-udp speak it.

  relay.py      rtpproxy_sock sets/weights (the rtpengine module's shm node registry),
                the wire (cookie over UDP, none over unix:), rtpp_test, node selection
  functions.py  the config functions, the SDP rewrite through lumps, $rtppstat
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand
from kamapy.pv.registry import PvDef

from . import functions, relay
from .relay import PERMANENT, RtppRegistry, SockParamError, now_s, registry

log = logging.getLogger("kamapy.rtpproxy")
_start = [0]


def _p(name):
    return exports.param(name)


PARAMS = [
    Param("nortpproxy_str", str, "a=nortpproxy:yes"),
    Param("rtpproxy_sock", str, None, multi=True),
    Param("rtpproxy_disable_tout", int, 60),
    Param("rtpproxy_retr", int, 5),
    Param("rtpproxy_tout", int, 1),
    Param("timeout_socket", str, ""),
    Param("ice_candidate_priority_avp", str, ""),
    Param("extra_id_pv", str, ""),
    Param("db_url", str, ""),
    Param("table_name", str, "rtpproxy"),
    Param("rtp_inst_pvar", str, ""),
]


def _load_db(reg: RtppRegistry):
    """db_url: the sets from the table (setid, url, weight, flags: 1 = disabled for
    good), instead of rtpproxy_sock (Kamailio rtpproxy_db.c)."""
    from kamapy import db
    from kamapy.db.schema import table_version
    conn = db.connect(_p("db_url"))
    try:
        table = _p("table_name")
        have = table_version(conn, table)
        if have is not None and have != 1:
            raise ValueError(f"invalid table version {have} for '{table}' (expected 1)")
        rows = conn.query(table, ["setid", "url", "weight", "flags"])
    finally:
        conn.close()
    if not rows:
        log.warning("No rtpproxy instances in database")
    for setid, url, weight, flags in rows:
        before = len(reg.nodes)
        reg.add_sock_param(f"{setid} == {url}")
        for node in reg.nodes[before:]:
            node.weight = int(weight or 0)
            if flags:
                reg.pending_disabled = getattr(reg, "pending_disabled", []) + [node.idx]


def _build(reg: RtppRegistry):
    if _p("db_url"):
        if _p("rtpproxy_sock"):
            log.warning("rtpproxy db url configured - ignoring modparam sets")
        _load_db(reg)
        return
    for value in _p("rtpproxy_sock") or ():
        reg.add_sock_param(value)


def ensure_registry():
    if not registry.built:
        registry.built = True
        try:
            _build(registry)
        except Exception:  # noqa: BLE001 -- a bad list or database: check() reports it
            pass
    return registry


def _pv(name, kinds):
    from kamapy.pv import parse_pv
    text = _p(name).strip()
    if not text:
        return None
    try:
        pv = parse_pv(text)
    except Exception:  # noqa: BLE001
        raise ValueError(f"Invalid pvar name <{text}>") from None
    if pv.__class__.__name__ not in kinds:
        raise ValueError(f"Invalid pvar name <{text}>")
    return pv


_INST = ("AvpPv", "XavpPv", "VarPv", "NullableVarPv")


def _check():
    problems = []
    scratch = RtppRegistry()
    try:
        if _p("db_url"):
            _load_db(scratch)
        else:
            for value in _p("rtpproxy_sock") or ():
                scratch.add_sock_param(value)
    except SockParamError as e:
        problems.append(("rtpproxy_sock", f"script error - {e}"))
    except Exception as e:  # noqa: BLE001 -- a database that cannot be read
        problems.append(("db_url", f"cannot load the rtpproxy sets: {e}"))
    for name, kinds in (("rtp_inst_pvar", _INST), ("ice_candidate_priority_avp", ("AvpPv",))):
        try:
            _pv(name, kinds)
        except ValueError as e:
            problems.append((name, str(e) if name == "rtp_inst_pvar"
                             else f"malformed or non AVP definition <{_p(name)}>"))
    if _p("extra_id_pv"):
        from kamapy.pv import compile_format
        try:
            compile_format(_p("extra_id_pv"))
        except Exception as e:  # noqa: BLE001
            problems.append(("extra_id_pv", f"malformed PV string: {e}"))
    return problems


def _mod_init():
    ensure_registry()
    s = _p("nortpproxy_str") or ""
    functions.cfg.nortpproxy = s.rstrip("\r\n")
    functions.cfg.timeout_socket = _p("timeout_socket") or ""
    functions.cfg.rtp_inst_pvar = _pv("rtp_inst_pvar", _INST)
    functions.cfg.ice_avp = _pv("ice_candidate_priority_avp", ("AvpPv",))
    if _p("extra_id_pv"):
        from kamapy.pv import compile_format
        fmt = compile_format(_p("extra_id_pv"))
        functions.cfg.extra_id_pv = fmt if callable(fmt) else (lambda _m, v=fmt: v)
    relay.settings.tout = _p("rtpproxy_tout")
    relay.settings.retr = _p("rtpproxy_retr")
    relay.settings.disable_tout = _p("rtpproxy_disable_tout")
    registry.create_shm()
    for idx in getattr(registry, "pending_disabled", ()):
        registry.set_state(registry.nodes[idx], True, PERMANENT)
    _start[0] = now_s()
    from ..rtpengine import sdp_marks
    if sdp_marks.ensure():
        from kamapy.timer import register_timer
        register_timer("rtpproxy-sdp-marks", 10, sdp_marks.expire)
    return 0


def _child_init(rank):
    relay.reset()
    # Kamailio tests every node in every child; the first one is enough to know
    # (the health is shared), the rest would only repeat V/VF on the wire
    if rank == 1:
        for node in registry.nodes:
            relay.retest(node, registry.disabled(node), True)
    return 0


def _set_id(text):
    text = str(text).strip()
    if text.startswith("$"):
        from kamapy.pv import parse_pv
        return parse_pv(text)
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"bad number <{text}>") from None
    rset = ensure_registry().find_set(n)
    if rset is None:
        raise ValueError(f"rtpp_proxy set {n} not configured")
    return rset


def _count(text):
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError(f"bad number <{text}>") from None


# ------------------------------------------------------------------ RPC
def rpc_list(_rpc, _params):
    out = []
    for rset in registry.sets:
        for node in rset.nodes:
            recheck = registry.recheck(node)
            out.append({"setid": rset.id, "url": node.url, "index": node.idx,
                        "disabled": int(registry.disabled(node)), "weight": node.weight,
                        "recheck": -1 if recheck == PERMANENT
                        else (0 if recheck == 0 else recheck - _start[0])})
    return out


def rpc_enable(_rpc, params):
    from kamapy.rpc.errors import RpcError
    if not registry.nodes:
        raise RpcError(404, "RTPProxy not found")
    if not params or len(params) < 2:
        raise RpcError(500, "Not enough parameters")
    try:
        enable = int(params[1])
    except (TypeError, ValueError):
        raise RpcError(500, "Not enough parameters") from None
    url = str(params[0])
    found = False
    for node in registry.nodes:
        if node.url == url:
            found = True
            registry.set_state(node, not enable, 0 if enable else PERMANENT)
    if not found:
        raise RpcError(404, "RTPProxy not found")
    return None


_F = (Arg("spve", optional=True), Arg("spve", optional=True))

exports = ModuleExports(
    name="rtpproxy",
    params=PARAMS,
    functions=[
        Function("set_rtp_proxy_set", functions.set_rtp_proxy_set, (Arg("raw", fixup=_set_id),),
                 ANY_ROUTE),
        Function("unforce_rtp_proxy", functions.rtpproxy_destroy, (Arg("spve", optional=True),),
                 ANY_ROUTE),
        Function("rtpproxy_destroy", functions.rtpproxy_destroy, (Arg("spve", optional=True),),
                 ANY_ROUTE),
        Function("start_recording", functions.start_recording, (), ANY_ROUTE),
        Function("rtpproxy_offer", functions.rtpproxy_offer, _F, ANY_ROUTE),
        Function("rtpproxy_answer", functions.rtpproxy_answer, _F, ANY_ROUTE),
        Function("rtpproxy_manage", functions.rtpproxy_manage, _F, ANY_ROUTE),
        Function("rtpproxy_stream2uac", functions.rtpproxy_stream2uac,
                 (Arg("spve"), Arg("raw", fixup=_count)), ANY_ROUTE),
        Function("rtpproxy_stream2uas", functions.rtpproxy_stream2uas,
                 (Arg("spve"), Arg("raw", fixup=_count)), ANY_ROUTE),
        Function("rtpproxy_stop_stream2uac", functions.rtpproxy_stop_stream2uac, (), ANY_ROUTE),
        Function("rtpproxy_stop_stream2uas", functions.rtpproxy_stop_stream2uas, (), ANY_ROUTE),
    ],
    pvs=[PvDef("rtpstat", functions.RtppStatPv, inner="none"),
         PvDef("rtppstat", functions.RtppStatPv, inner="none")],
    rpc=[RpcCommand("rtpproxy.list", rpc_list, "List rtp proxies."),
         RpcCommand("rtpproxy.enable", rpc_enable, "Set state (enable/disable) for a rtp proxy.")],
    mod_init=_mod_init,
    child_init=_child_init,
    check=_check,
)
