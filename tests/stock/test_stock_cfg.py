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
import re
import socket
import time

import pytest

from tests.db.mysqlserver import mysql_server
from tests.support.kamailio import MODULES, kamailio_path

from . import flows
from .stockdb import make_db

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(not flows.available(), reason="Debian's kamailio.cfg is not installed")]


@pytest.fixture(scope="module")
def relay():
    """rtpengine in rtpproxy mode on the stock file's rtpproxy_sock (udp:127.0.0.1:7722),
    when rtpengine is installed and the port is free (its control sockets use
    SO_REUSEPORT, so a plain bind() decides); else None and the NAT call runs without a
    relay (rtpproxy_manage() fails, the call still goes through)."""
    try:
        from tests.modules.rtpengine.rtpe import Rtpengine, rtpengine_path
    except ImportError:
        yield None
        return
    if rtpengine_path() is None:
        yield None
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind(("127.0.0.1", STOCK_RTPP_PORT))
    except OSError:
        yield None
        return
    finally:
        probe.close()
    r = Rtpengine()
    r.udp_port = STOCK_RTPP_PORT
    with r:
        yield r


STOCK_RTPP_PORT = 7722


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
def kamapy(server_db, relay):
    return _run("kamapy", server_db)


@pytest.fixture(scope="module")
def kamailio(server_db, relay):
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


def _media(msg: str) -> tuple[str, int]:
    body = msg.split("\r\n\r\n", 1)[1]
    return (re.search(r"^c=IN IP4 (\S+)", body, re.M).group(1),
            int(re.search(r"^m=audio (\d+)", body, re.M).group(1)))


def test_nat_caller_gets_alias_and_relay(kamapy, relay):
    assert kamapy["nat_call"] == [407, 200] and kamapy["nat_bye"] == 200, kamapy["log"][-3000:]
    inv = kamapy["nat_invite"]
    contact = re.search(r"^Contact: (.*)\r$", inv, re.M).group(1)
    assert "192.168.1.10:5060;alias=127.0.0.1~" in contact, contact  # set_contact_alias()
    assert "<sip:127.0.0.1:%d;lr;nat=yes>" % kamapy["port"] in inv  # add_rr_param in branch_route
    if relay is None:
        assert _media(inv) == ("192.168.1.10", kamapy["ports"]["alice_nat"] + 1000)
        pytest.skip("rtpengine not installed or 7722 taken: no relay, SDP left as it was")
    for msg in (inv, kamapy["nat_reply"]):
        ip, port = _media(msg)
        assert ip == "127.0.0.1" and relay.port_min <= port <= relay.port_max, (msg, relay.log()[-2000:])


def test_cancel_and_unknown_user(kamapy):
    assert kamapy["cancel_ringing"] == 180
    assert kamapy["callee_cancel"] == "CANCEL"
    assert kamapy["cancel"] == [(200, "CANCEL"), (487, "INVITE")]
    assert kamapy["callee_ack487"] == "ACK"
    assert kamapy["unknown"] == [407, 404]


def test_accounting_rows(kamapy):
    acc = kamapy["acc"]
    assert [(r[0], r[3], r[4]) for r in acc] == [("INVITE", "call-answered", "200"),
                                                  ("BYE", "call-answered", "200"),
                                                  ("INVITE", "call-nat", "200"),
                                                  ("BYE", "call-nat", "200")], acc
    inv = acc[0]
    assert inv[6:] == ("alice", "127.0.0.1", "bob", "bob", "127.0.0.1")
    missed = [(r[0], r[3], r[4]) for r in kamapy["missed"]]
    # FLT_ACCMISSED is set only once lookup() found the callee: no row for the 404
    assert missed == [("INVITE", "call-cancelled", "487")]


def test_flood_banned_then_released(kamapy):
    assert 16 <= kamapy["flood"]["answered"] <= 48, kamapy["flood"]
    assert kamapy["flood_after"] == 0 and kamapy["other_during_ban"] == 200
    assert kamapy["ban_item"]["item"]["value"] == 1
    assert kamapy["ban_item"]["item"]["expire"] != "NEVER"  # autoexpire=300 (tests/modules/htable runs it out)
    assert f"ALERT: pike blocking OPTIONS from sip:flood@{flows.FLOOD_IP}" in kamapy["log"]
    assert kamapy["flood_still_banned"] == 0
    assert kamapy["flood_unbanned"] == 200
    if kamapy["kamcmd_ban"] is not None:  # Debian's kamcmd over the ctl socket
        assert "name: 127.0.0.3" in kamapy["kamcmd_ban"] and "value: 1" in kamapy["kamcmd_ban"]
        assert kamapy["kamcmd_delete"] == "Ok. Key deleted."
        assert "Key name doesn't exist" in kamapy["ban_after_delete"]


def _transcript(res):
    return {ua: flows.normalise(t, res["port"], res["ports"]) for ua, t in res["trace"].items()}


def test_same_as_kamailio(kamapy, kamailio):
    for key in ("register", "ul_dump", "nat_call", "nat_bye", "kamcmd_delete", "ban_after_delete", "call", "bye", "cancel_ringing", "callee_cancel", "cancel", "callee_ack487",
                "unknown", "flood_after", "other_during_ban", "flood_still_banned", "flood_unbanned"):
        assert kamapy[key] == kamailio[key], key
    assert kamapy["ban_item"]["item"]["value"] == kamailio["ban_item"]["item"]["value"]
    assert abs(kamapy["flood"]["answered"] - kamailio["flood"]["answered"]) <= 16
    ta, tb = _transcript(kamapy), _transcript(kamailio)
    for ua in ta:
        assert ta[ua] == tb[ua], _diff(ta[ua], tb[ua])
    for key in ("nat_invite", "nat_reply"):
        assert _media(kamapy[key])[0] == _media(kamailio[key])[0], key
    norm = lambda r: re.sub(r"^\s*expire: .*$", "", r or "", flags=re.M)  # noqa: E731
    assert norm(kamapy["kamcmd_ban"]) == norm(kamailio["kamcmd_ban"])
    strip = lambda rows: [r[:1] + r[3:] for r in rows]  # noqa: E731  (tags are the servers' own)
    assert strip(kamapy["acc"]) == strip(kamailio["acc"])
    assert strip(kamapy["missed"]) == strip(kamailio["missed"])


def _diff(a, b):
    import difflib
    return "\n".join(difflib.unified_diff(a, b, "kamapy", "kamailio", lineterm="", n=1))
