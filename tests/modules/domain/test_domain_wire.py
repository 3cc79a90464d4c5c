"""domain through a real kamapy (two workers) and the real Kamailio on one SQLite file:
domain.dump equal to Kamailio's, domain.reload reaching every worker (is_domain_local
and register_myself see a domain added after start-up), and the start-up refusal when
the tables cannot be read."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.differential.runner import config_fmt
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.rpc import rpc_call, rpc_reply
from tests.support.server import REPO, KamapyServer
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
loadmodule "jsonrpcs.so"
loadmodule "db_sqlite.so"
loadmodule "domain.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rpcsock}")
modparam("domain", "db_url", "sqlite://{db}")
modparam("domain", "register_myself", 1)

request_route {
    if (uri == myself) { $var(m) = "myself"; } else { $var(m) = "other"; }
    is_domain_local("$rd");
    $var(rc) = $rc;
    sl_send_reply("200", "rc $var(rc) $var(m)");
    exit;
}
"""


@pytest.fixture(scope="module")
def servers():
    tmp = tempfile.TemporaryDirectory(prefix="kamapy-domain-")
    d = Path(tmp.name)
    fmt = config_fmt("domain", tmp.name)
    kp = KamapyServer(CFG, children=2, fmt={"mpath": MODULES, **fmt, "rpcsock": str(d / "kp.sock")})
    kp.__enter__()
    kam = None
    if kamailio_path():
        kam = KamailioServer(CFG, fmt={**fmt, "rpcsock": str(d / "kam.sock")})
        kam.__enter__()
    yield kp, kam, fmt["db"], d
    for s in (kam, kp):
        if s is not None:
            s.__exit__(None, None, None)
    tmp.cleanup()


def _ask(server, host) -> str:
    with SipClient(("127.0.0.1", server.port)) as c:
        msg = (f"OPTIONS sip:u@{host} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-{time.monotonic_ns()}\r\n"
               f"From: <sip:a@x.org>;tag=1\r\nTo: <sip:u@{host}>\r\n"
               f"Call-ID: {time.monotonic_ns()}@t\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        return c.request(msg.encode()).decode().split("\r\n", 1)[0]


def test_dump_matches_kamailio(servers):
    kp, kam, _db, d = servers
    got = rpc_call(str(d / "kp.sock"), "domain.dump")
    assert {x["domain"] for x in got["domains"]} == {"example.com", "Sip.Example.ORG", "alias.example.com"}
    if kam is None:
        pytest.skip("kamailio is not installed")
    want = rpc_call(str(d / "kam.sock"), "domain.dump")
    # Kamailio lists them by its hash slots; the entries are the same
    assert sorted(got["domains"], key=str) == sorted(want["domains"], key=str)
    assert got["attributes"] == want["attributes"]


def test_reload_reaches_every_worker(servers):
    kp, kam, db, d = servers
    assert _ask(kp, "late.example.net") == "SIP/2.0 200 rc -1 other"
    assert _ask(kp, "EXAMPLE.COM") == "SIP/2.0 200 rc 1 myself"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO domain (domain, did) VALUES ('late.example.net', NULL)")
    assert _ask(kp, "late.example.net") == "SIP/2.0 200 rc -1 other"   # cached
    assert rpc_reply(str(d / "kp.sock"), "domain.reload").get("error") is None
    for _ in range(8):   # each from a new socket: both workers answer some
        assert _ask(kp, "late.example.net") == "SIP/2.0 200 rc 1 myself"
    if kam is not None:
        assert rpc_reply(str(d / "kam.sock"), "domain.reload").get("error") is None
        assert _ask(kam, "late.example.net") == "SIP/2.0 200 rc 1 myself"


def test_missing_table_stops_startup(tmp_path):
    db = tmp_path / "empty.sqlite"
    sqlite3.connect(db).close()
    cfg = tmp_path / "k.cfg"
    cfg.write_text(CFG.replace("{port}", "5999").replace("{mpath}", MODULES)
                   .replace("{rpcsock}", str(tmp_path / "s")).replace("{db}", str(db)))
    r = subprocess.run([sys.executable, "-m", "kamapy", "-f", str(cfg), "-DD", "-E"], cwd=REPO,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "domain" in r.stderr and "error while loading the domain tables" in r.stderr
