"""usrloc's table grows with its AORs (D-usrloc-1): with hash_size 4 (16 buckets) a few
thousand AORs are all found, ul.dump's Size is the current bucket count, expiry and the
REGISTER refresh in C work on the grown table -- in process and over the wire."""

from __future__ import annotations

import time

import pytest
from kamapy_modules.usrloc.contact import UContact

from tests.modules.registrar.wire import RegistrarServer, register
from tests.support.sipclient import SipClient, status_of

N = 3000


def _save(d, aor, contact, expires):
    now = time.time()
    d.lock(aor)
    try:
        r = d.get_urecord(aor, create=True)
        r.insert_contact(UContact.new(contact, expires=now + expires, callid=f"cid-{aor}", cseq=1,
                                      last_modified=now, ruid=f"r-{aor}"))
        d.save(r)
    finally:
        d.unlock(aor)


def test_thousands_of_aors_in_a_table_of_16_buckets(usrloc_setup):
    ul = usrloc_setup(hash_size=4)
    from kamapy_modules.usrloc import rpc
    d = ul.get_udomain("location")
    assert d.size == 16
    for i in range(N):  # one in ten expires in 1 s
        _save(d, f"user{i}", f"sip:user{i}@10.0.{i // 250}.{i % 250}", 1 if i % 10 == 0 else 3600)
    assert d.size == 2048  # 3000 AORs: doubled while above 2 per bucket
    assert d.table.growths()[0] == 7
    for i in range(N):
        r = d.get_urecord(f"user{i}")
        assert r is not None and [c.contact for c in r.contacts] == [f"sip:user{i}@10.0.{i // 250}.{i % 250}"]
    dom = rpc.ul_dump(None, ["brief"])["Domains"][0]["Domain"]
    assert dom["Size"] == 2048
    assert sorted(a["AoR"] for a in dom["AoRs"]) == sorted(f"user{i}" for i in range(N))
    # the timer's walk over the grown table expires exactly the short ones
    d.timer(time.time() + 5)
    left = {r.aor for r in d.records()}
    assert left == {f"user{i}" for i in range(N) if i % 10}
    assert d.get_urecord("user0") is None and d.get_urecord("user1") is not None


@pytest.mark.wire
def test_register_refresh_and_lookup_over_the_wire_with_hash_size_4():
    params = 'modparam("usrloc", "hash_size", 4)\nmodparam("registrar", "max_expires", 7200)\n'
    with RegistrarServer(params) as srv, SipClient(("127.0.0.1", srv.port)) as c:
        started = time.monotonic()
        for i in range(N):
            reply = c.request(register(c, f"u{i}", f"<sip:u{i}@10.1.{i // 250}.{i % 250}>", 3600))
            assert status_of(reply) == 200, (i, reply)
        for i in range(0, N, 3):  # refreshes: kp_regrefresh.c on the grown table
            reply = c.request(register(c, f"u{i}", f"<sip:u{i}@10.1.{i // 250}.{i % 250}>", 1800, cseq=2))
            assert status_of(reply) == 200 and b"expires=1800" in reply, (i, reply)
        for i in range(N):
            found = c.request(c.options(ruri=f"sip:u{i}@127.0.0.1:{srv.port}"))
            assert status_of(found) == 200, (i, found)
        assert time.monotonic() - started < 60
        dump = srv.rpc("ul.dump", "brief")["Domains"][0]["Domain"]
        assert dump["Size"] == 2048 and len(dump["AoRs"]) == N
        log = srv.log()
        assert "usrloc table location: grew from 16 to 32 buckets (33 entries)" in log
        assert "grew from 1024 to 2048 buckets" in log
