"""Dialog profiles (Kamailio: dlg_profile.c): named sets of dialogs, with or without a
value per membership, counted in shm so get_profile_size sees every worker's dialogs.

The counts live in one shm table under one lock: b"<name>" the size of a profile,
b"<name>\\0<value>" the size for one value. A dialog keeps its memberships in its own
record ([name, value]), so ending it gives each one back.
"""

from __future__ import annotations

import threading


class Profiles:
    def __init__(self, with_value: list[str], no_value: list[str], pool=None, shared=True):
        self.has_value: dict[str, bool] = {}
        for n in no_value:
            self.has_value[n] = False
        for n in with_value:
            self.has_value[n] = True
        table = None
        if shared:
            try:
                from kamapy.mem import shm
                from kamapy.mem.htable import SharedHashTable
                from kamapy.mem.lockset import Lock
                p = pool or shm.pool()
                table = SharedHashTable(8, pool=p, name="dialog profiles")
                self.lock = Lock(pool=p, name="dialog profiles")
            except (ImportError, RuntimeError):
                table = None
        if table is None:
            from kamapy.mem.local_table import LocalTable
            table = LocalTable()
            self.lock = _RLock()
        self.table = table
        from .remote_journal import RemoteJournal
        self.journal = RemoteJournal(shared=shared, pool=pool)

    def known(self, name: str) -> bool:
        return name in self.has_value

    def _add(self, key: bytes, n: int):
        raw = self.table.get(key)
        v = (int(raw) if raw is not None else 0) + n
        if v > 0:
            self.table.put(key, b"%d" % v)
        else:
            self.table.delete(key)

    def link(self, name: str, value: str):
        self.lock.get()
        try:
            self._add(name.encode(), 1)
            if self.has_value[name]:
                self._add(name.encode() + b"\0" + value.encode(), 1)
        finally:
            self.lock.release()

    def unlink(self, name: str, value: str):
        self.lock.get()
        try:
            self._add(name.encode(), -1)
            if self.has_value.get(name):
                self._add(name.encode() + b"\0" + value.encode(), -1)
        finally:
            self.lock.release()

    # remote items (dlg_remote_profile): dialogs other nodes manage, counted here too
    def _shared(self, op: str, name: str, value: str, uid: str, expires: int, write):
        """The item's change to Redis (write(rep) -> None when Redis is away); noted
        in the journal when Redis does not get it, for the timer to write it back.
        Without redis_url: None."""
        import time

        from .replication import replica
        rep = replica()
        if rep is None:
            return None
        j = self.journal
        locked = len(j) > 0   # entries pending: ordered against their write-back
        if locked:
            j.lock.get()
        try:
            out = write(rep)
            if out is None:
                if not locked:
                    j.lock.get()
                    locked = True
                j.note(op, name, value, uid, expires, int(time.time() * 1000))
            elif locked:
                j.forget(name, uid)
            return out
        finally:
            if locked:
                j.lock.release()

    def remote_add(self, name: str, value: str, uid: str, expires: int) -> int:
        import msgpack
        self._shared("add", name, value, uid, expires,
                     lambda rep: rep.remote_add(name, value, uid, expires) or None)
        key = b"r\0" + uid.encode()
        self.lock.get()
        try:
            if self.table.get(key) is None:
                self._add(name.encode(), 1)
                if self.has_value[name]:
                    self._add(name.encode() + b"\0" + value.encode(), 1)
            self.table.put(key, msgpack.packb([name, value]), float(expires or 0))
        finally:
            self.lock.release()
        return 1

    def remote_rm(self, name: str, value: str, uid: str) -> int:
        import msgpack
        shared = self._shared("rm", name, value, uid, 0, lambda rep: rep.remote_rm(name, value, uid))
        key = b"r\0" + uid.encode()
        self.lock.get()
        try:
            raw = self.table.get(key)
            if raw is None:
                return 1 if shared else -1  # added on another node
            n, v = msgpack.unpackb(raw, raw=False)
            if n != name:
                return -1
            self.table.delete(key)
            self._unlink_locked(n, v)
        finally:
            self.lock.release()
        return 1

    def _unlink_locked(self, name: str, value: str):
        self._add(name.encode(), -1)
        if self.has_value.get(name):
            self._add(name.encode() + b"\0" + value.encode(), -1)

    def expire_remote(self, now: float) -> int:
        """Remote items past their expires leave their profile (the dialog timer)."""
        import msgpack
        n = 0
        self.lock.get()
        try:
            for key, raw in self.table.expire(now):
                if key.startswith(b"r\0"):
                    name, value = msgpack.unpackb(raw, raw=False)
                    self._unlink_locked(name, value)
                    n += 1
        finally:
            self.lock.release()
        return n

    def size(self, name: str, value: str | None = None) -> int:
        from .replication import replica
        rep = replica()
        if rep is not None:  # the cluster's count (this node's own when Redis is away)
            n = rep.profile_size(name, value)
            if n is not None:
                return n
        key = name.encode()
        if value is not None and self.has_value.get(name):
            key += b"\0" + value.encode()
        raw = self.table.get(key)
        return int(raw) if raw is not None else 0


class _RLock:
    def __init__(self):
        self._l = threading.RLock()

    def get(self):
        self._l.acquire()

    def release(self):
        self._l.release()


def parse_names(text: str | None) -> list[str]:
    """profiles_with_value / profiles_no_value: names separated by ';'."""
    if not text:
        return []
    return [n.strip() for n in text.split(";") if n.strip()]


_profiles: Profiles | None = None


def profiles() -> Profiles:
    global _profiles
    if _profiles is None:
        _profiles = Profiles([], [], shared=False)
    return _profiles


def set_profiles(p: Profiles | None):
    global _profiles
    _profiles = p
