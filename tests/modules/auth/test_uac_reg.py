"""uac remote registrations over the wire: kamapy registers to an upstream Kamailio
registrar that demands digest authentication (auth_db, SQLite), from a uacreg table
made with Kamailio's own schema; with expires 4 s and reg_timer_interval 1 s it has to
re-register every round to stay registered, and does, past several expiries; a call
for the registered identity, sent to Kamailio, reaches kamapy, where
uac_reg_lookup() maps the Contact user (l_uuid) back to the local user."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pytest

from tests.modules.auth.uac import Uac, status_of
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.ports import free_udp_port
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

SCHEMA = Path("/usr/share/kamailio/db_sqlite")

pytestmark = pytest.mark.skipif(
    not kamailio_path() or not (SCHEMA / "uac-create.sql").exists()
    or not os.path.exists(os.path.join(MODULES, "db_sqlite.so")),
    reason="kamailio and kamailio-sqlite-modules needed")

UPSTREAM = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "db_sqlite.so"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("auth_db", "db_url", "{dburl}")
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("registrar", "min_expires", 1)
modparam("registrar", "default_expires", 4)

request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("REGISTER")) {
        if (!auth_check("$fd", "subscriber", "1")) {
            auth_challenge("$fd", "1");
            exit;
        }
        save("location");
        exit;
    }
    if (!lookup("location")) { sl_send_reply("404", "Not registered"); exit; }
    t_relay();
}
"""

DOWNSTREAM = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "uac.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rpcsock}")
modparam("uac", "restore_mode", "none")
modparam("uac", "reg_db_url", "{regdb}")
modparam("uac", "reg_contact_addr", "127.0.0.1:{port}")
modparam("uac", "reg_timer_interval", 1)
modparam("uac", "reg_retry_interval", 2)
modparam("uac", "reg_keep_callid", 1)
modparam("uac", "auth_realm_avp", "$avp(arealm)")
modparam("uac", "auth_username_avp", "$avp(auser)")
modparam("uac", "auth_password_avp", "$avp(apass)")

request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("INVITE")) {
        uac_reg_status("$rU");
        $var(st) = $rc;
        if (uac_reg_lookup("$rU", "$ru")) {
            sl_send_reply("299", "For $ru status $var(st)");
            exit;
        }
        sl_send_reply("404", "No such registration");
        exit;
    }
    if (is_method("MESSAGE")) {
        if ($rU == "lookup-uri") {
            uac_reg_lookup_uri("sip:alice@local.example", "$var(u)");
            sl_send_reply("299", "uuid $var(u)");
            exit;
        }
        if (uac_reg_request_to("$rU", "0")) {
            sl_send_reply("299", "to $ru via $du as $avp(auser):$avp(apass) realm $avp(arealm)");
            exit;
        }
        sl_send_reply("404", "No record");
        exit;
    }
    sl_send_reply("405", "Not here");
}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("uacreg")
    up_db = d / "upstream.sqlite"
    con = sqlite3.connect(up_db)
    con.executescript((SCHEMA / "standard-create.sql").read_text())
    con.executescript((SCHEMA / "auth_db-create.sql").read_text())
    con.execute("INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?,?,?,?,?)",
                ("trunk", "127.0.0.1", "trunkpw", hashlib.md5(b"trunk:127.0.0.1:trunkpw").hexdigest(), ""))
    con.commit()
    con.close()
    up = KamailioServer(UPSTREAM, children=2, fmt={"dburl": f"sqlite://{up_db}"})
    up.start()
    reg_db = d / "uacreg.sqlite"
    con = sqlite3.connect(reg_db)
    con.executescript((SCHEMA / "standard-create.sql").read_text())
    con.executescript((SCHEMA / "uac-create.sql").read_text())
    con.execute("INSERT INTO uacreg (l_uuid, l_username, l_domain, r_username, r_domain, realm, auth_username,"
                " auth_password, auth_proxy, expires) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ("trunk1", "alice", "local.example", "trunk", "127.0.0.1", "127.0.0.1", "trunk", "trunkpw",
                 f"sip:127.0.0.1:{up.port}", 4))
    con.execute("INSERT INTO uacreg (l_uuid, l_username, l_domain, r_username, r_domain, realm, auth_username,"
                " auth_password, auth_proxy, expires) VALUES (?,?,?,?,?,?,?,?,?,?)",
                ("badpw", "bob", "local.example", "trunk", "127.0.0.1", "127.0.0.1", "trunk", "wrong",
                 f"sip:127.0.0.1:{up.port}", 4))
    con.commit()
    con.close()
    rpcsock = d / "kamapy.sock"
    port = free_udp_port()
    kp = KamapyServer(DOWNSTREAM, port=port, children=2,
                      fmt={"mpath": MODULES, "regdb": f"sqlite://{reg_db}", "rpcsock": str(rpcsock)})
    try:
        kp.start()
    except Exception:
        up.stop()
        raise
    yield up, kp, str(rpcsock)
    kp.stop()
    up.stop()


def _dump(sock) -> dict:
    res = rpc_call(sock, "uac.reg_dump")
    res = res.get("result", res) if isinstance(res, dict) else res
    return {r["l_uuid"]: r for r in res}


def _call(up, user="trunk") -> str:
    u = Uac(("127.0.0.1", up.port), user="caller")
    try:
        return u.request("INVITE", ruri=f"sip:{user}@127.0.0.1:{up.port}")
    finally:
        u.close()


def test_registers_with_auth_and_stays_registered(pair):
    up, kp, sock = pair
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        recs = _dump(sock)
        if recs.get("trunk1", {}).get("flags", 0) & 4:
            break
        time.sleep(0.2)
    recs = _dump(sock)
    assert recs["trunk1"]["flags"] & 4, recs            # ONLINE
    first_expiry = recs["trunk1"]["timer_expires"]
    r = _call(up)
    assert status_of(r) == 299 and "For sip:alice@local.example status 1" in r, r[:200]
    # three expiries later it is still registered: it re-registered each round
    time.sleep(9)
    recs = _dump(sock)
    assert recs["trunk1"]["flags"] & 4 and recs["trunk1"]["timer_expires"] > first_expiry + 4
    r = _call(up)
    assert status_of(r) == 299, r[:200]
    # the wrong password: challenged, answered once, refused again -> retried later, never online
    assert not recs["badpw"]["flags"] & 4
    info = rpc_call(sock, "uac.reg_info", "l_uuid", "badpw")
    info = info.get("result", info)
    assert info["auth_password"] == "wrong"


def test_rpc_active_unregister_refresh(pair):
    up, kp, sock = pair
    assert rpc_call(sock, "uac.reg_active", 0) == {"omode": 1, "nmode": 0}
    assert rpc_call(sock, "uac.reg_active", 1) == {"omode": 0, "nmode": 1}
    rpc_call(sock, "uac.reg_unregister", "l_uuid", "trunk1")
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and status_of(_call(up)) != 404:
        time.sleep(0.2)
    assert status_of(_call(up)) == 404   # the upstream registrar dropped the binding
    assert _dump(sock)["trunk1"]["expires"] == 0
    time.sleep(1.5)
    assert status_of(_call(up)) == 404   # and no later round brought it back
    rpc_call(sock, "uac.reg_refresh", "trunk1")   # expires 4 again, from the table
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and status_of(_call(up)) != 299:
        time.sleep(0.2)
    assert status_of(_call(up)) == 299
    with pytest.raises(RuntimeError):
        rpc_call(sock, "uac.reg_info", "l_uuid", "nosuch")


def test_lookup_uri_and_request_to(pair):
    up, kp, sock = pair
    u = Uac(("127.0.0.1", kp.port), user="x")
    try:
        r1 = u.request("MESSAGE", ruri=f"sip:lookup-uri@127.0.0.1:{kp.port}")
        r2 = u.request("MESSAGE", ruri=f"sip:trunk1@127.0.0.1:{kp.port}")
        r3 = u.request("MESSAGE", ruri=f"sip:nosuch@127.0.0.1:{kp.port}")
    finally:
        u.close()
    assert r1.startswith("SIP/2.0 299 uuid trunk1"), r1[:100]
    assert r2.startswith(f"SIP/2.0 299 to sip:trunk@127.0.0.1 via sip:127.0.0.1:{up.port} as trunk:trunkpw "
                         "realm 127.0.0.1"), r2[:160]
    assert status_of(r3) == 404
