"""usrloc db_mode 3 as the shared store of several nodes, in-process: one statement
(PostgreSQL) or one round trip (Redis) to read an AOR, what a lookup() costs per INVITE,
and two for a new binding;
a connection the server dropped is replaced without failing the statement; a
failed write raises (ul_op) instead of being acknowledged; with db_redis expire_by
the timer leaves the table to Redis."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time

import pytest
from kamapy_modules.usrloc import dbstore
from kamapy_modules.usrloc.contact import UContact

from kamapy import db
from kamapy.db import redis as redis_driver
from kamapy.db import schema
from tests.db.pgserver import PgServer, pg_server
from tests.support.redisserver import redis_server

SCHEMA = "/usr/share/kamailio/db_redis/kamailio"


def _c(uri, expires=3600.0, ruid=None):
    now = time.time()
    return UContact.new(uri, expires=now + expires, callid="cid", cseq=1, last_modified=now,
                        ruid=ruid or f"r-{uri}")


@pytest.fixture(params=["postgres", "redis"])
def store(request):
    """(db_url, counter): a fresh location table on each shared store; counter()
    gives the statements / round trips this process's usrloc connection made."""
    if request.param == "postgres":
        srv = pg_server()
        if srv is None:
            pytest.skip("PostgreSQL or psycopg not installed")
        url = srv.create_db(f"kamapy_ul3_{os.getpid()}")
        schema.create_tables(url, ["location"])
        yield url, lambda: dbstore.connection().statements
        return
    srv = redis_server()
    if srv is None or not os.path.isdir(SCHEMA):
        pytest.skip("redis or Kamailio's db_redis schema files missing")
    old = dict(redis_driver.OPTIONS)
    redis_driver.OPTIONS.update(schema_path=SCHEMA,
                                keys="version=entry:table_name;location=entry:ruid&usrdom:username")
    srv.client(3).flushdb()
    yield srv.url[:-1] + "3", lambda: dbstore.connection().commands
    redis_driver.OPTIONS.clear()
    redis_driver.OPTIONS.update(old)


def test_one_read_per_lookup(usrloc_setup, store):
    url, count = store
    ul = usrloc_setup(db_mode=3, db_url=url)
    d = ul.get_udomain("location")
    d.insert_contact("alice", _c("sip:a@192.0.2.1"))
    before = count()
    d.insert_contact("alice", _c("sip:a2@192.0.2.1"))
    assert count() - before == 2  # what a REGISTER costs: the read, and the row's write
    before = count()
    r = d.get_urecord("alice")
    assert sorted(c.contact for c in r.contacts) == ["sip:a2@192.0.2.1", "sip:a@192.0.2.1"]
    assert count() - before == 1
    assert d.get_urecord("nobody") is None


def test_postgres_connection_killed_is_replaced(usrloc_setup, caplog):
    srv = pg_server()
    if srv is None:
        pytest.skip("PostgreSQL or psycopg not installed")
    url = srv.create_db(f"kamapy_ul3k_{os.getpid()}")
    schema.create_tables(url, ["location"])
    ul = usrloc_setup(db_mode=3, db_url=url)
    d = ul.get_udomain("location")
    d.insert_contact("bob", _c("sip:b@192.0.2.2"))
    pid = dbstore.connection().raw_query("SELECT pg_backend_pid()")[0][0]
    with db.connect(url) as other:
        other.raw_query("SELECT pg_terminate_backend(%s)", [pid])
    caplog.set_level(logging.INFO, logger="kamapy.usrloc")
    # the next statement finds its connection dead, opens another and succeeds
    assert [c.contact for c in d.get_urecord("bob").contacts] == ["sip:b@192.0.2.2"]
    assert dbstore.connection().raw_query("SELECT pg_backend_pid()")[0][0] != pid
    assert "unreachable" not in caplog.text


@pytest.mark.slow
def test_postgres_down_and_back(usrloc_setup, caplog):
    """A PostgreSQL of its own stopped: reads and writes fail fast (DbDownError with
    ul_op) and one line is logged; started again: the next statement reconnects."""
    srv = PgServer()
    if not srv.available:
        pytest.skip("PostgreSQL or psycopg not installed")
    srv.start()
    try:
        url = srv.create_db("kamapy_ul3_down")
        schema.create_tables(url, ["location"])
        ul = usrloc_setup(db_mode=3, db_url=url)
        d = ul.get_udomain("location")
        d.insert_contact("carol", _c("sip:c@192.0.2.3"))
        _halt(srv)
        caplog.set_level(logging.INFO, logger="kamapy.usrloc")
        for op in ("get", "insert"):
            t0 = time.monotonic()
            with pytest.raises(db.DbError) as e:
                if op == "get":
                    d.get_urecord("carol")
                else:
                    d.insert_contact("dave", _c("sip:d@192.0.2.4"))
            # insert_contact reads the AOR first: that read is what fails
            assert e.value.ul_op == "get" and time.monotonic() - t0 < 6
        assert caplog.text.count("unreachable") == 1
        _resume(srv)
        time.sleep(dbstore.RETRY_S)
        assert [c.contact for c in d.get_urecord("carol").contacts] == ["sip:c@192.0.2.3"]
        assert "is back after" in caplog.text
    finally:
        srv.stop()


def _halt(srv: PgServer):
    """Stop the server process, keeping its data directory."""
    os.kill(srv.proc.pid, signal.SIGINT)
    srv.proc.wait(10)


def _resume(srv: PgServer, timeout: float = 20.0):
    import psycopg
    srv.proc = subprocess.Popen(srv.proc.args, stdout=srv.log, stderr=subprocess.STDOUT, **srv._user_kwargs())
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(host="127.0.0.1", port=srv.port, user="postgres", dbname="postgres",
                                 connect_timeout=2):
                return
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "PostgreSQL did not start again"
            time.sleep(0.1)


@pytest.mark.parametrize("backend_expiry", [False, True])
def test_timer_cleans_unless_redis_expires(usrloc_setup, backend_expiry):
    srv = redis_server()
    if srv is None or not os.path.isdir(SCHEMA):
        pytest.skip("redis or Kamailio's db_redis schema files missing")
    old = dict(redis_driver.OPTIONS)
    redis_driver.OPTIONS.update(schema_path=SCHEMA, keys="location=entry:ruid&usrdom:username",
                                expire_by="location=expires" if backend_expiry else "")
    try:
        srv.client(4).flushdb()
        ul = usrloc_setup(db_mode=3, db_url=srv.url[:-1] + "4", version_table=0)
        d = ul.get_udomain("location")
        d.insert_contact("erin", _c("sip:e@192.0.2.5", expires=600))
        r = srv.client(4)
        # make the row look expired without waiting: its expires in the past
        r.hset("location:entry::r-sip:e@192.0.2.5", "expires", "2000-01-01 00:00:00")
        before = r.info("commandstats").get("cmdstat_scan", {}).get("calls", 0)
        d.timer(time.time())
        scans = r.info("commandstats").get("cmdstat_scan", {}).get("calls", 0) - before
        if backend_expiry:
            assert scans == 0 and r.exists("location:entry::r-sip:e@192.0.2.5")
        else:
            assert scans >= 1 and not r.exists("location:entry::r-sip:e@192.0.2.5")
    finally:
        redis_driver.OPTIONS.clear()
        redis_driver.OPTIONS.update(old)
