"""tm's pieces on their own: matching keys, the record, reply ranking, CANCEL/ACK
building, and the shm store shared across fork."""

from __future__ import annotations

import os
import time

import pytest
from kamapy_modules.tm import matching
from kamapy_modules.tm.cancel import build_ack, build_cancel
from kamapy_modules.tm.failure import pick_branch, reply_priority
from kamapy_modules.tm.store import TransactionStore
from kamapy_modules.tm.transaction import B_FINAL, B_SEND_FAILED, Branch, Transaction

from kamapy.sip.msg import RecvInfo, SipMsg


def msg(method="INVITE", branch="z9hG4bKabc", host="10.0.0.1", port=5060, to_tag=None, ruri="sip:b@x"):
    to = "<sip:b@x>" + (f";tag={to_tag}" if to_tag else "")
    via_port = f":{port}" if port else ""
    data = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {host}{via_port};branch={branch}\r\n"
            f"From: <sip:a@x>;tag=f1\r\nTo: {to}\r\nCall-ID: cid1\r\nCSeq: 7 {method}\r\n"
            f"Content-Length: 0\r\n\r\n").encode()
    return SipMsg(data, RecvInfo())


# ---------------------------------------------------------------------- matching
def test_retransmission_same_key_other_request_different():
    assert matching.request_tid(msg()) == matching.request_tid(msg())
    assert matching.request_tid(msg(branch="z9hG4bKother"))[0] != matching.request_tid(msg())[0]
    assert matching.request_tid(msg(host="10.0.0.2"))[0] != matching.request_tid(msg())[0]
    assert matching.request_tid(msg(port=5070))[0] != matching.request_tid(msg())[0]


def test_ack_and_cancel_find_the_invite_key():
    inv = matching.request_tid(msg())
    assert matching.request_tid(msg("ACK", to_tag="t")) == inv       # ACK -> INVITE
    assert matching.invite_tid(msg("CANCEL")) == inv
    assert matching.request_tid(msg("CANCEL"))[0] != inv[0]          # its own transaction


def test_rfc2543_fallback_key():
    a = msg(branch="1234")                # no magic cookie
    assert matching.server_key(a).startswith("2543|")
    assert matching.request_tid(msg("ACK", branch="1234", to_tag="t")) == matching.request_tid(a)
    assert matching.request_tid(msg(branch="1234", ruri="sip:c@x"))[0] != matching.request_tid(a)[0]


def test_reply_branch_parsing():
    tid = matching.tid_of("k")
    branch = matching.our_branch(tid, 3)
    reply = SipMsg((f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch={branch}\r\n"
                    "Content-Length: 0\r\n\r\n").encode())
    assert matching.reply_tid(reply) == (tid, 3)
    for foreign in ("z9hG4bK-sipp-1-0", "z9hG4bK" + tid + "x3", "z9hG4bK" + tid + ".x", "abc"):
        r = SipMsg((f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch={foreign}\r\n\r\n").encode())
        assert matching.reply_tid(r) is None


# ---------------------------------------------------------------------- record
def test_transaction_pack_roundtrip():
    t = Transaction("00ff", "key", "INVITE", 1, 12.5)
    t.req = b"INVITE ..."
    t.rcv = ["1.2.3.4", 5060, "127.0.0.1", 5060, 1]
    t.rpl_dst = ["1.2.3.4", 5060]
    t.avps = {"a": ["x", 1], 7: ["y"]}
    t.xavps = {"r": [{"f": ["v"]}]}
    t.on_failure = "F"
    b = Branch("sip:b@x", None, "<sip:p>", 3, 1, "1.2.3.4", 5070, ("127.0.0.1", 5060), b"INV")
    b.code, b.flags, b.reply = 486, B_FINAL, b"SIP/2.0 486"
    t.branches = [b]
    u = Transaction.unpack(t.pack())
    assert u.avps == t.avps and u.xavps == t.xavps and u.on_failure == "F"
    assert u.branches[0].sock == ["127.0.0.1", 5060] or tuple(u.branches[0].sock) == ("127.0.0.1", 5060)
    assert (u.branches[0].code, u.branches[0].reply, u.branches[0].path) == (486, b"SIP/2.0 486", "<sip:p>")
    assert u.req == b"INVITE ..." and u.created == 12.5 and u.is_invite


def test_next_due_is_the_earliest_timer():
    t = Transaction("1", "k", "INVITE")
    assert t.next_due() == 0.0
    t.end_of_life = 100.0
    b = Branch()
    b.retr_due, b.fr_due = 5.0, 30.0
    t.branches = [b]
    assert t.next_due() == 5.0
    t.wait_due = 3.0
    assert t.next_due() == 3.0


# ---------------------------------------------------------------------- picking
def _t(*codes, pending=()):
    t = Transaction("1", "k", "INVITE")
    for i, c in enumerate(codes):
        b = Branch()
        b.code = c
        if i not in pending:
            b.flags |= B_FINAL
        t.branches.append(b)
    return t


@pytest.mark.parametrize("codes,best", [
    ((486, 404), 1),     # plain 4xx: lowest
    ((503, 404), 1),     # 4xx before 5xx
    ((404, 603), 1),     # 6xx before 4xx
    ((302, 404), 0),     # 3xx before 4xx
    ((480, 407), 1),     # 407 (a challenge) before other 4xx
    ((408, 487), 0),
])
def test_pick_branch(codes, best):
    assert pick_branch(_t(*codes)) == best


def test_pick_waits_for_pending_and_skips_failed_and_old_rounds():
    assert pick_branch(_t(404, 0, pending=(1,))) == -2
    t = _t(404, 500)
    t.branches[0].flags |= B_SEND_FAILED
    assert pick_branch(t) == 1
    t = _t(603, 486)
    t.first_branch = 1          # failure_reply_mode 3: only the new round counts
    assert pick_branch(t) == 1
    assert reply_priority(200) < reply_priority(603) < reply_priority(302) < reply_priority(401) \
        < reply_priority(404) < reply_priority(500)


# ---------------------------------------------------------------------- CANCEL / ACK
SENT = (b"INVITE sip:b@10.0.0.9:5070 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKdeadbeef00000000.1\r\n"
        b"Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKabc\r\n"
        b"Route: <sip:10.0.0.5;lr>\r\nRecord-Route: <sip:127.0.0.1;lr>\r\n"
        b"From: <sip:a@x>;tag=f1\r\nTo: <sip:b@x>\r\nCall-ID: cid1\r\nCSeq: 7 INVITE\r\n"
        b"Max-Forwards: 69\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n")


def test_build_cancel_keeps_branch_route_and_cseq_number():
    c = SipMsg(build_cancel(SENT, "Reason: SIP;cause=200\r\n"))
    assert c.method == "CANCEL" and c.ruri == "sip:b@10.0.0.9:5070"
    assert len(c.vias) == 1 and c.via1.branch == "z9hG4bKdeadbeef00000000.1"
    assert c.cseq.number == "7" and c.cseq.method == "CANCEL"
    assert c.header_value("Route") == "<sip:10.0.0.5;lr>" and c.get_header("Record-Route") is None
    assert c.header_value("Reason") == "SIP;cause=200" and c.body == ""


def test_build_ack_takes_the_replys_to():
    reply = SipMsg(b"SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdeadbeef00000000.1\r\n"
                   b"To: <sip:b@x>;tag=callee\r\nContent-Length: 0\r\n\r\n")
    a = SipMsg(build_ack(SENT, reply))
    assert a.method == "ACK" and a.to_hdr.tag == "callee" and a.cseq.method == "ACK"
    assert a.via1.branch == "z9hG4bKdeadbeef00000000.1" and len(a.vias) == 1


# ---------------------------------------------------------------------- shm store
def test_shm_store_shared_across_fork_and_locked():
    from kamapy.mem.shm import Pool
    pool = Pool(64 << 20)
    try:
        st = TransactionStore(pool=pool)
        assert st.in_shm
        t = Transaction(matching.tid_of("x"), "x", "INVITE", 1, time.time())
        t.branches.append(Branch("sip:b@x"))
        assert st.add(t)
        assert not st.add(t)                  # a second creator loses
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                lock = st.lock(t.tid)
                c = st.load(t.tid)
                c.branches[0].code = 180
                c.wait_due = time.time() - 1
                st.save(c)
                st.unlock(lock)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert status == 0
        assert st.load(t.tid).branches[0].code == 180
        assert st.pop_due(time.time()) == [t.tid]  # the child's save registered the wait
        st.remove(t)
        assert st.count() == 0
    finally:
        pool.close()


def test_wait_timer_frees_without_reading_the_record(monkeypatch):
    """A finished transaction is freed at the end of its wait from the due entry alone
    (DUE_FREE); one that registered another due moment after the timer took its entry,
    or that is not counted as waiting, goes the general way (the record is read)."""
    from kamapy_modules.tm import stats as tm_stats
    from kamapy_modules.tm import store as store_mod
    from kamapy_modules.tm import timers
    from kamapy_modules.tm.store import DUE_FREE
    from kamapy_modules.tm.transaction import T_ON_WAIT

    st = TransactionStore(shared=False)
    monkeypatch.setattr(store_mod, "_store", st)
    deleted = []
    monkeypatch.setattr(tm_stats, "inc", lambda name, n=1: deleted.append(name))
    reads = []
    real_load = st.load
    monkeypatch.setattr(st, "load", lambda tid: reads.append(tid) or real_load(tid))
    now = time.time()

    def on_wait(name, wait_in):
        t = Transaction(matching.tid_of(name), name, "BYE", 1, now)
        t.flags |= T_ON_WAIT
        t.wait_due = now + wait_in
        assert st.add(t)
        return t

    done = on_wait("a", 1)
    assert st.due.d[done.tid.encode()][2] == DUE_FREE
    timers.run_timers(now + 2)
    assert st.count() == 0 and reads == [] and deleted == [tm_stats.DELETED]

    # the timer took the entry, then (before it got the lock) a worker re-registered
    again = on_wait("b", 1)
    real_free = st.free_if_still_due

    def meanwhile(tid):
        lock = st.lock(tid)
        t = real_load(tid)
        t.wait_due = now + 10
        st.save(t)  # a new due moment: the general path must look
        st.unlock(lock)
        return real_free(tid)

    monkeypatch.setattr(st, "free_if_still_due", meanwhile)
    timers.run_timers(now + 2)
    assert reads == [again.tid] and st.load(again.tid) is not None  # not freed: wait moved
    monkeypatch.setattr(st, "free_if_still_due", real_free)

    # a transaction not counted as waiting: no DUE_FREE, read and freed the general way
    t = Transaction(matching.tid_of("c"), "c", "BYE", 1, now)
    t.wait_due = now + 1
    assert st.add(t) and st.due.d[t.tid.encode()][2] == 0
    timers.run_timers(now + 3)
    assert t.tid in reads and st.load(t.tid) is None
