"""Debian's /etc/kamailio/kamailio.cfg, unchanged, run by a real kamapy with
-A WITH_MYSQL -A WITH_AUTH -A WITH_NAT -A WITH_USRLOCDB -A WITH_ANTIFLOOD -A WITH_ACCDB
and DBURL pointing at a private MariaDB (Kamailio's schema, two subscribers), on
loopback only (-l), runtime sockets in a temp dir (-Y). Then the same file, defines and
flows under Kamailio 5.6 against its own database on the same MariaDB, and the two
normalised transcripts and accounting rows compared.

Flows: REGISTER 401 → 200 for alice and bob; alice calls bob (407 → credentials →
relayed to bob's binding → 180/200 → ACK → BYE); a call CANCELled while ringing; a call
to an unknown user (404); an OPTIONS flood from 127.0.0.3 that pike blocks and the
stock route puts into $sht(ipban=>$si) — requests from there are dropped while 127.0.0.4
is answered; deleting the entry over RPC (htable.delete) lets it in again once pike has
let go. The 300 s autoexpire itself is covered by tests/modules/htable."""

from __future__ import annotations

import os
import time

import pytest

from tests.db.mysqlserver import mysql_server
from tests.support.kamailio import MODULES, kamailio_path

from . import flows
from .stockdb import make_db

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(not flows.available(), reason="Debian's kamailio.cfg is not installed")]


def _run(kind, server_db):
    dbname = f"stock_{kind}"
    url = make_db(server_db, dbname)
    srv = flows.stock_server(kind, url)
    t0 = time.monotonic()
    with srv:
        started = time.monotonic() - t0
        res = flows.run_flows(srv, server_db, dbname)
    res["started"] = started
    res["port"] = srv.port
    return res


@pytest.fixture(scope="module")
def server_db():
    s = mysql_server()
    if s is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    return s


@pytest.fixture(scope="module")
def kamapy(server_db):
    return _run("kamapy", server_db)


@pytest.fixture(scope="module")
def kamailio(server_db):
    if not (kamailio_path() and os.path.exists(os.path.join(MODULES, "db_mysql.so"))):
        pytest.skip("kamailio with kamailio-mysql-modules is not installed")
    return _run("kamailio", server_db)


def test_register_with_digest_auth(kamapy):
    assert kamapy["register"] == {"alice": [401, 200], "bob": [401, 200]}, kamapy["log"][-3000:]
    # db_mode 2 writes `location` on the 60 s timer: the bindings are in memory (ul.dump)
    assert kamapy["ul_dump"] == ["alice", "bob"]


def test_call_authenticated_and_relayed(kamapy):
    assert kamapy["call"] == [407, 200], kamapy["log"][-3000:]
    inv = kamapy["callee_invite"]
    assert inv and inv.startswith(f"INVITE sip:bob@127.0.0.1:{kamapy['ports']['bob']} SIP/2.0")
    assert "Proxy-Authorization" not in inv  # consume_credentials()
    assert kamapy["callee_ack"].startswith("ACK ")
    assert kamapy["callee_bye"].startswith("BYE ") and kamapy["bye"] == 200


def test_cancel_and_unknown_user(kamapy):
    assert kamapy["cancel_ringing"] == 180
    assert kamapy["callee_cancel"] == "CANCEL"
    assert kamapy["cancel"] == [(200, "CANCEL"), (487, "INVITE")]
    assert kamapy["callee_ack487"] == "ACK"
    assert kamapy["unknown"] == [407, 404]


def test_accounting_rows(kamapy):
    acc = kamapy["acc"]
    assert [(r[0], r[3], r[4]) for r in acc] == [("INVITE", "call-answered", "200"),
                                                  ("BYE", "call-answered", "200")], acc
    inv = acc[0]
    assert inv[6:] == ("alice", "127.0.0.1", "bob", "bob", "127.0.0.1")
    missed = [(r[0], r[3], r[4]) for r in kamapy["missed"]]
    # FLT_ACCMISSED is set only once lookup() found the callee: no row for the 404
    assert missed == [("INVITE", "call-cancelled", "487")]


def test_flood_banned_then_released(kamapy):
    assert 16 <= kamapy["flood"]["answered"] <= 48, kamapy["flood"]
    assert kamapy["flood_after"] == 0 and kamapy["other_during_ban"] == 200
    assert kamapy["ban_item"]["item"]["value"] == 1
    assert f"ALERT: pike blocking OPTIONS from sip:flood@{flows.FLOOD_IP}" in kamapy["log"]
    assert kamapy["flood_still_banned"] == 0
    assert kamapy["flood_unbanned"] == 200


def _transcript(res):
    return {ua: flows.normalise(t, res["port"], res["ports"]) for ua, t in res["trace"].items()}


def test_same_as_kamailio(kamapy, kamailio):
    for key in ("register", "ul_dump", "call", "bye", "cancel_ringing", "callee_cancel", "cancel", "callee_ack487",
                "unknown", "flood_after", "other_during_ban", "flood_still_banned", "flood_unbanned"):
        assert kamapy[key] == kamailio[key], key
    assert kamapy["ban_item"]["item"]["value"] == kamailio["ban_item"]["item"]["value"]
    assert abs(kamapy["flood"]["answered"] - kamailio["flood"]["answered"]) <= 16
    assert _transcript(kamapy) == _transcript(kamailio)
    strip = lambda rows: [r[:1] + r[3:] for r in rows]  # noqa: E731  (tags are the servers' own)
    assert strip(kamapy["acc"]) == strip(kamailio["acc"])
    assert strip(kamapy["missed"]) == strip(kamailio["missed"])
