"""ChangeCounter: a version number in shm that whoever changes shared settings bumps,
and the value this process last acted on, so that a refresh costs one counter read
when nothing changed (cfg_rpc's variables, debugger's per-module levels)."""

from __future__ import annotations


class ChangeCounter:
    __slots__ = ("_c", "_seen")

    def __init__(self):
        self._c = None     # CounterArray(1), after create()
        self._seen = -1

    def create(self) -> None:
        """The shm counter (the master, before the fork)."""
        from kamapy.mem.counters import CounterArray
        self._c = CounterArray(1)

    def reset(self) -> None:
        """Forget the counter (tests, a new config)."""
        self._c = None
        self._seen = -1

    @property
    def created(self) -> bool:
        return self._c is not None

    def bump(self) -> None:
        self._c.add(0, 1)

    def mark_seen(self) -> None:
        """This process is up to date with what the counter says now."""
        self._seen = self._c.get(0)

    def forget_seen(self) -> None:
        """Make the next changed() true (re-apply everything)."""
        self._seen = -1

    def changed(self) -> bool:
        """True once per bump since this process last looked; False before create()."""
        if self._c is None:
            return False
        v = self._c.get(0)
        if v == self._seen:
            return False
        self._seen = v
        return True
