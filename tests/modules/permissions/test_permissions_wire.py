"""permissions through a real kamapy (two workers) and, for the RPC layouts, the real
Kamailio on the same SQLite file: allow_source_address / allow_trusted over the wire,
permissions.addressDump / subnetDump / domainDump / trustedDump equal to Kamailio's,
and addressReload / trustedReload reaching every worker."""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path

import pytest

from tests.differential.runner import config_fmt
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.rpc import rpc_call, rpc_reply
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient

pytestmark = pytest.mark.wire

CFG = """#!KAMAILIO
debug=1
log_stderror=yes
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
server_signature=no
listen=udp:127.0.0.1:{port}
mpath="{mpath}/"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "jsonrpcs.so"
loadmodule "db_sqlite.so"
loadmodule "permissions.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rpcsock}")
modparam("permissions", "db_url", "sqlite://{db}")
modparam("permissions", "db_mode", 1)
modparam("permissions", "peer_tag_avp", "$avp(tag)")
modparam("permissions", "reload_delta", {delta})

request_route {
    if ($rU == "src") {
        allow_source_address("$(hdr(X-Grp){s.int})");
    } else {
        allow_trusted();
    }
    $var(rc) = $rc;
    append_to_reply("X-Tags: $(avp(tag)[*])\\r\\n");
    sl_send_reply("200", "rc $var(rc)");
    exit;
}
"""

DUMPS = ("permissions.addressDump", "permissions.subnetDump", "permissions.domainDump",
         "permissions.trustedDump")


@pytest.fixture(scope="module")
def servers():
    tmp = tempfile.TemporaryDirectory(prefix="kamapy-perm-")
    d = Path(tmp.name)
    fmt = config_fmt("permissions", tmp.name)   # the differential corpus' tables and rows
    kp_fmt = {"mpath": MODULES, **fmt, "rpcsock": str(d / "kp.sock"), "delta": 1}
    kp = KamapyServer(CFG, children=2, fmt=kp_fmt)
    kp.__enter__()
    kam = None
    if kamailio_path():
        kam = KamailioServer(CFG, fmt={**fmt, "rpcsock": str(d / "kam.sock"), "delta": 0})
        kam.__enter__()
    yield kp, kam, fmt["db"], d
    for s in (kam, kp):
        if s is not None:
            s.__exit__(None, None, None)
    tmp.cleanup()


def _ask(server, user, grp=1, frm="alice") -> str:
    with SipClient(("127.0.0.1", server.port)) as c:
        msg = (f"OPTIONS sip:{user}@127.0.0.1 SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-{time.monotonic_ns()}\r\n"
               f"From: <sip:{frm}@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
               f"Call-ID: {time.monotonic_ns()}@t\r\nCSeq: 1 OPTIONS\r\nX-Grp: {grp}\r\n"
               "Content-Length: 0\r\n\r\n")
        reply = c.request(msg.encode()).decode()
    first = reply.split("\r\n", 1)[0]
    tags = [ln for ln in reply.split("\r\n") if ln.startswith("X-Tags:")][0]
    return f"{first} | {tags}"


def _same_dumps(d):
    for method in DUMPS:
        want = rpc_call(str(d / "kam.sock"), method)
        got = rpc_call(str(d / "kp.sock"), method)
        if isinstance(want, dict) and isinstance(got, list):
            # Kamailio's one struct with repeated keys: JSON keeps its last entry
            got = got[-1]
        assert got == want, method


def test_dumps_match_kamailio(servers):
    kp, kam, _db, d = servers
    if kam is None:
        pytest.skip("kamailio is not installed")
    _same_dumps(d)


def test_source_address_and_trusted_over_the_wire(servers):
    kp, _kam, _db, _d = servers
    assert _ask(kp, "src", 1) == "SIP/2.0 200 rc 1 | X-Tags: one"
    assert _ask(kp, "src", 2) == "SIP/2.0 200 rc 1 | X-Tags: loopnet"
    assert _ask(kp, "src", 3) == "SIP/2.0 200 rc -1 | X-Tags: <null>"
    # cached trusted table, priority order (5 before 1): the From pattern row first
    assert _ask(kp, "x", frm="trustme") == "SIP/2.0 200 rc 1 | X-Tags: from-trust"
    assert _ask(kp, "trusted-ruri") == "SIP/2.0 200 rc 1 | X-Tags: ruri"


def test_reload_reaches_every_worker(servers):
    kp, kam, db, d = servers
    assert _ask(kp, "src", 9) == "SIP/2.0 200 rc -1 | X-Tags: <null>"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO address (grp, ip_addr, mask, port, tag) "
                     "VALUES (9, '127.0.0.1', 32, 0, 'nine')")
        conn.execute("INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority)"
                     " VALUES ('127.0.0.1', 'udp', '^sip:late', NULL, 'late', 9)")
    # not before the reload (the tables are cached)
    assert _ask(kp, "src", 9) == "SIP/2.0 200 rc -1 | X-Tags: <null>"
    assert rpc_call(str(d / "kp.sock"), "permissions.addressReload") == "Reload OK"
    # reload_delta (1 s here): a second reload at once is refused, as Kamailio
    assert rpc_reply(str(d / "kp.sock"), "permissions.trustedReload")["error"] == {
        "code": 500, "message": "ongoing reload"}
    time.sleep(1.1)
    assert rpc_call(str(d / "kp.sock"), "permissions.trustedReload") == "Reload OK"
    # each request from a new socket: both workers answer some of them
    for _ in range(8):
        assert _ask(kp, "src", 9) == "SIP/2.0 200 rc 1 | X-Tags: nine"
        assert _ask(kp, "x", frm="latecomer") == "SIP/2.0 200 rc 1 | X-Tags: late"
    if kam is not None:
        for method in ("permissions.addressReload", "permissions.trustedReload"):
            assert rpc_reply(str(d / "kam.sock"), method).get("result") == "Reload OK"
        _same_dumps(d)
