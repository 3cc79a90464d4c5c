"""Dialogs in a database (Kamailio: dlg_db_handler.c), in Kamailio's `dialog` and
`dialog_vars` tables (kamapy/db/schema.py; `kamapyctl db create` makes them), over
kamapy's DB API (SQLite, PostgreSQL).

db_mode as Kamailio defines it:
  0  no database;
  1  realtime: a dialog's row is written whenever its record changes (early,
     confirmed and every in-dialog update) and deleted when it goes;
  2  delayed: the timer process writes every live dialog each db_update_period
     seconds; a dialog that goes is deleted at once;
  3  shutdown: everything is written when the server stops.
At start-up (unless db_skip_load) the rows come back into shm with their h_entry /
h_id (so the did in a Record-Route still matches), state, timeout, CSeqs, contacts,
route sets, sockets, flags, timeout route, vars (dialog_vars) and profiles (the
xdata column, as Kamailio's dlg_profiles_to_json writes it).

Like Kamailio, dialogs still being set up (state 1) and ended ones (state 5) are
not written. Each process opens its own connection on first use.
"""

from __future__ import annotations

import json
import logging
import os
import time

from kamapy import db

from . import state as st
from .store import Dialog

log = logging.getLogger("kamapy.dialog")

NONE, REALTIME, DELAYED, SHUTDOWN = 0, 1, 2, 3

# modparam name -> (the default column name, which Dialog value it holds)
COLUMN_PARAMS = {
    "h_entry_column": "hash_entry", "h_id_column": "hash_id", "call_id_column": "callid",
    "from_uri_column": "from_uri", "from_tag_column": "from_tag", "to_uri_column": "to_uri",
    "to_tag_column": "to_tag", "from_cseq_column": "caller_cseq", "to_cseq_column": "callee_cseq",
    "from_route_column": "caller_route_set", "to_route_column": "callee_route_set",
    "from_contact_column": "caller_contact", "to_contact_column": "callee_contact",
    "from_sock_column": "caller_sock", "to_sock_column": "callee_sock", "state_column": "state",
    "start_time_column": "start_time", "timeout_column": "timeout", "sflags_column": "sflags",
    "toroute_name_column": "toroute_name",
}
VARS_PARAMS = {"vars_h_entry_column": "hash_entry", "vars_h_id_column": "hash_id",
               "vars_key_column": "dialog_key", "vars_value_column": "dialog_value"}


class _DbCfg:
    mode = NONE
    url = ""
    table = "dialog"
    vars_table = "dialog_vars"
    update_period = 60
    fetch_rows = 200
    skip_load = 0
    col: dict[str, str] = {}
    vcol: dict[str, str] = {}


dbcfg = _DbCfg()
_conn = {"c": None}


def configure(values: dict):
    dbcfg.mode = values.get("db_mode", 0) or 0
    dbcfg.url = values.get("db_url") or ""
    dbcfg.table = values.get("table_name") or "dialog"
    dbcfg.vars_table = values.get("vars_table_name") or "dialog_vars"
    dbcfg.update_period = values.get("db_update_period", 60)
    dbcfg.fetch_rows = values.get("db_fetch_rows", 200)
    dbcfg.skip_load = values.get("db_skip_load", 0)
    dbcfg.col = {k: (values.get(k) or v) for k, v in COLUMN_PARAMS.items()}
    dbcfg.vcol = {k: (values.get(k) or v) for k, v in VARS_PARAMS.items()}


def connection():
    c = _conn["c"]
    if c is None or c.pid != os.getpid():
        c = _conn["c"] = db.connect(dbcfg.url)
    return c


def close():
    c = _conn["c"]
    if c is not None and c.pid == os.getpid():
        c.close()
    _conn["c"] = None


# ---------------------------------------------------------------------- rows
def _profiles_json(d: Dialog) -> str | None:
    from .profiles import profiles
    if not d.profiles:
        return None
    p = profiles()
    out = []
    # Kamailio walks its links newest first
    for name, value in reversed(d.profiles):
        e = {"name": name}
        if p.has_value.get(name):
            e["value"] = value
        out.append(e)
    return json.dumps({"profiles": out}, separators=(",", ":"))


def _row(d: Dialog) -> dict:
    c = dbcfg.col
    return {
        c["h_entry_column"]: d.h_entry, c["h_id_column"]: d.h_id,
        c["call_id_column"]: d.callid, c["from_uri_column"]: d.from_uri,
        c["from_tag_column"]: d.tag[0], c["to_uri_column"]: d.to_uri,
        c["to_tag_column"]: d.tag[1], c["from_sock_column"]: d.socket[0],
        c["to_sock_column"]: d.socket[1], c["start_time_column"]: d.start_ts,
        c["state_column"]: d.state, c["timeout_column"]: d.expires,
        c["from_cseq_column"]: d.cseq[0], c["to_cseq_column"]: d.cseq[1],
        c["from_contact_column"]: d.contact[0], c["to_contact_column"]: d.contact[1],
        c["from_route_column"]: d.route_set[0] or None, c["to_route_column"]: d.route_set[1] or None,
        c["sflags_column"]: d.sflags, c["toroute_name_column"]: d.toroute or None,
        "req_uri": d.to_uri, "xdata": _profiles_json(d), "iflags": d.iflags,
    }


def _keys(d: Dialog) -> dict:
    return {dbcfg.col["h_entry_column"]: d.h_entry, dbcfg.col["h_id_column"]: d.h_id}


def _vkeys(d: Dialog) -> dict:
    return {dbcfg.vcol["vars_h_entry_column"]: d.h_entry, dbcfg.vcol["vars_h_id_column"]: d.h_id}


def storable(d: Dialog) -> bool:
    return st.EARLY <= d.state < st.DELETED


def write(d: Dialog, conn=None):
    """The dialog's row and vars, as they are now (delete + insert in one transaction:
    Kamailio's table has no unique key on hash_entry/hash_id)."""
    c = conn or connection()
    v = dbcfg.vcol
    with c.transaction():
        c.delete(dbcfg.table, _keys(d))
        c.insert(dbcfg.table, _row(d))
        c.delete(dbcfg.vars_table, _vkeys(d))
        if d.vars:
            c.insert_many(dbcfg.vars_table, [v["vars_h_entry_column"], v["vars_h_id_column"],
                                             v["vars_key_column"], v["vars_value_column"]],
                          [(d.h_entry, d.h_id, k, val) for k, val in d.vars.items()])


def remove(d: Dialog):
    c = connection()
    with c.transaction():
        c.delete(dbcfg.table, _keys(d))
        c.delete(dbcfg.vars_table, _vkeys(d))


# ---------------------------------------------------------------------- hooks
def on_save(d: Dialog):
    """store.save(): realtime mode writes the row (or drops it once the dialog ended)."""
    if dbcfg.mode != REALTIME:
        return
    try:
        if storable(d):
            write(d)
        elif d.state == st.DELETED:
            remove(d)
    except Exception as e:
        log.error("dialog: could not update database info: %s", e)


def on_remove(d: Dialog):
    """A dialog that goes leaves the table at once, in every db_mode (as Kamailio's
    destroy_dlg does)."""
    if dbcfg.mode != NONE:
        try:
            remove(d)
        except Exception as e:
            log.error("dialog: failed to delete database information: %s", e)


_synced: dict[tuple[int, int], str | None] = {}  # what this process last wrote, per dialog


def _digest(d: Dialog) -> str:
    return json.dumps([_row(d), sorted(d.vars.items())], sort_keys=True, default=str)


def sync_all(store):
    """Delayed / shutdown mode: the dialogs that changed since the last run written,
    the rows of those that went dropped -- one transaction, only what moved."""
    c = connection()
    col, vcol = dbcfg.col, dbcfg.vcol
    try:
        if not _synced:  # first run in this process: what the table holds now
            for he, hi in c.query(dbcfg.table, [col["h_entry_column"], col["h_id_column"]]):
                _synced[(int(he), int(hi))] = None
        live = {(d.h_entry, d.h_id): d for d in store.all() if storable(d)}
        changed = []
        for k, d in live.items():
            dig = _digest(d)
            if _synced.get(k, "") != dig:
                changed.append((k, d, dig))
        gone = [k for k in _synced if k not in live]
        if not changed and not gone:
            return
        with c.transaction():
            for he, hi in gone + [k for k, _d, _g in changed if k in _synced]:
                c.delete(dbcfg.table, {col["h_entry_column"]: he, col["h_id_column"]: hi})
                c.delete(dbcfg.vars_table, {vcol["vars_h_entry_column"]: he, vcol["vars_h_id_column"]: hi})
            if changed:
                rows = [_row(d) for _k, d, _g in changed]
                names = list(rows[0])
                c.insert_many(dbcfg.table, names, [[r[n] for n in names] for r in rows])
                vrows = [(d.h_entry, d.h_id, k, v) for _k, d, _g in changed for k, v in d.vars.items()]
                if vrows:
                    c.insert_many(dbcfg.vars_table, [vcol["vars_h_entry_column"], vcol["vars_h_id_column"],
                                                     vcol["vars_key_column"], vcol["vars_value_column"]], vrows)
        for k in gone:
            _synced.pop(k, None)
        for k, _d, dig in changed:
            _synced[k] = dig
    except Exception as e:
        log.error("dialog: saving the dialogs to the database failed: %s", e)


_last_sync = [0.0]


def timer(now: float, store):
    if dbcfg.mode == DELAYED and now - _last_sync[0] >= dbcfg.update_period:
        _last_sync[0] = now
        sync_all(store)


# ---------------------------------------------------------------------- load
def load(store, callid: str | None = None) -> int:
    """The rows back into the shm table (mod_init, before the fork; or those of one
    Call-ID at run time, dlg_db_load_callid). Returns how many."""
    from . import stats
    from .profiles import profiles
    c = connection()
    col = dbcfg.col
    names = [col["h_entry_column"], col["h_id_column"], col["call_id_column"], col["from_uri_column"],
             col["from_tag_column"], col["to_uri_column"], col["to_tag_column"],
             col["start_time_column"], col["state_column"], col["timeout_column"],
             col["from_cseq_column"], col["to_cseq_column"], col["from_route_column"],
             col["to_route_column"], col["from_contact_column"], col["to_contact_column"],
             col["from_sock_column"], col["to_sock_column"], col["sflags_column"],
             col["toroute_name_column"], "xdata", "iflags"]
    rows = c.query(dbcfg.table, names, {col["call_id_column"]: callid} if callid else None)
    vrows = c.query(dbcfg.vars_table, [dbcfg.vcol["vars_h_entry_column"], dbcfg.vcol["vars_h_id_column"],
                                       dbcfg.vcol["vars_key_column"], dbcfg.vcol["vars_value_column"]])
    vars_of: dict[tuple[int, int], dict[str, str]] = {}
    for he, hi, k, v in vrows:
        vars_of.setdefault((int(he), int(hi)), {})[k] = v if v is not None else ""
    now = time.time()
    p = profiles()
    n = 0
    for r in rows:
        (he, hi, callid, from_uri, ftag, to_uri, ttag, start, state, timeout, cseq0, cseq1,
         rs0, rs1, ct0, ct1, sock0, sock1, sflags, toroute, xdata, iflags) = r
        if he is None or hi is None or start is None or state is None:
            log.error("dialog: a row without hash_entry/hash_id/start_time/state -> skipping")
            continue
        if store.entry_of(callid or "") != int(he):
            raise RuntimeError("inconsistent hash data in the dialog database: you may have "
                               "restarted kamapy using a different hash_size: please erase "
                               f"{dbcfg.table} database and restart")
        d = Dialog(int(he), int(hi), callid or "", from_uri or "", to_uri or "", ftag or "")
        d.tag[1] = ttag or ""
        d.start_ts = d.init_ts = int(start)
        d.state = int(state)
        d.cseq = [cseq0 or "", cseq1 or ""]
        d.route_set = [rs0 or "", rs1 or ""]
        d.contact = [ct0 or "", ct1 or ""]
        d.socket = [sock0 or "", sock1 or ""]
        d.sflags = int(sflags or 0)
        d.iflags = int(iflags or 0)
        d.toroute = toroute or ""
        d.vars = vars_of.get((d.h_entry, d.h_id), {})
        timeout = int(timeout or 0)
        if timeout > now:
            d.lifetime = timeout - d.start_ts
            due = timeout
        else:
            d.lifetime = 0
            due = now  # past its end already: the timer ends it on its first run
        if xdata and d.state != st.DELETED:
            try:
                for e in json.loads(xdata).get("profiles", []):
                    name, value = e.get("name"), e.get("value", "")
                    if name and p.known(name):
                        d.profiles.insert(0, [name, value or ""])  # stored newest first
                        p.link(name, value or "")
            except (ValueError, AttributeError):
                log.error("dialog: bad profile data for dialog %s:%s", he, hi)
        if d.state == st.DELETED:
            d.end_ts = int(now)
        if d.state == st.CONFIRMED and d.iflags & 0x6:  # ka-src / ka-dst
            from .settings import cfg
            if cfg.ka_interval > 0:
                d.katime = int(now + cfg.ka_interval)
        if not store.restore(d, due):
            log.warning("conflicting dialog id: %u/%u - skipping", d.h_entry, d.h_id)
            continue
        if d.state in (st.CONFIRMED_NA, st.CONFIRMED):
            stats.add("active_dialogs")
        elif d.state == st.EARLY:
            stats.add("early_dialogs")
        from . import callbacks
        callbacks.run_global(callbacks.DLGCB_LOADED, d)
        n += 1
    return n
