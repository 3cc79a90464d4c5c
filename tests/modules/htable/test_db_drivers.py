"""htable's load and write-back through kamapy's DB API on each driver, against a table
made by Kamailio's own htable-create.sql (the kamailio package's schema files): SQLite,
PostgreSQL and MariaDB as real servers. The table in shm is the module's own (HTable),
in this process."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest
from kamapy_modules.htable import db
from kamapy_modules.htable.table import HTable, parse_spec

from kamapy.db import connect
from kamapy.mem import shm

SCHEMA = Path("/usr/share/kamailio")
_names = itertools.count(1)


@pytest.fixture(scope="module", autouse=True)
def pool():
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(32 << 20)


def _statements(sql: str):
    buf = []
    for line in sql.splitlines():
        if not line.strip() or line.strip().startswith("--"):
            continue
        buf.append(line)
        if line.rstrip().endswith(";"):
            yield "\n".join(buf).rstrip().rstrip(";")
            buf = []


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def url(request, tmp_path):
    driver = request.param
    folder = {"sqlite": "db_sqlite", "postgres": "postgres", "mysql": "mysql"}[driver]
    ddl = SCHEMA / folder / "htable-create.sql"
    if not ddl.exists():
        pytest.skip(f"Kamailio's {folder}/htable-create.sql is not installed")
    sql = ddl.read_text()
    if driver == "sqlite":
        path = tmp_path / "ht.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE version (table_name VARCHAR(32) NOT NULL, table_version INTEGER DEFAULT 0)")
        conn.executescript(sql)
        conn.close()
        return f"sqlite://{path}"
    if driver == "postgres":
        from tests.db.pgserver import pg_server
        server = pg_server()
        if server is None:
            pytest.skip("PostgreSQL or psycopg not installed")
        u = server.create_db(f"kamapy_ht_{next(_names)}")
    else:
        from tests.db.mysqlserver import mysql_server
        server = mysql_server()
        if server is None:
            pytest.skip("mariadb-server or PyMySQL not installed")
        name = f"kamapy_ht_{next(_names)}"
        u = server.create_db(name)
    conn = connect(u)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS version (table_name VARCHAR(32) NOT NULL, "
                     "table_version INTEGER DEFAULT 0 NOT NULL)")
        for stmt in _statements(sql):
            conn.execute(stmt)
    finally:
        conn.close()
    return u


def test_load_and_write_back(url):
    conn = connect(url)
    try:
        for row in (("k1", 0, 0, "hello"), ("num", 0, 1, "42"), ("arr", 1, 0, "a0"), ("arr", 1, 1, "7")):
            conn.insert("htable", dict(zip(("key_name", "key_type", "value_type", "key_value"), row, strict=True)))
    finally:
        conn.close()
    t = HTable(parse_spec(f"h{next(_names)}=>size=4;dbtable=htable;dbmode=1;"))
    t.create()
    cfg = db.Settings({"db_url": url})
    db.apply(t, db.load(t, cfg))
    assert sorted((n, v) for n, v, _e in t.items()) == [
        ("arr::size", 2), ("arr[0]", "a0"), ("arr[1]", 7), ("k1", "hello"), ("num", 42)]
    t.set("w", 99)
    t.delete("k1")
    db.save(t, cfg)
    conn = connect(url)
    try:
        rows = {tuple(r) for r in conn.query("htable", ["key_name", "key_type", "value_type", "key_value"])}
    finally:
        conn.close()
    assert rows == {("arr::size", 0, 1, "2"), ("arr[0]", 0, 0, "a0"), ("arr[1]", 0, 1, "7"),
                    ("num", 0, 1, "42"), ("w", 0, 1, "99")}
