"""A bounded map of pending changes, key -> its last change, for what a node keeps while
a shared store is away (htable's and dialog's Redis journals). One entry per key; when
the map is full the oldest sixteenth goes in one walk (not one per change), and one log
line per outage says so: a FULL marker entry, cleared once the changes are written back,
keeps the line from repeating."""

from __future__ import annotations

FULL = b"\1full"


class BoundedChanges:
    def __init__(self, table, limit: int, age, log, full_message: str):
        self.table = table      # a SharedHashTable (or LocalTable): get/put/delete/items/put_if_absent
        self.limit = limit
        self._age = age         # value -> its change time (what "oldest" orders by)
        self._log = log
        self._full_message = full_message  # % (limit, dropped)

    def __len__(self) -> int:
        n = len(self.table)
        return n - 1 if n and self.table.get(FULL) is not None else n

    def make_room(self, key: bytes) -> None:
        """Before a put of key: a new key in a full map drops the oldest entries."""
        if self.table.get(key) is None and len(self) >= self.limit:
            self._drop_oldest()

    def items(self) -> list[tuple[bytes, bytes]]:
        """The entries (the FULL marker left out), in no order."""
        return [(k, v) for k, v in list(self.table.items()) if k != FULL]

    def written_back(self) -> None:
        """The outage is over: a later one may log that the map is full again."""
        self.table.delete(FULL)

    def _drop_oldest(self) -> None:
        old = sorted(self.items(), key=lambda kv: self._age(kv[1]))
        n = max(1, len(old) // 16)
        for k, _v in old[:n]:
            self.table.delete(k)
        if self.table.put_if_absent(FULL, b"1"):
            self._log.error(self._full_message, self.limit, n)
