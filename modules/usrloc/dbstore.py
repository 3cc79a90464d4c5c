"""The location table in the database (Kamailio's udomain/ucontact DB functions):
rows <-> contacts, write-through statements, the write-back flush, the start-up load
and the DB-only record reads.

One connection per process, opened on first use in that process (a connection made
in the master is closed before the fork) -- kamapy.db refuses use across fork. A
connection the server lost is dropped and a new one opened on the next statement;
while the database is unreachable, connecting is tried again at most every
RETRY_S (statements fail at once in between, so a worker never queues behind a dead
server), and one line is logged when it goes down and one when it is back.
"""

from __future__ import annotations

import functools
import logging
import os
import time

from kamapy import db
from kamapy.db.schema import check_table_version

from . import attrs
from .contact import ALL_METHODS, C_XAVP, CS_SYNC, UContact, q_float, q_from_float
from .settings import cfg

log = logging.getLogger("kamapy.usrloc")

# the contact fields, as location-table columns (aor goes to username/domain)
COLUMNS = ("contact", "expires", "q", "callid", "cseq", "flags", "cflags", "user_agent", "received",
           "path", "socket", "ruid", "instance", "reg_id", "server_id", "connection_id", "keepalive",
           "methods", "last_modified")
ROW_COLUMNS = ("username", "domain") + COLUMNS

_conn: db.DbConnection | None = None
RETRY_S = 1.0


class _Health:
    down = False
    since = 0.0
    retry_at = 0.0
    pid = 0


_health = _Health()


def _went_down(e: Exception):
    h = _health
    if h.pid != os.getpid():
        h.down, h.pid = False, os.getpid()
    if not h.down:
        h.down, h.since = True, time.monotonic()
        log.error("usrloc: database %s unreachable (%s): location reads and writes fail "
                  "until it is back", _masked_url(), e)
    h.retry_at = time.monotonic() + RETRY_S


def _came_back():
    h = _health
    if h.down and h.pid == os.getpid():
        h.down = False
        log.warning("usrloc: database %s is back after %.1f s", _masked_url(), time.monotonic() - h.since)


def _masked_url() -> str:
    try:
        return db.parse_db_url(cfg.db_url).text
    except Exception:
        return "(bad db_url)"


def connection() -> db.DbConnection:
    """This process's connection to cfg.db_url (opened now if needed)."""
    global _conn
    if _conn is None or _conn.pid != os.getpid():
        h = _health
        if h.down and h.pid == os.getpid() and time.monotonic() < h.retry_at:
            raise db.DbDownError(f"database {_masked_url()} is down (next try in "
                                 f"{h.retry_at - time.monotonic():.1f} s)")
        try:
            _conn = db.connect(cfg.db_url)
        except db.DbDownError as e:
            _conn = None
            _went_down(e)
            raise
    return _conn


def close():
    global _conn
    if _conn is not None and _conn.pid == os.getpid():
        _conn.close()
    _conn = None


def _broken() -> bool:
    return _conn is not None and bool(getattr(_conn, "broken", False))


def _guarded(fn):
    """A statement function: a connection found lost (the server restarted since its
    last use) is replaced and the statement run once more, as Kamailio's db_postgres
    resets and retries (usrloc's statements are idempotent: by ruid); an outage is
    logged once; success after an outage logs that it is back."""
    @functools.wraps(fn)
    def run(*args, **kw):
        try:
            out = fn(*args, **kw)
        except db.DbDownError as e:
            stale = _broken() and not (_health.down and _health.pid == os.getpid())
            if _broken():
                close()
            if not stale:
                _went_down(e)
                raise
            try:
                out = fn(*args, **kw)
            except db.DbDownError as e2:
                if _broken():
                    close()
                _went_down(e2)
                raise
        if _health.down:
            _came_back()
        return out
    return run


def expires_by_backend(table: str) -> bool:
    """True when the database drops expired rows itself (db_redis expire_by)."""
    fn = getattr(connection(), "expires_by_backend", None)
    return bool(fn and fn(table))


def split_aor(aor: str) -> tuple[str, str | None]:
    """(username, domain) columns of an AOR: the domain only with use_domain."""
    if cfg.use_domain:
        user, at, dom = aor.partition("@")
        return (user, dom) if at else (aor, None)
    return aor, None


def join_aor(username: str, domain: str | None) -> str:
    if cfg.use_domain and domain:
        return f"{username}@{domain}"
    return username


def _none_if_empty(s):
    return s if s else None


def contact_row(aor: str, c: UContact) -> dict:
    user, dom = split_aor(aor)
    return {
        "username": user, "domain": dom, "contact": c.contact, "expires": db.to_db_time(c.expires),
        "q": q_float(c.q), "callid": c.callid, "cseq": c.cseq, "flags": c.flags, "cflags": c.cflags,
        "user_agent": c.user_agent, "received": _none_if_empty(c.received), "path": _none_if_empty(c.path),
        "socket": _none_if_empty(c.socket), "ruid": c.ruid, "instance": _none_if_empty(c.instance),
        "reg_id": c.reg_id, "server_id": c.server_id, "connection_id": c.connection_id,
        "keepalive": c.keepalive, "methods": None if c.methods == ALL_METHODS else c.methods,
        "last_modified": db.to_db_time(c.last_modified),
    }


def row_contact(row) -> tuple[str, UContact]:
    """(aor, contact) of a row selected with ROW_COLUMNS."""
    (user, dom, contact, expires, q, callid, cseq, flags, cflags, ua, received, path, socket, ruid,
     instance, reg_id, server_id, conn_id, keepalive, methods, last_modified) = row
    c = UContact.new(
        contact, expires=db.from_db_time(expires), q=q_from_float(q), callid=callid or "",
        cseq=cseq or 0, flags=flags or 0, cflags=cflags or 0, user_agent=ua or "",
        received=received or "", path=path or "", socket=socket or "", ruid=ruid or "",
        instance=instance or "", reg_id=reg_id or 0, server_id=server_id or 0,
        connection_id=conn_id if conn_id is not None else -1, keepalive=keepalive or 0,
        methods=ALL_METHODS if methods is None else methods & 0xFFFFFFFF,
        last_modified=db.from_db_time(last_modified), state=CS_SYNC)
    return join_aor(user, dom), c


def check_version(table: str) -> str | None:
    if not cfg.version_table:
        return None
    return check_table_version(connection(), table)


# ------------------------------------------------------------------ statements
@_guarded
def upsert(table: str, aor: str, c: UContact):
    """Insert or overwrite the contact's row (by ruid, the unique key), and its
    attributes when xavp_contact is set."""
    conn = connection()
    conn.replace(table, contact_row(aor, c), ["ruid"])
    if cfg.xavp_contact:
        attrs.write(conn, table, *split_aor(aor), c.ruid, c[C_XAVP])


@_guarded
def delete_ruid(table: str, ruid: str):
    conn = connection()
    conn.delete(table, {"ruid": ruid})
    if cfg.xavp_contact:
        attrs.delete(conn, table, ruid)


@_guarded
def delete_aor(table: str, aor: str):
    user, dom = split_aor(aor)
    where = [("username", "=", user), ("domain", "=", dom)] if cfg.use_domain else [("username", "=", user)]
    conn = connection()
    conn.delete(table, where)
    if cfg.xavp_contact:
        conn.delete(attrs.table_of(table), where)


def _with_attrs(conn, table: str, contacts: list[UContact], everything: bool = False):
    """Give the contacts their stored attributes (xavp_contact set)."""
    if not cfg.xavp_contact or not contacts:
        return
    found = attrs.load(conn, table, None if everything else [c.ruid for c in contacts])
    for c in contacts:
        c[C_XAVP] = found.get(c.ruid)


@_guarded
def load_aor(table: str, aor: str) -> list[UContact]:
    """The contacts of one AOR (db_mode 3), ordered as usrloc keeps them."""
    user, dom = split_aor(aor)
    where = [("username", "=", user)]
    if cfg.use_domain:
        where.append(("domain", "=", dom))
    conn = connection()
    contacts = [row_contact(r)[1] for r in conn.query(table, ROW_COLUMNS, where, order_by="id")]
    _with_attrs(conn, table, contacts)
    return contacts


@_guarded
def load_all(table: str) -> dict[str, list[UContact]]:
    """Every row grouped by AOR, for the start-up load (server_id_filter honoured)."""
    where = [("server_id", "=", cfg.server_id)] if cfg.server_id_filter else None
    out: dict[str, list[UContact]] = {}
    conn = connection()
    every = []
    for row in conn.query(table, ROW_COLUMNS, where, order_by="id"):
        aor, c = row_contact(row)
        out.setdefault(aor, []).append(c)
        every.append(c)
    _with_attrs(conn, table, every, everything=True)
    return out


@_guarded
def delete_expired(table: str, now: float) -> int:
    """Remove rows whose expiry passed (permanent rows, at the epoch, stay)."""
    where = [("expires", "<", db.to_db_time(now - cfg.rm_expired_delay)),
             ("expires", ">", db.to_db_time(0))]
    if cfg.server_id_filter:
        where.append(("server_id", "=", cfg.server_id))
    conn = connection()
    if cfg.xavp_contact:  # the attributes of those rows first
        for (ruid,) in conn.query(table, ("ruid",), where):
            attrs.delete(conn, table, ruid)
    return conn.delete(table, where)


@_guarded
def flush(table: str, upserts: list[tuple[str, UContact]], deletes: list[str]):
    """Write-back: every pending change of a timer run in one transaction."""
    conn = connection()
    with conn.transaction():
        for ruid in deletes:
            conn.delete(table, {"ruid": ruid})
            if cfg.xavp_contact:
                attrs.delete(conn, table, ruid)
        for aor, c in upserts:
            conn.replace(table, contact_row(aor, c), ["ruid"])
            if cfg.xavp_contact:
                attrs.write(conn, table, *split_aor(aor), c.ruid, c[C_XAVP])


def _valid_clause(conn) -> str:
    # permanent (at the epoch) or not expired yet
    return f"(expires = {conn.placeholder} OR expires > {conn.placeholder})"


@_guarded
def _valid_rows(conn, table: str, now: float, valid: bool) -> list[tuple]:
    """(username, domain, expires) of the rows, filtered in Python: a store without
    SQL (Redis) answers the ul.db_* counts this way."""
    rows = conn.query(table, ("username", "domain", "expires"))
    out = []
    for user, dom, expires in rows:
        t = db.from_db_time(expires)
        if (t == 0 or t > now) == valid:
            out.append((user, dom, t))
    return out


@_guarded
def count_users(table: str, now: float) -> int:
    """AORs with at least one unexpired contact (ul.db_users)."""
    conn = connection()
    if conn.driver == "redis":
        return len({(u, d) for u, d, _ in _valid_rows(conn, table, now, True)})
    sql = (f"SELECT COUNT(*) FROM (SELECT DISTINCT username, domain FROM {db.quote_ident(table)} "
           f"WHERE {_valid_clause(conn)}) AS u")
    return int(conn.raw_query(sql, [db.to_db_time(0), db.to_db_time(now)])[0][0])


@_guarded
def count_contacts(table: str, now: float) -> int:
    """Unexpired contacts (ul.db_contacts)."""
    conn = connection()
    if conn.driver == "redis":
        return len(_valid_rows(conn, table, now, True))
    sql = f"SELECT COUNT(*) FROM {db.quote_ident(table)} WHERE {_valid_clause(conn)}"
    return int(conn.raw_query(sql, [db.to_db_time(0), db.to_db_time(now)])[0][0])


@_guarded
def count_expired(table: str, now: float) -> int:
    """Expired contacts still in the table (ul.db_expired_contacts)."""
    conn = connection()
    if conn.driver == "redis":
        return len([r for r in _valid_rows(conn, table, now, False) if r[2] <= now])
    sql = (f"SELECT COUNT(*) FROM {db.quote_ident(table)} WHERE expires <= {conn.placeholder} "
           f"AND expires <> {conn.placeholder}")
    return int(conn.raw_query(sql, [db.to_db_time(now), db.to_db_time(0)])[0][0])
