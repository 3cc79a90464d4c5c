"""REGISTER with digest auth through a real kamapy on MariaDB: `kamapyctl db create`
makes Kamailio's tables on MySQL, `kamapyctl add` a subscriber; auth_db checks the
password (calculate_ha1, password_column as the stock config sets them), usrloc
db_mode 2 writes the binding to `location`; a restarted server finds it again; and the
stock kamailio.cfg with WITH_MYSQL/WITH_AUTH/WITH_USRLOCDB/WITH_ACCDB passes `kamapy -c`
as far as db_mysql, acc, auth_db and usrloc go."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.db.mysqlserver import mysql_server
from tests.modules.auth.test_ctl_subscribers import ctl
from tests.modules.auth.uac import Uac, header, status_of
from tests.support.server import REPO, KamapyServer

CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=2
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
alias="127.0.0.1"
loadmodule "db_mysql.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("db_mysql", "timeout_interval", 1)
modparam("usrloc", "db_url", "{dburl}")
modparam("usrloc", "db_mode", 2)
modparam("usrloc", "timer_interval", 1)
modparam("auth_db", "db_url", "{dburl}")
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("registrar", "gruu_enabled", 0)

request_route {
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		if (!auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }
		consume_credentials();
		if (!save("location")) { sl_reply_error(); }
		exit;
	}
	if (is_method("MESSAGE")) {
		if (lookup("location")) { append_to_reply("X-Found: $ru\\r\\n"); sl_send_reply("200", "Found"); exit; }
		sl_send_reply("404", "Not Found");
		exit;
	}
	sl_send_reply("501", "Not Implemented");
}
"""


@pytest.fixture(scope="module")
def db_url():
    server = mysql_server()
    if server is None:
        pytest.skip("mariadb-server or PyMySQL not installed")
    url = server.create_db("kamapy_register")
    r = ctl("db", "create", url)
    assert r.returncode == 0 and "location" in r.stdout and "subscriber" in r.stdout, r.stdout + r.stderr
    r = ctl("add", "alice@127.0.0.1", "secret", "--db-url", url)
    assert r.returncode == 0, r.stderr
    return url


def _location(url):
    from kamapy import db
    with db.connect(url) as conn:
        return conn.query("location", ["username", "contact", "expires"])


def test_register_with_auth_persists_in_mysql(db_url):
    srv = KamapyServer(CFG, fmt={"dburl": db_url})
    with srv:
        u = Uac(("127.0.0.1", srv.port))
        try:
            first, second, _ = u.login("bad")
            assert status_of(first) == 401 and status_of(second) == 401
            first, second, _ = u.login("secret")
            assert status_of(second) == 200, second
            assert f"127.0.0.1:{u.port}" in (header(second, "Contact") or "")
            deadline = time.monotonic() + 10  # db_mode 2: written back by the timer
            while not (rows := _location(db_url)) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [(r[0], r[1]) for r in rows] == [("alice", f"sip:alice@127.0.0.1:{u.port}")]
            assert rows[0][2].timestamp() > time.time()
            found = u.request("MESSAGE", ruri=f"sip:alice@127.0.0.1:{srv.port}", to_user="alice")
            assert status_of(found) == 200
        finally:
            u.close()
    # a new server loads the binding from the database (db_mode 2)
    srv = KamapyServer(CFG, fmt={"dburl": db_url})
    with srv:
        u = Uac(("127.0.0.1", srv.port), user="carol")
        try:
            found = u.request("MESSAGE", ruri=f"sip:alice@127.0.0.1:{srv.port}", to_user="alice")
            assert status_of(found) == 200, srv.log()[-2000:]
            assert status_of(u.request("MESSAGE", ruri=f"sip:nobody@127.0.0.1:{srv.port}",
                                       to_user="nobody")) == 404
        finally:
            u.close()


# modules others are building; the stock config is checked without their loadmodule lines
_NOT_MINE = {"textopsx", "counters", "htable", "pike", "ctl", "cfg_rpc", "permissions", "alias_db",
             "speeddial", "domain", "debugger", "presence", "presence_xml"}


def _check(path, *defines):
    args = [a for d in defines for a in ("-A", d)]
    return subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(path), *args],
                          capture_output=True, text=True, timeout=60, cwd=str(REPO))


@pytest.mark.skipif(not os.path.exists("/etc/kamailio/kamailio.cfg"), reason="Debian's kamailio.cfg missing")
def test_stock_config_db_parts_check(tmp_path):
    defines = ("WITH_MYSQL", "WITH_AUTH", "WITH_USRLOCDB", "WITH_ACCDB")
    text = open("/etc/kamailio/kamailio.cfg").read()
    path = tmp_path / "kamailio.cfg"
    path.write_text(text)
    out = _check(path, *defines)
    assert "Traceback" not in out.stderr
    m = re.search(r"module\(s\) not available in kamapy: ([\w, ]+)", out.stderr)
    if m:
        missing = {x.strip() for x in m.group(1).split(",")}
        assert not missing & {"db_mysql", "acc", "auth_db", "usrloc", "auth"}, out.stderr
        assert missing <= _NOT_MINE, out.stderr
        text = re.sub(r'^loadmodule "(%s)\.so"\n' % "|".join(sorted(missing)), "", text, flags=re.M)
        path.write_text(text)
        out = _check(path, *defines)
    assert out.returncode == 0, out.stderr
    assert "config file ok" in (out.stdout + out.stderr)
