"""auth_db on PostgreSQL: a subscriber table made with Kamailio's own PostgreSQL schema,
one user added by kamapyctl; Kamailio (db_postgres) and kamapy authenticate it from the
same database, with ha1 (calculate_ha1 0) and with the plain password (1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.db.pgserver import pg_server
from tests.modules.auth.test_auth_vs_kamailio import CFG, _answer, _rc
from tests.modules.auth.test_ctl_subscribers import ctl
from tests.modules.auth.uac import Uac
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

PG_SCHEMA = Path("/usr/share/kamailio/postgres")


@pytest.fixture(scope="module")
def pg_url():
    server = pg_server()
    if server is None:
        pytest.skip("PostgreSQL or psycopg not installed")
    url = server.create_db("kamapy_auth_test")
    import psycopg
    with psycopg.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="kamapy_auth_test",
                         autocommit=True) as c:
        if (PG_SCHEMA / "auth_db-create.sql").exists():
            c.execute((PG_SCHEMA / "standard-create.sql").read_text())
            c.execute((PG_SCHEMA / "auth_db-create.sql").read_text())
    if not (PG_SCHEMA / "auth_db-create.sql").exists():
        assert ctl("db", "create", url, "-t", "subscriber").returncode == 0
    r = ctl("add", "alice@127.0.0.1", "secret", "--db-url", url)
    assert r.returncode == 0, r.stderr
    return url


@pytest.mark.parametrize("calc,pwcol", [("0", "ha1"), ("1", "password")])
def test_kamapy_on_postgres(pg_url, calc, pwcol):
    fmt = {"dburl": pg_url, "calc": calc, "pwcol": pwcol, "alg": ""}
    servers = [KamapyServer(CFG.read_text(), children=1, fmt={"mpath": MODULES, **fmt})]
    if kamailio_path() and os.path.exists(os.path.join(MODULES, "db_postgres.so")):
        text = CFG.read_text().replace('loadmodule "db_sqlite.so"', 'loadmodule "db_postgres.so"')
        servers.append(KamailioServer(text, fmt=fmt))
    for srv in servers:
        with srv:
            u = Uac(("127.0.0.1", srv.port))
            try:
                got = (_rc(_answer(u, "check")[0]), _rc(_answer(u, "check", password="bad")[0]),
                       _rc(_answer(u, "www", user="nobody")[0]))
            finally:
                u.close()
            assert got == ((200, "1"), (200, "-2"), (200, "-3")), srv.name
