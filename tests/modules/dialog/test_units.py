"""dialog pieces without a server: the state table, did encoding, id allocation,
matching, profiles (private stand-ins for shm)."""

from __future__ import annotations

import pytest
from kamapy_modules.dialog import match
from kamapy_modules.dialog import state as st
from kamapy_modules.dialog.profiles import Profiles, parse_names
from kamapy_modules.dialog.store import Dialog, DialogStore, set_store

from kamapy.sip.msg import SipMsg


def test_state_table_follows_kamailio():
    assert st.next_state(st.UNCONFIRMED, st.EV_RPL1XX) == st.EARLY
    assert st.next_state(st.EARLY, st.EV_RPL2XX) == st.CONFIRMED_NA
    assert st.next_state(st.CONFIRMED_NA, st.EV_REQACK) == st.CONFIRMED
    assert st.next_state(st.CONFIRMED, st.EV_REQBYE) == st.DELETED
    assert st.next_state(st.EARLY, st.EV_RPL3XX) == st.DELETED
    assert st.next_state(st.UNCONFIRMED, st.EV_TDEL) == st.DELETED
    assert st.next_state(st.CONFIRMED, st.EV_TDEL) == st.CONFIRMED  # ACK'd call outlives its INVITE
    # nonsense events leave the state alone
    assert st.next_state(st.UNCONFIRMED, st.EV_REQBYE) is None
    assert st.next_state(st.DELETED, st.EV_REQ) is None
    assert st.next_state(st.DELETED, st.EV_RPL2XX) is None
    assert st.reply_event(183) == st.EV_RPL1XX and st.reply_event(202) == st.EV_RPL2XX
    assert st.reply_event(603) == st.EV_RPL3XX
    assert st.request_event("BYE") == st.EV_REQBYE and st.request_event("INFO") == st.EV_REQ


@pytest.mark.parametrize("n,text", [(0, "0"), (1, "1"), (0x1f, "f1"), (0xabc, "cba"), (4096, "0001")])
def test_reverse_hex(n, text):
    assert match.reverse_hex(n) == text
    assert match.parse_reverse_hex(text) == n


def test_did_round_trip_and_garbage():
    d = Dialog(callid="x")
    d.h_entry, d.h_id = 0x123, 0x4567
    assert match.did_value(d) == "321.7654"
    assert match.parse_did("321.7654") == (0x123, 0x4567)
    assert match.parse_did("zz.1") is None
    assert match.parse_did("12") is None
    assert match.parse_did(".1") == (0, 1)  # an empty part reads 0 (reverse_hex2int)


def test_h_id_never_zero_and_step_keeps_residue():
    s = DialogStore(16, 0, 1, shared=False)
    ids = [s.new(Dialog(callid="same")).h_id for _ in range(5)]
    assert 0 not in ids and ids == list(range(ids[0], ids[0] + 5))
    s = DialogStore(16, 3, 10, shared=False)
    ids = [s.new(Dialog(callid="same")).h_id for _ in range(5)]
    assert all(i % 10 == 3 for i in ids) and len(set(ids)) == 5
    assert all(0 <= s.entry_of(f"c{i}") < 16 for i in range(50))


def _req(ftag, ttag, callid="cid-1", method="BYE"):
    to = f"<sip:b@x>;tag={ttag}" if ttag else "<sip:b@x>"
    return SipMsg((f"{method} sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa\r\n"
                   f"From: <sip:a@x>;tag={ftag}\r\nTo: {to}\r\nCall-ID: {callid}\r\n"
                   f"CSeq: 2 {method}\r\nContent-Length: 0\r\n\r\n").encode())


@pytest.fixture
def one_dialog():
    s = DialogStore(64, 0, 1, shared=False)
    set_store(s)
    d = Dialog(callid="cid-1", ftag="A")
    d.tag[1] = "B"
    d.state = st.CONFIRMED
    s.new(d)
    yield s, d
    set_store(None)


def test_match_modes(one_dialog):
    _s, d = one_dialog
    did = match.did_value(d)
    down = _req("A", "B")
    up = _req("B", "A")
    assert match.find(down, did, match.MATCH_DID_ONLY)[1] == match.DIR_DOWNSTREAM
    assert match.find(up, did, match.MATCH_DID_ONLY)[1] == match.DIR_UPSTREAM
    # did only: no did, no match; a did whose Call-ID/tags disagree fails the tight check
    assert match.find(down, None, match.MATCH_DID_ONLY) is None
    assert match.find(_req("A", "B", callid="other"), did, match.MATCH_DID_ONLY) is None
    assert match.find(_req("A", "X"), did, match.MATCH_DID_ONLY) is None
    # fallback: a bad did still matches by Call-ID and tags
    assert match.find(down, "ff.ff", match.MATCH_DID_FALLBACK) is not None
    assert match.find(down, None, match.MATCH_DID_FALLBACK) is not None
    # none: the did is not even looked at
    assert match.find(down, "ff.ff", match.MATCH_DID_NONE) is not None
    assert match.find(_req("A", "X"), None, match.MATCH_DID_NONE) is None


def test_deleted_dialog_not_matched_by_ids(one_dialog):
    s, d = one_dialog
    d.state = st.DELETED
    s.save(d)
    assert match.by_ids("cid-1", "A", "B") is None


def test_profiles_count_per_value():
    p = Profiles(["caller"], ["all"], shared=False)
    p.link("caller", "alice")
    p.link("caller", "alice")
    p.link("caller", "bob")
    p.link("all", "")
    assert p.size("caller", "alice") == 2 and p.size("caller") == 3 and p.size("all") == 1
    p.unlink("caller", "alice")
    p.unlink("caller", "alice")
    assert p.size("caller", "alice") == 0 and p.size("caller") == 1
    assert parse_names(" a; b ;;c") == ["a", "b", "c"]


def test_callee_route_set_is_the_downstream_part_reversed(monkeypatch):
    """populate_leg_info: the reply's Record-Route without as many entries from the
    bottom as the caller's plus ours, reversed (the callee is reached nearest first)."""
    from kamapy_modules.dialog.handlers import _rr

    from kamapy.runtime import rt
    monkeypatch.setattr(rt, "aliases", rt.aliases + [("proxy.example", 0, 0)])
    reply = SipMsg((
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKx\r\n"
        "Record-Route: <sip:d2.example;lr>, <sip:d1.example;lr>\r\n"
        "Record-Route: <sip:proxy.example;lr;did=a.b>\r\n"
        "Record-Route: <sip:p1.example;lr>\r\nRecord-Route: <sip:p2.example;lr>\r\n"
        "From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n").encode())
    assert _rr(reply) == ("<sip:d2.example;lr>,<sip:d1.example;lr>,<sip:proxy.example;lr;did=a.b>,"
                          "<sip:p1.example;lr>,<sip:p2.example;lr>")
    assert _rr(reply, downstream_only=True, caller_rr=2) == "<sip:d1.example;lr>,<sip:d2.example;lr>"
    # nothing downstream of us
    assert _rr(reply, downstream_only=True, caller_rr=4) == ""


def test_keep_proxy_rr(monkeypatch):
    from kamapy_modules.dialog.handlers import callee_route_sets

    from kamapy.runtime import rt
    monkeypatch.setattr(rt, "aliases", rt.aliases + [("proxy.example", 0, 0)])
    rr = ["<sip:d2;lr>", "<sip:d1;lr>", "<sip:proxy.example;lr>", "<sip:p1;lr>"]
    assert callee_route_sets(rr, 1, 0) == ("<sip:d1;lr>,<sip:d2;lr>", None)
    # 1: our entry stays in the callee's set
    assert callee_route_sets(rr, 1, 1) == ("<sip:proxy.example;lr>,<sip:d1;lr>,<sip:d2;lr>", None)
    # 3: and the caller's set gets ours in front of what it had
    assert callee_route_sets(rr, 1, 3) == ("<sip:proxy.example;lr>,<sip:d1;lr>,<sip:d2;lr>",
                                           "<sip:proxy.example;lr>,<sip:p1;lr>")


def test_cseq_renumbering_out_and_back(one_dialog):
    """track_cseq_updates on the bytes (cseq.py, Kamailio's dlg_cseq_msg_sent/_received):
    the request leaves with the new CSeq, ".cs<old>" after its branch and no P-K-
    header; the reply to it comes back with the old number (space-padded when shorter)
    and the marker turned into a ;z= parameter, so the branch tm matches is intact."""
    from kamapy_modules.dialog import cseq
    s, d = one_dialog
    req = (b"BYE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa.0;rport\r\n"
           b"Via: SIP/2.0/UDP 5.6.7.8;branch=z9hG4bKc\r\n"
           b"From: <sip:a@x>;tag=A\r\nTo: <sip:b@x>;tag=B\r\nCall-ID: cid-1\r\n"
           b"CSeq: 9 BYE\r\nP-K-CSeq-Refresh: 10\r\nContent-Length: 0\r\n\r\n")
    out = cseq.on_data_out(req)
    assert b"branch=z9hG4bKa.0.cs9;rport" in out and b"CSeq: 10 BYE\r\n" in out
    assert b"P-K-CSeq" not in out
    assert s.load(d.h_entry, d.h_id).iflags & cseq.IFLAG_CSEQ_DIFF
    # upstream (From is the callee) and requests of no dialog leave as they are
    assert cseq.on_data_out(req.replace(b"tag=A", b"tag=Q")) == req.replace(b"tag=A", b"tag=Q")
    reply = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKa.0.cs9;rport\r\n"
             b"Via: SIP/2.0/UDP 5.6.7.8;branch=z9hG4bKc\r\n"
             b"From: <sip:a@x>;tag=A\r\nTo: <sip:b@x>;tag=B\r\nCall-ID: cid-1\r\n"
             b"CSeq: 10 BYE\r\nContent-Length: 0\r\n\r\n")
    back = cseq.on_data_in(reply)
    assert b"CSeq:  9 BYE\r\n" in back and b"branch=z9hG4bKa.0;z=9;rport" in back
    assert SipMsg(back).via1_branch == "z9hG4bKa.0"
    # a reply to one of our own requests (one Via) is not touched, nor a plain branch
    own = reply.replace(b"Via: SIP/2.0/UDP 5.6.7.8;branch=z9hG4bKc\r\n", b"")
    assert cseq.on_data_in(own) == own
    plain = reply.replace(b".cs9", b"")
    assert cseq.on_data_in(plain) == plain


def test_uac_auth_counts_the_increment(one_dialog):
    from kamapy_modules.dialog import cseq
    s, d = one_dialog
    msg = _req("A", "B", method="INVITE")
    assert cseq.on_uac_auth(msg) == 0
    assert s.load(d.h_entry, d.h_id).vars[cseq.VAR] == "1"
    assert msg.lumps  # P-K-CSeq-Auth: 3 (CSeq 2 + 1) goes with the next relay
    # once renumbered, a second challenge adds to what the dialog holds
    fresh = s.load(d.h_entry, d.h_id)
    fresh.iflags |= cseq.IFLAG_CSEQ_DIFF
    s.save(fresh)
    assert cseq.on_uac_auth(_req("A", "B", method="INVITE")) == 0
    assert s.load(d.h_entry, d.h_id).vars[cseq.VAR] == "2"


def test_remote_journal_keeps_each_items_last_change_bounded():
    """The dlg_remote_profile changes noted while Redis is away (remote_journal.py):
    one entry per profile and uid (the last change), oldest first; full: the oldest
    dropped; done() empties it."""
    from kamapy_modules.dialog.remote_journal import RemoteJournal
    j = RemoteJournal(shared=False, limit=3)
    j.note("add", "caller", "v", "u1", 100, 1)
    j.note("add", "caller", "v", "u2", 0, 2)
    j.note("rm", "caller", "v", "u1", 0, 3)       # u1 again: its rm replaces its add
    j.note("add", "all", "", "u1", 0, 4)          # another profile: another item
    assert len(j) == 3
    assert [(e[1], e[2], e[4], e[6]) for e in j.entries()] == [
        ("add", "caller", "u2", 2), ("rm", "caller", "u1", 3), ("add", "all", "u1", 4)]
    j.note("add", "caller", "w", "u5", 9, 5)      # full: u2 (the oldest) goes
    assert [e[4] for e in j.entries()] == ["u1", "u1", "u5"] and len(j) == 3
    j.forget("caller", "u1")
    assert len(j) == 2
    j.done([e[0] for e in j.entries()])
    assert len(j) == 0 and j.entries() == []
