"""The DB API on MySQL/MariaDB: the driver-independent tests of test_db_api.py again on a
private mariadbd, plus what is MySQL's own: Kamailio's mysql DDL, a database made with
Kamailio's schema files read back, the my.cnf [group] URL, ON DUPLICATE KEY replace,
and reconnecting (a killed connection; a stopped server: a bounded wait, one log line,
then the next statement works again once the server is back)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

import pytest

from kamapy import db
from kamapy.db import mysql as mysql_driver
from kamapy.db import schema
from tests.db import test_db_api as generic
from tests.db.mysqlserver import mysql_server

KAM_SCHEMA = Path("/usr/share/kamailio/mysql")
_n = iter(range(1, 10**6))


@pytest.fixture(scope="module")
def server():
    s = mysql_server()
    if s is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    return s


@pytest.fixture
def db_url(server):
    return server.create_db(f"kamapy_my_{next(_n)}")


# the generic tests, run here with db_url = a fresh MariaDB database
test_create_tables_and_versions = generic.test_create_tables_and_versions
test_typed_round_trip = generic.test_typed_round_trip
test_query_update_delete_replace = generic.test_query_update_delete_replace
test_transaction_rolls_back = generic.test_transaction_rolls_back
test_errors_are_db_errors = generic.test_errors_are_db_errors


def test_url_forms():
    u = db.parse_db_url("mysql://kamailio:kamailiorw@localhost/kamailio")
    assert (u.driver, u.user, u.password, u.host, u.port, u.database, u.group) == (
        "mysql", "kamailio", "kamailiorw", "localhost", 0, "kamailio", "")
    assert "kamailiorw" not in u.text
    u = db.parse_db_url("mysql://u:p@[kam]db.example:3307/k")
    assert (u.group, u.host, u.port, u.database) == ("kam", "db.example", 3307, "k")
    u = db.parse_db_url("mysql://[kam]/k")
    assert (u.group, u.host, u.user, u.database) == ("kam", "", "", "k")
    with pytest.raises(db.DbUrlError):
        db.parse_db_url("mysql://u@h/")


def test_ddl_is_kamailios_mysql_layout():
    sql = "\n".join(schema.create_table_sql(schema.LOCATION, "mysql"))
    assert '"id" INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL' in sql
    assert '"q" FLOAT(10,2) DEFAULT 1.0 NOT NULL' in sql
    assert "\"expires\" DATETIME DEFAULT '2030-05-28 21:32:15' NOT NULL" in sql
    assert 'CONSTRAINT ruid_idx UNIQUE ("ruid")' in sql
    assert 'CREATE INDEX account_contact_idx ON "location" ("username", "domain", "contact")' in sql
    cdr = "\n".join(schema.create_table_sql(schema.ACC_CDRS, "mysql"))
    assert '"duration" FLOAT(10,3) DEFAULT 0 NOT NULL' in cdr


def _columns(server, dbname, table):
    c = server.admin(dbname)
    with c.cursor() as cur:
        cur.execute("SELECT column_name, column_type, is_nullable, column_default FROM "
                    "information_schema.columns WHERE table_schema = %s AND table_name = %s "
                    "ORDER BY ordinal_position", (dbname, table))
        cols = cur.fetchall()
        cur.execute("SELECT index_name, column_name, non_unique FROM information_schema.statistics "
                    "WHERE table_schema = %s AND table_name = %s ORDER BY index_name, seq_in_index",
                    (dbname, table))
        idx = cur.fetchall()
    c.close()
    return cols, idx


@pytest.mark.skipif(not (KAM_SCHEMA / "usrloc-create.sql").exists(),
                    reason="kamailio-mysql-modules (the mysql schema) not installed")
def test_kamapyctl_schema_equals_kamdbctls(server):
    """The tables `kamapyctl db create` makes are Kamailio's, column by column and index
    by index (information_schema of both databases compared)."""
    ours = server.create_db("kamapy_my_ours")
    theirs = server.create_db("kamapy_my_theirs")
    files = ("standard", "usrloc", "auth_db", "dialog", "acc", "permissions", "alias_db", "speeddial",
             "domain", "dispatcher", "htable")
    text = "".join((KAM_SCHEMA / f"{f}-create.sql").read_text() for f in files)
    tables = [t for t in schema.TABLES if t != "version" and f"CREATE TABLE `{t}`" in text]
    schema.create_tables(ours, tables)
    for f in files:
        server.load_sql("kamapy_my_theirs", (KAM_SCHEMA / f"{f}-create.sql").read_text())
    for t in ["version"] + tables:
        assert _columns(server, "kamapy_my_ours", t) == _columns(server, "kamapy_my_theirs", t), t
    with db.connect(ours) as a, db.connect(theirs) as b:
        for t in tables:
            assert schema.table_version(a, t) == schema.table_version(b, t), t


def test_kamailio_made_tables_work(server):
    """A database made with Kamailio's own mysql files: rows written and read back."""
    if not (KAM_SCHEMA / "usrloc-create.sql").exists():
        pytest.skip("no mysql schema")
    url = server.create_db("kamapy_my_kam")
    for f in ("standard", "usrloc"):
        server.load_sql("kamapy_my_kam", (KAM_SCHEMA / f"{f}-create.sql").read_text())
    when = dt.datetime(2031, 2, 3, 4, 5, 6)
    with db.connect(url) as conn:
        assert schema.check_table_version(conn, "location") is None
        row = {"ruid": "r1", "username": "alice", "contact": "sip:a@1.2.3.4", "expires": when,
               "q": 0.5, "partition": 2}
        assert conn.replace("location", row, ["ruid"]) == 1
        assert conn.replace("location", {**row, "q": 1.0}, ["ruid"]) == 1
        assert conn.count("location") == 1
        assert conn.query("location", ["expires", "q", "partition", "callid"], {"ruid": "r1"}) == [
            (when, 1.0, 2, "Default-Call-ID")]
        # UPDATE counts matched rows, not changed ones (as on the other drivers)
        assert conn.update("location", {"ruid": "r1"}, {"q": 1.0}) == 1


def _kill_connection(server, conn):
    cid = conn.raw_query("SELECT CONNECTION_ID()")[0][0]
    c = server.admin()
    with c.cursor() as cur:
        cur.execute(f"KILL {int(cid)}")
    c.close()
    return cid


def test_reconnects_after_the_connection_is_killed(db_url, server, caplog):
    schema.create_tables(db_url, ["subscriber"])
    with db.connect(db_url) as conn:
        conn.insert("subscriber", {"username": "a", "domain": "d", "password": "x"})
        first = _kill_connection(server, conn)
        with caplog.at_level(logging.ERROR, logger="kamapy.db"):
            assert conn.count("subscriber") == 1
        assert conn.raw_query("SELECT CONNECTION_ID()")[0][0] != first
        assert any("connection to" in r.getMessage() and "reconnecting" in r.getMessage()
                   for r in caplog.records)


def test_no_reconnect_when_off(db_url, server, monkeypatch):
    monkeypatch.setitem(mysql_driver.OPTIONS, "auto_reconnect", 0)
    with db.connect(db_url) as conn:
        _kill_connection(server, conn)
        with pytest.raises(db.DbError):
            conn.raw_query("SELECT 1")


def test_dead_server_bounded_wait_then_back(db_url, server, caplog, monkeypatch):
    monkeypatch.setitem(mysql_driver.OPTIONS, "timeout_interval", 1)
    schema.create_tables(db_url, ["subscriber"])
    with db.connect(db_url) as conn:
        conn.insert("subscriber", {"username": "a", "domain": "d", "password": "x"})
        server.halt()
        try:
            t0 = time.monotonic()
            with caplog.at_level(logging.ERROR, logger="kamapy.db"), pytest.raises(db.DbError) as ei:
                conn.count("subscriber")
            waited = time.monotonic() - t0
            assert waited < mysql_driver.reconnect_wait() + 5
            assert "not reachable" in str(ei.value)
            assert sum("reconnecting" in r.getMessage() for r in caplog.records) == 1
        finally:
            server.resume()
        assert conn.count("subscriber") == 1  # the same connection object works again


def test_insert_delayed_falls_back_on_innodb(db_url, monkeypatch):
    monkeypatch.setitem(mysql_driver.OPTIONS, "insert_delayed", 1)
    with db.connect(db_url) as conn:
        conn.execute('CREATE TABLE "b" ("id" INT, "v" BLOB, "n" BIGINT) ENGINE=InnoDB')
        conn.insert("b", {"id": 1, "v": b"\x00\xff", "n": 2**40})
        conn.insert("b", {"id": 2, "v": None, "n": -1})
        assert conn.query("b", order_by="id") == [(1, b"\x00\xff", 2**40), (2, None, -1)]
