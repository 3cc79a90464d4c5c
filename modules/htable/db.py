"""Loading a table from the database and writing it back (Kamailio: ht_db.c), through
kamapy's DB API (SQLite, PostgreSQL, MySQL/MariaDB).

Rows of Kamailio's htable layout: key_name, key_type (0 simple, 1 array: key[n] items
plus key::size), value_type (0 string, 1 integer), key_value, and expires (read and
written when db_expires=1 and the table has autoexpire). With `cols=` in the
definition the named columns are read instead, the values after the first packed into
one comma-separated string (NULL as "*"), and nothing is written back.
"""

from __future__ import annotations

import logging
import re
import time

from kamapy.db.schema import HTABLE  # noqa: F401 -- Kamailio's htable layout, kept with the others

log = logging.getLogger("kamapy.htable")

class Settings:
    def __init__(self, values: dict):
        self.url = values.get("db_url") or ""
        self.name_col = values.get("key_name_column") or "key_name"
        self.ktype_col = values.get("key_type_column") or "key_type"
        self.vtype_col = values.get("value_type_column") or "value_type"
        self.value_col = values.get("key_value_column") or "key_value"
        self.expires_col = values.get("expires_column") or "expires"
        self.suffix = values.get("array_size_suffix") or "::size"
        self.db_expires = int(values.get("db_expires") or 0)


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def _int(value) -> int:
    if isinstance(value, int):
        return value
    m = re.match(r"\s*[+-]?\d+", _text(value))
    return int(m.group(0)) if m else 0


def read_rows(table, conn, cfg: Settings) -> list[tuple[str, object, int]]:
    """(name, value, expires-in-seconds or 0) to set, in the order Kamailio sets them."""
    out: list[tuple[str, object, int]] = []
    if table.cols:
        rows = conn.query(table.dbtable, table.cols, order_by=table.cols[0])
        for row in rows:
            if row[0] is None:
                raise ValueError(f"htable [{table.name}] has a row with a NULL key value")
            packed = ",".join("*" if v is None else _text(v) for v in row[1:])
            out.append((_text(row[0]), packed, 0))
        return out
    with_expires = table.htexpire > 0 and cfg.db_expires != 0
    cols = [cfg.name_col, cfg.ktype_col, cfg.vtype_col, cfg.value_col]
    if with_expires:
        cols.append(cfg.expires_col)
    rows = conn.query(table.dbtable, cols, order_by=cfg.name_col)
    now = int(time.time())
    prev_name, n, last_ktype = "", 0, 0
    for row in rows:
        if row[0] is None:
            raise ValueError(f"htable [{table.name}] has a row with a NULL key value")
        kname = _text(row[0])
        expires = 0
        if with_expires:
            expires = _int(row[4] or 0)
            if 0 < expires < now:
                continue  # already expired
        ktype = _int(row[1])
        if last_ktype == 1 and prev_name and prev_name != kname:
            out.append((prev_name + cfg.suffix, n, 0))
            prev_name, n = "", 0
        last_ktype = ktype
        prev_name = kname
        if ktype == 1:
            hname = f"{kname}[{n}]"
            n += 1
        else:
            hname = kname
        vtype = _int(row[2])
        raw = row[3]
        if raw is None:
            raise ValueError(f"null value in row for key {kname}")
        value = _int(raw) if vtype == 1 else _text(raw)
        out.append((hname, value, expires - now if (table.htexpire > 0 and expires > 0) else 0))
    if last_ktype == 1:
        out.append((prev_name + cfg.suffix, n, 0))
    return out


def load(table, cfg: Settings, conn=None) -> list[tuple[str, object, int]]:
    """The rows of `table.dbtable` (a connection of the caller's, or one opened here)."""
    from kamapy.db import connect
    own = conn is None
    if own:
        conn = connect(cfg.url)
    try:
        return read_rows(table, conn, cfg)
    finally:
        if own:
            conn.close()


def apply(table, rows) -> None:
    for name, value, expires in rows:
        table.set(name, value)
        if expires > 0:
            table.set_expire(name, expires)
    table.dbload = True


def save(table, cfg: Settings, conn=None) -> None:
    """Delete the DB table's rows, then write every item that has not expired."""
    from kamapy.db import connect
    if table.cols:
        log.warning("saving htable [%s] with custom db columns is not available", table.name)
        return
    own = conn is None
    if own:
        conn = connect(cfg.url)
    try:
        conn.delete(table.dbtable)
        now = int(time.time())
        with_expires = cfg.db_expires != 0 and table.htexpire > 0
        for _slot, items in table.slotted():
            for name, value, expires in items:
                if table.htexpire > 0 and expires <= now:
                    continue
                row = {cfg.name_col: name, cfg.ktype_col: 0}
                if isinstance(value, int):
                    row[cfg.vtype_col] = 1
                    row[cfg.value_col] = str(value)
                else:
                    row[cfg.vtype_col] = 0
                    row[cfg.value_col] = value
                if with_expires:
                    row[cfg.expires_col] = expires
                try:
                    conn.insert(table.dbtable, row)
                except Exception as e:
                    log.error("failed to store key [%s] in table [%s]: %s", name, table.dbtable, e)
    finally:
        if own:
            conn.close()
