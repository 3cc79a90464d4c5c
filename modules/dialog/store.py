"""Where dialogs live: one shm hash table shared by every process (Kamailio: dlg_hash.c,
the d_table of hash_size entries).

Keys in the table:
  b"d:<h_entry>:<h_id>"  the packed Dialog
  b"c:<call-id>"         the [h_entry, h_id] pairs with this Call-ID (match modes 1/2,
                         spirals, is_known_dlg)
  b"n:<h_entry>"         the next h_id of an entry (h_id_start, then + h_id_step)
  b"t:<h_entry>:<h_id>"  the dialog's timeout: the C-side expire(now) hands the due
                         ones to the timer without a walk in Python

A record changes only under its entry's lock (h_entry % LOCKS): read, change, write
back. A worker killed while holding one leaves a robust mutex that the next taker
recovers (kamapy.mem.lockset); the record it was writing is whole (one put).
Without a shm pool (unit tests) the same runs on private dicts.
"""

from __future__ import annotations

import random

import msgpack

from kamapy.hashes import core_hash

from . import state as st

LOCKS = 256


class Dialog:
    """One dialog (Kamailio: struct dlg_cell). Leg 0 is the caller, 1 the callee."""

    __slots__ = ("h_entry", "h_id", "callid", "from_uri", "to_uri", "tag", "state",
                 "init_ts", "start_ts", "end_ts", "lifetime", "dflags", "sflags", "iflags",
                 "contact", "cseq", "route_set", "socket", "profiles", "vars", "tid",
                 "ref", "toroute", "timeout_bye", "expires", "byes", "ka_fail", "katime", "cbs",
                 "armer")

    FIELDS = __slots__

    def __init__(self, h_entry=0, h_id=0, callid="", from_uri="", to_uri="", ftag=""):
        self.h_entry = h_entry
        self.h_id = h_id
        self.callid = callid
        self.from_uri = from_uri
        self.to_uri = to_uri
        self.tag = [ftag, ""]
        self.state = st.UNCONFIRMED
        self.init_ts = 0
        self.start_ts = 0
        self.end_ts = 0
        self.lifetime = 0
        self.dflags = 0
        self.sflags = 0
        self.iflags = 0
        self.contact = ["", ""]
        self.cseq = ["", ""]
        self.route_set = ["", ""]
        self.socket = ["", ""]
        self.profiles: list[list[str]] = []   # [name, value] ('' for a profile without value)
        self.vars: dict[str, str] = {}
        self.tid = ""
        self.ref = 1
        self.toroute = ""
        self.timeout_bye = 0
        self.expires = 0          # when its timeout ends it (0: no timer)
        self.byes = 0             # our BYEs still waiting for their final reply
        self.ka_fail = [0, 0]     # keepalives in a row answered 408/481, per leg
        self.katime = 0           # next keepalive (0: none)
        self.cbs = None           # other modules' callbacks, [types, name, param] (callbacks.py)
        # the pid that changed the dialog and left its tm callback waiting in the
        # request for the transaction to come (creation, BYE): if that process dies
        # first, the request's retransmission hands the dialog to its own transaction
        self.armer = 0

    @property
    def did(self) -> str:
        return f"{self.h_entry}:{self.h_id}"

    # pack()/unpack() are generated below: one list display / one tuple assignment
    # instead of a getattr/setattr per field (a record is read and written several
    # times per call)
    def pack(self) -> bytes:  # replaced below
        raise NotImplementedError

    @classmethod
    def unpack(cls, data: bytes) -> Dialog:  # replaced below
        raise NotImplementedError


def _make_codec():
    fields = Dialog.FIELDS
    attrs = ", ".join(f"d.{f}" for f in fields)
    src = (f"def pack(d):\n    return _packb([{attrs}], use_bin_type=True)\n"
           f"def unpack(cls, data):\n    d = _new(cls)\n"
           f"    ({attrs},) = _unpackb(data, raw=False)\n    return d\n")
    ns = {"_packb": msgpack.packb, "_unpackb": msgpack.unpackb, "_new": object.__new__}
    exec(src, ns)  # noqa: S102 -- fixed text built from our own field names
    Dialog.pack = ns["pack"]
    Dialog.unpack = classmethod(ns["unpack"])


_make_codec()


def _key(h_entry: int, h_id: int) -> bytes:
    return b"d:%d:%d" % (h_entry, h_id)


class DialogStore:
    def __init__(self, hash_size=4096, h_id_start=0, h_id_step=1, shared=True, pool=None):
        self.hash_size = hash_size
        self.h_id_start = h_id_start
        self.h_id_step = h_id_step
        self._ka_due: list[tuple[int, int]] = []
        self.persist = 0          # the db_mode (db.py) once mod_init set it
        self.replica = None       # replication.Replica: every change written through to Redis
        made = _shared(hash_size, pool) if shared else None
        if made is None:
            from kamapy.mem.local_table import LocalLocks, LocalTable
            self.table, self.locks = LocalTable(), LocalLocks(LOCKS)
            self.in_shm = False
        else:
            self.table, self.locks = made
            self.in_shm = True

    # ---------------------------------------------------------------- locking
    def entry_of(self, callid: str) -> int:
        # Kamailio's core_hash(callid, 0, size): h_entry shows in the did rr param and
        # in dialog.hash_entry, so it must be the same number
        return core_hash(callid.encode("latin-1", "replace"), self.hash_size)

    def lock_index(self, h_entry: int) -> int:
        """The lock lock(h_entry) takes."""
        return h_entry % LOCKS

    def lock(self, h_entry: int) -> int:
        i = h_entry % LOCKS
        self.locks.get(i)
        return i

    def unlock(self, i: int):
        self.locks.release(i)

    def locked(self, h_entry: int, h_id: int) -> _Locked:
        """`with s.locked(h_entry, h_id) as d:` the record read under its entry's lock
        (None when the dialog is gone), the lock held to the end of the block."""
        return _Locked(self, h_entry, h_id)

    def change(self, h_entry: int, h_id: int, fn):
        """fn(record) under the entry's lock, the record saved after it: what fn
        returns, None when the dialog is gone."""
        with _Locked(self, h_entry, h_id) as d:
            if d is None:
                return None
            rc = fn(d)
            self.save(d)
            return rc

    # ---------------------------------------------------------------- records
    def new(self, d: Dialog, h_entry: int | None = None) -> Dialog:
        """Give d its h_entry (entry_of(d.callid), unless the caller has it) and h_id,
        and store it."""
        d.h_entry = self.entry_of(d.callid) if h_entry is None else h_entry
        lk = self.lock(d.h_entry)
        try:
            nkey = b"n:%d" % d.h_entry
            raw = self.table.get(nkey)
            d.h_id, nxt = self._next_id(int(raw) if raw is not None else None)
            self.table.put(nkey, b"%d" % nxt)
            self.table.put(_key(d.h_entry, d.h_id), d.pack())
            self._index_add(d)
            if self.replica is not None:
                self.replica.saved(d)
        finally:
            self.unlock(lk)
        return d

    def _next_id(self, nxt: int | None) -> tuple[int, int]:
        """(h_id, the entry's next value). As in Kamailio, each entry starts at a random
        point (so a restart does not hand out the ids of dialogs still alive elsewhere)
        and id 0 is never given; with h_id_step > 1 every id is h_id_start modulo the
        step, so nodes with different starts never collide."""
        step, start = self.h_id_step, self.h_id_start
        if step > 1:
            if nxt is None:
                nxt = start + step * (random.randrange(3 * self.hash_size) + 1)
            if nxt == 0 or nxt + step > 0xFFFFFFFF:
                nxt = start + step
            return nxt, nxt + step
        if nxt is None:
            nxt = random.randrange(3 * self.hash_size)
        h_id = (1 + nxt) & 0xFFFFFFFF or 1
        return h_id, h_id

    def load(self, h_entry: int, h_id: int) -> Dialog | None:
        raw = self.table.get(_key(h_entry, h_id))
        return Dialog.unpack(raw) if raw is not None else None

    def save(self, d: Dialog):
        self.table.put(_key(d.h_entry, d.h_id), d.pack())
        if self.persist == 1:  # db_mode 1: the row follows the record
            from . import db
            db.on_save(d)
        if self.replica is not None:
            self.replica.saved(d)

    def restore(self, d: Dialog, due: float) -> bool:
        """A dialog read back from the database, under its own h_entry/h_id; the
        entry's next h_id moves past it (Kamailio: load_dialog_info_from_db)."""
        lk = self.lock(d.h_entry)
        try:
            key = _key(d.h_entry, d.h_id)
            if self.table.get(key) is not None:
                return False
            nkey = b"n:%d" % d.h_entry
            raw = self.table.get(nkey)
            nxt = int(raw) if raw is not None else None
            if self.h_id_step == 1:
                if nxt is None or nxt <= d.h_id:
                    self.table.put(nkey, b"%d" % d.h_id)  # _next_id hands out nxt + 1
            elif (d.h_id - self.h_id_start) % self.h_id_step == 0 and (nxt is None or nxt <= d.h_id):
                self.table.put(nkey, b"%d" % (d.h_id + self.h_id_step))
            self.set_timer(d, due)
            if d.katime:
                self.set_ka(d, d.katime)
            self.table.put(key, d.pack())
            self._index_add(d)
            if self.replica is not None:
                self.replica.saved(d)
            return True
        finally:
            self.unlock(lk)

    def remove(self, d: Dialog):
        if d.cbs:
            from . import callbacks
            callbacks.run(d, callbacks.DLGCB_DESTROY)
        if self.persist:
            from . import db
            db.on_remove(d)
        if self.replica is not None:
            self.replica.removed(d)
        self.table.delete(_key(d.h_entry, d.h_id))
        self.table.delete(b"t:%d:%d" % (d.h_entry, d.h_id))
        self.table.delete(b"k:%d:%d" % (d.h_entry, d.h_id))
        ckey = b"c:" + d.callid.encode("latin-1", "replace")
        raw = self.table.get(ckey)
        if raw is not None:
            ids = [x for x in msgpack.unpackb(raw) if x != [d.h_entry, d.h_id]]
            if ids:
                self.table.put(ckey, msgpack.packb(ids))
            else:
                self.table.delete(ckey)

    def _index_add(self, d: Dialog):
        ckey = b"c:" + d.callid.encode("latin-1", "replace")
        raw = self.table.get(ckey)
        ids = msgpack.unpackb(raw) if raw is not None else []
        ids.append([d.h_entry, d.h_id])
        self.table.put(ckey, msgpack.packb(ids))

    def by_callid(self, callid: str) -> list[Dialog]:
        """Every dialog with this Call-ID (the caller holds the entry's lock)."""
        raw = self.table.get(b"c:" + callid.encode("latin-1", "replace"))
        out = []
        for h_entry, h_id in (msgpack.unpackb(raw) if raw is not None else []):
            d = self.load(h_entry, h_id)
            if d is not None:
                out.append(d)
        return out

    def all(self) -> list[Dialog]:
        out = []
        for k, v in self.table.items():
            if k.startswith(b"d:"):
                out.append(Dialog.unpack(v))
        out.sort(key=lambda d: (d.h_entry, d.h_id))
        return out

    def count(self) -> int:
        return sum(1 for k, _v in self.table.items() if k.startswith(b"d:"))

    # ---------------------------------------------------------------- timeouts
    def set_timer(self, d: Dialog, due: float):
        d.expires = int(due)
        self._due(b"t:%d:%d" % (d.h_entry, d.h_id), due)

    def set_ka(self, d: Dialog, due: float):
        """The dialog's next keepalive (0: none)."""
        d.katime = int(due)
        self._due(b"k:%d:%d" % (d.h_entry, d.h_id), due)

    def _due(self, key: bytes, due: float):
        # a timer entry is an empty value expiring at due; 0 removes it
        if due:
            self.table.put(key, b"", due)
        else:
            self.table.delete(key)

    def due(self, now: float) -> list[tuple[int, int]]:
        """(h_entry, h_id) of each dialog whose timeout passed, taken off the timer.
        Keepalives that fell due in the same walk wait in _ka_due for ka_due()."""
        out = []
        for k, _v in self.table.expire(now):
            if k.startswith(b"t:"):
                _t, e, i = k.split(b":")
                out.append((int(e), int(i)))
            elif k.startswith(b"k:"):
                _t, e, i = k.split(b":")
                self._ka_due.append((int(e), int(i)))
        return out

    def ka_due(self, now: float) -> list[tuple[int, int]]:
        out, self._ka_due = self._ka_due, []
        return out


class _Locked:
    """DialogStore.locked(): a class, not a generator (@contextmanager costs more). The
    per-reply sites on the call path still lock by hand: three Python calls more each
    (docs/duplicates.md has the count)."""

    __slots__ = ("store", "h_entry", "h_id", "lk")

    def __init__(self, s: DialogStore, h_entry: int, h_id: int):
        self.store, self.h_entry, self.h_id = s, h_entry, h_id

    def __enter__(self) -> Dialog | None:
        s = self.store
        self.lk = s.lock(self.h_entry)
        try:
            return s.load(self.h_entry, self.h_id)
        except BaseException:
            s.unlock(self.lk)  # __exit__ does not run when __enter__ raises
            raise

    def __exit__(self, *_exc) -> bool:
        self.store.unlock(self.lk)
        return False


def _shared(hash_size: int, pool=None):
    if pool is None:
        try:
            from kamapy.mem import shm
            pool = shm.pool()
        except (ImportError, RuntimeError):
            return None
    from kamapy.mem.htable import SharedHashTable
    from kamapy.mem.lockset import LockSet
    log2 = max(4, hash_size.bit_length() - 1)
    return (SharedHashTable(log2, pool=pool, name="dialog table"),
            LockSet(LOCKS, pool=pool, name="dialog locks"))


_store: DialogStore | None = None


def store() -> DialogStore:
    global _store
    if _store is None:
        _store = DialogStore(shared=False)
    return _store


def set_store(s: DialogStore | None):
    global _store
    _store = s
