"""Locks and lock sets in shared memory (Kamailio's gen_lock_t / gen_lock_set_t,
src/core/lock_ops.h).

The default method, "mutex", is a process-shared *robust* pthread mutex living in the
shm pool: when a process dies holding one, the next get() takes it over (EOWNERDEAD),
logs a WARNING on the "kamapy.lock" logger naming the lock, counts it in `recoveries`
and calls the `repair` callback, if any, with the lock held. Each get/release is one
cffi call.

method="sysv" is the fallback: one System V semaphore per lock, taken with SEM_UNDO so
the kernel releases it for a dead holder; a holder-pid slot in shm tells the next
get() that this happened, with the same warning, counter and callback. It is about
five times slower; destroy() must remove the semaphores (the kernel keeps them).

Kamailio-named aliases: lock_get/lock_try/lock_release on Lock, lock_set_get/
lock_set_try/lock_set_release on LockSet. Unlike Kamailio's lock_try (0 = got it),
the try variants here return True when the lock was acquired.
"""

import contextlib
import errno
import logging
import os

from kamapy._native._kamapy_native import ffi, lib
from kamapy.mem.counters import CounterArray
from kamapy.mem.shm import ShmExhausted, resolve_pool

__all__ = ["Lock", "LockSet", "METHODS"]

log = logging.getLogger("kamapy.lock")

METHODS = ("mutex", "sysv")

_lock_get = lib.kp_lock_get
_lock_try = lib.kp_lock_try
_lock_release = lib.kp_lock_release


def _misuse(rc, what, name):
    if rc == errno.EINVAL:
        return IndexError(f"{what}: index out of range for lock set {name}")
    if rc == errno.EDEADLK:
        return RuntimeError(f"{what}: {name} is already held by this process")
    if rc == errno.EPERM:
        return RuntimeError(f"{what}: {name} is not held by this process")
    return OSError(rc, f"{what} {name}: {os.strerror(rc)}")


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"unknown lock method {method!r} (one of {', '.join(METHODS)})")


class Lock:
    """One lock in shm. Lock(pool=None, name=None, method="mutex", repair=None);
    repair(lock) runs after a dead holder's lock was taken over, with the lock held."""

    method = "mutex"

    def __new__(cls, pool=None, name=None, method="mutex", repair=None):
        _check_method(method)
        if cls is Lock and method == "sysv":
            cls = SysvLock
        return super().__new__(cls)

    def __init__(self, pool=None, name=None, method="mutex", repair=None):
        self.pool = resolve_pool(pool)
        self.repair = repair
        self._lock = lib.kp_lock_new(self.pool.ptr)
        if self._lock == ffi.NULL:
            raise ShmExhausted("shm pool exhausted: cannot allocate a lock")
        self.name = name or f"lock@{int(ffi.cast('uintptr_t', self._lock)):#x}"

    def get(self):
        rc = _lock_get(self._lock)
        if rc:
            self._after_get(rc, "lock get")

    def try_get(self):
        """True if the lock was acquired, False if someone else holds it."""
        rc = _lock_try(self._lock)
        if rc:
            if rc == errno.EBUSY:
                return False
            self._after_get(rc, "lock try")
        return True

    def release(self):
        rc = _lock_release(self._lock)
        if rc:
            raise _misuse(rc, "lock release", self.name)

    def _after_get(self, rc, what):
        if rc != errno.EOWNERDEAD:
            raise _misuse(rc, what, self.name)
        log.warning("lock %s: its holder died while holding it; lock recovered", self.name)
        if self.repair is not None:
            try:
                self.repair(self)
            except BaseException:
                self.release()
                raise

    @property
    def recoveries(self):
        """Times this lock was taken over from a dead holder (all processes)."""
        return lib.kp_lock_recoveries(self._lock)

    def destroy(self):
        """Give the lock's memory back; nobody may use it afterwards."""
        if self._lock is not None:
            lib.kp_lock_free(self.pool.ptr, self._lock)
            self._lock = None

    def __enter__(self):
        self.get()
        return self

    def __exit__(self, *exc):
        self.release()

    lock_get = get
    lock_try = try_get
    lock_release = release

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} method={self.method}>"


class LockSet:
    """n locks in shm. LockSet(n, pool=None, name=None, method="mutex", repair=None);
    repair(lockset, i) runs after lock i was taken over from a dead holder."""

    method = "mutex"

    def __new__(cls, n, pool=None, name=None, method="mutex", repair=None):
        _check_method(method)
        if cls is LockSet and method == "sysv":
            cls = SysvLockSet
        return super().__new__(cls)

    def __init__(self, n, pool=None, name=None, method="mutex", repair=None):
        if n < 1:
            raise ValueError("a lock set needs at least one lock")
        self.pool = resolve_pool(pool)
        self.size = n
        self.repair = repair
        self._set = lib.kp_lockset_new(self.pool.ptr, n)
        if self._set == ffi.NULL:
            raise ShmExhausted(f"shm pool exhausted: cannot allocate a set of {n} locks")
        self.name = name or f"lockset@{int(ffi.cast('uintptr_t', self._set)):#x}"
        # One pointer per lock: calling a one-argument C function is about 30 ns cheaper
        # from Python than kp_lockset_get(set, i). The list also bounds-checks i.
        self._locks = [lib.kp_lockset_lock(self._set, i) for i in range(n)]

    def __len__(self):
        return self.size

    def lock_ptr(self, i):
        """The kp_lock_t * of lock i, for C calls that take or release it themselves."""
        return self._locks[i]

    def get(self, i):
        rc = _lock_get(self._locks[i])
        if rc:
            self._after_get(rc, i, "lock_set_get")

    def try_get(self, i):
        rc = _lock_try(self._locks[i])
        if rc:
            if rc == errno.EBUSY:
                return False
            self._after_get(rc, i, "lock_set_try")
        return True

    def release(self, i):
        rc = _lock_release(self._locks[i])
        if rc:
            self.release_failed(rc, i)

    def release_failed(self, rc, i):
        """Raise for a failed release of lock i (kp_lock_release returned rc)."""
        raise _misuse(rc, "lock_set_release", f"{self.name}[{i}]")

    def _after_get(self, rc, i, what):
        if rc != errno.EOWNERDEAD:
            raise _misuse(rc, what, f"{self.name}[{i}]")
        log.warning("lock %s[%d]: its holder died while holding it; lock recovered", self.name, i)
        if self.repair is not None:
            try:
                self.repair(self, i)
            except BaseException:
                self.release(i)
                raise

    @contextlib.contextmanager
    def held(self, i):
        """`with locks.held(i):` takes and releases lock i."""
        self.get(i)
        try:
            yield self
        finally:
            self.release(i)

    @property
    def recoveries(self):
        """Times any lock of the set was taken over from a dead holder."""
        return lib.kp_lockset_recoveries(self._set)

    def destroy(self):
        if self._set is not None:
            lib.kp_lockset_free(self.pool.ptr, self._set)
            self._set = None
            self._locks = []

    lock_set_get = get
    lock_set_try = try_get
    lock_set_release = release

    def __repr__(self):
        return f"<{type(self).__name__} {self.name} size={self.size} method={self.method}>"


BUSY, ACQUIRED, RECOVERED = range(3)


class _SysvLocks:
    """n System V semaphores plus, in shm, a holder pid and a recovery count per lock."""

    def __init__(self, n, pool):
        import sysv_ipc  # only the fallback needs it

        self._busy = sysv_ipc.BusyError
        self.sems = []
        try:
            for _ in range(n):
                sem = sysv_ipc.Semaphore(sysv_ipc.IPC_PRIVATE, sysv_ipc.IPC_CREX, 0o600, 1)
                sem.undo = True  # the kernel gives it back if we die holding it
                self.sems.append(sem)
            # slot 2i: pid of the holder (0 = free); slot 2i+1: recoveries
            self.meta = CounterArray(2 * n, pool=pool)
        except BaseException:
            self.remove()
            raise

    def acquire(self, i, block, name):
        """BUSY (non-blocking and held elsewhere), ACQUIRED, or RECOVERED (acquired from
        a holder that died)."""
        meta, pid = self.meta, os.getpid()
        if meta.get(2 * i) == pid:
            raise RuntimeError(f"lock get: {name} is already held by this process")
        sem = self.sems[i]
        if block:
            sem.acquire()
        else:
            sem.block = False
            try:
                sem.acquire()
            except self._busy:
                return BUSY
            finally:
                sem.block = True
        dead = meta.get(2 * i)
        meta.set(2 * i, pid)
        if not dead:
            return ACQUIRED
        meta.add(2 * i + 1, 1)
        log.warning("lock %s: its holder (pid %d) died while holding it; lock recovered", name, dead)
        return RECOVERED

    def release(self, i, name):
        if self.meta.get(2 * i) != os.getpid():
            raise RuntimeError(f"lock release: {name} is not held by this process")
        self.meta.set(2 * i, 0)  # cleared first: a holder pid left behind means it died
        self.sems[i].release()

    def recoveries(self):
        return sum(self.meta.get(2 * i + 1) for i in range(len(self.sems)))

    def remove(self):
        for sem in self.sems:
            with contextlib.suppress(Exception):
                sem.remove()
        self.sems = []
        meta = getattr(self, "meta", None)
        if meta is not None:
            meta.destroy()
            self.meta = None


class _SysvBacked:
    """What SysvLock and SysvLockSet share: both hold their semaphores in self._sv."""

    __slots__ = ()

    @property
    def recoveries(self):
        return self._sv.recoveries()

    def destroy(self):
        """Remove the semaphores from the kernel (they outlive the processes otherwise)."""
        self._sv.remove()


class SysvLock(_SysvBacked, Lock):
    """Lock(method="sysv")."""

    method = "sysv"

    def __init__(self, pool=None, name=None, method="sysv", repair=None):
        self.pool = resolve_pool(pool)
        self.repair = repair
        self._sv = _SysvLocks(1, self.pool)
        self.name = name or f"semlock#{self._sv.sems[0].id}"

    def get(self):
        if self._sv.acquire(0, True, self.name) == RECOVERED:
            self._repair()

    def try_get(self):
        got = self._sv.acquire(0, False, self.name)
        if got == RECOVERED:
            self._repair()
        return got != BUSY

    def release(self):
        self._sv.release(0, self.name)

    def _repair(self):
        if self.repair is not None:
            try:
                self.repair(self)
            except BaseException:
                self.release()
                raise

    lock_get = get
    lock_try = try_get
    lock_release = release


class SysvLockSet(_SysvBacked, LockSet):
    """LockSet(n, method="sysv")."""

    method = "sysv"

    def __init__(self, n, pool=None, name=None, method="sysv", repair=None):
        if n < 1:
            raise ValueError("a lock set needs at least one lock")
        self.pool = resolve_pool(pool)
        self.size = n
        self.repair = repair
        self._sv = _SysvLocks(n, self.pool)
        self.name = name or f"semlockset#{self._sv.sems[0].id}"

    def _index(self, i):
        if not 0 <= i < self.size:
            raise IndexError(f"index {i} out of range for lock set {self.name}")
        return i

    def get(self, i):
        if self._sv.acquire(self._index(i), True, f"{self.name}[{i}]") == RECOVERED:
            self._repair(i)

    def try_get(self, i):
        got = self._sv.acquire(self._index(i), False, f"{self.name}[{i}]")
        if got == RECOVERED:
            self._repair(i)
        return got != BUSY

    def release(self, i):
        self._sv.release(self._index(i), f"{self.name}[{i}]")

    def _repair(self, i):
        if self.repair is not None:
            try:
                self.repair(self, i)
            except BaseException:
                self.release(i)
                raise

    lock_set_get = get
    lock_set_try = try_get
    lock_set_release = release
