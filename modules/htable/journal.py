"""The changes a node made to its shared htables while Redis was away (issue 22): the
keys, each with the time of its last change, in shm -- any process may change an
item (SIP workers, the RPC process, the timer's event routes), and the "htable redis"
process replays them when Redis is back, before it reloads the tables from Redis.

An entry is <table>\\0<name> -> the change's wall-clock time in ms (decimal). It holds
no value: the replay writes the item as the node holds it then (a later change
overwrites the entry's time, so one entry per key). Bounded by redis_journal_size:
when full, the oldest sixteenth goes (one walk of the table, not one per change),
logged once per outage, and those keys stay as before -- on this node only, the
reload overwriting them where Redis holds them.
"""

from __future__ import annotations

import logging

from kamapy.mem.bounded_changes import BoundedChanges

log = logging.getLogger("kamapy.htable")


class Journal:
    def __init__(self, limit: int):
        self.limit = limit
        self.table = None
        if limit > 0:
            from kamapy.mem.htable import SharedHashTable
            size = max(4, min(16, (limit - 1).bit_length()))
            self.table = SharedHashTable(size_log2=size, name="htable redis journal")
            self._changes = BoundedChanges(
                self.table, limit, int, log,
                "htable: the redis journal is full (%d changes): the oldest %d dropped; "
                "those keys will not be written back")

    @staticmethod
    def key(table: str, name: str) -> bytes:
        return table.encode() + b"\0" + name.encode("utf-8", "surrogateescape")

    @staticmethod
    def split(key: bytes) -> tuple[str, str]:
        table, _, name = key.partition(b"\0")
        return table.decode(), name.decode("utf-8", "surrogateescape")

    def __len__(self) -> int:
        return 0 if self.table is None else len(self._changes)

    def note(self, table: str, name: str, ms: int) -> None:
        """The key changed at `ms` and Redis did not get it."""
        if self.table is None:
            return
        key = self.key(table, name)
        self._changes.make_room(key)
        self.table.put(key, b"%d" % ms)

    def when(self, table: str, name: str) -> int | None:
        """The time of a pending change of the key, or None."""
        if self.table is None:
            return None
        raw = self.table.get(self.key(table, name))
        return int(raw) if raw is not None else None

    def take(self) -> list[tuple[bytes, int]]:
        """Every pending change, each taken out of the journal (a change made after
        this is a new entry, replayed next time)."""
        t = self.table
        if t is None or len(t) == 0:
            return []
        out = []
        for k, _v in self._changes.items():
            raw = t.pop(k)
            if raw is not None:
                out.append((k, int(raw)))
        self._changes.written_back()
        out.sort(key=lambda e: e[1])
        return out

    def give_back(self, entries: list[tuple[bytes, int]]) -> None:
        """A replay that failed: its entries back, unless the key changed again since."""
        for k, ms in entries:
            self._changes.make_room(k)
            self.table.put_if_absent(k, b"%d" % ms)
