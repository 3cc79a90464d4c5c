"""save()'s quick refresh path (save._fast_refresh) against the general path: for
every REGISTER variant -- Contact forms, Expires, CSeq order, Supported, Require, Path,
User-Agent, matching modes, memory and write-back -- both leave the same record (with
the same write-back state), return the same code and send the same reply; and it holds
the AOR lock across its read-modify-write, as every writer of a record must."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time

import pytest
from kamapy_modules import registrar
from kamapy_modules.registrar import reply, save
from kamapy_modules.usrloc import record as rec_mod
from kamapy_modules.usrloc.contact import C_RUID, UContact
from kamapy_modules.usrloc.domain import aor_key
from kamapy_modules.usrloc.settings import cfg as ul_cfg

from kamapy.sip.msg import RecvInfo, SipMsg
from tests.modules.usrloc.conftest import shm_pool, usrloc_setup  # noqa: F401
from tests.support.bound_modules import load_for_test

T0 = 1_800_000_000.0


class FrozenTime:
    now = T0

    @classmethod
    def time(cls):
        return cls.now


@pytest.fixture(params=["memory", "write-back"])
def env(request, usrloc_setup, monkeypatch, tmp_path):  # noqa: F811
    if request.param == "memory":
        ul = usrloc_setup()
    else:
        from kamapy.db import schema

        url = f"sqlite:///{tmp_path}/ul.sqlite"
        schema.create_tables(url, ["version", "location"])
        ul = usrloc_setup(db_mode=2, db_url=url)
    registrar.exports.values = {p.name: ([] if p.multi else p.default) for p in registrar.exports.params}
    registrar.exports.values["max_expires"] = 3600
    load_for_test(monkeypatch, "sl")
    assert registrar.mod_init() == 0
    sent = []
    monkeypatch.setattr(reply, "send", lambda msg, code, reason, headers: sent.append(
        (code, reason, "".join(headers))) or 1)
    monkeypatch.setattr(save, "time", FrozenTime)
    monkeypatch.setattr(rec_mod, "time", FrozenTime)
    return ul.get_udomain("location"), sent


def register(user, callid, cseq, contact_lines, extra=""):
    return SipMsg((
        f"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5097;branch=z9hG4bK-{cseq}\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\nCall-ID: {callid}\r\n"
        f"CSeq: {cseq} REGISTER\r\n{contact_lines}{extra}Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode(), RecvInfo("127.0.0.1", 5097))


def state(d, aor):
    entry = d.table.get_entry(aor_key(aor))
    if entry is None:
        return None
    contacts, deleted = rec_mod._unpackb(entry[0][rec_mod._HSIZE:])
    # a new binding gets a fresh ruid on each path: compare without it
    return [c[:C_RUID] + c[C_RUID + 1:] for c in contacts], deleted, entry[1], entry[2]


def put_state(d, aor, blob_entry):
    key = aor_key(aor)
    if blob_entry is None:
        d.table.delete(key)
    else:
        d.table.put(key, *blob_entry)


CONTACTS = [
    "Contact: <sip:{u}@127.0.0.1:5097>\r\n",
    "Contact: < sip:{u}@127.0.0.1:5097 >\r\n",
    "Contact: <sip:{u}@127.0.0.1:5097>;expires=30\r\n",
    "Contact: <sip:other@192.0.2.4>\r\n",
    "Contact: <sip:{u}@127.0.0.1:5097>, <sip:x@192.0.2.5>\r\n",
    "Contact: *\r\n",
    "m: <sip:{u}@127.0.0.1:5097>\r\n",
    "Contact: \"A\" <sip:{u}@127.0.0.1:5097>\r\n",
    "Contact: <sip:{u}@127.0.0.1:5097>\r\nContact: <sip:z@192.0.2.6>\r\n",
    "Contact:\r\n <sip:{u}@127.0.0.1:5097>\r\n",          # folded: the scan stops, Python re-indexes
    "Contact: <sip:{u}@127.0.0.1:5097\r\n >\r\n",        # folded inside the brackets
    "Contact:\x0b<sip:{u}@127.0.0.1:5097>\x0b\r\n",      # odd whitespace around the value
    "",
]
EXTRAS = [
    "", "Expires: 3600\r\n", "Expires: 0\r\n", "Expires: 10\r\n", "Expires: 99999\r\n", "Expires: abc\r\n",
    "Supported: gruu, path\r\n", "Require: outbound\r\n", "Allow: INVITE, ACK\r\n",
    "User-Agent: " + "x" * 300 + "\r\n", "User-Agent: foo\r\nExpires: 60\r\n", "Path: <sip:p@192.0.2.1;lr>\r\n",
    "Expires:\r\n 60\r\n", "User-Agent: a\r\n b\r\n", "CSeq: 9 REGISTER\r\n",  # a second CSeq: refused
]
# what kp_regrefresh.c reads itself: edges of its digits, lengths and ASCII checks
C_EXTRAS = [
    "Expires: 0060\r\n", "Expires: 1234567890\r\n", "Expires: 123456789\r\n", "Expires: +60\r\n",
    "Expires: 6\u00b2\r\n", "User-Agent:\r\n", "User-Agent: " + "u" * 254 + "\r\n",
    "User-Agent: " + "u" * 255 + "\r\n", "User-Agent: caf\u00e9\r\n", "User-Agent: \x0bua\x0b\r\n",
    "Expires: 60\r\nExpires: 90\r\n", "Supported: gruu\r\nAllow: REGISTER, INVITE\r\n",
    "Require: path\r\n", "Supported: \"x\r\n", "Allow: ,,\r\n",
]
C_CONTACTS = [
    "Contact: <sip:{u}@127.0.0.1:5097;x=>\r\n", "Contact: <\x85sip:{u}@127.0.0.1:5097\xa0>\r\n",
    "Contact: <>\r\n", "Contact: < >\r\n", "Contact: <sip:{u}@127.0.0.1:5097>>\r\n",
    "Contact: <<sip:{u}@127.0.0.1:5097>\r\n", "Contact: <sip:{u}\u00e9@127.0.0.1:5097>\r\n",
    "Contact: sip:{u}@127.0.0.1:5097\r\n",
]
C_CALLS = [("cid-a", 99999999999999999999), ("cid-a", 999999999999999999), ("x" * 256, 6), ("x" * 255, 6),
           ("cid-a", 0)]
# registrar settings the C call reads (name -> values), each tried on its own
C_SETTINGS = {
    "expires_range": [30], "default_expires_range": [50], "min_expires_mode": [1], "use_path": [1],
    "max_expires": [0, 20], "contact_max_size": [10], "default_expires": [0, 45], "min_expires": [0, 100],
}
CALLS = [("cid-a", 6), ("cid-a", 5), ("cid-a", 4), ("cid-b", 1)]


@pytest.mark.parametrize("matching_mode,desc_time_order", [(0, 0), (1, 0), (2, 0), (3, 0), (0, 1)])
def test_fast_path_does_what_the_general_path_does(env, monkeypatch, matching_mode, desc_time_order):
    d, sent = env
    monkeypatch.setattr(ul_cfg, "matching_mode", matching_mode)
    monkeypatch.setattr(ul_cfg, "desc_time_order", desc_time_order)
    real_fast = save._fast_refresh
    write_back = ul_cfg.db_mode == 2
    for user, (callid, cseq), contact, extra, synced in itertools.product(
            ["bench7", "newuser"], CALLS, CONTACTS, EXTRAS, (False, True) if write_back else (False,)):
        FrozenTime.now = T0
        put_state(d, user, None)
        if user == "bench7":  # an existing binding: cid-a, CSeq 5, 30 s old
            assert save.save(register(user, "cid-a", 5, f"Contact: <sip:{user}@127.0.0.1:5097>\r\n",
                                      "Expires: 3600\r\nUser-Agent: first\r\n"), d) == 1
            if synced:  # written to the DB by the write-back timer since (CS_SYNC)
                d.timer(T0 + 1)
        FrozenTime.now = T0 + 30
        before = d.table.get_entry(aor_key(user))
        data = register(user, callid, cseq, contact.format(u=user), extra).data
        outcomes = []
        for fast in (True, False):
            put_state(d, user, before)
            monkeypatch.setattr(save, "_fast_refresh", real_fast if fast else lambda *a: None)
            random.seed(1)
            del sent[:]
            rc = save.save(SipMsg(data, RecvInfo("127.0.0.1", 5097)), d)
            outcomes.append((rc, list(sent), save.pending.error, save.pending.contact_hdr, state(d, user)))
        monkeypatch.setattr(save, "_fast_refresh", real_fast)
        assert outcomes[0] == outcomes[1], data
    # the plain refresh does go the fast way (else the comparison above proves nothing)
    put_state(d, "bench7", None)
    assert save.save(register("bench7", "cid-a", 1, "Contact: <sip:bench7@127.0.0.1:5097>\r\n"), d) == 1
    assert real_fast(register("bench7", "cid-a", 2, "Contact: <sip:bench7@127.0.0.1:5097>\r\n"),
                     d, 0, "bench7", "127.0.0.1") is not None or matching_mode == 3


def _compare(d, sent, monkeypatch, user, data):
    """save() of data on the fast path and on the general one: the same outcome."""
    real_fast = save._fast_refresh
    before = d.table.get_entry(aor_key(user))
    outcomes = []
    for fast in (True, False):
        put_state(d, user, before)
        monkeypatch.setattr(save, "_fast_refresh", real_fast if fast else lambda *a: None)
        random.seed(1)
        del sent[:]
        rc = save.save(SipMsg(data, RecvInfo("127.0.0.1", 5097)), d)
        outcomes.append((rc, list(sent), save.pending.error, save.pending.contact_hdr, state(d, user),
                         random.random()))  # and the random generator left in the same state
    monkeypatch.setattr(save, "_fast_refresh", real_fast)
    assert outcomes[0] == outcomes[1], data


def test_fast_path_edges_of_the_c_reads(env, monkeypatch):
    """The checks kp_regrefresh.c makes on the REGISTER itself (digits, lengths, ASCII,
    the plain `<uri>` form, header counts) and the settings it applies (expires ranges
    with the random draw, min/max/default expires, use_path, contact_max_size) give
    what the general path gives."""
    from kamapy_modules.registrar.settings import cfg as reg_cfg

    d, sent = env
    user = "bench7"
    first = register(user, "cid-a", 5, f"Contact: <sip:{user}@127.0.0.1:5097>\r\n", "Expires: 3600\r\n").data
    settings = [(None, None)] + [(k, v) for k, vs in C_SETTINGS.items() for v in vs]
    real_refresh = d.refresh
    took = []

    def refresh(*a):
        out = real_refresh(*a)
        took.append(out is not None)
        return out

    monkeypatch.setattr(d, "refresh", refresh)
    runs = 0
    for (name, value), (callid, cseq), contact, extra in itertools.chain(
            itertools.product(settings, CALLS[:2] + C_CALLS, C_CONTACTS + CONTACTS[:1], [""]),
            itertools.product(settings, CALLS[:1], CONTACTS[:1], C_EXTRAS + EXTRAS[:4])):
        FrozenTime.now = T0
        put_state(d, user, None)
        assert save.save(SipMsg(first, RecvInfo("127.0.0.1", 5097)), d) == 1
        old = getattr(reg_cfg, name) if name is not None else None
        if name is not None:
            setattr(reg_cfg, name, value)
        try:
            FrozenTime.now = T0 + 30
            _compare(d, sent, monkeypatch, user, register(user, callid, cseq, contact.format(u=user), extra).data)
        finally:
            if name is not None:
                setattr(reg_cfg, name, old)
        runs += 1
    assert runs > 900 and sum(took) > 100 and not all(took)


def _binding(user, **kw):
    kw.setdefault("expires", T0 + 3600)
    kw.setdefault("callid", "cid-a")
    kw.setdefault("cseq", 5)
    kw.setdefault("ruid", f"ruid-{random.random()}")
    kw.setdefault("last_modified", T0)
    return UContact.new(kw.pop("contact", f"sip:{user}@127.0.0.1:5097"), **kw)


# records with more than the one binding: kp_ulrefresh.c reorders, lists or declines them
SHAPES = {
    "two": lambda u: [_binding(u), _binding(u, contact="sip:x@192.0.2.5", callid="cid-x")],
    "q": lambda u: [_binding(u, contact="sip:x@192.0.2.5", q=500), _binding(u),
                    _binding(u, contact="sip:y@192.0.2.6", q=-1, callid="cid-y")],
    "permanent": lambda u: [_binding(u), _binding(u, contact="sip:x@192.0.2.5", expires=0)],
    "expired": lambda u: [_binding(u, contact="sip:x@192.0.2.5", expires=T0 + 10), _binding(u)],
    "instance": lambda u: [_binding(u, instance="<urn:uuid:00000000-0000-0000-0000-000000000001>", reg_id=1)],
    "received": lambda u: [_binding(u), _binding(u, contact="sip:x@192.0.2.5", received="sip:192.0.2.9:5070")],
    "float-expires": lambda u: [_binding(u, expires=T0 + 3600.5), _binding(u, contact="sip:x@192.0.2.5",
                                                                           expires=T0 + 99.25)],
    "many": lambda u: [_binding(u)] + [_binding(u, contact=f"sip:x{i}@192.0.2.5") for i in range(40)],
    "huge": lambda u: [_binding(u)] + [_binding(u, contact=f"sip:x{i}@192.0.2.5", user_agent="u" * 120)
                                       for i in range(130)],  # past kp_ulrefresh's buffer: declined
    "deleted": lambda u: [_binding(u)],
}


@pytest.mark.parametrize("matching_mode,desc_time_order", [(0, 0), (1, 0), (3, 0), (0, 1)])
def test_fast_path_on_records_of_several_bindings(env, monkeypatch, matching_mode, desc_time_order):
    """The same comparison on records of other shapes: several bindings (order by q,
    desc_time_order), permanent, expired, with instance or received (the reply's long
    form), float expiry times, a record too big for the C call, write-back deletions
    pending; with max_contacts, gruu, non-ASCII Call-IDs."""
    from kamapy_modules.registrar.settings import cfg as reg_cfg

    d, sent = env
    monkeypatch.setattr(ul_cfg, "matching_mode", matching_mode)
    monkeypatch.setattr(ul_cfg, "desc_time_order", desc_time_order)
    real_fast = save._fast_refresh
    real_refresh = d.refresh
    took = []

    def refresh(*a):
        out = real_refresh(*a)
        took.append(out is not None)
        return out

    monkeypatch.setattr(d, "refresh", refresh)
    user = "bench7"
    for shape, (callid, cseq), contact, extra, maxc in itertools.product(
            SHAPES, CALLS + [("cid-\u00e9", 6)], ["<sip:{u}@127.0.0.1:5097>", "<sip:x@192.0.2.5>"],
            ["", "Supported: gruu\r\n", "Expires: 30\r\n"], (0, 2, 3)):
        monkeypatch.setattr(reg_cfg, "max_contacts", maxc)
        FrozenTime.now = T0
        put_state(d, user, None)
        random.seed(7)
        for c in SHAPES[shape](user):
            d.insert_contact(user, c)
        if shape == "deleted":
            d.lock(user)
            r = d.get_urecord(user)
            r.deleted.append("ruid-gone")
            d.save(r)
            d.unlock(user)
        FrozenTime.now = T0 + 30
        before = d.table.get_entry(aor_key(user))
        data = register(user, callid, cseq, "Contact: " + contact.format(u=user) + "\r\n", extra).data
        outcomes = []
        for fast in (True, False):
            put_state(d, user, before)
            monkeypatch.setattr(save, "_fast_refresh", real_fast if fast else lambda *a: None)
            random.seed(1)
            del sent[:]
            rc = save.save(SipMsg(data, RecvInfo("127.0.0.1", 5097)), d)
            outcomes.append((rc, list(sent), save.pending.error, save.pending.contact_hdr, state(d, user)))
        monkeypatch.setattr(save, "_fast_refresh", real_fast)
        assert outcomes[0] == outcomes[1], (shape, data)
    assert any(took) and not all(took)  # the C call did some, and declined some


def test_the_aor_lock_is_held_across_the_update(env):
    """Every writer of a record (the expiry timer, the general save(), ul.rm ...) reads
    and writes it under the AOR lock: the quick path (one C call that takes the lock
    itself) must too, or one of two concurrent updates is lost. Another thread holds
    the lock: the refresh waits for it, then the lock is free again."""
    d, _ = env
    FrozenTime.now = T0
    c1 = "Contact: <sip:bob@127.0.0.1:5097>\r\n"
    assert save.save(register("bob", "cid", 1, c1), d) == 1
    idx = d._slot("bob")[1]
    taken = threading.Event()
    released = []

    def holder():
        d.locks.get(idx)
        taken.set()
        time.sleep(0.3)
        released.append(time.monotonic())
        d.locks.release(idx)

    t = threading.Thread(target=holder)
    t.start()
    assert taken.wait(5)
    FrozenTime.now = T0 + 10
    assert save.save(register("bob", "cid", 2, c1, "Expires: 600\r\n"), d) == 2  # updated
    done = time.monotonic()
    t.join(5)
    assert released and done >= released[0]
    assert d.locks.try_get(idx)  # released after the write
    d.locks.release(idx)
    (c,) = d.get_urecord("bob").contacts
    assert c.cseq == 2 and int(c.expires) == int(T0 + 10) + 600


def test_a_lock_whose_holder_died_is_recovered(env, caplog):
    """A process killed while holding the AOR lock: the C call takes the lock over
    (EOWNERDEAD), hands it back for usrloc's recovery (logged), and the REGISTER is
    done by the general path -- a 200 and the binding refreshed, no traceback."""
    d, sent = env
    FrozenTime.now = T0
    c1 = "Contact: <sip:carl@127.0.0.1:5097>\r\n"
    assert save.save(register("carl", "cid", 1, c1), d) == 1
    idx = d._slot("carl")[1]
    pid = os.fork()
    if pid == 0:  # the child takes the lock and dies with it
        try:
            d.locks.get(idx)
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    FrozenTime.now = T0 + 10
    del sent[:]
    assert save.save(register("carl", "cid", 2, c1, "Expires: 600\r\n"), d) == 2
    assert sent and sent[-1][0] == 200
    assert "holder died" in caplog.text
    assert d.locks.try_get(idx)  # free again
    d.locks.release(idx)
    (c,) = d.get_urecord("carl").contacts
    assert c.cseq == 2 and int(c.expires) == int(T0 + 10) + 600
