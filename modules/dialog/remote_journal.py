"""The dlg_remote_profile changes a node made while Redis was away (issue 22), in shm
(the SIP workers make them, the timer process writes them back: Replica.tick).

An entry is <profile>\\0<uid> -> msgpack [op ("add" | "rm"), value, expires, ms]:
the last change of that item, the one the cluster must end up with. Bounded by
LIMIT entries: when full, the oldest sixteenth goes (logged once per outage) and
those items stay as they were in Redis.

`lock` orders a worker's write to Redis against the timer's write-back: the timer
holds it while it writes the entries back and deletes them, and a worker takes it
while there are entries (so a change made after Redis returned is not overwritten
by an older one from the journal, and none is noted while the timer deletes).
"""

from __future__ import annotations

import logging

from kamapy.mem.bounded_changes import BoundedChanges

log = logging.getLogger("kamapy.dialog")

LIMIT = 10000


class RemoteJournal:
    def __init__(self, shared: bool = True, limit: int = LIMIT, pool=None):
        self.limit = limit
        self.table = None
        if shared:
            try:
                from kamapy.mem import shm
                from kamapy.mem.htable import SharedHashTable
                from kamapy.mem.lockset import Lock
                p = pool or shm.pool()
                self.table = SharedHashTable(8, pool=p, name="dialog remote journal")
                self.lock = Lock(pool=p, name="dialog remote journal")
            except (ImportError, RuntimeError):
                self.table = None
        if self.table is None:
            from kamapy.mem.local_table import LocalTable

            from .profiles import _RLock
            self.table = LocalTable()
            self.lock = _RLock()
        self._changes = BoundedChanges(
            self.table, limit, _ms_of, log,
            "dialog: the journal of remote profile changes is full (%d): the oldest %d "
            "dropped; those will not be written back to redis")

    @staticmethod
    def key(name: str, uid: str) -> bytes:
        return name.encode() + b"\0" + uid.encode()

    def __len__(self) -> int:
        return len(self._changes)

    def note(self, op: str, name: str, value: str, uid: str, expires: int, ms: int) -> None:
        """With the lock held: the item's change Redis did not get."""
        import msgpack
        key = self.key(name, uid)
        self._changes.make_room(key)
        self.table.put(key, msgpack.packb([op, value, int(expires or 0), ms]))

    def forget(self, name: str, uid: str) -> None:
        """With the lock held: the item's newest change reached Redis directly."""
        self.table.delete(self.key(name, uid))

    def entries(self) -> list[tuple[bytes, str, str, str, str, int, int]]:
        """With the lock held: (key, op, name, value, uid, expires, ms), oldest first."""
        import msgpack
        out = []
        for k, raw in self._changes.items():
            name, _, uid = k.partition(b"\0")
            op, value, expires, ms = msgpack.unpackb(raw, raw=False)
            out.append((k, op, name.decode(), value, uid.decode(), expires, ms))
        out.sort(key=lambda e: e[6])
        return out

    def done(self, keys) -> None:
        """With the lock held: these entries are in Redis now."""
        for k in keys:
            self.table.delete(k)
        self._changes.written_back()


def _ms_of(raw: bytes) -> int:
    """An entry's change time (the last of its msgpack fields)."""
    import msgpack
    return msgpack.unpackb(raw, raw=False)[3]
