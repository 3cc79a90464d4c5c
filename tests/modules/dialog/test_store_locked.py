"""DialogStore.locked()/change(): the record read under its entry's lock, the lock
released however the block ends (a return, an exception, a dialog that is gone)."""

from __future__ import annotations

import pytest
from kamapy_modules.dialog.store import Dialog, DialogStore


class _CountingLocks:
    """The store's private locks, counting what is held."""

    def __init__(self, inner):
        self.inner, self.held = inner, 0

    def get(self, i):
        self.inner.get(i)
        self.held += 1

    def release(self, i):
        self.held -= 1
        self.inner.release(i)


@pytest.fixture
def s():
    s = DialogStore(64, 0, 1, shared=False)
    s.locks = _CountingLocks(s.locks)
    return s


def test_locked_reads_under_the_lock_and_releases(s):
    d = s.new(Dialog(callid="c1"))
    with s.locked(d.h_entry, d.h_id) as fresh:
        assert s.locks.held == 1 and fresh.callid == "c1" and fresh is not d
    assert s.locks.held == 0
    with s.locked(d.h_entry, d.h_id + 1) as gone:
        assert gone is None
    with pytest.raises(KeyError), s.locked(d.h_entry, d.h_id):
        raise KeyError("x")
    assert s.locks.held == 0


def test_a_failing_load_releases_the_lock(s, monkeypatch):
    d = s.new(Dialog(callid="c2"))
    monkeypatch.setattr(s, "load", lambda *_a: 1 / 0)
    with pytest.raises(ZeroDivisionError), s.locked(d.h_entry, d.h_id):
        pass
    assert s.locks.held == 0


def test_change_saves_what_fn_did(s):
    d = s.new(Dialog(callid="c3"))

    def put(fresh):
        fresh.vars["k"] = "v"
        return 7
    assert s.change(d.h_entry, d.h_id, put) == 7
    assert s.load(d.h_entry, d.h_id).vars == {"k": "v"}
    assert s.change(d.h_entry, d.h_id + 1, put) is None and s.locks.held == 0
