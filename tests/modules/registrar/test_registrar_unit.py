"""registrar functions called directly on parsed messages: expiry rules, q values,
refusals, lookup routing state, $ulc, unregister."""

from __future__ import annotations

import time

import pytest
from kamapy_modules import registrar
from kamapy_modules.registrar import contact_info, reply, save, ulc
from kamapy_modules.registrar import lookup as lk
from kamapy_modules.registrar.settings import cfg

from kamapy.sip.msg import RecvInfo, SipMsg
from tests.modules.usrloc.conftest import shm_pool, usrloc_setup  # noqa: F401
from tests.support.bound_modules import load_for_test


@pytest.fixture
def reg(usrloc_setup, monkeypatch):  # noqa: F811
    """(table, sent replies): usrloc + registrar initialised with default params."""
    ul = usrloc_setup()
    load_for_test(monkeypatch, "sl")
    registrar.exports.values = {p.name: ([] if p.multi else p.default) for p in registrar.exports.params}
    sent = []
    monkeypatch.setattr(reply, "send", lambda msg, code, reason, headers: sent.append(
        (code, reason, "".join(headers))) or 1)

    def init(**params):
        registrar.exports.values.update(params)
        assert registrar.mod_init() == 0
        return ul.get_udomain("location")

    init.sent = sent
    return init


def REG(user="alice", contacts=("<sip:alice@10.0.0.1:5060>",), expires=None, cseq=1, callid="cid-1",
        extra=""):
    lines = [
        "REGISTER sip:example.com SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1",
        f"From: <sip:{user}@example.com>;tag=1",
        f"To: <sip:{user}@example.com>",
        f"Call-ID: {callid}",
        f"CSeq: {cseq} REGISTER",
    ]
    lines += [f"Contact: {c}" for c in contacts]
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if extra:
        lines.append(extra)
    return SipMsg(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode(), RecvInfo("10.0.0.1", 5060))


def REQ(ruri, method="INVITE", to_tag=""):
    t = f";tag={to_tag}" if to_tag else ""
    return SipMsg((f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK-2\r\n"
                   f"From: <sip:bob@example.com>;tag=2\r\nTo: <{ruri}>{t}\r\nCall-ID: x\r\n"
                   f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode(), RecvInfo("10.0.0.9", 5060))


def test_expires_rules(reg):
    d = reg(default_expires=1800, max_expires=3000, min_expires=60)
    now = int(time.time())
    assert save.save(REG(contacts=["<sip:a@h>;expires=100", "<sip:b@h>", "<sip:c@h>;expires=9999",
                                   "<sip:d@h>;expires=5"]), d) == 1
    got = {c.contact: int(c.expires) - now for c in d.get_urecord("alice").contacts}
    assert got["sip:a@h"] in (100, 99) and got["sip:b@h"] in (1800, 1799)
    assert got["sip:c@h"] in (3000, 2999) and got["sip:d@h"] in (60, 59)   # clamped both ways
    code, reason, headers = reg.sent[-1]
    assert (code, reason) == (200, "OK") and headers.count("<sip:") == 4


def test_expires_header_and_423(reg):
    d = reg(min_expires=30, min_expires_mode=1)
    assert save.save(REG(contacts=["<sip:a@h>"], expires=10), d) == -1
    code, reason, headers = reg.sent[-1]
    assert (code, reason) == (423, "Interval Too Brief")
    assert "Min-Expires: 30\r\n" in headers and "P-Registrar-Error: Interval too brief" in headers
    assert d.get_urecord("alice") is None


def test_q_values(reg):
    d = reg(default_q=300)
    save.save(REG(contacts=["<sip:a@h>;q=0.7", "<sip:b@h>", "<sip:c@h>;q=1"]), d)
    assert [(c.contact, c.q) for c in d.get_urecord("alice").contacts] == [
        ("sip:c@h", 1000), ("sip:a@h", 700), ("sip:b@h", 300)]
    assert save.save(REG(contacts=["<sip:x@h>;q=1.5"], cseq=2), d) == -1
    assert reg.sent[-1][0] == 400 and "Invalid q param" in reg.sent[-1][2]
    assert [contact_info.parse_q(t) for t in ("0", "1", "1.000", "0.5", ".25", "0.125", "2", "0.1234", "x")] == [
        0, 1000, 1000, 500, 250, 125, None, None, None]


def test_refresh_keeps_ruid_and_orders_cseq(reg):
    d = reg()
    save.save(REG(cseq=5), d)
    ruid = d.get_urecord("alice").contacts[0].ruid
    assert save.save(REG(cseq=6, extra="User-Agent: phone/2"), d) == 2
    c = d.get_urecord("alice").contacts[0]
    assert c.ruid == ruid and c.cseq == 6 and c.user_agent == "phone/2"
    assert save.save(REG(cseq=4), d) == -1 and reg.sent[-1][0] == 400
    # a retransmission (same Call-ID and CSeq) is answered, not applied
    assert save.save(REG(cseq=6), d) == 1 and reg.sent[-1][0] == 200
    # another Call-ID restarts the sequence
    assert save.save(REG(cseq=1, callid="other"), d) == 2


def test_star_and_query(reg):
    d = reg()
    save.save(REG(contacts=["<sip:a@h>", "<sip:b@h>"]), d)
    assert save.save(REG(contacts=[], cseq=2), d) == 4
    assert reg.sent[-1][2].count("<sip:") == 2
    assert save.save(REG(contacts=["*"], cseq=3), d) == -1          # no Expires: 0
    assert reg.sent[-1][0] == 400 and "expires is not zero" in reg.sent[-1][2]
    assert save.save(REG(contacts=["*"], expires=0, cseq=4), d) == 3
    assert d.get_urecord("alice") is None and reg.sent[-1] == (200, "OK", "")


def test_max_contacts_and_replace_flag(reg):
    d = reg(max_contacts=2)
    assert save.save(REG(contacts=["<sip:a@h>", "<sip:b@h>", "<sip:c@h>"]), d) == -2
    assert reg.sent[-1][0] == 503 and d.get_urecord("alice") is None
    assert save.save(REG(contacts=["<sip:a@h>", "<sip:b@h>"]), d) == 1
    assert save.save(REG(contacts=["<sip:c@h>"], cseq=2), d) == -2
    # 0x04: one contact per AOR -- the new one replaces the others
    assert save.save(REG(contacts=["<sip:c@h>"], cseq=3), d, 0x04) == 1
    assert [c.contact for c in d.get_urecord("alice").contacts] == ["sip:c@h"]


def test_no_reply_flag_and_reg_send_reply(reg):
    d = reg()
    msg = REG()
    assert save.save(msg, d, 0x02) == 1 and reg.sent == []
    assert registrar.w_send_reply(msg) == 1 and reg.sent[-1][0] == 200


def test_lookup_sets_ruri_dst_branches(reg):
    d = reg(received_avp="$avp(rcv)")
    msg = REG(contacts=["<sip:desk@10.0.0.1>;q=1", "<sip:cell@192.168.1.5:5062>;q=0.5;received=\"sip:1.2.3.4:999\""])
    save.save(msg, d)
    req = REQ("sip:alice@example.com")
    assert lk.lookup(req, d) == 1
    assert req.current_uri == "sip:desk@10.0.0.1" and req.dst_uri is None and req.ruri_q == 1000
    assert [(b.uri, b.dst_uri, b.q) for b in req.branches] == [
        ("sip:cell@192.168.1.5:5062", "sip:1.2.3.4:999", 500)]
    assert lk.lookup(REQ("sip:nobody@example.com"), d) == -1
    assert lk.registered(REQ("sip:alice@example.com"), d) == 1
    assert lk.registered(REQ("sip:nobody@example.com"), d) == -1
    dset = REQ("sip:alice@example.com")
    assert lk.lookup(dset, d, to_dset=True) == 1
    assert dset.current_uri == "sip:alice@example.com" and len(dset.branches) == 2


def test_method_filtering(reg):
    d = reg(method_filtering=1)
    save.save(REG(extra="Allow: INVITE, ACK, BYE"), d)
    assert lk.lookup(REQ("sip:alice@example.com", "MESSAGE"), d) == -2
    assert lk.lookup(REQ("sip:alice@example.com", "INVITE"), d) == 1
    assert lk.lookup(REQ("sip:alice@example.com", "MESSAGE", to_tag="t"), d) == 1


def test_path_stored_and_used(reg):
    d = reg(use_path=1, path_mode=0, path_use_received=1)
    msg = REG(extra="Path: <sip:lb.example.com;lr;received=sip:5.6.7.8%3A5070>")
    save.save(msg, d)
    c = d.get_urecord("alice").contacts[0]
    assert c.path == "<sip:lb.example.com;lr;received=sip:5.6.7.8%3A5070>" and c.received == "sip:5.6.7.8:5070"
    req = REQ("sip:alice@example.com")
    lk.lookup(req, d)
    assert req.dst_uri == "sip:lb.example.com;lr;received=sip:5.6.7.8%3A5070" and req.path_vec == c.path


def test_gruu_outbound_instance(reg):
    d = reg()
    inst = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1'
    save.save(REG(contacts=[f"<sip:ua@10.0.0.1>;{inst}"], extra="Supported: gruu, outbound"), d)
    hdr = reply_contact = reg.sent[-1][2]
    assert 'pub-gruu="sip:alice@example.com;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128"' in hdr
    assert ';temp-gruu="sip:' in hdr and ';+sip.instance="<urn:uuid:' in reply_contact and ";reg-id=1" in hdr
    # the same instance and reg-id from a new address replaces the binding
    save.save(REG(contacts=[f"<sip:ua@10.0.0.2>;{inst}"], cseq=2), d)
    assert [c.contact for c in d.get_urecord("alice").contacts] == ["sip:ua@10.0.0.2"]
    req = REQ("sip:alice@example.com;gr=urn:uuid:00000000-0000-1000-8000-000A95A0E128")
    assert lk.lookup(req, d) == 1 and req.current_uri == "sip:ua@10.0.0.2"
    temp = hdr.split('temp-gruu="')[1].split('"')[0]
    req = REQ(temp)
    assert lk.lookup(req, d) == 1 and req.current_uri == "sip:ua@10.0.0.2"


def test_ulc_profiles_and_unregister(reg):
    d = reg()
    save.save(REG(contacts=["<sip:a@h>;q=0.9", "<sip:b@h>;q=0.1"]), d)
    req = REQ("sip:alice@example.com")
    assert registrar.w_fetch_contacts(req, d, "sip:alice@example.com", "callee") == 1
    p = ulc.profiles["callee"]
    assert len(p.contacts) == 2 and p.aor == "alice"
    from kamapy.pv.base import PvSpec
    get = lambda inner, idx=None: ulc.UlcPv(PvSpec("ulc", inner, None, idx, "$ulc")).get(req)  # noqa: E731
    assert get("callee=>count") == 2 and get("callee=>addr") == "sip:a@h" and get("callee=>addr", 1) == "sip:b@h"
    assert get("callee=>q", 1) == 100 and get("callee=>aor") == "alice" and get("callee=>domain") == "location"
    ruid = get("callee=>ruid", 1)
    assert registrar.w_unregister(req, d, "sip:alice@example.com", ruid) == 1
    assert [c.contact for c in d.get_urecord("alice").contacts] == ["sip:a@h"]
    assert registrar.w_unregister(req, d, "", "no-such-ruid") == -3
    assert registrar.w_unregister(req, d, "sip:alice@example.com") == 1
    assert d.get_urecord("alice") is None
    registrar.w_free_contacts(req, "callee")
    assert get("callee=>count") is None


def test_use_domain_aor(reg, usrloc_setup):  # noqa: F811
    ul = usrloc_setup(use_domain=1)
    d = reg(realm_prefix="sip.")
    assert cfg.use_domain == 1
    # the prefix is compared as written (Kamailio: memcmp), the AOR then lower-cased
    save.save(SipMsg(REG(user="Carol").data.replace(b"@example.com", b"@sip.Example.COM")), d)
    assert [r.aor for r in ul.get_udomain("location").records()] == ["carol@example.com"]
