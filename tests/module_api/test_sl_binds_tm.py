"""sl binds tm's API (Kamailio's sl_bind_tm): send_reply() goes through tm's t_reply
when the request has a transaction, unless modparam bind_tm is 0; sl's own callbacks
(register_cb) see every stateless reply and every ACK it absorbs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kamapy_modules import sl

from kamapy import loader


class FakeTm:
    def __init__(self, has):
        self.has = has
        self.replied = []

    def has_transaction(self, msg):
        return self.has

    def t_reply(self, msg, code, reason):
        self.replied.append((code, reason))
        return 1


@pytest.fixture
def stateless(monkeypatch):
    sent = []
    monkeypatch.setattr(sl, "sl_reply", lambda msg, code, reason: sent.append((code, reason)) or 1)
    monkeypatch.setattr(sl.exports, "values", {p.name: p.default for p in sl.exports.params})
    monkeypatch.setattr(sl, "_tmb", [None])
    return sent


@pytest.mark.parametrize("bind_tm,has,stateful", [(1, True, True), (1, False, False), (0, True, False)])
def test_send_reply_through_tm(monkeypatch, stateless, bind_tm, has, stateful):
    tm = FakeTm(has)
    monkeypatch.setitem(loader.registry.modules, "tm", SimpleNamespace(api=tm))
    sl.exports.values["bind_tm"] = bind_tm
    assert sl.mod_init() == 0
    assert sl.exports.api.freply(object(), 404, "Not Found") == 1
    assert (tm.replied, stateless) == (([(404, "Not Found")], []) if stateful else ([], [(404, "Not Found")]))


def test_without_tm_send_reply_is_stateless(monkeypatch, stateless):
    monkeypatch.delitem(loader.registry.modules, "tm", raising=False)
    assert sl.mod_init() == 0 and sl._tmb[0] is None
    sl.exports.api.freply(object(), 500, "x")
    assert stateless == [(500, "x")]


def test_register_cb_types(monkeypatch):
    monkeypatch.setattr(sl, "_callbacks", [])
    monkeypatch.setattr(sl, "_reply_ready", [])
    seen = []
    api = sl.exports.api
    api.register_cb(api.SLCB_REPLY_READY, lambda m, c, e: seen.append(("ready", c)))
    api.register_cb(api.SLCB_ACK_FILTERED, lambda m, c, e: seen.append(("ack", c)))
    assert sl._reply_ready and len(sl._callbacks) == 2
    api.register_cb(api.SLCB_REPLY_READY, sl._reply_ready[0])  # once only
    assert len(sl._reply_ready) == 1
