"""usrloc with a database: write-through, write-back, DB-only, start-up load, RPC."""

from __future__ import annotations

import time

import pytest
from kamapy_modules.usrloc import rpc
from kamapy_modules.usrloc.contact import UContact

from kamapy import db
from kamapy.db import schema
from kamapy.rpc.errors import RpcError


def _c(uri, expires=3600.0, **kw):
    now = time.time()
    return UContact.new(uri, expires=now + expires if expires else 0, callid="cid", cseq=1,
                        last_modified=now, ruid=kw.pop("ruid", f"r-{uri}"), **kw)


def _rows(url, table="location"):
    with db.connect(url) as conn:
        return sorted(conn.query(table, ["username", "domain", "contact", "ruid"]))


def test_write_through(usrloc_setup, db_url):
    schema.create_tables(db_url, ["location"])
    ul = usrloc_setup(db_mode=1, db_url=db_url, use_domain=1)
    d = ul.get_udomain("location")
    d.insert_contact("alice@example.com", _c("sip:a@h", q=500, path="<sip:p;lr>", received="sip:1.2.3.4:5"))
    d.insert_contact("alice@example.com", _c("sip:b@h"))
    assert _rows(db_url) == [("alice", "example.com", "sip:a@h", "r-sip:a@h"),
                             ("alice", "example.com", "sip:b@h", "r-sip:b@h")]
    d.delete_contact_by_ruid("alice@example.com", "r-sip:a@h")
    assert [r[2] for r in _rows(db_url)] == ["sip:b@h"]
    # a restart loads what the table holds, every field intact
    d.insert_contact("bob@example.com", _c("sip:bob@h", q=250, path="<sip:p;lr>", instance="<urn:x>",
                                            reg_id=1, socket="udp:127.0.0.1:5060", methods=5))
    before = {c.ruid: list(c) for r in d.records() for c in r.contacts}
    ul = usrloc_setup(db_mode=1, db_url=db_url, use_domain=1)
    after = {c.ruid: list(c) for r in ul.get_udomain("location").records() for c in r.contacts}
    assert after.keys() == before.keys()
    for ruid, fields in before.items():
        # times go to DATETIME columns: whole seconds
        assert [int(v) if isinstance(v, float) else v for v in after[ruid]] == \
               [int(v) if isinstance(v, float) else v for v in fields]


def test_write_back_flushes_on_timer(usrloc_setup, db_url):
    schema.create_tables(db_url, ["location"])
    ul = usrloc_setup(db_mode=2, db_url=db_url)
    d = ul.get_udomain("location")
    for i in range(50):
        d.insert_contact(f"u{i}", _c(f"sip:u{i}@h"))
    assert _rows(db_url) == []
    d.timer()
    assert len(_rows(db_url)) == 50
    d.delete_urecord("u0")
    d.insert_contact("u1", _c("sip:u1b@h"))
    d.insert_contact("u2", _c("sip:short@h", 1))
    assert len(_rows(db_url)) == 50
    d.timer(time.time() + 5)   # u2's short contact expired before reaching the DB
    rows = _rows(db_url)
    assert len(rows) == 50 and ("u0", None, "sip:u0@h", "r-sip:u0@h") not in rows
    assert ("u1", None, "sip:u1b@h", "r-sip:u1b@h") in rows
    assert rpc.ul_db_contacts(None, ["location"]) == 50
    assert rpc.ul_db_users(None, ["location"]) == 49
    assert rpc.ul_db_expired_contacts(None, ["location"]) == 0


def test_db_only(usrloc_setup, db_url):
    schema.create_tables(db_url, ["location"])
    ul = usrloc_setup(db_mode=3, db_url=db_url)
    d = ul.get_udomain("location")
    d.insert_contact("carol", _c("sip:c1@h"))
    d.insert_contact("carol", _c("sip:c2@h", 1))
    assert [c.contact for c in d.get_urecord("carol").contacts] == ["sip:c1@h", "sip:c2@h"]
    # another server on the same DB sees it (here: the same process, fresh read)
    assert len(_rows(db_url)) == 2
    d.timer(time.time() + 5)
    assert [r[2] for r in _rows(db_url)] == ["sip:c1@h"]
    assert [r.aor for r in d.records()] == ["carol"]


@pytest.mark.parametrize("mode", [1, 2, 3])
def test_contact_attributes_in_the_attrs_table(usrloc_setup, db_url, mode):
    """xavp_contact: a contact's attributes go to location_attrs (str atype 0, int
    atype 1), come back with the contact (start-up load, or each read in db_mode 3),
    and leave with it (deleted, expired)."""
    schema.create_tables(db_url, ["location", "location_attrs"])
    params = {"db_mode": mode, "db_url": db_url, "xavp_contact": "ulattrs"}
    ul = usrloc_setup(**params)
    d = ul.get_udomain("location")
    d.insert_contact("dan", _c("sip:d1@h", xavp={"tier": ["gold", "old"], "n": [7]}))
    d.insert_contact("dan", _c("sip:d2@h", 1, xavp={"tier": ["tin"]}))
    d.insert_contact("eve", _c("sip:e@h"))
    if mode == 2:
        d.timer()
    with db.connect(db_url) as conn:
        rows = sorted(conn.query("location_attrs", ["ruid", "aname", "atype", "avalue"]))
    assert rows == [("r-sip:d1@h", "n", 1, "7"), ("r-sip:d1@h", "tier", 0, "gold"),
                    ("r-sip:d1@h", "tier", 0, "old"), ("r-sip:d2@h", "tier", 0, "tin")]
    if mode != 3:
        d = usrloc_setup(**params).get_udomain("location")  # a restart: the start-up load
    got = {c.contact: c.xavp for c in d.get_urecord("dan").contacts}
    assert got == {"sip:d1@h": {"tier": ["gold", "old"], "n": [7]}, "sip:d2@h": {"tier": ["tin"]}}
    assert d.get_urecord("eve").contacts[0].xavp is None
    d.delete_contact_by_ruid("dan", "r-sip:d1@h")
    d.timer(time.time() + 5)  # d2 expires (and is flushed away in write-back)
    with db.connect(db_url) as conn:
        assert conn.query("location_attrs", ["ruid"]) == []


def test_version_mismatch_fails_mod_init(usrloc_setup, db_url):
    schema.create_tables(db_url, ["location"])
    with db.connect(db_url) as conn:
        conn.update("version", {"table_name": "location"}, {"table_version": 6})
    with pytest.raises(AssertionError):
        usrloc_setup(db_mode=1, db_url=db_url)


def test_rpc_shapes(usrloc_setup):
    ul = usrloc_setup()
    d = ul.get_udomain("location")
    d.insert_contact("alice", _c("sip:a@h", q=1000, user_agent="UA/1"))
    dump = rpc.ul_dump(None, [])
    dom = dump["Domains"][0]["Domain"]
    assert dom["Domain"] == "location" and dom["Size"] == 1024
    info = dom["AoRs"][0]["Info"]
    assert info["AoR"] == "alice" and isinstance(info["HashID"], int)
    contact = info["Contacts"][0]["Contact"]
    assert contact["Address"] == "sip:a@h" and 3590 < contact["Expires"] <= 3600
    assert contact["Q"] == 1.0 and contact["User-Agent"] == "UA/1" and contact["Path"] == "[not set]"
    assert contact["State"] == "CS_NEW" and contact["Ruid"] == "r-sip:a@h"
    assert rpc.ul_dump(None, ["brief"])["Domains"][0]["Domain"]["AoRs"] == [{"AoR": "alice"}]
    assert rpc.ul_lookup(None, ["location", "ALICE@example.com"])["AoR"] == "alice"
    with pytest.raises(RpcError):
        rpc.ul_lookup(None, ["location", "nobody"])
    with pytest.raises(RpcError):
        rpc.ul_lookup(None, ["nosuchtable", "alice"])
    rpc.ul_add(None, ["location", "bob", "sip:bob@1.2.3.4", 0, 0.5, ".", 0, 0, 31])
    bob = rpc.ul_lookup(None, ["location", "bob"])["Contacts"][0]["Contact"]
    assert bob["Expires"] == "permanent" and bob["Q"] == 0.5 and bob["Methods"] == 31
    with pytest.raises(RpcError):
        rpc.ul_rm_contact(None, ["location", "bob", "sip:none@h"])
    rpc.ul_rm_contact(None, ["location", "bob", "sip:bob@1.2.3.4"])
    rpc.ul_rm(None, ["location", "alice"])
    assert rpc.ul_dump(None, ["brief"])["Domains"][0]["Domain"]["AoRs"] == []
    with pytest.raises(RpcError):
        rpc.ul_db_users(None, ["location"])
