"""The destinations from the `dispatcher` table through kamapy's DB API (SQLite, and
MariaDB when it is installed), and dispatcher.reload picking up a changed table."""

from __future__ import annotations

import itertools

import pytest

from kamapy.db.api import connect
from kamapy.db.schema import create_tables
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

pytestmark = pytest.mark.wire

CFG = """
listen=udp:127.0.0.1:{port}
disable_tcp=yes
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "jsonrpcs.so"
loadmodule "{dbmod}"
loadmodule "dispatcher.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("dispatcher", "db_url", "{url}")
modparam("dispatcher", "reload_delta", 0)
modparam("dispatcher", "ds_db_extra_attrs", "desc=description")
request_route { sl_send_reply("200", "OK"); }
"""

_n = itertools.count(1)


def _sqlite(tmp_path):
    return f"sqlite://{tmp_path}/ds.sqlite", "db_sqlite.so"


def _mysql(_tmp_path):
    from tests.db.mysqlserver import mysql_server
    server = mysql_server()
    if server is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    return server.create_db(f"kamapy_ds_{next(_n)}"), "db_mysql.so"


@pytest.mark.parametrize("make", [_sqlite, pytest.param(_mysql, marks=pytest.mark.slow)],
                         ids=["sqlite", "mariadb"])  # mariadb: ~7 s with its server start
def test_table_load_and_reload(tmp_path, make):
    url, dbmod = make(tmp_path)
    create_tables(url, ["dispatcher"])
    conn = connect(url)
    try:
        conn.insert("dispatcher", {"setid": 1, "destination": "sip:127.0.0.1:17001", "flags": 0,
                                   "priority": 0, "attrs": "duid=a", "description": "first"})
        conn.insert("dispatcher", {"setid": 2, "destination": "sip:127.0.0.1:17002", "flags": 4,
                                   "priority": 3, "attrs": "", "description": ""})
    finally:
        conn.close()
    srv = KamapyServer(CFG, children=1, fmt={"url": url, "dbmod": dbmod})
    srv.cfg_path.write_text(srv.cfg_path.read_text().replace("{dir}", str(srv.dir)))
    with srv:
        sock = str(srv.dir / "rpc.sock")
        out = rpc_call(sock, "dispatcher.list")
        assert out["NRSETS"] == 2
        sets = {r["SET"]["ID"]: r["SET"]["TARGETS"] for r in out["RECORDS"]}
        assert [r["SET"]["ID"] for r in out["RECORDS"]] == [2, 1]   # Kamailio's AVL walk
        d1 = sets[1][0]["DEST"]
        assert d1["URI"] == "sip:127.0.0.1:17001" and d1["ATTRS"]["BODY"] == "duid=a;desc=first"
        d2 = sets[2][0]["DEST"]
        assert (d2["FLAGS"], d2["PRIORITY"], "ATTRS" in d2) == ("DX", 3, False)
        conn = connect(url)
        try:
            conn.insert("dispatcher", {"setid": 1, "destination": "sip:127.0.0.1:17003",
                                       "flags": 0, "priority": 9, "attrs": "", "description": ""})
        finally:
            conn.close()
        assert rpc_call(sock, "dispatcher.reload") == "Ok. Dispatcher successfully reloaded."
        out = rpc_call(sock, "dispatcher.list", "short")
        assert [t["DEST"]["URI"] for t in out["RECORDS"][1]["SET"]["TARGETS"]] == \
            ["sip:127.0.0.1:17003", "sip:127.0.0.1:17001"]
