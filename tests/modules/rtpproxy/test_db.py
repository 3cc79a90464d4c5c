"""db_url / table_name: the sets come from the table (setid, url, weight, flags; flags
1 = disabled for good), rtpproxy_sock is ignored; rtpproxy.list shows the same as
Kamailio's with its db_sqlite over the same SQLite file."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

from .fake import FakeRtpproxy

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(kamailio_path() is None, reason="kamailio is not installed")]

CFG = (Path(__file__).parent / "db.cfg").read_text()


def test_sets_from_the_database_as_kamailio(tmp_path):
    a, b = FakeRtpproxy(), FakeRtpproxy()
    db = tmp_path / "k.sqlite"
    con = sqlite3.connect(db)
    con.executescript(
        "CREATE TABLE version (id INTEGER PRIMARY KEY, table_name VARCHAR(32) NOT NULL,"
        " table_version INTEGER DEFAULT 0 NOT NULL);"
        "INSERT INTO version (table_name, table_version) VALUES ('rtpp_sets', 1);"
        "CREATE TABLE rtpp_sets (id INTEGER PRIMARY KEY, setid VARCHAR(32) DEFAULT '0' NOT NULL,"
        " url VARCHAR(64) DEFAULT '' NOT NULL, flags INTEGER DEFAULT 0 NOT NULL,"
        " weight INTEGER DEFAULT 1 NOT NULL, description VARCHAR(64) DEFAULT '' NOT NULL);")
    con.executemany("INSERT INTO rtpp_sets (setid, url, flags, weight) VALUES (?, ?, ?, ?)",
                    [("0", a.url, 0, 1), ("2", b.url, 0, 3), ("2", "udp:127.0.0.1:9", 1, 1)])
    con.commit()
    con.close()
    out = []
    try:
        for cls, d in ((KamailioServer, tmp_path / "k"), (KamapyServer, tmp_path / "p")):
            d.mkdir()
            fmt = {"db": str(db), "dir": str(d), "mpath": MODULES}
            with cls(CFG, children=1, fmt=fmt):
                out.append(rpc_call(os.path.join(d, "rpc.sock"), "rtpproxy.list"))
    finally:
        a.close()
        b.close()
    want, got = out
    assert got == want
    assert [(r["setid"], r["url"], r["weight"], r["disabled"]) for r in got] == [
        (0, a.url, 1, 0), (2, b.url, 3, 0), (2, "udp:127.0.0.1:9", 1, 1)]
