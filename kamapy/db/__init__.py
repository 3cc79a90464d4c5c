"""kamapy's DB API (Kamailio's srdb1): `connect(db_url)` gives a per-process connection
to SQLite (sqlite:///path), PostgreSQL (postgres://user:pass@host:port/db) or
MySQL/MariaDB (mysql://user:pass@host:port/db) or Redis in db_redis's layout
(redis://host:port/N) with one interface; `schema` holds Kamailio's table layouts and `create_tables()`."""

from .api import DbConnection, DbDownError, DbError, connect, quote_ident
from .types import (
    DB_BIGINT,
    DB_BLOB,
    DB_DATETIME,
    DB_DOUBLE,
    DB_INT,
    DB_STR,
    OPS,
    from_db_time,
    to_db_time,
)
from .url import DbUrl, DbUrlError, parse_db_url

__all__ = [
    "DB_BIGINT", "DB_BLOB", "DB_DATETIME", "DB_DOUBLE", "DB_INT", "DB_STR", "OPS", "DbConnection",
    "DbDownError", "DbError", "DbUrl", "DbUrlError", "connect", "from_db_time", "parse_db_url", "quote_ident",
    "to_db_time",
]
