"""testkit: a module for the server tests (loaded with -L tests/modules).

It does on purpose what a buggy module might: exhaust shared memory, or die while
holding a lock, so the tests can check that the server answers and recovers.
"""

from __future__ import annotations

import os
import signal

from kamapy.module import Function, ModuleExports

_state = {}


def mod_init():
    from kamapy.mem.lockset import Lock
    _state["lock"] = Lock()


def shm_hog(msg) -> int:
    """Allocate shared memory until the pool runs out; the ShmExhausted that escapes
    must turn into a 500 reply. What was taken is given back first."""
    from kamapy.mem import shm
    pool = shm.pool()
    taken = []
    try:
        while True:
            taken.append(pool.malloc(64 * 1024))
    finally:
        for addr in taken:
            pool.free(addr)


def lock_and_die(msg) -> int:
    """Take the shared lock and die with it held (SIGKILL: no cleanup at all)."""
    _state["lock"].get()
    os.kill(os.getpid(), signal.SIGKILL)
    return 1


def with_lock(msg) -> int:
    lock = _state["lock"]
    lock.get()
    lock.release()
    return 1


exports = ModuleExports(
    name="testkit",
    functions=[
        Function("shm_hog", shm_hog),
        Function("lock_and_die", lock_and_die),
        Function("with_lock", with_lock),
    ],
    mod_init=mod_init,
)
