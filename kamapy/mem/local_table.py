"""Private stand-ins for the shm structures (kamapy.mem.htable SharedHashTable,
kamapy.mem.lockset): what a module's store runs on without a shm pool (unit tests,
`-c` config checks). One process sees them; nothing is shared."""

from __future__ import annotations

import threading


class LocalTable:
    """A private stand-in for SharedHashTable (unit tests, -c checks): the same
    interface on a dict of key -> (value, expires, flags)."""

    def __init__(self):
        self.d: dict[bytes, tuple[bytes, float, int]] = {}

    def contains(self, key):
        return key in self.d

    def get(self, key, default=None):
        e = self.d.get(key)
        return e[0] if e is not None else default

    def get_entry(self, key):
        """(value, expires, flags), or None."""
        return self.d.get(key)

    def pop(self, key, default=None):
        e = self.d.pop(key, None)
        return default if e is None else e[0]

    def put(self, key, value, expires=0.0, flags=0):
        self.d[key] = (value, expires, flags)
        return True

    def put_if_absent(self, key, value, expires=0.0, flags=0):
        if key in self.d:
            return False
        self.d[key] = (value, expires, flags)
        return True

    def delete(self, key):
        return self.d.pop(key, None) is not None

    def expire(self, now):
        return [(k, v) for k, v, _e, _f in self.expire_entries(now)]

    def expire_entries(self, now):
        out = [(k, v, e, f) for k, (v, e, f) in self.d.items() if 0 < e <= now]
        for k, *_ in out:
            del self.d[k]
        return out

    def entries(self):
        return [(k, v, e, f) for k, (v, e, f) in self.d.items()]

    def items(self):
        return [(k, v) for k, (v, _e, _f) in self.d.items()]

    def __len__(self):
        return len(self.d)


class LocalLocks:
    """A private stand-in for a LockSet: re-entrant locks by index."""

    def __init__(self, n):
        self._locks = [threading.RLock() for _ in range(n)]

    def get(self, i):
        self._locks[i].acquire()

    def release(self, i):
        self._locks[i].release()
