"""Per-contact attributes (usrloc's xavp_contact): the record $xavp(<xavp_contact>)
holds when a contact is saved stays with the contact, is written to the
"<table>_attrs" table in the DB modes, and goes back into the message at lookup
(registrar). Kamailio: ucontact_xavp_store, uldb_insert_attrs / uldb_delete_attrs, the
attributes load in udomain.c.

The record is {name: [values, newest first]} as kamapy.pv.xavp keeps it; a value is
a str (atype 0 in the table) or an int (atype 1). Nothing happens while xavp_contact
is unset.
"""

from __future__ import annotations

import time

from kamapy import db

from .settings import cfg


def from_message(msg) -> dict | None:
    """A copy of the newest $xavp(<xavp_contact>) record of msg, or None."""
    name = cfg.xavp_contact
    if not name or not msg.xavps:
        return None
    items = msg.xavps.get(name)
    if not items or not isinstance(items[0], dict):
        return None
    return copy(items[0])


def copy(record: dict | None) -> dict | None:
    return None if record is None else {k: list(v) for k, v in record.items()}


def table_of(table: str) -> str:
    return table + "_attrs"


def rows(user: str, domain: str | None, ruid: str, record: dict) -> list[dict]:
    """The table rows of a record: one per value, the newest value of a name first."""
    now = db.to_db_time(time.time())
    out = []
    for aname, values in record.items():
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | str):
                continue  # Kamailio stores strings and integers only
            out.append({"ruid": ruid, "username": user, "domain": domain, "aname": aname,
                        "atype": 1 if isinstance(v, int) else 0, "avalue": str(v),
                        "last_modified": now})
    return out


def write(conn, table: str, user: str, domain: str | None, ruid: str, record: dict | None):
    """Replace the stored attributes of a contact (none left when record is None)."""
    conn.delete(table_of(table), {"ruid": ruid})
    if record:
        for row in rows(user, domain, ruid, record):
            conn.insert(table_of(table), row)


def delete(conn, table: str, ruid: str):
    conn.delete(table_of(table), {"ruid": ruid})


def load(conn, table: str, ruids: list[str] | None = None) -> dict[str, dict]:
    """ruid -> record, for these contacts (one query each, as Kamailio does), or for
    the whole table when ruids is None (the start-up load)."""
    out: dict[str, dict] = {}
    columns = ("ruid", "aname", "atype", "avalue")
    if ruids is None:
        batches = [conn.query(table_of(table), columns, None, order_by="id")]
    else:
        batches = [conn.query(table_of(table), columns, {"ruid": r}, order_by="id") for r in ruids if r]
    for found in batches:
        for ruid, aname, atype, avalue in found:
            if atype == 1:
                try:
                    value = int(avalue)
                except (TypeError, ValueError):
                    continue
            elif atype == 0:
                value = avalue if avalue is not None else ""
            else:
                continue  # an unknown type is skipped, as Kamailio does
            out.setdefault(ruid, {}).setdefault(aname, []).append(value)
    return out
