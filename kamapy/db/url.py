"""Database URLs in Kamailio's form (the `db_url` modparam).

    sqlite:///var/lib/kamapy/kamapy.db      the file /var/lib/kamapy/kamapy.db
    postgres://user:pass@host[:port]/db     a PostgreSQL server (also postgresql://)
    mysql://user:pass@host[:port]/db        a MySQL/MariaDB server; mysql://u:p@[group]host/db
                                            also reads the my.cnf [group] (db_mysql's form)
    redis://[user[:pass]@]host[:port]/N     a Redis server, database number N (db_redis)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SCHEMES = {"sqlite": "sqlite", "postgres": "postgres", "postgresql": "postgres", "pgsql": "postgres",
           "mysql": "mysql", "redis": "redis"}


class DbUrlError(ValueError):
    pass


@dataclass(frozen=True)
class DbUrl:
    driver: str          # "sqlite", "postgres" or "mysql"
    database: str        # the file path (sqlite) or the database name
    user: str = ""
    password: str = ""
    host: str = ""
    port: int = 0
    text: str = ""       # the URL as given, for messages (password masked)
    group: str = ""      # mysql: the my.cnf group named as [group] before the host


def parse_db_url(url: str) -> DbUrl:
    """Split a db_url; raises DbUrlError naming what is wrong."""
    text = (url or "").strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise DbUrlError(f"bad db_url {url!r}: expected driver://...")
    driver = SCHEMES.get(scheme.lower())
    if driver is None:
        raise DbUrlError(f"db_url {url!r}: unsupported driver {scheme!r} (sqlite, postgres, mysql, redis)")
    if driver == "sqlite":
        # sqlite:///abs/path -> /abs/path; sqlite://rel/path -> rel/path
        if not rest:
            raise DbUrlError(f"db_url {url!r}: no database file")
        return DbUrl("sqlite", rest, text=text)
    group = ""
    if driver == "mysql":
        # mysql://user:pass@[group]host:port/db, mysql://[group]/db
        at = rest.rfind("@", 0, rest.find("/") if "/" in rest else len(rest))
        head, tail = (rest[:at + 1], rest[at + 1:]) if at >= 0 else ("", rest)
        if tail.startswith("["):
            end = tail.find("]")
            if end < 0:
                raise DbUrlError(f"db_url {url!r}: unterminated [group]")
            group, tail = tail[1:end], tail[end + 1:]
            rest = head + tail
    parts = urlsplit("x://" + rest)
    database = parts.path.lstrip("/")
    if driver == "redis":
        database = database or "0"
        if not database.isdigit():
            raise DbUrlError(f"db_url {url!r}: the database of a redis URL is a number")
    if not database:
        raise DbUrlError(f"db_url {url!r}: no database name")
    try:
        port = parts.port or 0
    except ValueError:
        raise DbUrlError(f"db_url {url!r}: bad port") from None
    masked = text.replace(f":{parts.password}@", ":***@") if parts.password else text
    return DbUrl(driver, unquote(database), unquote(parts.username or ""),
                 unquote(parts.password or ""), parts.hostname or "", port, masked, group)
