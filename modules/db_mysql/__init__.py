"""db_mysql: MySQL/MariaDB for the DB API (Kamailio: modules/db_mysql).

Loading it is what a Kamailio config does before a `mysql://` db_url; the driver itself
is kamapy/db/mysql.py (PyMySQL), which every module's kamapy.db.connect() uses for a
mysql:// URL. The module's parameters set the driver's options (kamapy.db.mysql.OPTIONS)
in mod_init, before any module opens its connections (in child_init):

  ping_interval     a connection idle this many seconds is pinged before use (300)
  timeout_interval  connect timeout, s; reads and writes get three times it; a dead
                    server is waited for at most three times it before a statement fails (2)
  auto_reconnect    reconnect a lost connection and run the statement again (1)
  insert_delayed    INSERT DELAYED (1); where the server refuses it (InnoDB tables)
                    the connection goes on with plain INSERTs
  server_timezone   accepted; kamapy binds DATETIMEs as local-time text (0 and 1 alike)
  update_affected_found  UPDATE returns the rows it matched -- always so in kamapy's DB
                    API (0 is refused with a warning: it would make the drivers differ)
  opt_ssl_mode      1 = no TLS (PyMySQL's default without ssl options); others unsupported
"""

from __future__ import annotations

from kamapy.module import ModuleExports, Param


def _non_negative(v):
    if v < 0:
        raise ValueError("a value >= 0 is expected")


def _mod_init():
    from kamapy.db import mysql
    for name in ("ping_interval", "timeout_interval", "auto_reconnect", "insert_delayed",
                 "server_timezone"):
        mysql.OPTIONS[name] = exports.param(name)
    return 0


exports = ModuleExports(
    name="db_mysql",
    params=[
        Param("ping_interval", int, 300, validate=_non_negative),
        Param("timeout_interval", int, 2, validate=_non_negative),
        Param("auto_reconnect", int, 1),
        Param("insert_delayed", int, 0),
        Param("server_timezone", int, 0),
        Param("update_affected_found", int, 1,
              unsupported="kamapy's UPDATE always returns the rows matched (as with "
                          "update_affected_found 1)"),
        Param("opt_ssl_mode", int, 0, unsupported="TLS to the MySQL server is not built"),
    ],
    mod_init=_mod_init,
)
