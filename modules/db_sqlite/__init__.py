"""db_sqlite: SQLite for the DB API (Kamailio: modules/db_sqlite).

Loading it is what a Kamailio config does before a `sqlite:///path` db_url; the driver
is kamapy/db/sqlite.py (Python's sqlite3), which kamapy.db.connect() uses for every
sqlite:// URL whether this module is loaded or not. Its parameters: db_set (per-database
PRAGMAs) is accepted and warned about, since kamapy's driver sets its own.
"""

from __future__ import annotations

from kamapy.module import ModuleExports, Param

exports = ModuleExports(
    name="db_sqlite",
    params=[
        Param("db_set", str, "", multi=True,
              unsupported="per-database PRAGMAs are not built: kamapy's SQLite driver sets its own"),
    ],
)
