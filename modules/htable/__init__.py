"""htable: hash tables in shared memory for the config (Kamailio: modules/htable, 5.6).

- modparam("htable", "htable", "name=>size=8;autoexpire=300;initval=0;updateexpire=1;
  dbtable=t;dbmode=1;cols='a,b'") defines a table (many times for many tables); a bad
  definition is a start-up error at the modparam's line, as in Kamailio.
- $sht(t=>key) read / write (an int stays an int) / `= $null` deletes; $shtex (seconds
  left, write to set), $shtcn / $shtcv (counts by name / value: "~~re", "~%suffix",
  "%~prefix", "==text", "eqN", "**"), $shtinc / $shtdec (atomic), $shtrecord in
  event_route[htable:expired:<t>], $shtitkey / $shtitval for the iterators.
- functions: sht_print, sht_rm, sht_rm_name_re, sht_rm_value_re, sht_rm_name,
  sht_rm_value, sht_match_name / sht_has_name, sht_match_str_value / sht_has_str_value,
  sht_lock / sht_unlock, sht_reset, sht_setxs, sht_setxi, sht_iterator_start / next /
  end / rm / sets / seti / setex -- with Kamailio's return codes.
- autoexpire: the timer process removes expired items every timer_interval seconds
  (reads already treat them as absent) and runs event_route[htable:expired:<t>] for
  each; event_route[htable:mod-init] runs once in the master before the fork.
- db_url + dbtable: loaded at start-up through kamapy's DB API (SQLite, PostgreSQL,
  MySQL), array keys and db_expires included; dbmode=1 writes the table back at
  shutdown; RPC htable.reload / htable.store.
- RPC htable.get/.delete/.sets/.seti/.setex/.setxs/.setxi/.dump/.listTables/.stats/
  .flush/.reload/.store.

- redis_url (kamapy): the tables with dmqreplicate=1 shared by several nodes through
  Redis, with DMQ's semantics (replication.py, docs/scale-out.md); redis_journal_size
  bounds the changes a node keeps while Redis is away, written back when it returns.

Not built (warned at start-up when set): DMQ itself (enable_dmq, dmq_init_sync: Redis
does their work with redis_url), timer_procs (the core timer process does the expiry). event_callback
names the KEMI function for htable:mod-init / htable:expired:<t> (kamapy/kemi/events.py);
with it, htable:mod-init runs where Kamailio runs it, in the master after every mod_init
(event_callback_mode 0) or in the first SIP worker (1). Differences: the iterators walk a snapshot taken by sht_iterator_start and do
not keep a slot locked; sht_lock excludes other sht_lock holders of the slot (every
$sht operation is atomic on its own) but does not make plain $sht reads and writes of
other processes wait.
"""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    non_negative,
)
from kamapy.pv.errors import PvError

from . import db, state
from .pvs import PVS, parse_name
from .rpc import COMMANDS
from .table import SpecError, parse_spec

log = logging.getLogger("kamapy.htable")

MOD_INIT_EVENT = "htable:mod-init"
EXPIRED_EVENT = "htable:expired:"


def _validate_spec(text):
    try:
        spec = parse_spec(str(text))
    except SpecError as e:
        raise ValueError(str(e)) from None
    for prev in exports.values.get("htable") or []:
        if parse_spec(str(prev))["name"] == spec["name"]:
            raise ValueError(f"htable already configured [{spec['name']}]")


# -- functions ------------------------------------------------------------------

def _key_fixup(text: str):
    """fixup_ht_key: a static 'table=>key format'."""
    try:
        return parse_name(text)
    except PvError as e:
        raise ValueError(f"invalid parameter 1: {e}") from None


def _resolve(key, msg):
    name, fmt = key
    return state.table(name), (fmt if fmt.__class__ is str else fmt(msg)), name


def sht_print(_msg) -> int:
    for t in state.tables():
        if t.store is None:
            continue
        log.error("htable[%s] exp: %u>", t.name, t.htexpire)
        for slot, items in t.slotted():
            log.error("htable[%d] -- <%d>", slot, len(items))
            for name, value, expires in items:
                log.error("\tcell: %s", name)
                log.error("\tflags: %d expire: %u", 0 if isinstance(value, int) else 2, expires)
                if isinstance(value, int):
                    log.error("\tv-i:%d", value)
                else:
                    log.error("\tv-s:%s", value)
    return 1


def _table(htname, missing="cannot get hash table [%s]"):
    """The table named htname; None, logged with Kamailio's text for the caller, if none."""
    t = state.table(htname)
    if t is None:
        log.error(missing, htname)
    return t


def sht_rm(_msg, htname, itname) -> int:
    if not htname:
        log.error("cannot get the hash table name")
        return -1
    if not itname:
        log.error("cannot get the item table name")
        return -1
    t = _table(htname)
    if t is None:
        return -1
    t.delete(itname)
    return 1


def _rm_re(msg, key, by_value: bool) -> int:
    t, pattern, _name = _resolve(key, msg)
    if t is None:
        return 1
    return -1 if t.rm_re(pattern, by_value) < 0 else 1


def sht_rm_name_re(msg, key) -> int:
    return _rm_re(msg, key, False)


def sht_rm_value_re(msg, key) -> int:
    return _rm_re(msg, key, True)


def _rm_items(htname, op, val, by_value: bool) -> int:
    if not htname or not op or not val:
        log.error("cannot get the hash table name, match operation or value")
        return -1
    t = _table(htname)
    if t is None:
        return -1
    if op == "re":
        return -1 if t.rm_re(val, by_value) < 0 else 1
    if op == "sw":
        t.rm_sw(val, by_value)
        return 1
    log.warning("unsupported match operator: %s", op)
    return -1


def sht_rm_name(_msg, htname, op, val) -> int:
    return _rm_items(htname, op, val, False)


def sht_rm_value(_msg, htname, op, val) -> int:
    return _rm_items(htname, op, val, True)


def _match(htname, op, val, by_value: bool) -> int:
    if not htname or not op or not val:
        log.error("cannot get the hash table name, match operation or value")
        return -1
    t = _table(htname)
    if t is None:
        return -1
    if op not in ("eq", "ne", "re", "sw"):
        log.warning("unsupported match operator: %s", op)
        return -1
    return t.match(op, val, by_value)


def sht_match_name(_msg, htname, op, val) -> int:
    return _match(htname, op, val, False)


def sht_match_str_value(_msg, htname, op, val) -> int:
    return _match(htname, op, val, True)


def _with_slot(msg, key, op: str) -> int:
    """sht_lock / sht_unlock: op on the slot lock of the key."""
    t, k, _name = _resolve(key, msg)
    if t is None:
        log.error("cannot get $sht root")
        return -11
    getattr(t, op)(k)
    return 1


def sht_lock(msg, key) -> int:
    return _with_slot(msg, key, "lock")


def sht_unlock(msg, key) -> int:
    return _with_slot(msg, key, "unlock")


def sht_reset(_msg, htname) -> int:
    if not htname:
        log.error("cannot get hash table name")
        return -1
    t = _table(htname)
    if t is None:
        return -1
    t.reset()
    return 1


def _setx_table(htname, itname):
    """The table sht_setxs / sht_setxi write to, or None (logged)."""
    if not htname or not itname:
        log.error("cannot get htable or item name")
        return None
    return _table(htname, "No such htable: %s")


def sht_setxs(_msg, htname, itname, itval, exval) -> int:
    t = _setx_table(htname, itname)
    if t is None:
        return -1
    t.set(itname, itval, exval or 0)
    return 1


def sht_setxi(_msg, htname, itname, itval, exval) -> int:
    t = _setx_table(htname, itname)
    if t is None:
        return -1
    if itval is None or exval is None:
        log.error("cannot get item value or expire value")
        return -1
    t.set(itname, int(itval), int(exval))
    # Kamailio 5.6's sht_setxi() returns 0 on success, which stops the script there
    return 0


def _rc(ret: int) -> int:
    return 1 if ret == 0 else ret


def sht_iterator_start(_msg, iname, hname) -> int:
    if not iname:
        log.error("cannot get iterator name")
        return -1
    if not hname:
        log.error("cannot get hash table name")
        return -1
    return -1 if state.iterator_start(iname, hname) < 0 else 1


def sht_iterator_next(_msg, iname) -> int:
    return -1 if state.iterator_next(iname) < 0 else 1


def sht_iterator_end(_msg, iname) -> int:
    return -1 if state.iterator_end(iname) < 0 else 1


def sht_iterator_rm(_msg, iname) -> int:
    return _rc(state.iterator_rm(iname))


def sht_iterator_sets(_msg, iname, sval) -> int:
    return _rc(state.iterator_set(iname, sval))


def sht_iterator_seti(_msg, iname, ival) -> int:
    if ival is None:
        log.error("cannot get value")
        return -1
    return _rc(state.iterator_set(iname, int(ival)))


def sht_iterator_setex(_msg, iname, exval) -> int:
    if exval is None:
        log.error("cannot get value")
        return -1
    return _rc(state.iterator_setex(iname, int(exval)))


# -- life cycle -----------------------------------------------------------------

def _routes():
    from kamapy.runtime import rt
    routes = rt.routes
    return getattr(routes, "event", {}) if routes is not None else {}


def _run_event(name: str, route_type) -> bool:
    """Run event_route[name] on a faked request; False when it dropped."""
    route = _routes().get(name)
    if route is None:
        return True
    from kamapy.cfg.run_context import run_route
    from kamapy.sip.fmsg import next_faked_msg
    msg = next_faked_msg()
    try:
        run_route(route, msg, route_type)
    except Exception:
        log.exception("event_route[%s] failed", name)
        return True
    ctx = msg.ctx
    return not (ctx is not None and getattr(ctx, "dropped", False))


def expire_tick(now: float) -> None:
    """The timer: remove expired items, running event_route[htable:expired:<t>]."""
    from kamapy.module import ONEVENT_ROUTE
    routes = _routes()
    for t in state.tables():
        if t.store is None or t.htexpire <= 0:
            continue
        removed = t.expire(int(now))
        event = EXPIRED_EVENT + t.name
        if not removed or event not in routes:
            continue
        for name, value in removed:
            state.expired_record = (name, value)
            try:
                _run_event(event, ONEVENT_ROUTE)
            finally:
                state.expired_record = None


def mod_init():
    from kamapy.timer import register_timer
    for t in state.tables():
        if t.store is None:
            t.create()
    cfg = db.Settings(exports.values)
    if cfg.url:
        from kamapy.db import connect
        try:
            conn = connect(cfg.url)
        except Exception as e:
            log.error("failed to connect to the database: %s", e)
            return -1
        try:
            for t in reversed(state.tables()):
                if t.dbtable:
                    try:
                        rows = db.load(t, cfg, conn)
                    except Exception as e:
                        log.error("failed to load htable [%s] from db table [%s]: %s", t.name, t.dbtable, e)
                        return -1
                    db.apply(t, rows)
        finally:
            conn.close()
    from . import replication
    rep = replication.init(exports.values.get("redis_url") or "",
                           exports.values.get("redis_prefix") or "kamapy:ht:", state.tables(),
                           exports.param("redis_journal_size"))
    if rep is not None:
        from kamapy.module import Process
        exports.procs[:] = [Process("htable redis", rep.run)]
    if any(t.htexpire > 0 for t in state.tables()):
        interval = exports.param("timer_interval")
        if interval <= 0:
            interval = 20
        register_timer("htable-expire", interval, expire_tick)
    if exports.param("event_callback"):
        if exports.param("event_callback_mode") != 1:
            # the KEMI callback in the master, once the script is loaded (app_python3's
            # mod_init may come after this one), as Kamailio's child_init(PROC_INIT)
            from kamapy.kemi.engine import engine
            return engine.when_loaded(_mod_init_event)
        return 0
    if not _run_event(MOD_INIT_EVENT, REQUEST_ROUTE):
        log.error("exit due to 'drop' in event route")
        return -1
    return 0


def child_init(rank: int):
    from kamapy.module import PROC_SIPINIT
    if exports.param("event_callback") and exports.param("event_callback_mode") == 1 and rank == PROC_SIPINIT:
        return _mod_init_event()
    return 0


def _mod_init_event() -> int:
    if not _run_event(MOD_INIT_EVENT, REQUEST_ROUTE):
        log.error("exit due to 'drop' in event route")
        return -1
    return 0


def destroy():
    cfg = db.Settings(exports.values)
    if not cfg.url:
        return
    for t in state.tables():
        if t.store is not None and t.dbtable and t.dbmode != 0 and t.dbload and not t.cols:
            try:
                db.save(t, cfg)
            except Exception as e:
                log.error("failed syncing hash table [%s] to db: %s", t.name, e)


def _check():
    """-c: what mod_init would refuse."""
    problems = []
    for t in state.tables():
        if t.dmqreplicate and not exports.values.get("redis_url"):
            log.warning("htable [%s]: dmqreplicate without redis_url: not shared (kamapy has no "
                        "DMQ; modparam(\"htable\", \"redis_url\", ...) shares it through Redis)", t.name)
        if t.dbtable and not exports.values.get("db_url"):
            log.warning("htable [%s]: dbtable set but no db_url: nothing is loaded", t.name)
    return problems


_KEY = Arg("raw", fixup=_key_fixup)
_RE_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE | BRANCH_ROUTE

exports = ModuleExports(
    name="htable",
    params=[
        Param("htable", str, None, multi=True, validate=_validate_spec),
        Param("db_url", str, ""),
        Param("key_name_column", str, "key_name"),
        Param("key_type_column", str, "key_type"),
        Param("value_type_column", str, "value_type"),
        Param("key_value_column", str, "key_value"),
        Param("expires_column", str, "expires"),
        Param("array_size_suffix", str, "::size"),
        Param("fetch_rows", int, 100),
        Param("timer_interval", int, 20),
        Param("db_expires", int, 0),
        Param("redis_url", str, ""),          # kamapy: dmqreplicate tables shared through Redis
        Param("redis_prefix", str, "kamapy:ht:"),
        Param("redis_journal_size", int, 10000, validate=non_negative),  # changes kept while Redis is away (0: none)
        Param("enable_dmq", int, 0, unsupported="no DMQ module (replication between nodes is not built)"),
        Param("dmq_init_sync", int, 0, unsupported="no DMQ module (replication between nodes is not built)"),
        Param("timer_procs", int, 0, unsupported="expired items are removed by the core timer process"),
        Param("event_callback", str, ""),
        Param("event_callback_mode", int, 0),  # with event_callback: 0 master, 1 first worker
    ],
    functions=[
        Function("sht_print", sht_print, (), _RE_ROUTES),
        Function("sht_rm", sht_rm, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_rm_name_re", sht_rm_name_re, (_KEY,), ANY_ROUTE),
        Function("sht_rm_value_re", sht_rm_value_re, (_KEY,), ANY_ROUTE),
        Function("sht_rm_name", sht_rm_name, (Arg("spve"), Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_rm_value", sht_rm_value, (Arg("spve"), Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_match_name", sht_match_name, (Arg("spve"), Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_has_name", sht_match_name, (Arg("spve"), Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_match_str_value", sht_match_str_value, (Arg("spve"), Arg("spve"), Arg("spve")),
                 ANY_ROUTE),
        Function("sht_has_str_value", sht_match_str_value, (Arg("spve"), Arg("spve"), Arg("spve")),
                 ANY_ROUTE),
        Function("sht_lock", sht_lock, (_KEY,), ANY_ROUTE),
        Function("sht_unlock", sht_unlock, (_KEY,), ANY_ROUTE),
        Function("sht_reset", sht_reset, (Arg("spve"),), ANY_ROUTE),
        Function("sht_iterator_start", sht_iterator_start, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_iterator_next", sht_iterator_next, (Arg("spve"),), ANY_ROUTE),
        Function("sht_iterator_end", sht_iterator_end, (Arg("spve"),), ANY_ROUTE),
        Function("sht_iterator_rm", sht_iterator_rm, (Arg("spve"),), ANY_ROUTE),
        Function("sht_iterator_sets", sht_iterator_sets, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("sht_iterator_seti", sht_iterator_seti, (Arg("spve"), Arg("igp")), ANY_ROUTE),
        Function("sht_iterator_setex", sht_iterator_setex, (Arg("spve"), Arg("igp")), ANY_ROUTE),
        Function("sht_setxs", sht_setxs, (Arg("spve"), Arg("spve"), Arg("spve"), Arg("igp")), ANY_ROUTE),
        Function("sht_setxi", sht_setxi, (Arg("spve"), Arg("spve"), Arg("igp"), Arg("igp")), ANY_ROUTE),
    ],
    rpc=COMMANDS,
    pvs=PVS,
    event_routes=[MOD_INIT_EVENT],
    mod_init=mod_init,
    child_init=child_init,
    destroy=destroy,
    check=_check,
)

state.source = lambda: exports.values.get("htable") or []

