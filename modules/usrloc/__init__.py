"""usrloc: the user location table (Kamailio: modules/usrloc).

Contacts of every AOR live in shared memory (one SharedHashTable per location table),
seen by every worker; `db_mode` adds a database (kamapy.db: SQLite or PostgreSQL, in
Kamailio's `location` layout): 1 write-through, 2 write-back every timer_interval,
3 DB only. The timer expires contacts (usrloc callbacks -> registrar's
event_route[usrloc:contact-expired]) and flushes write-back changes.

Other modules bind its API (Kamailio's usrloc_api_t, load_ul_api) and read its data
types from api.py (Kamailio's usrloc.h): `BoundApi("usrloc")` from kamapy.loader.
"""

from __future__ import annotations

import logging
import os
import time
import zlib

from kamapy import timer
from kamapy.module import PROC_MAIN, PROC_TIMER, ModuleExports, Param, RpcCommand
from kamapy.runtime import rt

from . import dbstore, domain, keepalive, rpc, statistics
from .api import UsrlocApi
from .callbacks import (
    UL_CONTACT_DELETE,
    UL_CONTACT_EXPIRE,
    UL_CONTACT_INSERT,
    UL_CONTACT_UPDATE,
    register_ulcb,
)
from .contact import ALL_METHODS, CS_DIRTY, CS_NEW, CS_SYNC, FL_MEM, Q_UNSPECIFIED, UContact, q_text
from .domain import UDomain, aor_hash, domains, get_udomain
from .record import URecord
from .ruid import new_ruid
from .settings import DB_ONLY, DB_READONLY, NO_DB, WRITE_BACK, WRITE_THROUGH, cfg

__all__ = [
    "ALL_METHODS", "CS_DIRTY", "CS_NEW", "CS_SYNC", "FL_MEM", "Q_UNSPECIFIED", "UContact", "UDomain",
    "UL_CONTACT_DELETE", "UL_CONTACT_EXPIRE", "UL_CONTACT_INSERT", "UL_CONTACT_UPDATE", "URecord",
    "aor_hash", "cfg", "domains", "get_all_ucontacts", "get_udomain", "new_ruid", "q_text",
    "refresh_keepalive", "register_udomain", "register_ulcb", "set_keepalive_timeout",
]

log = logging.getLogger("kamapy.usrloc")

_ready = {"init": False}


def register_udomain(name: str) -> UDomain:
    """The location table `name` (Kamailio's ul_register_udomain); call it before the
    fork -- from a fixup or mod_init."""
    d = domain.register_udomain(name)
    if _ready["init"] and d.stats is None:
        _init_domain(d)
    return d


def get_all_ucontacts(flags: int = 0, part_idx: int = 0, part_max: int = 1, server_id: int | None = None):
    """Yield (table, aor, contact) for every valid contact whose cflags has all bits of
    `flags`, for keepalive senders (Kamailio's get_all_ucontacts). With part_max > 1
    only the AORs of partition part_idx (by AOR hash); with server_id only the
    contacts saved by that server (GAU_OPT_SERVER_ID). With a keepalive timeout set
    (set_keepalive_timeout), a UDP contact silent for longer is left out and made to
    expire in 10 s, as Kamailio does."""
    now = time.time()
    ka_on = keepalive.state.timeout > 0
    for d in domains():
        for r in d.records():
            if part_max > 1 and zlib.crc32(domain.aor_key(r.aor)) % part_max != part_idx:
                continue
            for c in r.contacts:
                if not c.valid(now) or (c.cflags & flags) != flags:
                    continue
                if server_id is not None and c.server_id != server_id:
                    continue
                if ka_on and keepalive.timed_out(c, now):
                    keepalive.expire_soon(d, r.aor, c.ruid, now)
                    continue
                yield d.name, r.aor, c


set_keepalive_timeout = keepalive.set_keepalive_timeout
refresh_keepalive = keepalive.refresh_keepalive


def _init_domain(d: UDomain):
    statistics.declare([d.name])
    d.stats = statistics.DomainStats(d.name)
    d.create()
    if cfg.db_mode in (WRITE_THROUGH, WRITE_BACK, DB_READONLY) and cfg.db_load:
        problem = dbstore.check_version(d.name)
        if problem:
            raise RuntimeError(f"usrloc: {problem}")
        n = d.load_from_db()
        log.info("usrloc: loaded %d contacts of table %s", n, d.name)
    elif cfg.db_mode == DB_ONLY:
        problem = dbstore.check_version(d.name)
        if problem:
            raise RuntimeError(f"usrloc: {problem}")


def _apply_params():
    p = exports.param
    cfg.db_url = p("db_url")
    cfg.db_mode = p("db_mode")
    cfg.db_load = p("db_load")
    cfg.use_domain = p("use_domain")
    cfg.matching_mode = p("matching_mode")
    cfg.cseq_delay = p("cseq_delay")
    cfg.desc_time_order = p("desc_time_order")
    cfg.timer_interval = p("timer_interval")
    cfg.hash_size = p("hash_size")
    cfg.nat_bflag = p("nat_bflag")
    cfg.db_timer_clean = p("db_timer_clean")
    cfg.xavp_contact = p("xavp_contact") or ""
    cfg.server_id_filter = p("server_id_filter")
    cfg.rm_expired_delay = p("rm_expired_delay")
    cfg.version_table = p("version_table")
    cfg.fetch_rows = p("fetch_rows")
    cfg.server_id = int(getattr(rt.core, "server_id", 0) or 0) if rt.core is not None else 0


def mod_init():
    _apply_params()
    if cfg.db_mode not in (NO_DB, WRITE_THROUGH, WRITE_BACK, DB_ONLY, DB_READONLY):
        log.error("usrloc: invalid db_mode %d", cfg.db_mode)
        return -1
    if cfg.db_mode != NO_DB and not cfg.db_url:
        log.error("usrloc: db_mode %d needs a db_url", cfg.db_mode)
        return -1
    if exports.param("ka_mode"):
        log.warning("usrloc: ka_mode keepalives are not implemented; use nathelper pings")
    for name in exports.param("preload"):
        domain.register_udomain(name)
    statistics.declare([d.name for d in domains()])
    try:
        for d in domains():
            _init_domain(d)
    except Exception as e:
        log.error("%s", e)
        return -1
    finally:
        dbstore.close()  # never carry a connection across the fork
    _ready["init"] = True
    timer.register_timer("usrloc", max(1, cfg.timer_interval), _timer)
    return 0


def child_init(rank: int):
    if rank == PROC_MAIN:
        return 0
    # open this process's connection now, not on its first REGISTER
    needs_db = cfg.db_mode in (WRITE_THROUGH, DB_ONLY) or (cfg.db_mode == WRITE_BACK and rank == PROC_TIMER)
    if needs_db:
        try:
            dbstore.connection()
        except Exception as e:
            log.error("usrloc: cannot connect to the database: %s", e)
            return -1
    return 0


def _timer(now: float):
    for d in domains():
        try:
            d.timer(now)
        except Exception:
            log.exception("usrloc: timer of table %s failed", d.name)


def destroy():
    # write-back: what the last timer run did not flush yet goes to the DB now
    if cfg.db_mode == WRITE_BACK and _ready["init"] and os.getpid() == _master_pid():
        _timer(time.time())
    dbstore.close()


_master = {"pid": os.getpid()}


def _master_pid() -> int:
    return _master["pid"]


def _check_db_mode(v):
    if v not in (0, 1, 2, 3, 4):
        raise ValueError("db_mode is 0, 1, 2, 3 or 4")


def _check_matching(v):
    if v not in (0, 1, 2, 3):
        raise ValueError("matching_mode is 0, 1, 2 or 3")


def _check_hash_size(v):
    if not 1 <= v <= 20:
        raise ValueError("hash_size is 1..20")


def _make_api() -> UsrlocApi:
    def nat_flag() -> int:
        b = exports.param("nat_bflag") if exports.values else -1
        return (1 << b) if b >= 0 else 0
    return UsrlocApi(
        register_udomain=register_udomain, get_udomain=get_udomain, get_all_ucontacts=get_all_ucontacts,
        register_ulcb=register_ulcb, get_aorhash=aor_hash, new_ruid=new_ruid,
        set_keepalive_timeout=set_keepalive_timeout, refresh_keepalive=refresh_keepalive,
        use_domain=lambda: exports.param("use_domain") if exports.values else 0, nat_flag=nat_flag,
        settings=cfg)


exports = ModuleExports(
    name="usrloc",
    api=_make_api(),  # load_ul_api: tables, contacts, callbacks (api.py has the data types)
    params=[
        Param("db_url", str, "sqlite:///var/lib/kamapy/kamapy.db"),
        Param("db_mode", int, NO_DB, validate=_check_db_mode),
        Param("db_load", int, 1),
        Param("use_domain", int, 0),
        Param("desc_time_order", int, 0),
        Param("timer_interval", int, 60),
        Param("matching_mode", int, 0, validate=_check_matching),
        Param("cseq_delay", int, 20),
        Param("fetch_rows", int, 2000),
        Param("hash_size", int, 10, validate=_check_hash_size),
        Param("preload", str, multi=True),
        Param("nat_bflag", int, -1),
        Param("db_timer_clean", int, 0),
        Param("xavp_contact", str, ""),
        Param("server_id_filter", int, 0),
        Param("rm_expired_delay", int, 0),
        Param("version_table", int, 1),
        # accepted for Kamailio configs; kamapy's behaviour is the one they select by default
        Param("db_insert_update", int, 0),
        Param("db_update_as_insert", int, 0),
        Param("db_check_update", int, 0),
        Param("db_ops_ruid", int, 1),
        Param("timer_procs", int, 0),
        Param("handle_lost_tcp", int, 0),
        Param("close_expired_tcp", int, 0),
        Param("expires_type", int, 0),
        Param("db_raw_fetch_type", int, 0),
        Param("db_insert_null", int, 0),
        Param("skip_remote_socket", int, 0),
        Param("load_rank", int, 1),
        Param("db_clean_tcp", int, 0),
        Param("ka_mode", int, 0),
        Param("ka_method", str, "OPTIONS"),
        Param("ka_from", str, "sip:server@kamailio.org"),
        Param("ka_domain", str, "kamailio.org"),
        Param("ka_filter", int, 0),
        Param("ka_timeout", int, 0),
        Param("ka_interval", int, 40),
        Param("ka_randomize", int, 20),
        Param("ka_loglevel", int, 255),
        Param("ka_logmsg", str, " to-uri: [$tu] remote-addr: [$sas]"),
        Param("ka_reply_codes", str, "0"),
    ],
    rpc=[
        RpcCommand("ul.dump", rpc.ul_dump, "Dump user location tables"),
        RpcCommand("ul.lookup", rpc.ul_lookup, "Lookup one AOR in the usrloc location table"),
        RpcCommand("ul.rm", rpc.ul_rm, "Delete an address of record including its contacts"),
        RpcCommand("ul.rm_contact", rpc.ul_rm_contact, "Delete a contact from an AOR record"),
        RpcCommand("ul.flush", rpc.ul_flush, "Flush the usrloc memory cache to DB"),
        RpcCommand("ul.add", rpc.ul_add, "Add a new contact for an address of record"),
        RpcCommand("ul.db_users", rpc.ul_db_users,
                   "Tell number of different unexpired users (AoRs) in database table (db_mode!=0 only)"),
        RpcCommand("ul.db_contacts", rpc.ul_db_contacts,
                   "Tell number of unexpired contacts in database table (db_mode=3 only)"),
        RpcCommand("ul.db_expired_contacts", rpc.ul_db_expired_contacts,
                   "Tell number of expired contacts in database table (db_mode=3 only)"),
    ],
    mod_init=mod_init,
    child_init=child_init,
    destroy=destroy,
    doc=__doc__,
)
