"""dialog: calls tracked in shared memory (Kamailio 5.6: modules/dialog).

A dialog is made by dlg_manage() (or the dlg_flag set on the initial INVITE), lives in
shm where every worker and the timer process see it, and moves through Kamailio's
states (state.py) on the replies to its INVITE (a tm callback), its in-dialog requests
(matched by the rr param of our Record-Route, or by Call-ID and tags: match.py) and
its timeout (timeouts.py). The parts:

  state.py     the state machine, as a table
  store.py     the shm table: records, Call-ID index, h_id counters, timers
  match.py     in-dialog matching (did param, dlg_match_mode)
  handlers.py  what moves a dialog: creation, replies, requests, end of script, timeout
  profiles.py  profiles with and without value, counted in shm
  pvs.py       $DLG_count, $DLG_status, $DLG_lifetime, $dlg(...), $dlg_ctx(...), $dlg_var
  events.py    event_route[dialog:start|end|failed]
  stats.py     active/early/processed/expired/failed_dialogs
  rpc.py       dlg.list(_ctx), dlg.dlg_list(_ctx), dlg.terminate_dlg, dlg.end_dlg,
               dlg.bridge_dlg, dlg.profile_get_size, dlg.profile_list
  requests.py  what the module sends itself, as tm local transactions (tm/t_uac.py):
               BYE (dlg_bye, timeouts, RPC), keepalive OPTIONS, REFER, dlg_bridge
  callbacks.py DLGCB_* callbacks for other modules (register_dlgcb)
  cseq.py      track_cseq_updates: the CSeq renumbering after uac_auth()
  db.py        db_mode 1/2/3 in the dialog / dialog_vars tables, loaded at start-up
  replication.py  dialogs shared by several nodes through Redis (redis_url)
  functions.py the config functions
"""

from __future__ import annotations

import os

from kamapy.module import (
    POST_SCRIPT,
    ModuleExports,
    Param,
    RpcCommand,
    ScriptCallback,
    non_negative,
    positive,
)

from . import events, handlers, rpc
from . import stats as dstats
from .functions import FUNCTIONS
from .pvs import PVS


def _col(name, default):
    return Param(name, str, default)


def _check_match_mode(v):
    if v not in (0, 1, 2):
        raise ValueError("dlg_match_mode is 0 (did only), 1 (did, then Call-ID/tags) or 2 (Call-ID/tags)")


def _check_db_mode(v):
    if v not in (0, 1, 2, 3):
        raise ValueError("db_mode is 0 (none), 1 (realtime), 2 (delayed) or 3 (shutdown)")


def _check_ka_interval(v):
    if v != 0 and v < 30:
        raise ValueError(f"ka interval too low ({v}), has to be at least 30")


def _check_fail_mode(v):
    if v not in (0, 1):
        raise ValueError("redis_fail_mode is 0 (go on with local state) or 1 (refuse new dialogs)")


def _check_flag(v):
    if not -1 <= v <= 31:
        raise ValueError("a message flag is 0..31")


PARAMS = [
    Param("enable_stats", int, 1),
    Param("hash_size", int, 4096, validate=positive),
    Param("rr_param", str, "did"),
    Param("dlg_flag", int, -1, validate=_check_flag),
    Param("timeout_avp", str, ""),
    Param("default_timeout", int, 43200, validate=positive),
    Param("early_timeout", int, 300, validate=positive),
    Param("noack_timeout", int, 60, validate=positive),
    Param("end_timeout", int, 300, validate=positive),
    Param("dlg_extra_hdrs", str, ""),
    Param("dlg_match_mode", int, 0, validate=_check_match_mode),
    Param("detect_spirals", int, 1),
    Param("db_url", str, "mysql://kamailio:kamailiorw@localhost/kamailio"),
    Param("db_mode", int, 0, validate=_check_db_mode),
    Param("db_update_period", int, 60, validate=positive),
    Param("db_fetch_rows", int, 200, validate=positive),
    Param("db_skip_load", int, 0),
    _col("table_name", "dialog"),
    _col("call_id_column", "callid"),
    _col("from_uri_column", "from_uri"),
    _col("from_tag_column", "from_tag"),
    _col("to_uri_column", "to_uri"),
    _col("to_tag_column", "to_tag"),
    _col("from_cseq_column", "caller_cseq"),
    _col("to_cseq_column", "callee_cseq"),
    _col("from_route_column", "caller_route_set"),
    _col("to_route_column", "callee_route_set"),
    _col("from_contact_column", "caller_contact"),
    _col("to_contact_column", "callee_contact"),
    _col("from_sock_column", "caller_sock"),
    _col("to_sock_column", "callee_sock"),
    _col("h_id_column", "hash_id"),
    _col("h_entry_column", "hash_entry"),
    _col("state_column", "state"),
    _col("start_time_column", "start_time"),
    _col("timeout_column", "timeout"),
    _col("sflags_column", "sflags"),
    _col("toroute_name_column", "toroute_name"),
    _col("vars_table_name", "dialog_vars"),
    _col("vars_h_id_column", "hash_id"),
    _col("vars_h_entry_column", "hash_entry"),
    _col("vars_key_column", "dialog_key"),
    _col("vars_value_column", "dialog_value"),
    Param("profiles_with_value", str, None, multi=True),
    Param("profiles_no_value", str, None, multi=True),
    Param("bridge_controller", str, "sip:controller@kamailio.org"),
    Param("bridge_contact", str, "sip:controller@kamailio.org:5060"),
    Param("initial_cbs_inscript", int, 1,
          unsupported="DLGCB_CREATED callbacks always run where the dialog is made (as with 1)"),
    Param("send_bye", int, 0),
    Param("dlg_filter_mode", int, 0),
    Param("wait_ack", int, 1, unsupported="not built yet"),
    Param("ka_timer", int, 0, validate=non_negative),
    Param("ka_interval", int, 0, validate=_check_ka_interval),
    Param("ka_failed_limit", int, 1, validate=positive),
    Param("timeout_noreset", int, 0),
    Param("timer_procs", int, 0, unsupported="dialog timeouts run in the core timer process"),
    Param("enable_dmq", int, 0, unsupported="no dmq module (replication comes with scale-out)"),
    Param("track_cseq_updates", int, 0),
    Param("lreq_callee_headers", str, ""),
    Param("event_callback", str, ""),  # the KEMI function for dialog:* (kamapy/kemi/events.py)
    Param("h_id_start", int, 0),
    Param("h_id_step", int, 1, validate=positive),
    Param("keep_proxy_rr", int, 0),
    # kamapy: dialogs shared by several nodes through Redis (replication.py, docs/scale-out.md)
    Param("redis_url", str, ""),
    Param("redis_node", str, ""),
    Param("redis_prefix", str, "kamapy:dlg:"),
    Param("redis_fail_mode", int, 0, validate=_check_fail_mode),
    Param("redis_node_ttl", int, 3, validate=positive),
]


def _names(param: str) -> list[str]:
    from .profiles import parse_names
    out: list[str] = []
    for v in exports.values.get(param) or []:
        out += parse_names(v)
    return out


def mod_init():
    from kamapy.timer import register_timer

    from . import handlers, profiles, requests, store, timeouts
    from .bound import tmb
    from .settings import cfg, pow2_floor

    if tmb.bind() is None:
        import logging
        logging.getLogger("kamapy.dialog").error("can't load TM API")
        return -1
    cfg.load(exports.values)
    handlers.set_timeout_avp(cfg.timeout_avp)
    requests.define_callbacks()
    cfg.hash_size = pow2_floor(cfg.hash_size)
    dstats.enabled[0] = bool(cfg.enable_stats)
    store.set_store(store.DialogStore(cfg.hash_size, cfg.h_id_start, cfg.h_id_step))
    profiles.set_profiles(profiles.Profiles(_names("profiles_with_value"),
                                            _names("profiles_no_value")))
    from . import replication
    if replication.init(exports.values) < 0:
        return -1
    tmb.api.define(handlers.TM_CB, handlers.on_reply_out, lazy=True)
    tmb.api.define(handlers.TM_BYE, handlers.on_bye_destroy)
    if cfg.dlg_flag >= 0:
        tmb.api.register_global(tmb.api.TMCB_REQUEST_IN, handlers.on_request_in)
    try:
        from kamapy_modules.rr import api as rr_api
        rr_api.register_rrcb(handlers.on_route)
    except ImportError:
        pass
    register_timer("dialog", timeouts.INTERVAL, timeouts.run_timer)
    if cfg.track_cseq_updates:
        from . import cseq
        cseq.install()
    return _init_db()


def _init_db() -> int:
    """db_mode: the connection check and the dialogs of the last run back into shm."""
    import logging

    from . import db, store
    log = logging.getLogger("kamapy.dialog")
    db.configure(exports.values)
    store.store().persist = db.dbcfg.mode
    if db.dbcfg.mode == db.NONE:
        return 0
    try:
        conn = db.connection()
        for t in (db.dbcfg.table, db.dbcfg.vars_table):
            if not conn.table_exists(t):
                log.error("dialog: table %s does not exist in %s (kamapyctl db create)", t,
                          db.dbcfg.url)
                return -1
        if not db.dbcfg.skip_load:
            n = db.load(store.store())
            log.info("dialog: loaded %d dialogs from the database", n)
    except Exception as e:
        log.error("dialog: cannot use the database %s: %s", db.dbcfg.url, e)
        return -1
    finally:
        db.close()  # never carry a connection across the fork
    return 0


def destroy():
    """delayed and shutdown modes write what the timer has not yet (master only)."""
    import os

    from . import db, store
    if db.dbcfg.mode in (db.DELAYED, db.SHUTDOWN) and os.getpid() == _master_pid[0]:
        db.sync_all(store.store())
    db.close()


_master_pid = [os.getpid()]


def check():
    out = []
    spec = exports.values.get("timeout_avp")
    if spec:
        try:
            from kamapy.pv import parse_pv
            parse_pv(spec)
        except Exception as e:
            out.append(("timeout_avp", f"timeout_avp {spec!r} is not a pseudo-variable: {e}"))
    if not exports.values.get("rr_param"):
        out.append(("rr_param", "rr_param must not be empty"))
    seen = {}
    for param in ("profiles_with_value", "profiles_no_value"):
        for n in _names(param):
            if n in seen:
                out.append((param, f"profile {n!r} is defined twice"))
            seen[n] = param
    return out


def profile_defined(name: str) -> bool:
    return name in _names("profiles_with_value") or name in _names("profiles_no_value")


exports = ModuleExports(
    name="dialog",
    params=PARAMS,
    functions=FUNCTIONS,
    pvs=PVS,
    rpc=[
        RpcCommand("dlg.list", rpc.rpc_list, "Print all dialogs"),
        RpcCommand("dlg.list_ctx", rpc.rpc_list_ctx, "Print all dialogs with associated context"),
        RpcCommand("dlg.profile_get_size", rpc.rpc_profile_get_size,
                   "Returns the number of dialogs belonging to a profile"),
        RpcCommand("dlg.profile_list", rpc.rpc_profile_list, "Lists all the dialogs belonging to a profile"),
        RpcCommand("dlg.dlg_list", rpc.rpc_dlg_list, "Print dialog based on callid and fromtag"),
        RpcCommand("dlg.dlg_list_ctx", rpc.rpc_dlg_list_ctx,
                   "Print dialog with associated context based on callid and fromtag"),
        RpcCommand("dlg.terminate_dlg", rpc.rpc_terminate_dlg,
                   "End a given dialog based on callid, from tag and to tag"),
        RpcCommand("dlg.end_dlg", rpc.rpc_end_dlg, "End a given dialog based on [h_entry] [h_id]"),
        RpcCommand("dlg.stats_active", rpc.rpc_stats_active, "Get stats for active dialogs"),
        RpcCommand("dlg.is_alive", rpc.rpc_is_alive, "Check whether dialog is alive or not"),
        RpcCommand("dlg.bridge_dlg", rpc.rpc_bridge_dlg, "Bridge two SIP addresses in a call using INVITE(hold)-REFER-BYE mechanism: to, from, [outbound SIP proxy]"),
    ],
    stats=dstats.NAMES,
    event_routes=events.NAMES,
    mod_init=mod_init,
    destroy=destroy,
    check=check,
    # a dialog made for a request that got no transaction goes (handlers.post_script)
    script_callbacks=[ScriptCallback(POST_SCRIPT, handlers.post_script)],
    doc=__doc__,
)
