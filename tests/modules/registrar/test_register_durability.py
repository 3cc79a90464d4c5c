"""Bindings that outlive the server: 1,000 registrations, every kamapy process
SIGKILLed, a restart -- all bindings are back (db_mode 1 at once; db_mode 2 once a
timer_interval has passed). db_mode 3: two servers on one PostgreSQL database see
each other's registrations."""

from __future__ import annotations

import time

import pytest

from kamapy.db import schema
from tests.db.pgserver import pg_server
from tests.modules.registrar.wire import RegistrarServer, register
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

N = 1000


def db_modparams(url: str, mode: int, interval: int = 1) -> str:
    return (f'modparam("usrloc", "db_url", "{url}")\n'
            f'modparam("usrloc", "db_mode", {mode})\n'
            f'modparam("usrloc", "timer_interval", {interval})\n')


def register_load(port: int, n: int):
    stats = SippRun("register_load.xml", f"127.0.0.1:{port}", "-m", str(n), "-r", "1000", "-l", "100",
                    "-timeout", "60", "-timeout_error").run(70)
    assert int(stats["SuccessfulCall(C)"]) == n and int(stats["FailedCall(C)"]) == 0, stats


@pytest.mark.parametrize("mode", [1, 2])
def test_bindings_survive_sigkill(db_url, mode):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    schema.create_tables(db_url, ["location"])
    params = db_modparams(db_url, mode)
    srv = RegistrarServer(params)
    with srv:
        register_load(srv.port, N)
        assert len(srv.aors()) == N
        if mode == 2:
            time.sleep(2.5)  # older than one timer_interval: flushed by the write-back timer
        srv.kill_all()
    with RegistrarServer(params, port=srv.port) as again:
        aors = again.aors()
        assert len(aors) == N and set(aors) == {f"load{i}" for i in range(1, N + 1)}
        c = again.rpc("ul.lookup", "location", "load7")["Contacts"][0]["Contact"]
        assert c["Address"].startswith("sip:load7@127.0.0.1:") and 3500 < c["Expires"] <= 3600
        assert again.stat("usrloc", "location-contacts") == N


def test_db_only_servers_share_postgres():
    server = pg_server()
    if server is None:
        pytest.skip("PostgreSQL or psycopg not installed")
    url = server.create_db("kamapy_db_only")
    schema.create_tables(url, ["location"])
    params = db_modparams(url, 3)
    with RegistrarServer(params) as a, RegistrarServer(params) as b:
        with SipClient(("127.0.0.1", a.port)) as ca, SipClient(("127.0.0.1", b.port)) as cb:
            assert status_of(ca.request(register(ca, "anna", "<sip:anna@10.9.0.1>", expires=600))) == 200
            assert status_of(cb.request(register(cb, "bert", "<sip:bert@10.9.0.2>", expires=600))) == 200
            # each server finds the other's registration
            found = cb.request(cb.options(ruri=f"sip:anna@127.0.0.1:{b.port}"))
            assert status_of(found) == 200 and b"X-Ru: sip:anna@10.9.0.1" in found
            found = ca.request(ca.options(ruri=f"sip:bert@127.0.0.1:{a.port}"))
            assert status_of(found) == 200 and b"X-Ru: sip:bert@10.9.0.2" in found
            # a removal through one is seen by the other
            r = cb.request(register(cb, "anna", "*", expires=0, cseq=2, callid="x"))
            assert status_of(r) == 200
            gone = ca.request(ca.options(ruri=f"sip:anna@127.0.0.1:{a.port}"))
            assert status_of(gone) == 404
        assert a.rpc("ul.db_users", "location") == 1
