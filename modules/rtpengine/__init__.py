"""rtpengine: drive Sipwise rtpengine media relays over the ng control protocol
(Kamailio 5.6 modules/rtpengine, its README).

  bencode.py    the ng protocol's encoding
  client.py     the ng request on the wire: cookie, retries, timeouts (per process)
  nodes.py      rtpengine_sock sets and weights; node health and call -> node in shm
  flags.py      the flags string mapped onto the ng dictionary
  body.py       which body part is the SDP, and its replacement through lumps
  engine.py     one request for a message: node selection, failover, reply checks
  functions.py  the config functions, rtpengine_manage, $rtpstat
  sdp_marks.py  which INVITEs offered SDP (manage's offer/answer choice on replies)
  rpc.py        rtpengine.show / enable / ping / reload
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand, non_negative, positive
from kamapy.pv.registry import PvDef

from . import client, engine, functions, rpc, sdp_marks
from .nodes import Registry, SockParamError, registry

log = logging.getLogger("kamapy.rtpengine")

_MOS = [f"mos_{k}_pv" for k in (
    "min", "min_at", "min_packetloss", "min_jitter", "min_roundtrip", "min_roundtrip_leg",
    "max", "max_at", "max_packetloss", "max_jitter", "max_roundtrip", "max_roundtrip_leg",
    "average", "average_packetloss", "average_jitter", "average_roundtrip",
    "average_roundtrip_leg", "average_samples")]
_MOS_SIDES = ["mos_A_label_pv", "mos_B_label_pv"] + [
    n.replace("_pv", f"_{side}_pv") for side in ("A", "B") for n in _MOS]
_DB = ["table_name", "setid_col", "url_col", "weight_col", "disabled_col"]


def _nodes_limit(v):
    if not 1 <= v <= 30:
        raise ValueError("must be within 1..30 (Kamailio's MAX_RTPP_TRIED_NODES)")


def _hash_algo(v):
    if v == 1:
        raise ValueError("hash_algo 1 (SHA1) needs the crypto module, which kamapy has not")
    if v not in (0, 2):
        raise ValueError("unknown hashing algo (0 Call-ID sum, 2 CRC32)")


PARAMS = [
    Param("rtpengine_sock", str, None, multi=True),
    Param("rtpengine_disable_tout", int, 60, validate=non_negative),
    Param("aggressive_redetection", int, 1),
    Param("rtpengine_retr", int, 5, validate=positive),
    Param("queried_nodes_limit", int, 30, validate=_nodes_limit),
    Param("rtpengine_tout_ms", int, 1000, validate=positive),
    Param("rtpengine_allow_op", int, 0),
    Param("control_cmd_tos", int, -1),
    Param("db_url", str, ""),
    *[Param(n, str, "", unsupported="the node list comes from rtpengine_sock only (no db_url)")
      for n in _DB],
    Param("extra_id_pv", str, ""),
    Param("setid_avp", str, ""),
    Param("force_send_interface", str, ""),
    Param("rtp_inst_pvar", str, ""),
    Param("write_sdp_pv", str, ""),
    Param("read_sdp_pv", str, ""),
    Param("hash_table_tout", int, 3600, validate=positive),
    Param("hash_table_size", int, 256, validate=positive),
    Param("setid_default", int, 0, validate=non_negative),
    Param("media_duration", str, ""),
    Param("hash_algo", int, 0, validate=_hash_algo),
    *[Param(n, str, "", unsupported="MOS statistics from delete/query are not stored yet")
      for n in _MOS + _MOS_SIDES],
    Param("wsapi", str, ""),
]


def _p(name):
    return exports.param(name)


def _build(reg: Registry):
    for value in _p("rtpengine_sock") or ():
        reg.add_sock_param(value, _p("setid_default"))
    reg.default_id = _p("setid_default")


def ensure_registry():
    """The node sets, parsed from rtpengine_sock once (fixups need them before mod_init)."""
    if not registry.built:
        registry.built = True
        try:
            _build(registry)
        except SockParamError:
            pass  # check() reports it at the modparam's position
    return registry


def _pv_of(name: str, kinds: tuple[str, ...]):
    from kamapy.pv import parse_pv
    text = _p(name).strip()
    if not text:
        return None
    try:
        pv = parse_pv(text)
    except Exception:  # noqa: BLE001 -- any parse failure is a bad parameter
        raise ValueError(f"Invalid pvar name <{text}>") from None
    if pv.__class__.__name__ not in kinds:
        raise ValueError(f"Invalid pvar name <{text}>")
    return pv


_AVP_VAR = ("AvpPv", "VarPv", "NullableVarPv")


def _check():
    problems = []
    scratch = Registry()
    try:
        for value in _p("rtpengine_sock") or ():
            scratch.add_sock_param(value, _p("setid_default"))
    except SockParamError as e:
        problems.append(("rtpengine_sock", f"script error - {e}"))
    if _p("db_url"):
        problems.append(("db_url", "loading rtpengine nodes from a database is not supported "
                                   "yet; list them in rtpengine_sock"))
    if _p("wsapi") and _p("wsapi").lower() != "lwsc":
        problems.append(("wsapi", f"unsupported WS API: {_p('wsapi')}"))
    elif _p("wsapi"):
        problems.append(("wsapi", "websocket control (lwsc) is not supported"))
    for name, kinds in (("rtp_inst_pvar", ("AvpPv", "XavpPv", "VarPv", "NullableVarPv")),
                        ("write_sdp_pv", _AVP_VAR), ("read_sdp_pv", _AVP_VAR),
                        ("media_duration", _AVP_VAR), ("setid_avp", ("AvpPv",))):
        try:
            _pv_of(name, kinds)
        except ValueError as e:
            problems.append((name, str(e)))
    if _p("extra_id_pv"):
        from kamapy.pv import compile_format
        try:
            compile_format(_p("extra_id_pv"))
        except Exception as e:  # noqa: BLE001
            problems.append(("extra_id_pv", f"bad format: {e}"))
    ip = _p("force_send_interface")
    if ip:
        import ipaddress
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            problems.append(("force_send_interface", f"{ip} is an unknown address"))
    return problems


def _mod_init():
    ensure_registry()
    c = engine.cfg
    c.disable_tout = _p("rtpengine_disable_tout")
    c.aggressive_redetection = _p("aggressive_redetection")
    c.queried_nodes_limit = _p("queried_nodes_limit")
    c.allow_op = _p("rtpengine_allow_op")
    c.hash_table_tout = _p("hash_table_tout")
    c.rtp_inst_pvar = _pv_of("rtp_inst_pvar", ("AvpPv", "XavpPv", "VarPv", "NullableVarPv"))
    c.write_sdp_pv = _pv_of("write_sdp_pv", _AVP_VAR)
    c.read_sdp_pv = _pv_of("read_sdp_pv", _AVP_VAR)
    c.media_duration_pv = _pv_of("media_duration", _AVP_VAR)
    c.setid_avp = _pv_of("setid_avp", ("AvpPv",))
    if _p("extra_id_pv"):
        from kamapy.pv import compile_format
        fmt = compile_format(_p("extra_id_pv"))
        c.extra_id_pv = fmt if callable(fmt) else (lambda _m, s=fmt: s)
    c.hash_algo = _p("hash_algo")
    client.settings.tout_ms = _p("rtpengine_tout_ms")
    client.settings.retr = _p("rtpengine_retr")
    client.settings.tos = _p("control_cmd_tos")
    client.settings.bind_ip = _p("force_send_interface")
    from kamapy.runtime import rt
    client.settings.server_id = getattr(rt.core, "server_id", 0) if rt.core is not None else 0
    registry.create_shm(_p("hash_table_size"))
    sdp_marks.ensure()
    from kamapy.timer import register_timer
    register_timer("rtpengine", 10, _expire)
    if engine.default_set() is None:
        log.info("Default rtpp set %d NOT found", registry.default_id)
    return 0


def _expire(now):
    registry.calls.expire(now)
    sdp_marks.expire(now)


def _child_init(rank):
    client.reset()
    if rank == 1 and registry.sets:
        # the first SIP worker probes every node, as Kamailio's PROC_SIPINIT does
        for node in registry.nodes:
            disabled = engine.test_node(node, False, True)
            registry.set_state(node, disabled, registry.recheck(node))
    return 0


def _set_id(text):
    """set_rtpengine_set()'s argument: a set id that must exist, or a pseudo-variable."""
    text = str(text).strip()
    if text.startswith("$"):
        from kamapy.pv import parse_pv
        return parse_pv(text)
    if not text.isdigit():
        raise ValueError(f"bad number <{text}>")
    rset = ensure_registry().find_set(int(text))
    if rset is None:
        raise ValueError(f"rtpp_proxy set {text} not configured")
    return rset


_FLAGS = (Arg("spve", optional=True),)

FUNCTIONS = [
    Function("set_rtpengine_set", functions.set_rtpengine_set,
             (Arg("raw", fixup=_set_id), Arg("raw", fixup=_set_id, optional=True)), ANY_ROUTE),
    Function("rtpengine_offer", functions.rtpengine_offer, _FLAGS, ANY_ROUTE),
    Function("rtpengine_answer", functions.rtpengine_answer, _FLAGS, ANY_ROUTE),
    Function("rtpengine_info", functions.rtpengine_info, _FLAGS, ANY_ROUTE),
    Function("rtpengine_manage", functions.rtpengine_manage, _FLAGS, ANY_ROUTE),
    Function("rtpengine_delete", functions.rtpengine_delete, _FLAGS, ANY_ROUTE),
    Function("rtpengine_query", functions.rtpengine_query, _FLAGS, ANY_ROUTE),
    *[Function(name, functions.generic(name), _FLAGS, ANY_ROUTE) for name in (
        "start_recording", "stop_recording", "block_dtmf", "unblock_dtmf", "block_media",
        "unblock_media", "silence_media", "unsilence_media", "start_forwarding",
        "stop_forwarding", "stop_media")],
    Function("rtpengine_query_v", functions.rtpengine_query_v, (Arg("spve"), Arg("pvar")),
             ANY_ROUTE),
    Function("play_media", functions.play_media, (Arg("spve"),), ANY_ROUTE),
    Function("play_dtmf", functions.generic("play_dtmf"), (Arg("spve"),), ANY_ROUTE),
]

exports = ModuleExports(
    name="rtpengine",
    params=PARAMS,
    functions=FUNCTIONS,
    pvs=[PvDef("rtpstat", functions.RtpStatPv, inner="none"),
         PvDef("rtpestat", functions.RtpStatPv, inner="none")],
    rpc=[RpcCommand("rtpengine.reload", rpc.rpc_reload, "Reload rtpengine proxies from database"),
         RpcCommand("rtpengine.ping", rpc.rpc_ping, "Ping an rtpengine instance"),
         RpcCommand("rtpengine.show", rpc.rpc_show, "Get details about an rtpengine instance"),
         RpcCommand("rtpengine.enable", rpc.rpc_enable, "Enable or disable an rtpengine instance"),
         RpcCommand("rtpengine.get_hash_total", rpc.rpc_get_hash_total,
                    "Get total number of entries in hash table")],
    mod_init=_mod_init,
    child_init=_child_init,
    check=_check,
)
