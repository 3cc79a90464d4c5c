"""usrloc db_mode 3 on Redis through db_redis, in Kamailio's key layout: a kamapy and
a Kamailio 5.6 (package kamailio-redis-modules) share one Redis location table -- a
user registered through either is found by the other's lookup, an unregister through
one is seen by both; the driver's own statements (entry, mapping and index keys,
version shortcut, conditions, backend expiry) against a real redis-server."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from kamapy import db
from kamapy.db import redis as redis_driver
from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.redisserver import redis_server
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

SCHEMA = "/usr/share/kamailio/db_redis/kamailio"
KEYS = "location=entry:ruid&usrdom:username,domain&timer:partition,keepalive"

CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
alias="ex.test"
{mpath_line}
loadmodule "db_redis.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("db_redis", "schema_path", "{schema}")
modparam("db_redis", "keys", "version=entry:table_name")
modparam("db_redis", "keys", "{keys}")
modparam("usrloc", "db_url", "{redis_url}")
modparam("usrloc", "db_mode", 3)
modparam("usrloc", "use_domain", 1)
modparam("usrloc", "timer_interval", {timer_interval})
modparam("registrar", "gruu_enabled", 0)
modparam("registrar", "min_expires", 1)

request_route {
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		save("location");  # replies itself, also with its 500
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


def register(c: SipClient, user: str, contact: str, expires: int = 60, cseq: int = 1,
             callid: str | None = None) -> bytes | None:
    n = time.time_ns()
    callid = callid or f"reg-{user}-{n}"
    msg = (f"REGISTER sip:ex.test SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-{n};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:{user}@ex.test>;tag=f{n}\r\nTo: <sip:{user}@ex.test>\r\n"
           f"Call-ID: {callid}\r\nCSeq: {cseq} REGISTER\r\nContact: <{contact}>;expires={expires}\r\n"
           f"Content-Length: 0\r\n\r\n")
    return c.request(msg.encode(), timeout=5)


def find(c: SipClient, user: str) -> bytes | None:
    n = time.time_ns()
    msg = (f"MESSAGE sip:{user}@ex.test SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-m{n};rport\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:tester@ex.test>;tag=m{n}\r\nTo: <sip:{user}@ex.test>\r\n"
           f"Call-ID: msg-{n}\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n")
    return c.request(msg.encode(), timeout=5)


@pytest.fixture(scope="module")
def redis():
    srv = redis_server()
    if srv is None:
        pytest.skip("redis-server or redis-py not installed")
    if not os.path.isdir(SCHEMA):
        pytest.skip("Kamailio's db_redis schema files (kamailio-redis-modules) not installed")
    return srv


@pytest.fixture
def driver(redis):
    old = dict(redis_driver.OPTIONS)
    redis_driver.OPTIONS.update(schema_path=SCHEMA, keys="version=entry:table_name;" + KEYS)
    redis.flush()
    conn = db.connect(redis.url)
    yield conn
    conn.close()
    redis_driver.OPTIONS.clear()
    redis_driver.OPTIONS.update(old)


def test_driver_layout_and_statements(driver, redis):
    r = redis.client()
    exp = dt.datetime.fromtimestamp(int(time.time()) + 600)
    driver.insert("location", {"ruid": "r1", "username": "alice", "domain": "ex.test",
                               "contact": "sip:a@192.0.2.1", "expires": exp, "q": 1.0, "cseq": 3,
                               "path": None})
    driver.insert("location", {"ruid": "r2", "username": "alice", "domain": "ex.test",
                               "contact": "sip:a2@192.0.2.1", "expires": exp, "q": 0.5, "cseq": 4})
    # Kamailio's layout: a hash per row, a mapping set per AOR, an index of the sets
    assert r.hgetall("location:entry::r1") == {
        b"ruid": b"r1", b"username": b"alice", b"domain": b"ex.test", b"contact": b"sip:a@192.0.2.1",
        b"expires": exp.strftime("%Y-%m-%d %H:%M:%S").encode(), b"q": b"1.000000", b"cseq": b"3"}
    assert r.smembers("location:usrdom::alice:ex.test") == {b"location:entry::r1", b"location:entry::r2"}
    assert r.smembers("location::index::usrdom") == {b"location:usrdom::alice:ex.test"}
    # a lookup by AOR is one round trip (the mapping set and its hashes, in a script)
    before = driver.commands
    rows = driver.query("location", ["ruid", "q", "cseq", "path"],
                        {"username": "alice", "domain": "ex.test"}, order_by="cseq")
    assert rows == [("r1", 1.0, 3, None), ("r2", 0.5, 4, None)]
    assert driver.commands - before == 1
    assert driver.query("location", ["ruid"], [("username", "=", "alice"), ("domain", "=", "ex.test"),
                                               ("cseq", ">", 3)]) == [("r2",)]
    assert driver.update("location", {"ruid": "r1"}, {"cseq": 9, "path": "<sip:p.test>"}) == 1
    assert driver.query("location", ["cseq", "path"], {"ruid": "r1"}) == [(9, "<sip:p.test>")]
    driver.replace("location", {"ruid": "r2", "username": "alice", "domain": "ex.test",
                                "contact": "sip:x@192.0.2.9", "expires": exp}, ["ruid"])
    assert driver.query("location", ["contact", "cseq"], {"ruid": "r2"}) == [("sip:x@192.0.2.9", None)]
    # the version of a table is its schema file's (db_redis's shortcut)
    assert driver.query("version", ["table_version"], {"table_name": "location"}) == [(9,)]
    # a condition on no key scans the table
    assert driver.delete("location", [("expires", "<", exp + dt.timedelta(seconds=1)),
                                      ("expires", ">", dt.datetime.fromtimestamp(0))]) == 2
    assert r.keys("location*") == []
    with pytest.raises(db.DbError):
        driver.raw_query("SELECT 1")
    with pytest.raises(db.DbError):
        driver.insert("location", {"username": "no-ruid"})


def test_backend_expiry(driver, redis):
    redis_driver.OPTIONS.update(expire_by="location=expires", expire_grace=0)
    conn = db.connect(redis.url)
    try:
        assert conn.expires_by_backend("location")
        soon = dt.datetime.fromtimestamp(int(time.time()) + 2)
        later = dt.datetime.fromtimestamp(int(time.time()) + 600)
        conn.insert("location", {"ruid": "e1", "username": "bob", "domain": "ex.test",
                                 "contact": "sip:b@192.0.2.2", "expires": soon})
        conn.insert("location", {"ruid": "e2", "username": "bob", "domain": "ex.test",
                                 "contact": "sip:b2@192.0.2.2", "expires": later})
        r = redis.client()
        assert 0 < r.ttl("location:entry::e1") <= 3
        assert r.ttl("location:usrdom::bob:ex.test") > 500  # the set lives as long as its last row
        deadline = time.monotonic() + 6
        while r.exists("location:entry::e1") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not r.exists("location:entry::e1")
        assert conn.query("location", ["ruid"], {"username": "bob", "domain": "ex.test"}) == [("e2",)]
        # the lookup dropped the expired row's key from the mapping set
        assert r.smembers("location:usrdom::bob:ex.test") == {b"location:entry::e2"}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def pair(redis):
    """A Kamailio and a kamapy, both usrloc db_mode 3 on the one Redis database."""
    if kamailio_path() is None:
        pytest.skip("kamailio not installed")
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/kamailio/modules/db_redis.so"):
        pytest.skip("kamailio-redis-modules not installed")
    url = redis.url[:-1] + "5"
    redis.client(5).flushdb()
    fmt = {"schema": SCHEMA, "keys": KEYS, "redis_url": url}
    # Kamailio's timer cleans the table every second; kamapy's hardly ever, so what
    # removes an expired kamapy row below is Kamailio's scan of the shared table
    kam = KamailioServer(CFG, fmt={**fmt, "mpath_line": 'mpath="{mpath}/"', "timer_interval": 1})
    kam.cfg_path.write_text(kam.cfg_path.read_text().replace("{mpath}", "/usr/lib/x86_64-linux-gnu/kamailio/modules"))
    kp = KamapyServer(CFG, children=1, fmt={**fmt, "mpath_line": "", "timer_interval": 600})
    with kam, kp:
        yield kam, kp, redis.client(5)


def test_kamailio_and_kamapy_share_the_location_table(pair):
    kam, kp, r = pair
    with SipClient(("127.0.0.1", kam.port)) as to_kam, SipClient(("127.0.0.1", kp.port)) as to_kp:
        # registered through Kamailio, found by kamapy
        assert status_of(register(to_kam, "alice", "sip:alice@192.0.2.10:5070")) == 200
        keys = r.smembers("location:usrdom::alice:ex.test")
        assert len(keys) == 1
        reply = find(to_kp, "alice")
        assert status_of(reply) == 200, (reply, kp.log())
        assert b"X-Found: sip:alice@192.0.2.10:5070" in reply
        # registered through kamapy, found by Kamailio
        assert status_of(register(to_kp, "bob", "sip:bob@192.0.2.11:5070")) == 200
        reply = find(to_kam, "bob")
        assert status_of(reply) == 200, (reply, kam.log())
        assert b"X-Found: sip:bob@192.0.2.11:5070" in reply
        # kamapy refreshes Kamailio's binding (same Call-ID, higher CSeq): still one row
        callid = r.hget(next(iter(keys)), "callid").decode()
        assert status_of(register(to_kp, "alice", "sip:alice@192.0.2.10:5070", expires=120,
                                  cseq=2, callid=callid)) == 200
        assert len(r.smembers("location:usrdom::alice:ex.test")) == 1
        assert b"X-Found" in find(to_kam, "alice")
        # unregistered through Kamailio: gone for kamapy too
        assert status_of(register(to_kam, "bob", "sip:bob@192.0.2.11:5070", expires=0, cseq=5,
                                  callid=r.hget(next(iter(r.smembers("location:usrdom::bob:ex.test"))),
                                                "callid").decode())) == 200
        assert status_of(find(to_kp, "bob")) == 404
        assert status_of(find(to_kam, "bob")) == 404
        # and through kamapy: gone for Kamailio
        assert status_of(register(to_kp, "alice", "sip:alice@192.0.2.10:5070", expires=0, cseq=3,
                                  callid=callid)) == 200
        assert status_of(find(to_kam, "alice")) == 404
        assert r.keys("location:entry::*") == []
        # a binding kamapy wrote expires: Kamailio's timer finds it by its expires text
        # (a scan of location:entry::*) and deletes it, mapping sets included
        assert status_of(register(to_kp, "carol", "sip:carol@192.0.2.12:5070", expires=1)) == 200
        assert len(r.keys("location:entry::*")) == 1
        deadline = time.monotonic() + 6
        while r.keys("location:*") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.keys("location:*") == []


AUTH_CFG = """#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
disable_tcp=yes
dns=no
rev_dns=no
listen=udp:127.0.0.1:{port}
alias="127.0.0.1"
loadmodule "db_redis.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
modparam("db_redis", "schema_path", "{schema}")
modparam("db_redis", "keys", "version=entry:table_name")
modparam("db_redis", "keys", "subscriber=entry:username,domain")
modparam("db_redis", "keys", "location=entry:ruid&usrdom:username")
modparam("usrloc", "db_url", "{redis_url}")
modparam("usrloc", "db_mode", 3)
modparam("auth_db", "db_url", "{redis_url}")
modparam("auth_db", "use_domain", 1)
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("registrar", "gruu_enabled", 0)

request_route {
	if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
	if (is_method("REGISTER")) {
		if (!auth_check("$fd", "subscriber", "1")) { auth_challenge("$fd", "0"); exit; }
		consume_credentials();
		save("location");
		exit;
	}
	sl_send_reply("501", "Not Implemented");
}
"""


def test_auth_db_reads_subscribers_from_redis(redis):
    """Subscribers provisioned as db_redis documents it (a hash per user, HSET from
    any client): auth_db authenticates against them, the binding lands in Redis."""
    from tests.modules.auth.uac import Uac
    from tests.modules.auth.uac import status_of as st
    r = redis.client(6)
    r.flushdb()
    r.hset("subscriber:entry::alice:127.0.0.1", mapping={"username": "alice", "domain": "127.0.0.1",
                                                          "password": "secret"})
    url = redis.url[:-1] + "6"
    with KamapyServer(AUTH_CFG, children=1, fmt={"schema": SCHEMA, "redis_url": url}) as srv:
        u = Uac(("127.0.0.1", srv.port))
        try:
            first, second, _ = u.login("wrong")
            assert st(first) == 401 and st(second) == 401
            first, second, _ = u.login("secret")
            assert st(second) == 200, srv.log()[-2000:]
        finally:
            u.close()
    assert len(r.smembers("location:usrdom::alice")) == 1


def test_bad_db_redis_params_refused(tmp_path):
    """`kamapy -c` refuses a bad db_redis parameter with file:line:col (one run here;
    the other checks are the same validators, called directly)."""
    import subprocess
    import sys

    from kamapy_modules import db_redis

    from tests.support.server import REPO
    cfg = tmp_path / "bad.cfg"
    cfg.write_text('loadmodule "db_redis.so"\nmodparam("db_redis", "opt_tls", 1)\nrequest_route { exit; }\n')
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)], cwd=str(REPO),
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert f"{cfg}:2:" in out and "TLS to the Redis server is not built" in out and "bad config file" in out, out
    check = {p.name: p.validate for p in db_redis.exports.params}
    for name, value, says in [("schema_path", "/nonexistent", "does not exist"),
                              ("keys", "location=entry", "invalid type definition"),
                              ("keys", "location", "invalid keys definition"),
                              ("expire_by", "location", "expecting <table>=<column>")]:
        with pytest.raises(ValueError, match=says):
            check[name](value)
    check["keys"](KEYS)
    check["schema_path"](SCHEMA)
