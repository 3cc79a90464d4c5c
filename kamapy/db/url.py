"""Database URLs in Kamailio's form (the `db_url` modparam).

    sqlite:///var/lib/kamapy/kamapy.db      the file /var/lib/kamapy/kamapy.db
    postgres://user:pass@host[:port]/db     a PostgreSQL server (also postgresql://)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SCHEMES = {"sqlite": "sqlite", "postgres": "postgres", "postgresql": "postgres", "pgsql": "postgres"}


class DbUrlError(ValueError):
    pass


@dataclass(frozen=True)
class DbUrl:
    driver: str          # "sqlite" or "postgres"
    database: str        # the file path (sqlite) or the database name
    user: str = ""
    password: str = ""
    host: str = ""
    port: int = 0
    text: str = ""       # the URL as given, for messages (password masked)


def parse_db_url(url: str) -> DbUrl:
    """Split a db_url; raises DbUrlError naming what is wrong."""
    text = (url or "").strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise DbUrlError(f"bad db_url {url!r}: expected driver://...")
    driver = SCHEMES.get(scheme.lower())
    if driver is None:
        raise DbUrlError(f"db_url {url!r}: unsupported driver {scheme!r} (sqlite, postgres)")
    if driver == "sqlite":
        # sqlite:///abs/path -> /abs/path; sqlite://rel/path -> rel/path
        if not rest:
            raise DbUrlError(f"db_url {url!r}: no database file")
        return DbUrl("sqlite", rest, text=text)
    parts = urlsplit("x://" + rest)
    database = parts.path.lstrip("/")
    if not database:
        raise DbUrlError(f"db_url {url!r}: no database name")
    try:
        port = parts.port or 0
    except ValueError:
        raise DbUrlError(f"db_url {url!r}: bad port") from None
    masked = text.replace(f":{parts.password}@", ":***@") if parts.password else text
    return DbUrl("postgres", unquote(database), unquote(parts.username or ""),
                 unquote(parts.password or ""), parts.hostname or "", port, masked)
