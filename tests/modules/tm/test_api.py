"""What tm's declared API (modules/tm/api.py, Kamailio's tm_binds) gives a binder:
callbacks registered from a global TMCB_REQUEST_IN land on the transaction in order,
register_tmcb_req reaches a transaction t_newtran already stored, t_gett/t_picked
follow the script's current message, and the core pieces the binders moved to
(ruri_mark_new, socket_of_spec)."""

from __future__ import annotations

import pytest
from kamapy_modules.tm import api, callbacks, context, store
from kamapy_modules.tm.transaction import Transaction

from kamapy.sip.msg import RecvInfo, SipMsg

INVITE = (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKapi1\r\n"
          b"From: <sip:a@x>;tag=f1\r\nTo: <sip:b@x>\r\nCall-ID: api1\r\nCSeq: 1 INVITE\r\n"
          b"Content-Length: 0\r\n\r\n")


@pytest.fixture
def tmb():
    saved = (dict(callbacks._named), set(callbacks._lazy), list(callbacks._global), callbacks._global_types)
    callbacks.clear()
    store.set_store(store.TransactionStore(shared=False))
    context.cur.reset(None)
    yield api.make()
    callbacks.clear()  # what this test defined goes; what the session had comes back
    callbacks._named.update(saved[0])
    callbacks._lazy.update(saved[1])
    callbacks._global.extend(saved[2])
    callbacks._global_types = saved[3]
    store.set_store(None)
    context.cur.reset(None)


def _req():
    return SipMsg(INVITE, RecvInfo())


def _noop(*_a):
    pass


def test_global_request_in_callbacks_register_on_msg_in_order(tmb):
    tmb.define("a.cb", _noop)
    tmb.define("b.cb", _noop)
    # the first registers on the message (as dialog's create() does), the second on t
    tmb.register_global(tmb.TMCB_REQUEST_IN,
                        lambda t, _ty, msg, _c, _p: tmb.register_tmcb_req(msg, api.TMCB_RESPONSE_OUT, "a.cb", 1))
    tmb.register_global(tmb.TMCB_REQUEST_IN,
                        lambda t, _ty, msg, _c, _p: tmb.register_tmcb(t, api.TMCB_DESTROY, "b.cb", 2))
    msg = _req()
    tmb.register_tmcb(msg, api.TMCB_ON_FAILURE, "b.cb", 0)  # before the transaction
    t = Transaction("00000000000000aa", "k", "INVITE", 0, 0.0)
    callbacks.created(t, msg)
    assert [(e[1], e[2]) for e in t.cbs] == [("b.cb", 0), ("a.cb", 1), ("b.cb", 2)]
    assert api.PENDING_KEY not in msg.module_data


def test_register_tmcb_req_reaches_the_stored_transaction(tmb):
    tmb.define("a.cb", _noop)
    msg = _req()
    t = Transaction("00000000000000ab", "k", "INVITE", 0, 0.0)
    st = store.store()
    assert st.add(t)
    c = context.for_msg(msg)
    c.txn = t  # t_newtran ran
    assert tmb.register_tmcb_req(msg, api.TMCB_RESPONSE_OUT, "a.cb", [7]) == 1
    assert st.load(t.tid).cbs == [[api.TMCB_RESPONSE_OUT, "a.cb", [7]]]
    assert t.cbs == st.load(t.tid).cbs
    assert api.PENDING_KEY not in msg.module_data
    # another message has no transaction here: the callback waits in it
    other = _req()
    assert tmb.register_tmcb_req(other, api.TMCB_RESPONSE_OUT, "a.cb") == 1
    assert other.module_data[api.PENDING_KEY] == [[api.TMCB_RESPONSE_OUT, "a.cb", None]]
    assert tmb.register_tmcb_req(other, api.TMCB_RESPONSE_OUT, "never.defined") == -1


def test_t_gett_and_t_picked_follow_the_current_message(tmb):
    msg, reply = _req(), object()
    assert tmb.t_gett(msg) is None and tmb.t_picked(msg) == (-1, None)
    t = Transaction("00000000000000ac", "k", "INVITE", 0, 0.0)
    c = context.for_msg(msg)
    c.txn, c.branch, c.reply = t, 1, reply
    assert tmb.t_gett(msg) is t
    assert tmb.t_gett(reply) is t          # onreply_route: the reply's transaction
    assert tmb.t_gett(_req()) is None      # another message sees none
    assert tmb.t_picked(msg) == (1, reply)
    assert tmb.t_gett(None) is None


def test_t_lookup_key_finds_the_request_a_reply_answers(tmb):
    msg = _req()
    tid, key = tmb.t_tid(msg)
    t = Transaction(tid, key, "INVITE", 0, 0.0)
    assert store.store().add(t)
    rpl = SipMsg(b"SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKapi1\r\n"
                 b"From: <sip:a@x>;tag=f1\r\nTo: <sip:b@x>;tag=t\r\nCall-ID: api1\r\n"
                 b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    assert tmb.t_lookup_key(rpl, "INVITE").tid == tid
    assert tmb.t_lookup_key(rpl, "BYE") is None
    assert tmb.t_branch_id(tid, 2).endswith(f"{tid}.2")


def test_ruri_mark_new():
    from kamapy.pv.dset import RURI0_KEY, ruri_is_new, ruri_mark_new
    msg = _req()
    assert ruri_is_new(msg)
    msg.module_data[RURI0_KEY] = msg.current_uri   # failure_route used it
    assert not ruri_is_new(msg)
    ruri_mark_new(msg)
    assert ruri_is_new(msg)


def test_socket_of_spec():
    from kamapy.net.socket_info import SocketInfo, socket_of_spec
    from kamapy.runtime import rt
    saved = rt.sockets
    si = SocketInfo("udp", "127.0.0.1", 5999)
    rt.sockets = [si]
    try:
        assert socket_of_spec("udp:127.0.0.1:5999") is si
        assert socket_of_spec("127.0.0.1:5999") is si
        assert socket_of_spec("udp:127.0.0.1:5998") is None
        assert socket_of_spec("") is None and socket_of_spec(si) is si
    finally:
        rt.sockets = saved
