"""tm's relayed reply in one C call (fast_reply.py, kp_tmreply.c) against the Python
path it stands for: the same transaction record, due entry, datagrams and counters for
every reply, on many variants of the transaction's state and of the reply.

Each case starts from the same stored bytes twice: once through reply_hook as it runs
(the C call first), once with the C call disabled. The C call must either decline,
having changed nothing, or leave exactly what the Python path leaves."""

from __future__ import annotations

import itertools
import time

import msgpack
import pytest
from kamapy_modules.tm import config, fast_reply, relay, replies, stats
from kamapy_modules.tm import store as store_mod
from kamapy_modules.tm.transaction import (
    B_CANCEL_PENDING,
    B_CANCEL_SENT,
    B_FINAL,
    B_REPLIED,
    T_CANCELED,
    T_ON_WAIT,
    Branch,
    Transaction,
)

from kamapy.mem.shm import Pool
from kamapy.sip.msg import SipMsg
from tests.modules.tm.sipmsgs import received, reply_to, request, status

T0 = 1_900_000_000.25  # the fixed clock of every case


@pytest.fixture
def shm_lab(lab):
    pool = Pool(32 << 20)
    st = store_mod.TransactionStore(pool=pool)
    assert st.in_shm
    store_mod.set_store(st)
    yield lab, st
    store_mod.set_store(None)
    pool.close()


def _counters():
    return {n: stats.get(n) for n in stats.NAMES}


def _relayed(lab, method="INVITE"):
    """A request relayed by tm (its record in the shm store) and the copy sent on."""
    req = request(lab, method=method)
    assert relay.relay(req) == 1
    lab.uac.drain(0.02)  # the 100 Trying
    out = lab.uas.recv()
    assert out is not None
    return out


def _pending(peer) -> list[bytes]:
    """What a peer has been sent so far: a send to loopback is queued when sendto returns."""
    out = []
    peer.sock.setblocking(False)
    try:
        while True:
            out.append(peer.sock.recv(65535))
    except BlockingIOError:
        return out


def _snapshot(st, key):
    return st.cells.get(key), st.due.get_entry(key)


def _restore(st, key, snap):
    rec, due = snap
    st.cells.put(key, rec)
    if due is None:
        st.due.delete(key)
    else:
        st.due.put(key, due[0], due[1], due[2])


def _run(lab, st, key, snap, data, rcv_port, use_c, monkeypatch):
    _restore(st, key, snap)
    _pending(lab.uac)
    _pending(lab.uas)
    before = _counters()
    msg = received(lab, data, rcv_port)
    with monkeypatch.context() as m:
        m.setattr(time, "time", lambda: T0)
        if not use_c:
            m.setattr(fast_reply, "relay", lambda _msg: False)
        try:
            took = fast_reply.relay(msg) if use_c else False
            ret = True if took else replies.reply_hook(msg)
        except Exception as e:  # both paths must fail alike
            took, ret = False, repr(e)
    after = _counters()
    return took, (ret, *_snapshot(st, key), _pending(lab.uac), _pending(lab.uas),
                  {n: after[n] - before[n] for n in after if after[n] != before[n]})


# the stored transaction's variants: a name, and a change to the Transaction
TX_VARIANTS = {
    "as relayed": lambda t, T: None,
    "replied 180 before": lambda t, T: (setattr(t.branches[0], "code", 180),
                                        setattr(t.branches[0], "flags", t.branches[0].flags | B_REPLIED)),
    "replied 183 before": lambda t, T: (setattr(t.branches[0], "code", 183),
                                        setattr(t.branches[0], "flags", t.branches[0].flags | B_REPLIED)),
    "180 sent upstream": lambda t, T: setattr(t, "uas_code", 180),
    "local 200 sent": lambda t, T: setattr(t, "uas_code", 200),
    "local 486 sent": lambda t, T: setattr(t, "uas_code", 486),
    "branch final": lambda t, T: setattr(t.branches[0], "flags", t.branches[0].flags | B_FINAL),
    "cancel sent": lambda t, T: setattr(t.branches[0], "flags", t.branches[0].flags | B_CANCEL_SENT),
    "cancel pending": lambda t, T: setattr(t.branches[0], "flags", t.branches[0].flags | B_CANCEL_PENDING),
    "canceled": lambda t, T: setattr(t, "flags", t.flags | T_CANCELED),
    "on_reply unknown": lambda t, T: setattr(t, "on_reply", "nosuch"),
    "cbs empty": lambda t, T: setattr(t, "cbs", []),
    "wait passed": lambda t, T: setattr(t, "wait_due", T - 1.0),
    "wait far": lambda t, T: setattr(t, "wait_due", T + 100.0),
    "wait near": lambda t, T: setattr(t, "wait_due", T + 1.0),
    "on wait": lambda t, T: (setattr(t, "flags", t.flags | T_ON_WAIT), setattr(t, "wait_due", T + 2.0)),
    "reply to a name": lambda t, T: setattr(t, "rpl_dst", ["localhost", t.rpl_dst[1]]),
    "reply to ipv6": lambda t, T: setattr(t, "rpl_dst", ["::1", t.rpl_dst[1]]),
    "reply to broadcast": lambda t, T: setattr(t, "rpl_dst", ["255.255.255.255", t.rpl_dst[1]]),  # EACCES
    "request proto 0": lambda t, T: setattr(t, "rcv", [*t.rcv[:4], 0, *t.rcv[5:]]),
    "two branches": lambda t, T: t.branches.append(Branch("sip:c@127.0.0.1")),
    "end of life": lambda t, T: setattr(t, "end_of_life", T + 50.0),
    "uas retransmitting": lambda t, T: setattr(t, "uas_retr_due", T + 3.0),
    "int timers": lambda t, T: (setattr(t, "fr_inv", 120), setattr(t, "t2", 4)),
    "int due": lambda t, T: setattr(t.branches[0], "fr_due", int(T) + 30),
    "no timers": lambda t, T: [setattr(t.branches[0], f, 0.0) for f in ("retr_due", "fr_due", "cancel_due")],
}

REPLIES = [
    (100, "Trying"), (180, "Ringing"), (183, "Session Progress"), (180, ""), (200, "OK"),
    (202, "Accepted"), (299, "Odd"), (486, "Busy Here"), (180, "L\xe4uten"), (180, "x" * 70),
]


def _reply_bytes(lab, out, code, reason, shape):
    data = reply_to(lab, out, code, reason=reason or "X").data
    if not reason:
        data = data.replace(b" X\r\n", b"\r\n", 1)
    if shape == "vias on one line":
        lines = data.split(b"\r\n")
        vias = [ln for ln in lines if ln.startswith(b"Via: ")]
        joined = b"Via: " + b", ".join(v[5:] for v in vias)
        rest = [ln for ln in lines if not ln.startswith(b"Via: ")]
        data = b"\r\n".join([rest[0], joined, *rest[1:]])
    elif shape == "cseq cancel":
        data = data.replace(b" INVITE\r\nContent", b" CANCEL\r\nContent").replace(
            b" BYE\r\nContent", b" CANCEL\r\nContent")
    elif shape == "branch 1":
        i = data.index(b";branch=z9hG4bK") + len(b";branch=z9hG4bK") + 16
        data = data[:i] + b".1" + data[i + 2:]
    elif shape == "latin-1 reason":
        data = data.replace(reason.encode(), reason.encode("latin-1"), 1)
    return data


SHAPES = ["plain", "vias on one line", "cseq cancel", "branch 1"]


@pytest.mark.parametrize("method", ["INVITE", "BYE"])
@pytest.mark.parametrize("cfgvar", ["default", "relay_100 no restart_fr"])
def test_the_c_reply_leaves_what_the_python_path_leaves(shm_lab, monkeypatch, method, cfgvar):
    lab, st = shm_lab
    if cfgvar != "default":
        monkeypatch.setattr(config.cfg, "relay_100", True)
        monkeypatch.setattr(config.cfg, "restart_fr", False)
    out = _relayed(lab, method)
    key = SipMsg(out).via1.branch[7:23].encode()
    base = st.cells.get(key)
    assert base is not None
    took_kinds, cases = set(), 0
    for (vname, change), (code, reason), shape in itertools.product(TX_VARIANTS.items(), REPLIES, SHAPES):
        t = Transaction.unpack(base)
        change(t, T0)
        st.cells.put(key, t.pack())
        st.due.delete(key)
        if t.next_due():
            st.due.put(key, b"", t.next_due(), 0)
        snap = _snapshot(st, key)
        if shape == "plain" and not reason.isascii():
            data = _reply_bytes(lab, out, code, reason, "latin-1 reason")
        else:
            data = _reply_bytes(lab, out, code, reason, shape)
        took, fast = _run(lab, st, key, snap, data, lab.uas.port, True, monkeypatch)
        _, slow = _run(lab, st, key, snap, data, lab.uas.port, False, monkeypatch)
        where = f"{method} {cfgvar} / {vname} / {code} {reason[:10]!r} / {shape}"
        assert fast == slow, where
        if took:
            took_kinds.add((vname, code // 100, shape))
        else:  # declined: the C call changed nothing (the Python run restored and redid it)
            pass
        cases += 1
    assert cases == len(TX_VARIANTS) * len(REPLIES) * len(SHAPES)
    # the plain cases went the C way, the others did not
    for code_class in (1, 2):
        assert ("as relayed", code_class, "plain") in took_kinds
        assert ("as relayed", code_class, "vias on one line") in took_kinds
    for vname in ("branch final", "cancel sent", "cancel pending", "canceled", "on_reply unknown",
                  "cbs empty", "wait passed", "reply to a name", "request proto 0", "two branches",
                  "int due"):
        assert not any(k[0] == vname for k in took_kinds), vname
    assert not any(k[1] == 4 or k[2] in ("cseq cancel", "branch 1") for k in took_kinds)
    assert len(took_kinds) >= 20


def test_a_declined_reply_changes_nothing(shm_lab, monkeypatch):
    """The C call alone, on replies it must decline: the record and due entry stay."""
    lab, st = shm_lab
    out = _relayed(lab)
    key = SipMsg(out).via1.branch[7:23].encode()
    snap = _snapshot(st, key)
    for code, shape in ((486, "plain"), (180, "cseq cancel"), (180, "branch 1"), (603, "plain")):
        data = _reply_bytes(lab, out, code, "R", shape)
        with monkeypatch.context() as m:
            m.setattr(time, "time", lambda: T0)
            assert fast_reply.relay(received(lab, data, lab.uas.port)) is False
        assert _snapshot(st, key) == snap
        assert _pending(lab.uac) == []


def test_a_call_relayed_the_c_way(shm_lab):
    """180 and 200 of an INVITE and the 200 of a BYE through reply_hook: relayed upstream
    without the Via tm added, the transaction finished as the Python path finishes it."""
    lab, st = shm_lab
    before = _counters()
    out = _relayed(lab)
    key = SipMsg(out).via1.branch[7:23].encode()
    for code in (180, 200):
        msg = reply_to(lab, out, code)
        assert fast_reply.relay(msg) is True
        got = lab.uac.recv()
        assert status(got) == code
        assert got == msg.data.replace(msg.text.split("\r\n")[1].encode() + b"\r\n", b"", 1)
    t = Transaction.unpack(st.cells.get(key))
    assert t.uas_code == 200 and t.relayed == 0 and t.flags & T_ON_WAIT
    assert t.branches[0].flags & B_FINAL and t.branches[0].buf == b"" and t.branches[0].reason == "OK"
    assert t.wait_due and st.due.get_entry(key)[1] == t.wait_due == t.due_reg
    bye = _relayed(lab, "BYE")
    assert fast_reply.relay(reply_to(lab, bye, 200)) is True
    assert status(lab.uac.recv()) == 200
    delta = {n: v - before[n] for n, v in _counters().items()}
    assert delta["rpl_received"] == 3 and delta["rpl_relayed"] == 3 and delta["rpl_sent"] >= 3
    assert delta["completed_2xx"] == 2 and delta["waiting"] == 2


def test_a_failed_send_is_logged_as_send_udp_logs_it(shm_lab, caplog):
    lab, st = shm_lab
    out = _relayed(lab)
    key = SipMsg(out).via1.branch[7:23].encode()
    t = Transaction.unpack(st.cells.get(key))
    t.rpl_dst = ["255.255.255.255", 5999]  # no SO_BROADCAST: sendto fails with EACCES
    st.cells.put(key, t.pack())
    with caplog.at_level("ERROR", logger="kamapy.tm"):
        assert fast_reply.relay(reply_to(lab, out, 180)) is True
    assert "sendto 255.255.255.255:5999 failed: Permission denied" in caplog.text
    assert Transaction.unpack(st.cells.get(key)).uas_code == 180  # kept as sent, as the Python path does


def test_the_record_layout_is_the_one_the_c_code_reads():
    """pack() writes the fields in __slots__ order (fast_reply checks __slots__ against
    kp_tmreply.c's order at import): each field packed with its own marker value."""
    t = Transaction.__new__(Transaction)
    for i, f in enumerate(fast_reply.T_FIELDS):
        setattr(t, f, f"T{i}")
    b = Branch.__new__(Branch)
    for i, f in enumerate(fast_reply.B_FIELDS):
        setattr(b, f, f"B{i}")
    t.branches = [b]
    rec = msgpack.unpackb(t.pack(), raw=False)
    assert len(rec) == len(fast_reply.T_FIELDS)
    for i, v in enumerate(rec):
        if fast_reply.T_FIELDS[i] == "branches":
            assert v == [[f"B{k}" for k in range(len(fast_reply.B_FIELDS))]]
        else:
            assert v == f"T{i}"
