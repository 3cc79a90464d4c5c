"""The DB API over SQLite and PostgreSQL: one interface, Kamailio's schema."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from kamapy import db
from kamapy.db import schema


def test_url_parsing():
    u = db.parse_db_url("postgres://kam:secret@10.0.0.1:5433/kamailio")
    assert (u.driver, u.user, u.password, u.host, u.port, u.database) == (
        "postgres", "kam", "secret", "10.0.0.1", 5433, "kamailio")
    assert "secret" not in u.text
    assert db.parse_db_url("sqlite:///var/lib/k.db").database == "/var/lib/k.db"
    assert db.parse_db_url("postgresql://h/db").port == 0
    for bad in ("oracle://a@b/c", "sqlite://", "postgres://h/", "nourl"):
        with pytest.raises(db.DbUrlError):
            db.parse_db_url(bad)


def test_ddl_matches_kamailio_layout():
    sql = "\n".join(schema.create_table_sql(schema.LOCATION, "postgres"))
    assert "id SERIAL PRIMARY KEY NOT NULL" in sql
    assert "\"expires\" TIMESTAMP WITHOUT TIME ZONE DEFAULT '2030-05-28 21:32:15' NOT NULL" in sql
    assert "CONSTRAINT location_ruid_idx UNIQUE (ruid)" in sql
    assert "\"domain\" VARCHAR(64) DEFAULT NULL" in sql
    assert "id INTEGER PRIMARY KEY NOT NULL" in "\n".join(schema.create_table_sql(schema.LOCATION, "sqlite"))


def test_create_tables_and_versions(db_url):
    created = schema.create_tables(db_url, ["location", "subscriber"])
    assert created == ["version", "location", "subscriber"]
    assert schema.create_tables(db_url, ["location"]) == []  # idempotent
    with db.connect(db_url) as conn:
        assert schema.table_version(conn, "location") == 9
        assert schema.table_version(conn, "subscriber") == 7
        assert schema.check_table_version(conn, "location") is None
        conn.update("version", {"table_name": "location"}, {"table_version": 8})
        assert "version 8" in schema.check_table_version(conn, "location")


def test_typed_round_trip(db_url):
    schema.create_tables(db_url, ["location"])
    when = dt.datetime(2031, 2, 3, 4, 5, 6)
    with db.connect(db_url) as conn:
        conn.insert("location", {"ruid": "r1", "username": "alice", "domain": None,
                                 "contact": "sip:alice@1.2.3.4", "expires": when, "q": 0.5,
                                 "cseq": 7, "methods": None, "flags": 3})
        rows = conn.query("location", ["username", "domain", "expires", "q", "cseq", "methods", "flags",
                                       "callid", "last_modified"], {"ruid": "r1"})
        assert rows == [("alice", None, when, 0.5, 7, None, 3, "Default-Call-ID",
                         dt.datetime(2000, 1, 1, 0, 0, 1))]
        assert conn.query("location", ["ruid"], [("domain", "=", None)]) == [("r1",)]
        assert conn.query("location", ["ruid"], [("domain", "!=", None)]) == []


def test_query_update_delete_replace(db_url):
    schema.create_tables(db_url, ["location"])
    base = dt.datetime(2030, 1, 1)
    with db.connect(db_url) as conn:
        conn.insert_many("location", ["ruid", "username", "contact", "expires", "cseq"],
                         [(f"r{i}", f"u{i % 3}", f"sip:c{i}@h", base + dt.timedelta(seconds=i), i)
                          for i in range(10)])
        assert conn.count("location") == 10
        assert conn.count("location", {"username": "u1"}) == 3
        got = conn.query("location", ["ruid"], [("cseq", ">=", 5), ("username", "=", "u2")], order_by="-cseq")
        assert got == [("r8",), ("r5",)]
        assert conn.query("location", ["ruid"], order_by="cseq", limit=2) == [("r0",), ("r1",)]
        assert conn.update("location", {"username": "u0"}, {"user_agent": "ua"}) == 4
        assert conn.delete("location", [("expires", "<", base + dt.timedelta(seconds=3))]) == 3
        assert conn.count("location") == 7
        conn.use_table("location")
        conn.replace(None, {"ruid": "r9", "username": "moved", "contact": "sip:x@h"}, ["ruid"])
        conn.replace(None, {"ruid": "new", "username": "n", "contact": "sip:y@h"}, ["ruid"])
        assert conn.query(None, ["username"], {"ruid": "r9"}) == [("moved",)]
        assert conn.count() == 8
        assert conn.delete(None) == 8


def test_transaction_rolls_back(db_url):
    schema.create_tables(db_url, ["location"])
    with db.connect(db_url) as conn:
        with pytest.raises(RuntimeError):
            with conn.transaction():
                conn.insert("location", {"ruid": "a", "username": "u", "contact": "sip:a@h"})
                raise RuntimeError("boom")
        assert conn.count("location") == 0
        with conn.transaction():
            conn.insert("location", {"ruid": "a", "username": "u", "contact": "sip:a@h"})
        assert conn.count("location") == 1


def test_errors_are_db_errors(db_url):
    with db.connect(db_url) as conn:
        with pytest.raises(db.DbError):
            conn.query("no_such_table")
        with pytest.raises(db.DbError):
            conn.query("version", where=[("id", "LIKE", 1)])


def test_connection_refuses_use_after_fork(tmp_path):
    conn = db.connect(f"sqlite://{tmp_path}/f.db")
    pid = os.fork()
    if pid == 0:
        try:
            conn.query("sqlite_master")
        except db.DbError:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    conn.close()


def test_time_conventions():
    assert db.from_db_time(db.to_db_time(0)) == 0.0
    t = 1900000000
    assert db.from_db_time(db.to_db_time(t)) == t
    assert db.from_db_time("2030-05-28 21:32:15") == dt.datetime(2030, 5, 28, 21, 32, 15).timestamp()
