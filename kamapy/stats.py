"""Statistics: named counters in shared memory, grouped by module (Kamailio: counters.c,
the kex/stats API behind stats.get_statistics).

A group is declared before the fork (the loader does it for each module's
`exports.stats`, the core for its own). Each counter has one part per process in shm
(kamapy.mem.proc_counters, as Kamailio's counters.c): a process adds to its own part with
a plain memory write, a read sums the parts. Hot paths keep the Stat object and call
inc() on it.
"""

from __future__ import annotations


class Stat:
    __slots__ = ("group", "name", "_arr", "_i")

    def __init__(self, group: str, name: str, arr, i: int):
        self.group = group
        self.name = name
        self._arr = arr
        self._i = i

    # the hot path: a plain add to this process' row (kamapy.mem.proc_counters)
    def inc(self, n: int = 1):
        self._arr.row[self._i] += n

    def dec(self, n: int = 1):
        self._arr.row[self._i] -= n

    def get(self) -> int:
        return self._arr.get(self._i)

    def set(self, value: int):
        self._arr.set(self._i, value)

    def reset(self):
        self._arr.set(self._i, 0)


def together(*stats: Stat):
    """Counters that always move together (a request: rcv_requests and its method's):
    the object's inc() adds 1 to each, in one Python call."""
    arr = stats[0]._arr if stats else None
    if stats and all(st._arr is arr for st in stats):
        if len(stats) == 2:
            return _StatPair(arr, stats[0]._i, stats[1]._i)
        return _StatRow(arr, tuple(st._i for st in stats))
    return _StatEach(stats)


class _StatPair:
    """Two counters of one array (one group declared at once): both added in place in
    this process' row."""
    __slots__ = ("_arr", "_a", "_b")

    def __init__(self, arr, a: int, b: int):
        self._arr = arr
        self._a = a
        self._b = b

    def inc(self):
        row = self._arr.row  # read each time: bind_process() gives a child its own row
        row[self._a] += 1
        row[self._b] += 1


class _StatRow:
    """Any number of counters of one array, added in place in this process' row."""
    __slots__ = ("_arr", "_idx")

    def __init__(self, arr, idx: tuple):
        self._arr = arr
        self._idx = idx

    def inc(self):
        row = self._arr.row
        for i in self._idx:
            row[i] += 1


class _StatEach:
    __slots__ = ("_stats",)

    def __init__(self, stats):
        self._stats = tuple(stats)

    def inc(self):
        for st in self._stats:
            st.inc()


class StatGroup:
    def __init__(self, name: str, names: list[str]):
        self.name = name
        self._arr = _counter_array(max(1, len(names)))
        self.stats = {n: Stat(name, n, self._arr, i) for i, n in enumerate(names)}

    def __getitem__(self, name: str) -> Stat:
        return self.stats[name]

    def values(self) -> dict[str, int]:
        """Every counter of the group, in declaration order (several shm arrays may back
        one group after extend())."""
        return {n: s.get() for n, s in self.stats.items()}


class _LocalCounters:
    """Counters in private memory, for code run without a server (unit tests, -c)."""

    def __init__(self, n: int):
        self.row = [0] * n

    def get(self, i):
        return self.row[i]

    def set(self, i, v):
        self.row[i] = v


def _counter_array(n: int):
    from .mem import shm
    from .mem.proc_counters import ProcessCounters
    try:
        shm.pool()
    except RuntimeError:
        return _LocalCounters(n)
    return ProcessCounters(n)


def bind_process(row: int):
    """After the fork: this process counts in its own row (its process-table slot)."""
    from .mem.proc_counters import bind_process as bind
    bind(row)


_groups: dict[str, StatGroup] = {}

# the core's own statistics (Kamailio's "core:" group)
CORE_STATS = [
    "rcv_requests", "rcv_requests_invite", "rcv_requests_cancel", "rcv_requests_ack",
    "rcv_requests_bye", "rcv_requests_info", "rcv_requests_register", "rcv_requests_subscribe",
    "rcv_requests_notify", "rcv_requests_message", "rcv_requests_options", "rcv_requests_prack",
    "rcv_requests_update", "rcv_requests_refer", "rcv_requests_publish", "rcv_requests_kdmq",
    "rcv_replies", "rcv_replies_1xx", "rcv_replies_18x", "rcv_replies_2xx", "rcv_replies_3xx",
    "rcv_replies_4xx", "rcv_replies_5xx", "rcv_replies_6xx",
    "fwd_requests", "fwd_replies", "drop_requests", "drop_replies", "err_requests", "err_replies",
    "bad_URIs_rcvd", "unsupported_methods", "bad_msg_hdr",
]


def declare(group: str, names: list[str]) -> StatGroup:
    """Create (once) the counters of a group; a second declaration returns the first."""
    g = _groups.get(group)
    if g is None:
        g = _groups[group] = StatGroup(group, list(names))
    return g


def extend(group_name: str, names: list[str]) -> StatGroup:
    """Add counters to a group (declaring it if new): a module that learns its names
    late (usrloc's tables, known in mod_init) still gets them before the fork."""
    g = _groups.get(group_name)
    if g is None:
        return declare(group_name, names)
    missing = [n for n in names if n not in g.stats]
    if missing:
        g.stats.update(StatGroup(group_name, missing).stats)
    return g


# group(name) -> StatGroup | None: the dict's own get, not a Python call over it (sl
# looks its group up on every reply)
group = _groups.get


def stat(group_name: str, name: str) -> Stat | None:
    g = _groups.get(group_name)
    return g.stats.get(name) if g else None


def groups() -> dict[str, StatGroup]:
    return dict(_groups)
