"""A location table (Kamailio's udomain_t): AOR -> record, shared by every process.

In memory (db_mode 0, 1, 2) the records live in a kamapy.mem.htable.SharedHashTable in shm,
one entry per AOR; an AOR's updates are serialised by a lock of a LockSet in shm
(index from the AOR's hash), taken around read-modify-write as Kamailio's
lock_udomain does. In db_mode 3 the records are read from and written to the DB: a
failed read or write raises kamapy.db.DbError with `ul_op` ("get", "insert",
"update", "delete") so the registrar answers 500 instead of acknowledging it.

    with d.record(aor, create=True) as r:
        r.insert_contact(UContact.new(...))
        d.save(r)
"""

from __future__ import annotations

import logging
import struct
import time
import zlib
from _thread import get_ident as _get_ident
from contextlib import contextmanager

from kamapy._native._kamapy_native import ffi, lib

from kamapy._native import fastcall

from . import callbacks, dbstore
from .callbacks import UL_CONTACT_DELETE, UL_CONTACT_EXPIRE, UL_CONTACT_INSERT, UL_CONTACT_UPDATE
from .contact import C_FLAGS, C_STATE, CS_DIRTY, CS_NEW, CS_SYNC, FIELDS, FL_MEM, UContact
from .record import DELETE, INSERT, REC_DIRTY, UPDATE, URecord, _unpackb, header_of
from .settings import DB_ONLY, NO_DB, WRITE_BACK, WRITE_THROUGH, cfg
from .statistics import DomainStats

log = logging.getLogger("kamapy.usrloc")

_lock_get = lib.kp_lock_get
_lock_release = lib.kp_lock_release

MAX_LOCKS = 4096

# refresh(): kp_reg_refresh and its per-process buffers (a record up to _WORK_CAP / 3)
_reg_refresh = fastcall.reg_refresh  # kp_reg_refresh through kp_fastcall.c (pointers as ints)
_DECLINE, _RECOVERED, _ENOLOCK, _HT_ELOCK = lib.KP_UL_DECLINE, lib.KP_UL_RECOVERED, lib.KP_UL_ENOLOCK, lib.KP_HT_ELOCK
_DESC_TIME, _WRITE_BACK, _OUT_CONTACT = lib.KP_UL_DESC_TIME, lib.KP_UL_WRITE_BACK, lib.KP_UL_OUT_CONTACT
_WORK_CAP = 3 * 16384
_OUT_CAP = 32768
_work = ffi.new("char[]", _WORK_CAP)
_out = ffi.new("char[]", _OUT_CAP)
_res = ffi.new("int[]", lib.KP_UL_NRES)  # the lock get's and release's results, what _out holds
_work_at, _out_at, _res_at = fastcall.address(_work), fastcall.address(_out), fastcall.address(_res)
_pack_ul_nums = struct.Struct(f"={lib.KP_UN_NARGS}q").pack  # usrloc's numbers, kp_regrefresh.h's order
_unpack = ffi.unpack
_OWNER = _get_ident()  # the buffers are this thread's
# kp_ulrefresh.c reads and writes a contact's fields by position (its F_* enum)
if FIELDS != ("contact", "expires", "q", "callid", "cseq", "flags", "cflags", "user_agent", "received",
              "path", "socket", "ruid", "instance", "reg_id", "server_id", "connection_id", "keepalive",
              "methods", "last_modified", "state", "last_keepalive", "xavp"):  # pragma: no cover
    raise ImportError("usrloc: the contact fields are not the ones kp_ulrefresh.c reads")
_CB_OF = {INSERT: UL_CONTACT_INSERT, UPDATE: UL_CONTACT_UPDATE, DELETE: UL_CONTACT_DELETE}


def aor_key(aor: str) -> bytes:
    return aor.encode("utf-8", "surrogatepass")


def aor_hash(aor: str) -> int:
    """The AOR's hash (the 'HashID' of ul.dump, the temp-GRUU suffix)."""
    return zlib.crc32(aor_key(aor))


class UDomain:
    def __init__(self, name: str):
        self.name = name
        self.table = None
        self.locks = None
        self.lock_mask = 0
        self.stats: DomainStats | None = None
        self._last = (None, b"", 0)
        self._at = None  # (table, locks, the table's address, each lock's): refresh()'s pointers

    # ------------------------------------------------------------------ set-up
    def create(self):
        """Make the shm table and locks (in the master, before the fork)."""
        if self.table is not None or cfg.db_mode == DB_ONLY:
            return
        from kamapy.mem.htable import SharedHashTable
        from kamapy.mem.lockset import LockSet
        # grow: the table doubles past 2 AORs per bucket, so hash_size is where it
        # starts, not a cap on lookup cost (Kamailio's stays at 2^hash_size: D-usrloc-1)
        self.table = SharedHashTable(size_log2=cfg.hash_size, name=f"usrloc table {self.name}", grow=True)
        nlocks = min(1 << cfg.hash_size, MAX_LOCKS)
        self.locks = LockSet(nlocks)
        self.lock_mask = nlocks - 1

    @property
    def size(self) -> int:
        """The table's buckets now (ul.dump's "Size"); 0 without a table (db_mode 3)."""
        return self.table.buckets if self.table is not None else 0

    # ------------------------------------------------------------------ locking
    def _slot(self, aor: str) -> tuple[bytes, int]:
        """(key, lock index) of an AOR; the last one is remembered, as a REGISTER asks
        for the same AOR four times (lock, get, put, unlock)."""
        last = self._last
        if last[0] == aor:
            return last[1], last[2]
        key = aor_key(aor)
        idx = zlib.crc32(key) & self.lock_mask
        self._last = (aor, key, idx)
        return key, idx

    # every REGISTER takes and releases one: LockSet.get/release inlined (same C calls)
    def lock(self, aor: str):
        locks = self.locks
        if locks is not None:
            last = self._last
            idx = last[2] if last[0] == aor else self._slot(aor)[1]
            rc = _lock_get(locks._locks[idx])
            if rc:
                locks._after_get(rc, idx, "lock_set_get")  # recovered (logged), or raises

    def unlock(self, aor: str):
        locks = self.locks
        if locks is not None:
            last = self._last
            idx = last[2] if last[0] == aor else self._slot(aor)[1]
            rc = _lock_release(locks._locks[idx])
            if rc:
                locks.release_failed(rc, idx)

    @contextmanager
    def record(self, aor: str, create: bool = False):
        """get_urecord(aor, create) under the AOR's lock, released on the way out:
        `with d.record(aor) as r:` (r None: no such AOR)."""
        self.lock(aor)
        try:
            yield self.get_urecord(aor, create)
        finally:
            self.unlock(aor)

    # ------------------------------------------------------------------ records
    def get_urecord(self, aor: str, create: bool = False) -> URecord | None:
        """The record of an AOR (None when it has none and create is False)."""
        if cfg.db_mode == DB_ONLY:
            try:
                contacts = dbstore.load_aor(self.name, aor)
            except dbstore.db.DbError as e:
                log.error("usrloc: DB read of %s failed: %s", aor, e)
                e.ul_op = "get"
                raise
            if contacts:
                return URecord(aor, contacts, existed=True)
        else:
            blob = self.table.get(self._slot(aor)[0])
            if blob is not None:
                r = URecord.unpack(aor, blob)
                r.existed = bool(r.contacts)
                return r
        return URecord(aor) if create else None

    # A quick update of one binding (a REGISTER refreshing it) changes no count and runs
    # no DB statement or callback: refresh() does it in one C call (kp_regrefresh.c reads
    # the REGISTER, kp_ulrefresh.c the record), the AOR lock taken and released inside it.

    def refresh(self, aor: str, data: bytes, scan: bytes, sock: bytes, reg_nums: bytes):
        """Registrar's quick refresh of one binding (kp_regrefresh.c: the REGISTER `data`
        read from its `scan`, the numbers registrar packed as kp_regrefresh.h's KP_RN_*,
        the contact's socket text `sock`), if it is the plain case: the binding is there
        (found as matching_mode says, by the Contact's URI), its Call-ID/CSeq allow it,
        max_contacts is not passed. Returns (Contact header line, whether the number
        drawn for the expires range was used) -- the header a str when every binding it
        lists is a plain `<uri>;expires=N`, else the record's contacts (a list, for
        registrar's contact_header()) -- or None, having changed nothing (and then the
        general path does it: absent, another case, a table that needs get_urecord()/
        save(): write-through, DB-only, callbacks)."""
        mode = cfg.db_mode
        locks = self.locks
        if (mode != NO_DB and mode != WRITE_BACK) or callbacks._types or locks is None \
                or _get_ident() != _OWNER:
            return None
        key, idx = self._slot(aor)
        opts = cfg.matching_mode
        if cfg.desc_time_order:
            opts |= _DESC_TIME
        if mode == WRITE_BACK:
            opts |= _WRITE_BACK
        res = _res
        at = self._at
        if at is None or at[0] is not self.table or at[1] is not locks:
            at = self._at = (self.table, locks, fastcall.address(self.table._ht),
                             [fastcall.address(lk) for lk in locks._locks])
        n = _reg_refresh(at[2], at[3][idx], key, _pack_ul_nums(len(key), cfg.server_id, opts, _WORK_CAP, _OUT_CAP),
                         data, scan, sock, reg_nums, _work_at, _out_at, _res_at)
        if n >= 0:
            if res[1]:
                locks.release_failed(res[1], idx)
            if res[2] == _OUT_CONTACT:
                return _unpack(_out, n).decode(), res[3]
            return _unpackb(_unpack(_out, n))[0], res[3]
        if n == _RECOVERED:  # held: repair what the dead holder left, then the general path
            locks._after_get(res[0], idx, "lock_set_get")
            self.unlock(aor)
            return None
        if n == _ENOLOCK:
            locks._after_get(res[0], idx, "lock_set_get")  # raises
        if res[1]:
            locks.release_failed(res[1], idx)
        if n != _DECLINE:
            raise self.table._failed(n if n == _HT_ELOCK else -1, key)
        return None

    def save(self, r: URecord, run_callbacks: bool = True):
        """Store what changed in r (memory and/or DB by db_mode), count it, tell the
        callbacks. Call with the AOR lock held."""
        changes = r.changes
        mode = cfg.db_mode
        if changes and mode != NO_DB:
            self._db_apply(r, mode)
        if mode != DB_ONLY:
            key = self._slot(r.aor)[0]
            if r.contacts or r.deleted:
                blob, earliest, flags = r.pack_with_header()
                self.table.put(key, blob, earliest, flags)
            elif r.existed or changes:
                self.table.delete(key)
            if self.stats is not None and changes:
                self.stats.account(r, changes)
        r.existed = bool(r.contacts)
        r.changes = []
        if run_callbacks and changes and callbacks._types:
            for op, c in changes:
                if callbacks.wanted(_CB_OF[op]):
                    callbacks.run(_CB_OF[op], self.name, r.aor, c)

    def _db_apply(self, r: URecord, mode: int):
        if mode == WRITE_BACK:
            for op, c in r.changes:
                if c[C_FLAGS] & FL_MEM:
                    c[C_STATE] = CS_SYNC
                elif op == INSERT:
                    c[C_STATE] = CS_NEW
                elif op == UPDATE:
                    if c[C_STATE] == CS_SYNC:
                        c[C_STATE] = CS_DIRTY
                elif c[C_STATE] != CS_NEW:  # DELETE of a contact the DB has
                    r.deleted.append(c.ruid)
            return
        if mode == WRITE_THROUGH or mode == DB_ONLY:
            for op, c in r.changes:
                c[C_STATE] = CS_SYNC
                if c[C_FLAGS] & FL_MEM:
                    continue
                try:
                    if op == DELETE:
                        dbstore.delete_ruid(self.name, c.ruid)
                    else:
                        dbstore.upsert(self.name, r.aor, c)
                except Exception as e:
                    log.error("usrloc: DB write of %s for %s failed: %s", op, r.aor, e)
                    if mode == DB_ONLY:
                        # the DB is the only copy: the caller must not acknowledge it
                        # (Kamailio's insert/update/delete_ucontact return -1; registrar: 500)
                        if isinstance(e, dbstore.db.DbError):
                            e.ul_op = op
                            raise
                        raise _db_error(op, e) from e
            return
        for _, c in r.changes:  # db_mode 4: memory only at run time
            c[C_STATE] = CS_SYNC

    def delete_urecord(self, aor: str) -> bool:
        """Remove an AOR with all its contacts (ul.rm, unregister). Locks itself."""
        with self.record(aor) as r:
            if r is None:
                return False
            r.delete_all()
            self.save(r)
            return True

    def insert_contact(self, aor: str, c: UContact) -> UContact:
        """Add one contact to an AOR (ul.add, modules). Locks itself."""
        with self.record(aor, create=True) as r:
            r.insert_contact(c)
            self.save(r)
            return c

    def delete_contact_by_ruid(self, aor: str, ruid: str) -> bool:
        with self.record(aor) as r:
            c = r.find_ruid(ruid) if r is not None else None
            if c is None:
                return False
            r.delete_contact(c)
            self.save(r)
            return True

    def records(self):
        """Every record, one at a time (a snapshot per record; ul.dump, keepalives)."""
        if cfg.db_mode == DB_ONLY:
            for aor, contacts in dbstore.load_all(self.name).items():
                yield URecord(aor, contacts, existed=True)
            return
        for key, blob in self.table.items():
            yield URecord.unpack(key.decode("utf-8", "surrogatepass"), blob)

    def count(self) -> int:
        return len(self.table) if self.table is not None else 0

    # ------------------------------------------------------------------ start-up
    def load_from_db(self) -> int:
        """Fill the table from the DB (db_mode 1, 2, 4 at start-up). Returns contacts loaded."""
        n = 0
        for aor, contacts in dbstore.load_all(self.name).items():
            r = URecord(aor)
            for c in contacts:
                c[C_STATE] = CS_SYNC
                r._place(c)
            blob = r.pack()
            earliest, flags = header_of(blob)
            self.table.put(aor_key(aor), blob, earliest, flags)
            if self.stats is not None:
                self.stats.loaded(len(contacts))
            n += len(contacts)
        return n

    # ------------------------------------------------------------------ timer
    def timer(self, now: float | None = None):
        """Expire contacts, and in write-back mode flush changes to the DB."""
        now = time.time() if now is None else now
        mode = cfg.db_mode
        if mode == DB_ONLY:
            # with db_redis expire_by, Redis drops the rows itself: no node scans
            try:
                if not dbstore.expires_by_backend(self.name):
                    dbstore.delete_expired(self.name, now)
            except dbstore.db.DbError as e:
                log.error("usrloc: DB clean of expired contacts of %s failed: %s", self.name, e)
            return
        write_back = mode == WRITE_BACK
        due = []
        for key, _blob, earliest, flags in self.table.entries():
            if (earliest and earliest <= now) or (write_back and flags & REC_DIRTY):
                due.append(key)
        expired: list[tuple[str, UContact]] = []
        upserts: list[tuple[str, UContact]] = []
        deletes: list[tuple[str, str]] = []  # (aor, ruid)
        for key in due:
            aor = key.decode("utf-8", "surrogatepass")
            self._timer_record(aor, now, mode, expired, upserts, deletes)
        if write_back and (upserts or deletes):
            try:
                dbstore.flush(self.name, upserts, [ruid for _, ruid in deletes])
            except Exception as e:
                log.error("usrloc: write-back flush of %s failed: %s; will retry", self.name, e)
                self._redirty(upserts, deletes)
        if mode == WRITE_THROUGH and expired:
            for _, c in expired:
                if not c[C_FLAGS] & FL_MEM:
                    try:
                        dbstore.delete_ruid(self.name, c.ruid)
                    except Exception as e:
                        log.error("usrloc: DB delete of expired contact failed: %s", e)
        if cfg.db_timer_clean and mode in (WRITE_THROUGH, WRITE_BACK):
            try:
                dbstore.delete_expired(self.name, now)
            except Exception as e:
                log.error("usrloc: DB clean of expired contacts failed: %s", e)
        if expired and callbacks.wanted(UL_CONTACT_EXPIRE):
            for aor, c in expired:
                callbacks.run(UL_CONTACT_EXPIRE, self.name, aor, c)

    def _timer_record(self, aor, now, mode, expired, upserts, deletes):
        with self.record(aor) as r:
            if r is None:
                return
            gone = [c for c in r.contacts if not c.valid(now)]
            for c in gone:
                r.contacts.remove(c)
                expired.append((aor, c))
                if mode == WRITE_BACK and c[C_STATE] != CS_NEW and not c[C_FLAGS] & FL_MEM:
                    r.deleted.append(c.ruid)
            if mode == WRITE_BACK:
                for c in r.contacts:
                    if c[C_STATE] != CS_SYNC:
                        upserts.append((aor, UContact(c)))
                        c[C_STATE] = CS_SYNC
                deletes.extend((aor, ruid) for ruid in r.deleted)
                r.deleted = []
            if self.stats is not None and gone:
                self.stats.expired(r, len(gone))
            key = aor_key(aor)
            if r.contacts or r.deleted:
                blob = r.pack()
                earliest, flags = header_of(blob)
                self.table.put(key, blob, earliest, flags)
            else:
                self.table.delete(key)

    def _redirty(self, upserts, deletes):
        """A failed flush: mark what it carried as unsaved again, for the next run."""
        pending: dict[str, tuple[set, list]] = {}
        for aor, c in upserts:
            pending.setdefault(aor, (set(), []))[0].add(c.ruid)
        for aor, ruid in deletes:
            pending.setdefault(aor, (set(), []))[1].append(ruid)
        for aor, (ruids, deleted) in pending.items():
            with self.record(aor, create=True) as r:
                for c in r.contacts:
                    if c.ruid in ruids and c[C_STATE] == CS_SYNC:
                        c[C_STATE] = CS_DIRTY
                r.deleted.extend(deleted)
                self.save(r, run_callbacks=False)


def _db_error(op: str, e: Exception):
    err = dbstore.db.DbError(str(e))
    err.ul_op = op
    return err


# ---------------------------------------------------------------------- the table list
_domains: dict[str, UDomain] = {}


def register_udomain(name: str) -> UDomain:
    """The location table `name`, made on first use (Kamailio's ul_register_udomain).
    Registrar's fixups and the `preload` modparam call it before the fork."""
    d = _domains.get(name)
    if d is None:
        d = _domains[name] = UDomain(name)
    return d


def get_udomain(name: str) -> UDomain | None:
    return _domains.get(name)


def domains() -> list[UDomain]:
    return list(_domains.values())


def reset():
    """Forget every table (tests)."""
    _domains.clear()
