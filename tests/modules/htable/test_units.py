"""htable's parts without a server: the definition parser, Kamailio's slot hash, the
item semantics (types, initval, expiry, counts) on a table in a shm pool."""

from __future__ import annotations

import time

import pytest
from kamapy_modules.htable.table import HTable, SpecError, case_hash, parse_spec, slots_of

from kamapy.mem import shm


@pytest.fixture(scope="module", autouse=True)
def pool():
    try:
        shm.pool()
    except RuntimeError:
        shm.init_pool(32 << 20)


def table(text: str) -> HTable:
    t = HTable(parse_spec(text))
    t.create()
    return t


def test_spec_parsing():
    s = parse_spec("ipban=>size=8;autoexpire=300;")
    assert (s["name"], s["size"], s["autoexpire"], s["initval"], s["updateexpire"]) == ("ipban", 8, 300, None, 1)
    s = parse_spec(" a => size=4;initval=-2;dbtable=htable_a;dbmode=1;cols='k,v1,v2'")
    assert (s["name"], s["initval"], s["dbtable"], s["dbmode"], s["cols"]) == ("a", -2, "htable_a", 1, "k,v1,v2")
    for bad in ("nodef", "a=>size=x", "a=>bogus=1", "=>size=1", "a=>cols='one'"):
        with pytest.raises(SpecError):
            parse_spec(bad)
    assert [slots_of(n) for n in (0, 1, 2, 4, 31, 40)] == [8, 8, 4, 16, 1 << 31, 1 << 14]


def test_slot_hash_is_kamailios():
    # slots Kamailio 5.6's htable.dump printed for these names
    assert case_hash("hits") & 15 == 4
    assert case_hash("str") & 15 == 7
    assert case_hash("boot") & 15 == 10
    assert case_hash("127.0.0.2") & 255 == 20
    assert case_hash("HITS") == case_hash("hits")  # the slot hash ignores case


def test_types_delete_and_initval():
    t = table("u1=>size=4;")
    t.set("i", 5)
    t.set("s", "abc")
    assert t.get("i") == 5 and t.get("s") == "abc" and t.get("none") is None
    assert t.add("i", 1) == 6 and t.add("s", 1) is None and t.add("none", 1) is None
    assert t.delete("s") and t.get("s") is None
    c = table("u2=>size=2;initval=0;")
    assert c.get("x") == 0 and c.add("x", 1) == 1 and c.add("x", -3) == -2
    c.set("big", 2**31 - 1)
    assert c.add("big", 1) == -(2**31)  # a C int


def test_expiry_rules():
    e = table("u3=>size=2;autoexpire=100;")
    e.set("x", 1)
    assert 99 <= e.get_expire("x") <= 100
    e.set_expire("x", 10)
    assert 9 <= e.get_expire("x") <= 10
    e.set("x", 2)  # updateexpire=1 renews
    assert e.get_expire("x") >= 99
    e.set_expire("x", 1)
    item = e.store.get_entry(b"x")
    e.store.replace(b"x", item[0], item[0], expires=float(int(time.time()) - 1))
    assert e.get("x") is None  # expired: reads as absent before the timer removes it
    assert e.expire(int(time.time())) == [("x", 2)] and len(e.store) == 0
    k = table("u4=>size=2;autoexpire=100;updateexpire=0;")
    k.set("x", 1)
    k.set_expire("x", 30)
    k.set("x", 2)
    assert k.get_expire("x") <= 30
    n = table("u5=>size=2;")
    n.set("x", 1)
    n.set_expire("x", 30)
    assert n.get_expire("x") == 0 and n.expire(int(time.time()) + 1000) == []


def test_counts_and_removal():
    t = table("u6=>size=4;")
    for name, value in (("p1", "alpha"), ("p2", "alphabet"), ("q1", "beta"), ("q2", 3), ("q3", 3)):
        t.set(name, value)
    assert t.count("**", False) == 5
    assert t.count("~~^p", False) == 2 and t.count("%~q", False) == 3 and t.count("~%2", False) == 2
    assert t.count("==q1", False) == 1 and t.count("eq3", True) == 2 and t.count("eq3", False) == 0
    assert t.count("^ALPHA", True) == 2  # regexes ignore case, as Kamailio's REG_ICASE
    assert t.match("sw", "alph", True) == 1 and t.match("eq", "zz", False) == -1
    t.rm_re("^alpha$", True)
    assert t.get("p1") is None and t.get("p2") == "alphabet"
    t.rm_sw("q", False)
    assert sorted(n for n, _v, _e in t.items()) == ["p2"]
    assert t.rm_re("(", False) == -1
    t.reset()
    assert len(t.store) == 0


def test_dump_order_is_by_slot_then_hash():
    t = table("u7=>size=4;")
    for name in ("hits", "str", "boot"):
        t.set(name, 1)
    assert [slot for slot, _items in t.slotted()] == [4, 7, 10]


def test_lock_is_reentrant():
    t = table("u8=>size=2;")
    t.lock("k")
    t.lock("k")
    t.unlock("k")
    t.unlock("k")
    t.unlock("k")  # not held: logged, no error


def test_redis_journal_bound_drops_oldest_and_dedups():
    """The changes a node keeps while Redis is away (journal.py): one entry per key,
    its last change's time; full: the oldest dropped (logged once); give_back skips a
    key that changed again since."""
    import logging

    from kamapy_modules.htable.journal import Journal
    j = Journal(4)
    for i, name in enumerate(["a", "b", "c", "d"]):
        j.note("t", name, 1000 + i)
    j.note("t", "a", 2000)            # the same key again: still 4, a is now the newest
    assert len(j) == 4 and j.when("t", "a") == 2000
    log = logging.getLogger("kamapy.htable")
    seen = []
    handler = logging.Handler()
    handler.emit = lambda rec: seen.append(rec.getMessage())
    log.addHandler(handler)
    try:
        j.note("t", "e", 3000)        # full: b (1001) goes
        j.note("t", "f", 3001)        # c (1002) goes, not logged again
    finally:
        log.removeHandler(handler)
    assert len(j) == 4 and j.when("t", "b") is None and j.when("t", "c") is None
    assert sum("journal is full" in m for m in seen) == 1
    taken = j.take()
    assert [Journal.split(k)[1] for k, _ms in taken] == ["d", "a", "e", "f"]
    assert len(j) == 0 and j.when("t", "a") is None
    j.note("t", "e", 4000)            # changed again after the take
    j.give_back(taken)                # a failed replay: back, but e keeps its newer time
    assert j.when("t", "e") == 4000 and j.when("t", "a") == 2000 and len(j) == 4
    assert Journal.split(Journal.key("t", "x\0y")) == ("t", "x\0y")
    assert len(Journal(0)) == 0 and Journal(0).take() == []


def test_a_change_published_before_the_last_load_is_not_applied():
    """The 'htable redis' process subscribes, replays, loads, and only then reads what
    queued on the subscription meanwhile: a change another node published before the
    load (its stamp-0 write-back after Redis restarted empty, or an older change) is
    already in, or older than, what the load read, and must not undo it; a newer one
    is applied (seen on the wire: a node's delete made during a 10 s outage came back)."""
    import msgpack
    from kamapy_modules.htable.replication import Replica
    t = table("ipban=>size=4;dmqreplicate=1;")
    rep = Replica("redis://127.0.0.1:1/0", "p:", {"ipban": t}, 0)
    rep._loaded = {("ipban", "gone"): 5000, ("ipban", "moved"): 5000}

    def op(name, value, ms):
        return msgpack.packb(["other", "s", name, value, 0, ms], use_bin_type=True)
    rep.apply(op("gone", b"sx", 0), "p:ipban")        # a write-back, stamped 0
    rep.apply(op("moved", b"sold", 4000), "p:ipban")  # older than the load
    assert t.store.get_entry(t._key("gone")) is None and t.store.get_entry(t._key("moved")) is None
    rep.apply(op("moved", b"snew", 6000), "p:ipban")  # newer: applied
    rep.apply(op("fresh", b"sf", 0), "p:ipban")       # not loaded at all: applied
    assert t.store.get_entry(t._key("moved"))[0] == b"snew"
    assert t.store.get_entry(t._key("fresh"))[0] == b"sf"
    # an op from an older kamapy (no stamp) is applied as before
    rep.apply(msgpack.packb(["other", "s", "gone", b"sy", 0], use_bin_type=True), "p:ipban")
    assert t.store.get_entry(t._key("gone"))[0] == b"sy"
