"""Debian's stock /etc/kamailio/kamailio.cfg, unchanged, run by kamapy with WITH_AUTH,
WITH_IPAUTH, WITH_ALIASDB, WITH_SPEEDDIAL and WITH_MULTIDOMAIN on a SQLite DBURL and on
a MariaDB one (the stock file's WITH_MYSQL as meant): a
caller from an address in the `address` table is let through without a challenge
(allow_source_address), a two-digit R-URI goes to the caller's speed_dial entry
(sd_lookup), an alias goes to its dbaliases target (alias_db_lookup, use_domain on),
and the domain table makes the local domain `myself` (register_myself). `kamapy -c` of
the same switches says ok."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kamapy.db.schema import create_tables
from tests.support.ports import free_udp_port
from tests.support.server import REPO, KamapyServer

pytestmark = pytest.mark.wire

STOCK = Path("/etc/kamailio/kamailio.cfg")
DEFINES = ["WITH_MYSQL", "WITH_AUTH", "WITH_IPAUTH", "WITH_ALIASDB", "WITH_SPEEDDIAL",
           "WITH_MULTIDOMAIN"]


def _args(db, port: int) -> list[str]:
    url = db if isinstance(db, str) else f"sqlite://{db}"
    out = ["-l", f"udp:127.0.0.1:{port}", "-A", f'DBURL="{url}"']
    for d in DEFINES:
        out += ["-A", d]
    return out


def _database(kind: str, d: Path):
    """(DBURL, a DB-API connection to fill it) for a fresh database of that kind."""
    if kind == "sqlite":
        db = d / "kamailio.sqlite"
        create_tables(f"sqlite://{db}", None)
        return db, sqlite3.connect(db)
    from tests.db.mysqlserver import mysql_server
    server = mysql_server()
    if server is None:
        pytest.skip("MariaDB (mariadb-server) or PyMySQL is not installed")
    url = server.create_db("kamapy_stock_alias")
    create_tables(url, None)
    return url, server.admin("kamapy_stock_alias")


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def stock(request, tmp_path_factory):
    if not STOCK.is_file():
        pytest.skip("Debian's kamailio.cfg is not installed")
    d = tmp_path_factory.mktemp("stock")
    db, conn = _database(request.param, d)
    # targets on 127.0.0.2: not in the domain table, so not `myself`
    t1, t2 = free_udp_port(), free_udp_port()
    with conn as c:
        c = c.cursor() if request.param == "mysql" else c
        c.execute("INSERT INTO address (grp, ip_addr, mask, port) VALUES (1, '127.0.0.1', 32, 0)")
        c.execute("INSERT INTO domain (domain, did) VALUES ('127.0.0.1', NULL)")
        c.execute("INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri) "
                  f"VALUES ('alice', '127.0.0.1', '11', '', 'sip:bob@127.0.0.2:{t1}')")
        c.execute("INSERT INTO dbaliases (alias_username, alias_domain, username, domain) "
                  f"VALUES ('sales', '127.0.0.1', 'carol', '127.0.0.2:{t2}')")
    port = free_udp_port()
    srv = KamapyServer(STOCK.read_text(), port=port, children=2, args=_args(db, port), workdir=str(d))
    with srv:
        yield srv, t1, t2, db


def _invite(port: int, user: str, target_port: int, src: str = "127.0.0.1", wait: float = 2.0):
    """INVITE from `src`; (first line at the target or None, first lines at the caller)."""
    tgt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tgt.bind(("127.0.0.2", target_port))
    tgt.settimeout(wait)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind((src, 0))
    c.settimeout(0.5)
    cp = c.getsockname()[1]
    n = time.monotonic_ns()
    msg = (f"INVITE sip:{user}@127.0.0.1 SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {src}:{cp};branch=z9hG4bK-{n};rport\r\nMax-Forwards: 70\r\n"
           f"From: <sip:alice@127.0.0.1>;tag=a{n}\r\nTo: <sip:{user}@127.0.0.1>\r\n"
           f"Call-ID: stock-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{src}:{cp}>\r\n"
           "Content-Length: 0\r\n\r\n")
    try:
        c.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            at_target = tgt.recv(65535).decode("latin-1").split("\r\n", 1)[0]
        except socket.timeout:
            at_target = None
        got = []
        try:
            while len(got) < 3:
                got.append(c.recv(65535).decode("latin-1").split("\r\n", 1)[0])
        except socket.timeout:
            pass
        return at_target, got
    finally:
        tgt.close()
        c.close()


def test_ip_authorised_speed_dial(stock):
    srv, t1, _t2, _db = stock
    at, got = _invite(srv.port, "11", t1)
    assert at == f"INVITE sip:bob@127.0.0.2:{t1} SIP/2.0"
    assert got and got[0].startswith("SIP/2.0 100")


def test_ip_authorised_alias(stock):
    srv, _t1, t2, _db = stock
    at, got = _invite(srv.port, "sales", t2)
    assert at == f"INVITE sip:carol@127.0.0.2:{t2} SIP/2.0"


def test_unknown_source_is_challenged(stock):
    srv, _t1, _t2, _db = stock
    # listen on a fresh port: the speed-dial target's gets tm's retransmissions of the
    # first test's INVITE
    at, got = _invite(srv.port, "11", free_udp_port(), src="127.0.0.3", wait=0.3)
    assert at is None
    assert got and got[0] == "SIP/2.0 407 Proxy Authentication Required"


@pytest.mark.slow   # 3 s; the -c matrix of the stock config belongs to CI's verdict tests
def test_check_says_ok(tmp_path):
    if not STOCK.is_file():
        pytest.skip("Debian's kamailio.cfg is not installed")
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(STOCK)]
                       + _args(tmp_path / "k.sqlite", 5060)[2:], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "config file ok" in r.stdout + r.stderr
