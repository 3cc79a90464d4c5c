"""kamapyctl add / passwd / rm / db show, and one subscriber table shared with Kamailio:
users written by kamapyctl and by Kamailio's own kamctl (SQLite engine) authenticate in
both servers, which read the stored ha1 (calculate_ha1 = 0)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.modules.auth.test_auth_vs_kamailio import CFG, SCHEMA, _answer, _rc
from tests.modules.auth.uac import Uac
from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import KamapyServer

KAMCTL_SQLITE = Path("/usr/lib/x86_64-linux-gnu/kamailio/kamctl/kamctl.sqlite")


def ctl(*args, env=None):
    """kamapyctl in this process (click's runner): returncode, stdout, stderr."""
    from click.testing import CliRunner

    from kamapy.ctl.main import cli
    base = {"KAMAPYCTL_DB_URL": None}
    r = CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, prog_name="kamapyctl")
    return subprocess.CompletedProcess(args, r.exit_code, r.stdout, r.stderr)


def _rows(dbfile):
    con = sqlite3.connect(dbfile)
    try:
        return con.execute("SELECT username, domain, password, ha1, ha1b FROM subscriber ORDER BY username").fetchall()
    finally:
        con.close()


def test_add_passwd_rm_show(tmp_path):
    url = f"sqlite://{tmp_path / 'k.db'}"
    assert ctl("db", "create", url, "-t", "subscriber").returncode == 0
    env = {"KAMAPYCTL_DB_URL": url}
    r = ctl("add", "bob@example.com", "pw1", env=env)
    assert r.returncode == 0, r.stderr
    again = ctl("add", "bob@example.com", "pw1", env=env)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert ctl("passwd", "bob", "pw2", "--domain", "example.com", env=env).returncode == 0
    ha1 = hashlib.md5(b"bob:example.com:pw2").hexdigest()
    ha1b = hashlib.md5(b"bob@example.com:example.com:pw2").hexdigest()
    assert _rows(tmp_path / "k.db") == [("bob", "example.com", "pw2", ha1, ha1b)]
    shown = json.loads(ctl("-F", "json", "db", "show", "subscriber", env=env).stdout)
    assert [(r["username"], r["ha1"]) for r in shown] == [("bob", ha1)]
    assert ctl("add", "nodomain", "x", env=env).returncode != 0  # no domain anywhere
    assert ctl("rm", "bob@example.com", env=env).returncode == 0
    gone = ctl("rm", "bob@example.com", env=env)
    assert gone.returncode != 0 and "non-existent" in gone.stderr
    assert _rows(tmp_path / "k.db") == []


def test_db_url_from_config(tmp_path):
    dbfile = tmp_path / "c.db"
    cfg = tmp_path / "x.cfg"
    cfg.write_text(f'loadmodule "auth"\nloadmodule "auth_db"\nmodparam("auth_db", "db_url", "sqlite://{dbfile}")\n'
                   "request_route { exit; }\n")
    assert ctl("db", "create", f"sqlite://{dbfile}", "-t", "subscriber").returncode == 0
    r = ctl("-f", str(cfg), "add", "eve@example.org", "pw")
    assert r.returncode == 0, r.stderr
    assert _rows(dbfile)[0][:3] == ("eve", "example.org", "pw")


def _kamctl_add(home: Path, dbfile: Path, user: str, password: str):
    (home / ".kamctlrc").write_text(f"DBENGINE=SQLITE\nDB_PATH={dbfile}\nSIP_DOMAIN=127.0.0.1\n"
                                    "STORE_PLAINTEXT_PW=1\n")
    r = subprocess.run(["kamctl", "add", user, password], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, HOME=str(home)))
    assert r.returncode == 0 and "added" in r.stdout, r.stdout + r.stderr


@pytest.mark.skipif(not kamailio_path() or not shutil.which("kamctl") or not KAMCTL_SQLITE.exists()
                    or not (SCHEMA / "auth_db-create.sql").exists(),
                    reason="kamailio, kamctl and kamailio-sqlite-modules needed")
def test_shared_table_both_directions(tmp_path):
    dbfile = tmp_path / "shared.sqlite"
    con = sqlite3.connect(dbfile)
    con.executescript((SCHEMA / "standard-create.sql").read_text())
    con.executescript((SCHEMA / "auth_db-create.sql").read_text())
    con.close()
    url = f"sqlite://{dbfile}"
    assert ctl("add", "alice@127.0.0.1", "secret", "--db-url", url).returncode == 0
    _kamctl_add(tmp_path, dbfile, "dave", "pw3")
    # each tool's row reads the same as the other's would
    rows = {r[0]: r for r in _rows(dbfile)}
    assert rows["dave"][3] == hashlib.md5(b"dave:127.0.0.1:pw3").hexdigest()
    assert rows["dave"][4] == hashlib.md5(b"dave@127.0.0.1:127.0.0.1:pw3").hexdigest()
    text = CFG.read_text()
    fmt = {"dburl": url, "calc": "0", "pwcol": "ha1", "alg": ""}
    with KamailioServer(text, fmt=fmt) as kam, KamapyServer(text, children=1, fmt={"mpath": MODULES, **fmt}) as kp:
        for srv in (kam, kp):
            for user, pw in (("alice", "secret"), ("dave", "pw3")):
                u = Uac(("127.0.0.1", srv.port), user=user)
                try:
                    ok = _rc(_answer(u, "check", password=pw)[0])
                    bad = _rc(_answer(u, "check", password="wrong")[0])
                finally:
                    u.close()
                assert (ok, bad) == ((200, "1"), (200, "-2")), (srv.name, user)
                # a username with the domain in it: password_column_2 (ha1b) is the HA1
                u = Uac(("127.0.0.1", srv.port), user=user)
                try:
                    ok_b = _rc(_answer(u, "check0", password=pw, user=f"{user}@127.0.0.1")[0])
                finally:
                    u.close()
                assert ok_b == (200, "1"), (srv.name, user)
