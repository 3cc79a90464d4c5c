"""db_redis: Redis for the DB API (Kamailio: modules/db_redis).

Loading it is what a Kamailio config does before a `redis://host:port/N` db_url; the
driver is kamapy/db/redis.py (redis-py), in Kamailio's db_redis key layout so kamapy
and Kamailio nodes can share one location table (usrloc db_mode 3). The parameters
set the driver's options in mod_init, before modules open their connections:

  schema_path   the directory of table schema files, one per table (Kamailio's
                default /usr/share/kamailio/db_redis; its files are in .../kamailio)
  keys          <table>=entry:<cols>[&<map>:<cols>...][;...], several times allowed
  verbosity     1: log every table's keys at debug level on connect (1)
  db_pass       the Redis password when the URL has none (a later Kamailio's param)
  opt_tls       refused: TLS to Redis is not built
  expire_by     kamapy: <table>=<column>: Redis expires each row at that DATETIME
                column's time (EXPIREAT), so nodes need not scan for expired rows
                (usrloc's timer then leaves the table alone); D-db_redis-1
  expire_grace  kamapy: seconds added to that time (0)
"""

from __future__ import annotations

import logging

from kamapy.module import ModuleExports, Param

log = logging.getLogger("kamapy.db_redis")


def _no_tls(v):
    if v:
        raise ValueError("TLS to the Redis server is not built in kamapy's db_redis (use 0)")


def _schema_dir(v):
    import os
    if not os.path.isdir(v):
        raise ValueError(f"schema directory {v!r} does not exist (Kamailio's files are in "
                         "/usr/share/kamailio/db_redis/kamailio, package kamailio-redis-modules)")


def _keys_syntax(v):
    for part in v.split(";"):
        if not part.strip():
            continue
        table, eq, body = part.partition("=")
        if not eq or not table.strip():
            raise ValueError(f"invalid keys definition {part!r}, expecting <table>=<type>:<columns>")
        for tdef in body.split("&"):
            kind, colon, cols = tdef.partition(":")
            if not colon or not kind or not [c for c in cols.split(",") if c]:
                raise ValueError(f"invalid type definition {tdef!r}, expecting <type>:<column>[,<column>...]")


def _expire_by(v):
    table, eq, col = v.partition("=")
    if not eq or not table or not col or "," in col:
        raise ValueError("expecting <table>=<column> (a DATETIME column, e.g. location=expires)")


def _non_negative(v):
    if v < 0:
        raise ValueError("a value >= 0 is expected")


def _mod_init():
    from kamapy.db import DbError
    from kamapy.db import redis as driver
    driver.OPTIONS["schema_path"] = exports.param("schema_path")
    driver.OPTIONS["keys"] = ";".join(exports.param("keys"))
    driver.OPTIONS["verbosity"] = exports.param("verbosity")
    driver.OPTIONS["db_pass"] = exports.param("db_pass")
    driver.OPTIONS["expire_by"] = ";".join(exports.param("expire_by"))
    driver.OPTIONS["expire_grace"] = exports.param("expire_grace")
    if not driver.OPTIONS["keys"]:
        log.error("db_redis: at least one 'keys' parameter is needed (Kamailio's db_redis requires one)")
        return -1
    try:
        driver.layouts()
    except DbError as e:
        log.error("db_redis: %s", e)
        return -1
    return 0


exports = ModuleExports(
    name="db_redis",
    params=[
        Param("schema_path", str, "/usr/share/kamailio/db_redis", validate=_schema_dir),
        Param("keys", str, multi=True, validate=_keys_syntax),
        Param("verbosity", int, 1),
        Param("db_pass", str, ""),
        Param("opt_tls", int, 0, validate=_no_tls),
        Param("expire_by", str, multi=True, validate=_expire_by),
        Param("expire_grace", int, 0, validate=_non_negative),
    ],
    mod_init=_mod_init,
    doc=__doc__,
)
