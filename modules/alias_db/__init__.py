"""alias_db: aliases from a database table (Kamailio 5.6's alias_db).

alias_db_lookup(table[, flags]) looks the R-URI's user (and host, with use_domain or the
'u' flag; 'd' drops it) up in the alias columns and rewrites the R-URI to
sip:<username>@<domain> of the first row; with append_branches=1 the other rows become
branches. 'r' reverses the lookup (user -> alias). alias_db_find(table, input, output[,
flags]) does the same on a URI from a PV and writes the result to an AVP or $var.
domain_prefix is stripped from the host before the query. 1 found, -1 not found / error.
"""

from __future__ import annotations

import logging

from kamapy import db
from kamapy.db.per_process import PerProcessConnection
from kamapy.module import (
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    LOCAL_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)
from kamapy.sip.uri import parse_uri

log = logging.getLogger("kamapy.alias_db")

DOMAIN_FLAG = 1
REVERSE_FLAG = 2


def _p(name):
    return exports.param(name)


_db = PerProcessConnection(lambda: _p("db_url"))
connection = _db.get
_drop = _db.drop


def parse_flags(text: str) -> int:
    flags = DOMAIN_FLAG if _p("use_domain") else 0
    for c in text or "":
        if c in "dD":
            flags &= ~DOMAIN_FLAG
        elif c in "rR":
            flags |= REVERSE_FLAG
        elif c in "uU":
            flags |= DOMAIN_FLAG
        else:
            raise ValueError(f"unsupported flag '{c}'")
    return flags


def _strip(host: str) -> str:
    pre = _p("domain_prefix")
    if pre and len(pre) < len(host) and host[:len(pre)].lower() == pre.lower():
        return host[len(pre):]
    return host


def query(table: str, user: str, host: str, flags: int):
    """The alias URIs for user@host, or None (none found / error)."""
    if flags & REVERSE_FLAG:
        keys = (_p("user_column"), _p("domain_column"))
        cols = [_p("alias_user_column"), _p("alias_domain_column")]
    else:
        keys = (_p("alias_user_column"), _p("alias_domain_column"))
        cols = [_p("user_column"), _p("domain_column")]
    where = {keys[0]: user or ""}
    if flags & DOMAIN_FLAG:
        where[keys[1]] = _strip(host or "")
    try:
        rows = connection().query(table, cols, where)
    except Exception as e:
        log.error("failed to query database: %s", e)
        _drop()
        return None
    if not rows or rows[0][0] is None:
        return None
    return [f"sip:{u if u is not None else ''}@{d if d is not None else ''}" for u, d in rows]


def _flags(flags):
    return (DOMAIN_FLAG if _p("use_domain") else 0) if flags is None else flags


def alias_db_lookup(msg, table, flags=None) -> int:
    if not table:
        log.error("invalid table parameter")
        return -1
    try:
        puri = parse_uri(msg.current_uri)
    except Exception:
        return -1
    uris = query(table, puri.user, puri.host, _flags(flags))
    if uris is None:
        return -1
    msg.set_ruri(uris[0])
    if _p("append_branches"):
        from kamapy.pv.dset import append_branch
        for u in uris[1:]:
            if append_branch(msg, u, q=0) == -1:
                log.error("error while appending branches")
                return -1
    return 1


def alias_db_find(msg, table, src, dst, flags=None) -> int:
    if not table:
        log.error("invalid table parameter")
        return -1
    value = src.get(msg)
    if not isinstance(value, str):
        log.error("PV vals is not string")
        return -1
    try:
        puri = parse_uri(value)
    except Exception:
        log.error("failed to parse uri %s", value)
        return -1
    uris = query(table, puri.user, puri.host, _flags(flags))
    if uris is None:
        return -1
    dst.set(msg, uris[0])
    if _p("append_branches"):
        for u in uris[1:]:
            dst.set(msg, u)
    return 1


def _flag_fixup(value):
    return parse_flags(value)


def child_init(_rank):
    _drop()
    return 0


def mod_init():
    try:
        db.parse_db_url(_p("db_url"))
    except Exception as e:
        log.error("alias_db: unable to bind database module: %s", e)
        return -1
    return 0


exports = ModuleExports(
    name="alias_db",
    params=[
        Param("db_url", str, "sqlite:///var/lib/kamapy/kamapy.sqlite"),
        Param("user_column", str, "username"),
        Param("domain_column", str, "domain"),
        Param("alias_user_column", str, "alias_username"),
        Param("alias_domain_column", str, "alias_domain"),
        Param("use_domain", int, 0),
        Param("domain_prefix", str, ""),
        Param("append_branches", int, 0),
    ],
    functions=[
        Function("alias_db_lookup", alias_db_lookup,
                 (Arg("spve"), Arg("raw", fixup=_flag_fixup, optional=True)),
                 REQUEST_ROUTE | FAILURE_ROUTE),
        Function("alias_db_find", alias_db_find,
                 (Arg("spve"), Arg("pvar"), Arg("pvar"), Arg("raw", fixup=_flag_fixup, optional=True)),
                 REQUEST_ROUTE | FAILURE_ROUTE | ONREPLY_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
    ],
    mod_init=mod_init,
    child_init=child_init,
)
