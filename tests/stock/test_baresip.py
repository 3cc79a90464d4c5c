"""Two baresip softphones with passwords (auth_pass) register to kamapy running Debian's
stock kamailio.cfg unchanged (WITH_MYSQL, WITH_AUTH, WITH_NAT, WITH_USRLOCDB,
WITH_ANTIFLOOD, WITH_ACCDB on a private MariaDB), call each other, media flows, the
caller hangs up; the acc table has the call's INVITE and BYE. About 8 s, so not marked slow."""

from __future__ import annotations

import time

import pytest

from tests.db.mysqlserver import mysql_server
from tests.support.baresip import Baresip, baresip_path, hang_up, register_and_call, write_tone
from tests.support.ports import free_port_block

from . import flows
from .stockdb import USERS, make_db, rows
from .test_stock_cfg import relay  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(not flows.available(), reason="Debian's kamailio.cfg is not installed"),
              pytest.mark.skipif(baresip_path() is None, reason="baresip is not installed")]


def test_two_baresips_with_passwords_call_through_stock_cfg(tmp_path, relay):  # noqa: F811
    server_db = mysql_server()
    if server_db is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    url = make_db(server_db, "stock_baresip")
    tone = tmp_path / "tone8k.wav"
    write_tone(tone)
    base, rtp = free_port_block(6), free_port_block(40)
    srv = flows.stock_server("kamapy", url)
    with srv:
        uas = {}
        for i, user in enumerate(("alice", "bob")):
            ua = Baresip(tmp_path, user, base + 3 * i, base + 3 * i + 2, rtp + 20 * i, srv.port, tone,
                         auto_answer=user == "bob")
            (ua.dir / "accounts").write_text(
                f"<sip:{user}@127.0.0.1:{srv.port};transport=udp>;auth_pass={USERS[user]};regint=60"
                + (";answermode=auto" if user == "bob" else "") + "\n")
            uas[user] = ua
        alice, bob = uas["alice"], uas["bob"]
        try:
            # WITH_AUTH challenges every REGISTER (and every INVITE from a local From):
            # registered means baresip's credentials passed auth_db against MariaDB
            register_and_call(alice, bob, srv.port, srv.log)
            time.sleep(0.5)
            hang_up(alice, bob, srv.log)
        finally:
            alice.stop()
            bob.stop()
        time.sleep(0.3)
        acc = rows(server_db, "stock_baresip",
                   "SELECT method, sip_code, src_user, dst_ouser, dst_user FROM acc ORDER BY id")
        # dst_user is $rU after lookup(): the user part of bob's registered Contact
        assert [r[:4] for r in acc] == [("INVITE", "200", "alice", "bob"), ("BYE", "200", "alice", "bob")], acc
        assert all(r[4].startswith("bob") for r in acc), acc
