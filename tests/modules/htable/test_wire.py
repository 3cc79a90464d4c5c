"""htable on a real kamapy with two workers: items are shared ($shtinc from four
clients at once loses no count, and pike's tree is one for both workers), autoexpire
removes items from the timer process and runs event_route[htable:expired:<t>], tables
load from an SQLite database at start-up (array keys, integer values, db_expires),
htable.reload reads it again, dbmode=1 writes the table back at shutdown, and the
htable.* RPCs answer as Kamailio's."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from kamapy_modules.htable.db import HTABLE

from kamapy.db.schema import Table, create_table_sql
from tests.support.rpc import rpc_reply
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = """
debug=2
log_stderror=yes
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "jsonrpcs.so"
loadmodule "htable.so"
loadmodule "pike.so"
modparam("pike", "sampling_time_unit", 3600)
modparam("pike", "reqs_density_per_unit", 16)
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rpc}")
modparam("htable", "db_url", "sqlite://{db}")
modparam("htable", "db_expires", 1)
modparam("htable", "timer_interval", 1)
modparam("htable", "htable", "a=>size=4;initval=0;")
modparam("htable", "htable", "x=>size=2;autoexpire=1;")
modparam("htable", "htable", "log=>size=2;")
modparam("htable", "htable", "d=>size=4;dbtable=htable;dbmode=1;")
modparam("htable", "htable", "e=>size=2;autoexpire=300;dbtable=htable_e;")

event_route[htable:expired:x] {
    $sht(log=>$shtrecord(key)) = $shtrecord(value);
}

request_route {
    if ($hdr(X-G) == "inc") {
        $var(n) = $shtinc(a=>n);
        pike_check_ip("10.20.30.40");
        append_to_reply("X-Pid: $pp\\r\\nX-Pike: $rc\\r\\n");
    } else if ($hdr(X-G) == "setx") {
        $sht(x=>$hdr(X-K)) = $hdr(X-V);
    }
    sl_send_reply("200", "OK");
}
"""

def _rows() -> dict:
    # expiry times from when the table is made, not when the module was collected (a
    # full run reaches this test many minutes after collection)
    now = int(time.time())
    return {
        "htable": [("k1", 0, 0, "hello", 0), ("num", 0, 1, "42", 0), ("arr", 1, 0, "a0", 0),
                   ("arr", 1, 0, "a1", 0)],
        "htable_e": [("live", 0, 0, "yes", now + 100), ("gone", 0, 0, "no", now - 10)],
    }


def _make_db(path) -> int:
    """Make the tables; returns the `now` their expiry times are counted from."""
    rows_of = _rows()
    conn = sqlite3.connect(path)
    for name, rows in rows_of.items():
        layout = Table(name, HTABLE.version, HTABLE.columns)
        for sql in create_table_sql(layout, "sqlite"):
            conn.execute(sql)
        conn.executemany(f"INSERT INTO {name} (key_name, key_type, value_type, key_value, expires) "
                         "VALUES (?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return rows_of["htable_e"][0][4] - 100


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("ht")
    db, rpc = d / "ht.db", d / "rpc.sock"
    made = _make_db(str(db))
    srv = KamapyServer(CFG, children=2, fmt={"db": db, "rpc": rpc})
    srv.db, srv.rpc, srv.made = str(db), str(rpc), made
    with srv:
        yield srv


def call(server, method, *params):
    return rpc_reply(server.rpc, method, *params)


def result(server, method, *params):
    reply = call(server, method, *params)
    assert "result" in reply, reply
    return reply["result"]


def request(c: SipClient, group: str, extra: str = "") -> bytes:
    return c.options(extra=f"X-G: {group}\r\n{extra}")


def test_increments_from_two_workers_are_all_counted(server):
    pids = set()
    pike = []
    errors = []

    def run():
        try:
            with SipClient(("127.0.0.1", server.port)) as c:
                for _ in range(40):
                    reply = c.request(request(c, "inc"), timeout=3)
                    assert status_of(reply) == 200
                    lines = reply.split(b"\r\n")
                    pids.update(line.split(b": ")[1] for line in lines if line.startswith(b"X-Pid"))
                    pike.extend(int(line.split(b": ")[1]) for line in lines if line.startswith(b"X-Pike"))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert result(server, "htable.get", "a", "n")["item"]["value"] == 160
    assert len(pids) == 2, pids  # both workers counted into the one shm table
    # and pike's tree is one for both: 21 checks pass, the 22nd blocks, once
    assert (pike.count(1), pike.count(-2), pike.count(-1)) == (21, 1, 160 - 22), pike


def test_autoexpire_and_the_expired_event_route(server):
    with SipClient(("127.0.0.1", server.port)) as c:
        assert status_of(c.request(request(c, "setx", "X-K: k9\r\nX-V: gone-soon\r\n"))) == 200
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        if "result" in call(server, "htable.get", "log", "k9"):
            break
        time.sleep(0.3)
    assert result(server, "htable.get", "log", "k9")["item"]["value"] == "gone-soon"
    assert call(server, "htable.get", "x", "k9")["error"] == {"code": 500,
                                                               "message": "Key name doesn't exist in htable."}


def test_loaded_from_the_database(server):
    dump = result(server, "htable.dump", "d")
    items = {i["name"]: (i["value"], i["type"]) for slot in dump for i in slot["slot"]}
    assert items == {"k1": ("hello", "str"), "num": (42, "int"), "arr[0]": ("a0", "str"),
                     "arr[1]": ("a1", "str"), "arr::size": (2, "int")}
    for slot in dump:
        assert slot["size"] == len(slot["slot"]) and 0 <= slot["entry"] < 16
    live = result(server, "htable.get", "e", "live")["item"]
    assert live["value"] == "yes" and live["expire"] == time.strftime("%Y-%m-%d %H:%M:%S",
                                                                      time.localtime(server.made + 100))
    assert "error" in call(server, "htable.get", "e", "gone")  # expired in the DB: not loaded


def test_reload_reads_the_table_again(server):
    conn = sqlite3.connect(server.db)
    conn.execute("INSERT INTO htable (key_name, key_type, value_type, key_value) VALUES ('k2', 0, 0, 'new')")
    conn.execute("DELETE FROM htable WHERE key_name = 'k1'")
    conn.commit()
    conn.close()
    assert result(server, "htable.reload", "d") == "Ok. Htable reloaded."
    assert result(server, "htable.get", "d", "k2")["item"]["value"] == "new"
    assert "error" in call(server, "htable.get", "d", "k1")
    assert call(server, "htable.reload", "a")["error"]["message"] == "No database htable"


def test_rpc_commands(server):
    assert result(server, "htable.sets", "log", "s", "text") == "Ok. Key set to new value."
    assert result(server, "htable.seti", "log", "i", 7) == "Ok. Key set to new value."
    assert result(server, "htable.get", "log", "i") == {"item": {"name": "i", "value": 7, "flags": 0,
                                                                  "expire": "NEVER"}}
    assert result(server, "htable.get", "log", "s")["item"]["flags"] == 2
    assert result(server, "htable.delete", "log", "s") == "Ok. Key deleted."
    assert call(server, "htable.delete", "log", "s")["error"] == {"code": 404, "message": "Key not found in htable."}
    assert call(server, "htable.get", "nosuch", "s")["error"] == {"code": 500, "message": "No such htable"}
    assert result(server, "htable.setxi", "e", "t", 5, 50) == "Ok. Key set to new value."
    assert result(server, "htable.setxs", "e", "u", "v", 50) == "Ok. Key set to new value."
    assert result(server, "htable.setex", "e", "t", 100) == "Ok"
    tables = result(server, "htable.listTables")
    assert [t["name"] for t in tables] == ["e", "d", "log", "x", "a"]
    assert tables[1] == {"name": "d", "dbtable": "htable", "dbmode": 1, "expire": 0, "updateexpire": 1,
                         "size": 16, "dmqreplicate": 0}
    stats = {s["name"]: s for s in result(server, "htable.stats")}
    assert stats["a"] == {"name": "a", "slots": 16, "all": 1, "min": 0, "max": 1}
    assert result(server, "htable.flush", "log") == "Ok. Htable flushed."
    assert result(server, "htable.dump", "log") == []


def test_dbmode_writes_the_table_back_at_shutdown(server):
    assert result(server, "htable.seti", "d", "w", 99) == "Ok. Key set to new value."
    server.stop()
    conn = sqlite3.connect(server.db)
    rows = set(conn.execute("SELECT key_name, key_type, value_type, key_value FROM htable"))
    conn.close()
    assert ("w", 0, 1, "99") in rows and ("k2", 0, 0, "new") in rows and ("arr::size", 0, 1, "2") in rows
