"""Says so in the log when a lock had to be taken over from a dead process.

Locks taken from Python log it themselves (kamapy.mem.lockset); the ones C takes inside
one call -- the shm pool's lock, the bucket locks of a shared hash table -- can only
count it. The timer process looks at those counts once a second and logs what moved:
the process that died was in the middle of a change to that structure, which is worth
a line even when, as usually, the change was one pointer write and nothing is lost
(the pool checks its heap on such a take-over: kamapy.mem.shm).
"""

from __future__ import annotations

import logging
import weakref

log = logging.getLogger("kamapy.locks")

INTERVAL = 1.0

# name -> (weak reference to an object with .recoveries, last count seen)
_watched: dict[str, tuple[weakref.ref, int]] = {}


def watch(name: str, obj):
    """Report take-overs of obj's locks (obj.recoveries: a count shared by every
    process) under this name from now on."""
    _watched[name] = (weakref.ref(obj), _count(obj))


def _count(obj) -> int:
    try:
        return int(obj.recoveries)
    except Exception:  # a structure already destroyed (tests): nothing to report
        return 0


def check(_now: float = 0.0):
    """The timer job: a warning per structure whose take-over count went up."""
    for name, (ref, seen) in list(_watched.items()):
        obj = ref()
        if obj is None:
            del _watched[name]
            continue
        n = _count(obj)
        if n > seen:
            log.warning("%s: %d lock take-over(s) from a process that died holding the lock "
                        "(total %d)", name, n - seen, n)
            _watched[name] = (ref, n)


def register():
    """Run check() in the timer process (called at start-up, before the fork)."""
    from ..timer import register_timer
    register_timer("lock watch", INTERVAL, check)
