"""usrloc in memory: records, ordering, matching, expiry, statistics."""

from __future__ import annotations

import time

from kamapy_modules.usrloc.contact import Q_UNSPECIFIED, UContact, q_text
from kamapy_modules.usrloc.record import HEADER, URecord, header_of

from kamapy import stats


def _c(uri, expires=3600.0, q=Q_UNSPECIFIED, callid="cid", cseq=1, **kw):
    now = time.time()
    return UContact.new(uri, expires=now + expires if expires else 0, q=q, callid=callid, cseq=cseq,
                        last_modified=now, ruid=kw.pop("ruid", f"r-{uri}"), **kw)


def _save(d, aor, *contacts):
    d.lock(aor)
    try:
        r = d.get_urecord(aor, create=True)
        for c in contacts:
            r.insert_contact(c)
        d.save(r)
    finally:
        d.unlock(aor)


def test_contact_fields_and_q_text():
    c = UContact.new("sip:a@1.2.3.4", q=500, reg_id=2)
    assert c.contact == "sip:a@1.2.3.4" and c.q == 500 and c.reg_id == 2
    c.cseq = 9
    assert c.as_dict()["cseq"] == 9
    assert [q_text(q) for q in (Q_UNSPECIFIED, 1000, 0, 500, 125, 50)] == ["", "1", "0", "0.5", "0.125", "0.05"]


def test_pack_round_trip_with_header():
    r = URecord("alice", [_c("sip:a@h", 100), _c("sip:b@h", 50), _c("sip:p@h", 0)])
    blob = r.pack()
    earliest, flags = header_of(blob)
    assert abs(earliest - r.contacts[1].expires) < 1e-6
    back = URecord.unpack("alice", blob)
    assert back.contacts == r.contacts and isinstance(back.contacts[0], UContact)
    assert len(blob) > HEADER.size


def test_q_order_and_desc_time_order(usrloc_setup):
    ul = usrloc_setup()
    d = ul.get_udomain("location")
    _save(d, "bob", _c("sip:low@h", q=100), _c("sip:high@h", q=900), _c("sip:none@h"), _c("sip:mid@h", q=500))
    assert [c.contact for c in d.get_urecord("bob").contacts] == [
        "sip:high@h", "sip:mid@h", "sip:low@h", "sip:none@h"]
    ul = usrloc_setup(desc_time_order=1)
    d = ul.get_udomain("location")
    _save(d, "bob", _c("sip:1@h", q=900), _c("sip:2@h", q=100))
    assert [c.contact for c in d.get_urecord("bob").contacts] == ["sip:2@h", "sip:1@h"]


def test_matching_modes_and_cseq(usrloc_setup):
    ul = usrloc_setup()
    r = URecord("a", [_c("sip:a@h", callid="c1", cseq=5, path="<sip:p1>")])
    assert r.get_ucontact("sip:a@h", "c1", "", 6)[0] == 0
    assert r.get_ucontact("sip:a@h", "c1", "", 4)[0] == -1            # out of order
    assert r.get_ucontact("sip:a@h", "c1", "", 5)[0] == -2            # retransmission
    assert r.get_ucontact("sip:a@h", "c2", "", 1)[0] == 0             # new Call-ID: no CSeq test
    assert r.get_ucontact("sip:b@h", "c1", "", 9)[0] == 1
    ul.cfg.matching_mode = 1
    assert r.get_ucontact("sip:a@h", "c2", "", 9)[0] == 1
    ul.cfg.matching_mode = 2
    assert r.get_ucontact("sip:a@h", "c2", "<sip:p2>", 9)[0] == 1
    assert r.get_ucontact("sip:a@h", "c2", "<sip:p1>", 9)[0] == 0
    ul.cfg.matching_mode = 3
    assert r.get_ucontact("sip:zzz@h", "c1", "", 9)[0] == 0
    ul.cfg.matching_mode = 0
    inst = URecord("a", [_c("sip:a@h", instance="<urn:uuid:1>", reg_id=1)])
    assert inst.get_by_instance("sip:other@h", "urn:uuid:1", 1, "x", "", 1)[0] == 0
    assert inst.get_by_instance("sip:other@h", "<urn:uuid:1>", 2, "x", "", 1)[0] == 1


def test_save_delete_and_statistics(usrloc_setup):
    ul = usrloc_setup(tables=("location", "aliases"))
    d = ul.get_udomain("location")
    g = stats.group("usrloc")
    base = g.values()
    _save(d, "alice", _c("sip:a1@h"), _c("sip:a2@h"))
    _save(d, "bob", _c("sip:b1@h"))
    v = g.values()
    assert v["location-users"] - base["location-users"] == 2
    assert v["location-contacts"] - base["location-contacts"] == 3
    assert v["registered_users"] - base["registered_users"] == 2
    assert "aliases-users" in v
    assert d.delete_contact_by_ruid("alice", "r-sip:a1@h")
    assert [c.contact for c in d.get_urecord("alice").contacts] == ["sip:a2@h"]
    assert d.delete_urecord("alice") and d.get_urecord("alice") is None
    v = g.values()
    assert v["location-users"] - base["location-users"] == 1
    assert v["location-contacts"] - base["location-contacts"] == 1
    assert sorted(r.aor for r in d.records()) == ["bob"]


def test_timer_expires_contacts_and_runs_callbacks(usrloc_setup):
    ul = usrloc_setup()
    d = ul.get_udomain("location")
    seen = []
    ul.register_ulcb(ul.UL_CONTACT_EXPIRE, lambda table, aor, c, t: seen.append((table, aor, c.contact)))
    g = stats.group("usrloc")
    base = g.values()
    _save(d, "carol", _c("sip:short@h", 1), _c("sip:long@h", 3600), _c("sip:perm@h", 0))
    _save(d, "dave", _c("sip:d@h", 1))
    d.timer(time.time() + 2)
    assert sorted(seen) == [("location", "carol", "sip:short@h"), ("location", "dave", "sip:d@h")]
    assert [c.contact for c in d.get_urecord("carol").contacts] == ["sip:long@h", "sip:perm@h"]
    assert d.get_urecord("dave") is None
    v = g.values()
    assert v["location-expires"] - base["location-expires"] == 2
    assert v["location-contacts"] - base["location-contacts"] == 2
    assert v["location-users"] - base["location-users"] == 1


def test_get_all_ucontacts_filters_by_flags(usrloc_setup):
    ul = usrloc_setup()
    d = ul.get_udomain("location")
    _save(d, "a", _c("sip:nat@h", cflags=1 << 3), _c("sip:plain@h"))
    _save(d, "b", _c("sip:gone@h", -10))
    assert sorted(c.contact for _, _, c in ul.get_all_ucontacts()) == ["sip:nat@h", "sip:plain@h"]
    assert [c.contact for _, _, c in ul.get_all_ucontacts(flags=1 << 3)] == ["sip:nat@h"]
    parts = [sorted(a for _, a, _ in ul.get_all_ucontacts(part_idx=i, part_max=2)) for i in range(2)]
    assert sorted(parts[0] + parts[1]) == ["a", "a"]
