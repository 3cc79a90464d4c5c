"""Where transactions live: two shm hash tables and a lock set, made in the master
before the fork so every process shares them (Kamailio: h_table.c, timer lists).

- `cells`: tid -> packed Transaction.
- `due`: tid -> (empty value) with `expires` = the next moment the timer process must
  look at the transaction; its C-side expire(now) hands back the due ones, so the
  timer never walks every transaction in Python, and, the table being timed (a timing
  wheel beside the buckets), not in C either: a tick costs what is due. The entry's flags say DUE_FREE when
  all there is to do then is free a finished transaction (the wait timer), which the
  timer does without reading the record.
- `locks`: the REPLY_LOCK of a transaction is lock hash(tid) % size; everything that
  reads, changes and writes back a record holds it.

Without a shm pool (unit tests) the same interface runs on private dicts.
"""

from __future__ import annotations

from kamapy.mem.local_table import LocalLocks as _LocalLocks
from kamapy.mem.local_table import LocalTable as _LocalTable

from .transaction import T_ON_WAIT, Transaction

LOCKS = 1024          # transactions share locks by hash, as Kamailio's entries do
DUE_FREE = 1          # due-entry flag: at that moment the transaction is freed
TABLE_LOG2 = 16       # 65536 buckets (Kamailio: TABLE_ENTRIES)


def _shared(pool=None):
    """(cells, due, locks) in shm (the process-wide pool unless one is given), or None
    when there is no pool."""
    if pool is None:
        try:
            from kamapy.mem import shm
            pool = shm.pool()
        except (ImportError, RuntimeError):
            return None
    from kamapy.mem.htable import SharedHashTable
    from kamapy.mem.lockset import LockSet
    return (SharedHashTable(TABLE_LOG2, pool=pool, name="tm transactions"),
            SharedHashTable(TABLE_LOG2 - 2, pool=pool, name="tm timers", timed=True),
            LockSet(LOCKS, pool=pool, name="tm reply locks"))


class TransactionStore:
    def __init__(self, shared: bool = True, pool=None):
        made = _shared(pool) if shared else None
        if made is None:
            self.cells, self.due, self.locks = _LocalTable(), _LocalTable(), _LocalLocks(LOCKS)
            self.in_shm = False
        else:
            self.cells, self.due, self.locks = made
            self.in_shm = True
        self._get = self.cells.get
        self._put = self.cells.put

    # ------------------------------------------------------------------ locking
    @staticmethod
    def lock_index(tid: str) -> int:
        return int(tid[-4:], 16) % LOCKS

    def lock(self, tid: str) -> int:
        i = int(tid[-4:], 16) % LOCKS
        self.locks.get(i)
        return i

    def unlock(self, i: int):
        self.locks.release(i)

    # ------------------------------------------------------------------ records
    def load(self, tid: str) -> Transaction | None:
        data = self._get(tid.encode())
        return Transaction.unpack(data) if data is not None else None

    def exists(self, tid: str) -> bool:
        return self.cells.contains(tid.encode())  # no copy of the record

    def add(self, t: Transaction) -> bool:
        """Store a new transaction; False when one with its id exists already (a
        retransmission that another process got first)."""
        t.due_reg = due = t.next_due()
        if not self.cells.put_if_absent(t.tid.encode(), t.pack()):
            return False
        if due:
            self.due.put(t.tid.encode(), b"", due, _due_flags(t, due))
        return True

    def save(self, t: Transaction):
        """Write back a changed transaction (the caller holds its lock). When its next
        timer moved, the due table learns it: one small write here saves the timer
        process a wake-up that would find nothing to do."""
        key = t.tid.encode()
        due = t.next_due()
        if due != t.due_reg:
            t.due_reg = due
            if due:
                self.due.put(key, b"", due, _due_flags(t, due))
        self._put(key, t.pack())

    def remove(self, t: Transaction):
        key = t.tid.encode()
        self.cells.delete(key)
        self.due.delete(key)

    def pop_due(self, now: float) -> list[str]:
        return [tid for tid, _ in self.pop_due_entries(now)]

    def pop_due_entries(self, now: float) -> list[tuple[str, int]]:
        """(tid, due flags) of every transaction due by now, out of the due table."""
        return [(k.decode() if isinstance(k, bytes) else k, f) for k, _v, _e, f in self.due.expire_entries(now)]

    def free_if_still_due(self, tid: str) -> bool | None:
        """The wait timer's free of a DUE_FREE entry, without reading the record (the
        caller holds the transaction's lock): None when the transaction registered a
        new due moment since the entry was taken (read it the general way); else
        whether there was a record to remove."""
        key = tid.encode()
        if self.due.contains(key):
            return None
        return self.cells.delete(key)

    def count(self) -> int:
        return len(self.cells)


def _due_flags(t: Transaction, due: float) -> int:
    """DUE_FREE when the due moment is the wait timer's free (run_timers frees at
    wait_due before anything else) of a transaction counted as waiting already
    (T_ON_WAIT is never cleared, so the flag cannot go stale)."""
    if t.cbs:
        return 0  # its callbacks (TMCB_DESTROY) need the record: freed the reading way
    return DUE_FREE if due == t.wait_due and t.flags & T_ON_WAIT else 0


_store: TransactionStore | None = None


def store() -> TransactionStore:
    global _store
    if _store is None:
        _store = TransactionStore()
    return _store


def set_store(s: TransactionStore | None):
    """Tests: use a fresh (private) store."""
    global _store
    _store = s
