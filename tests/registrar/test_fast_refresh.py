"""save()'s quick refresh path (save._fast_refresh) against the general path: for
every REGISTER variant -- Contact forms, Expires, CSeq order, Supported, Require, Path,
User-Agent, matching modes, memory and write-back -- both leave the same record (with
the same write-back state), return the same code and send the same reply; and it holds
the AOR lock across its read-modify-write, as every writer of a record must."""

from __future__ import annotations

import itertools
import random

import pytest
from kamapy_modules import registrar
from kamapy_modules.registrar import reply, save
from kamapy_modules.usrloc import record as rec_mod
from kamapy_modules.usrloc.contact import C_RUID
from kamapy_modules.usrloc.domain import aor_key
from kamapy_modules.usrloc.settings import cfg as ul_cfg

from kamapy.sip.msg import RecvInfo, SipMsg
from tests.support.bound_modules import load_for_test
from tests.usrloc.conftest import shm_pool, usrloc_setup  # noqa: F401

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


def test_the_aor_lock_is_held_across_the_update(env, monkeypatch):
    """Every writer of a record (the expiry timer, the general save(), ul.rm ...) reads
    and writes it under the AOR lock: the quick path must too, or one of two concurrent
    updates is lost."""
    d, _ = env
    FrozenTime.now = T0
    c1 = "Contact: <sip:bob@127.0.0.1:5097>\r\n"
    assert save.save(register("bob", "cid", 1, c1), d) == 1
    idx = d._slot("bob")[1]
    held = []
    real_snapshot, real_store = d.snapshot, d.store_update

    def lock_is_held():
        try:
            if d.locks.try_get(idx):  # free: nobody holds it
                d.locks.release(idx)
                return False
        except RuntimeError as e:  # the error-checking mutex: we hold it ourselves
            return "already held by this process" in str(e)
        return True

    def snapshot(aor):
        snap = real_snapshot(aor)  # takes the lock with the read
        held.append(("read", lock_is_held()))
        return snap

    def store_update(*a):
        held.append(("write", lock_is_held()))
        real_store(*a)  # writes and releases
        held.append(("after", lock_is_held()))

    monkeypatch.setattr(d, "snapshot", snapshot)
    monkeypatch.setattr(d, "store_update", store_update)
    FrozenTime.now = T0 + 10
    assert save.save(register("bob", "cid", 2, c1, "Expires: 600\r\n"), d) == 2  # updated
    assert held == [("read", True), ("write", True), ("after", False)]
    assert not lock_is_held()  # and released after
    (c,) = d.get_urecord("bob").contacts
    assert c.cseq == 2 and int(c.expires) == int(T0 + 10) + 600
