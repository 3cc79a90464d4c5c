"""Subscribers in the database, written as Kamailio's kamctl writes them (add, rm,
passwd): ha1 = MD5(user:domain:password), ha1b = MD5(user@domain:domain:password), the
plain password in `password` (kamctl's STORE_PLAINTEXT_PW=1 default; --no-plaintext
leaves it empty), so a table kamctl filled works in kamapy and this one in Kamailio.

Where the database is: --db-url, else $KAMAPYCTL_DB_URL, else the auth_db (then
usrloc) db_url of the config given with -f, else auth_db's default. The domain: the
part after '@' in USER, else --domain, else $SIP_DOMAIN (kamctlrc's name).
"""

from __future__ import annotations

import hashlib
import os
import re

import click

DEFAULT_DB_URL = "sqlite:///var/lib/kamapy/kamapy.sqlite"
_MODPARAM = re.compile(r'modparam\s*\(\s*"(auth_db|usrloc)"\s*,\s*"db_url"\s*,\s*"([^"]*)"\s*\)')


def db_url_from_config(path: str) -> str | None:
    """The db_url a config gives auth_db (or usrloc), defines applied when it parses."""
    try:
        from ..cfg import parse_config
        ast = parse_config(path, {})
        found = {}
        for mp in ast.modparams:
            if mp.name == "db_url":
                for mod in ("auth_db", "usrloc"):
                    if re.fullmatch(f"(?:{mp.modules})", mod, re.IGNORECASE):
                        found.setdefault(mod, str(getattr(mp.value, "value", mp.value)))
        return found.get("auth_db") or found.get("usrloc")
    except Exception:  # a config the parser rejects: read the plain lines
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError as e:
            raise click.ClickException(f"cannot read config file {path}: {e.strerror}") from None
        found = {m.group(1): m.group(2) for m in _MODPARAM.finditer(text)}
        return found.get("auth_db") or found.get("usrloc")


def resolve_db_url(ctx_obj, db_url: str | None) -> str:
    if db_url:
        return db_url
    env = os.environ.get("KAMAPYCTL_DB_URL")
    if env:
        return env
    cfg = getattr(ctx_obj, "cfg_path", None)
    if cfg:
        found = db_url_from_config(cfg)
        if found:
            return found
    return DEFAULT_DB_URL


def split_user(user: str, domain: str | None) -> tuple[str, str]:
    if "@" in user:
        user, _, dom = user.partition("@")
        domain = dom
    domain = domain or os.environ.get("SIP_DOMAIN")
    if not user:
        raise click.ClickException("empty user name")
    if not domain:
        raise click.ClickException("no domain: give USER@DOMAIN, --domain or SIP_DOMAIN")
    return user, domain


def hashes(user: str, domain: str, password: str) -> tuple[str, str]:
    ha1 = hashlib.md5(f"{user}:{domain}:{password}".encode()).hexdigest()
    ha1b = hashlib.md5(f"{user}@{domain}:{domain}:{password}".encode()).hexdigest()
    return ha1, ha1b


def open_db(url: str):
    from .. import db
    try:
        return db.connect(url)
    except Exception as e:
        raise click.ClickException(f"cannot open the database {url}: {e}") from None


def _table_ok(conn, table: str):
    if not conn.table_exists(table):
        raise click.ClickException(f"table {table!r} does not exist: create it with "
                                   f"`kamapyctl db create DB_URL -t {table}`")


def add(url: str, user: str, domain: str, password: str, plaintext: bool = True,
        table: str = "subscriber"):
    conn = open_db(url)
    try:
        _table_ok(conn, table)
        if conn.count(table, {"username": user, "domain": domain}):
            raise click.ClickException(f"user {user}@{domain} already exists")
        ha1, ha1b = hashes(user, domain, password)
        conn.insert(table, {"username": user, "domain": domain,
                            "password": password if plaintext else "", "ha1": ha1, "ha1b": ha1b})
    finally:
        conn.close()


def remove(url: str, user: str, domain: str, table: str = "subscriber") -> int:
    conn = open_db(url)
    try:
        _table_ok(conn, table)
        n = conn.delete(table, {"username": user, "domain": domain})
    finally:
        conn.close()
    if not n:
        raise click.ClickException(f"non-existent user {user}@{domain}")
    return n


def passwd(url: str, user: str, domain: str, password: str, plaintext: bool = True,
           table: str = "subscriber") -> int:
    conn = open_db(url)
    try:
        _table_ok(conn, table)
        ha1, ha1b = hashes(user, domain, password)
        n = conn.update(table, {"username": user, "domain": domain},
                        {"password": password if plaintext else "", "ha1": ha1, "ha1b": ha1b})
    finally:
        conn.close()
    if not n:
        raise click.ClickException(f"non-existent user {user}@{domain}")
    return n


def show(url: str, table: str) -> tuple[list[str], list[tuple]]:
    conn = open_db(url)
    try:
        _table_ok(conn, table)
        if conn.driver == "postgres":
            cols = [r[0] for r in conn.raw_query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position", [table])]
        else:
            cols = [r[1] for r in conn.raw_query(f"PRAGMA table_info({table})")]
        rows = conn.query(table, cols, order_by="id" if "id" in cols else None)
    finally:
        conn.close()
    return cols, rows


def user_options(f):
    f = click.option("--domain", "-d", metavar="DOMAIN", help="The domain when USER has none.")(f)
    f = click.option("--db-url", metavar="URL", help="The database (default: see kamapyctl add -h).")(f)
    return f


def password_options(f):
    """USER PASSWORD [--no-plaintext] and user_options: what add and passwd both take."""
    f = user_options(f)
    f = click.option("--no-plaintext", is_flag=True, help="Store only ha1/ha1b, not the password itself.")(f)
    f = click.argument("password")(f)
    return click.argument("user", metavar="USER[@DOMAIN]")(f)
