"""The stats.* RPC commands over kamapy.stats (Kamailio: modules/kex/core_stats.c).

A statistic is named "group:name" ("core:rcv_requests", "tm:UAS_transactions").
A parameter selects: "all", a whole group ("tm:"), or one statistic by its bare name
("rcv_requests"); stats.fetch also takes "group.name" / "group:name". Groups and the
names in them come out sorted, as Kamailio's counters print.

Besides the counters the loader declares, the "shmem:" group reads the shm pool
(total_size, used_size, real_used_size, max_used_size, free_size, fragments); its
values cannot be reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import stats
from ..module import RpcCommand
from .errors import RpcError
from .params import str_params
from .shm_info import shm_info

SHMEM_GROUP = "shmem"
_SHMEM_NAMES = {
    "total_size": "total", "used_size": "used", "real_used_size": "real_used",
    "max_used_size": "max_used", "free_size": "free", "fragments": "fragments",
}


@dataclass
class StatEntry:
    group: str
    name: str
    read: Callable[[], int]
    reset: Callable[[], None]

    @property
    def line(self) -> str:
        return f"{self.group}:{self.name} = {self.read()}"


def _no_reset():
    pass


def _shmem_entries() -> list[StatEntry]:
    if shm_info() is None:
        return []

    def reader(field):
        return lambda: (shm_info() or {}).get(field, 0)

    return [StatEntry(SHMEM_GROUP, name, reader(field), _no_reset) for name, field in _SHMEM_NAMES.items()]


def _groups() -> list[tuple[str, list[StatEntry]]]:
    """Every group (declaration order) with its statistics."""
    out = []
    for gname, group in stats.groups().items():
        out.append((gname, [StatEntry(gname, s.name, s.get, s.reset) for s in group.stats.values()]))
    shmem = _shmem_entries()
    if shmem and SHMEM_GROUP not in dict(out):
        out.append((SHMEM_GROUP, shmem))
    return out


def _sorted(entries: list[StatEntry]) -> list[StatEntry]:
    return sorted(entries, key=lambda e: e.name)


def select(selector: str, qualified_names: bool = False) -> list[StatEntry]:
    """The statistics a selector names (see the module doc). `qualified_names` also
    accepts "group.name" and "group:name" for one statistic (stats.fetch)."""
    groups = _groups()
    if selector == "all":
        return [e for _g, entries in sorted(groups, key=lambda g: g[0]) for e in _sorted(entries)]
    if selector.endswith(":"):
        wanted = selector[:-1]
        return next((_sorted(entries) for g, entries in groups if g == wanted), [])
    for _g, entries in groups:
        for e in entries:
            if e.name == selector:
                return [e]
    if qualified_names:
        for sep in (".", ":"):
            gname, found, name = selector.partition(sep)
            if found:
                for g, entries in groups:
                    if g == gname:
                        return [e for e in entries if e.name == name]
    return []


def _selectors(params, missing: str) -> list[str]:
    names = str_params(params, convert=False)
    if not names:
        raise RpcError(400, missing)
    return names


def get_statistics(_rpc, params):
    lines = []
    for selector in _selectors(params, "Please provide which stats to retrieve"):
        lines += [e.line for e in select(selector)]
    return lines


def _fetch(params, numeric: bool) -> dict:
    out = {}
    for selector in _selectors(params, "Please provide which stats to retrieve"):
        for e in select(selector, qualified_names=True):
            value = e.read()
            out[f"{e.group}.{e.name}"] = value if numeric else str(value)
    return out


def fetch(_rpc, params):
    return _fetch(params, numeric=False)


def fetchn(_rpc, params):
    return _fetch(params, numeric=True)


def reset_statistics(_rpc, params):
    for selector in _selectors(params, "Please provide stats name"):
        for e in select(selector):
            e.reset()
    return None


def clear_statistics(_rpc, params):
    """Reset and report "group:name = new (old)". Kamailio's command is not marked as
    returning an array, so its jsonrpcs reply keeps only the last line printed; the
    same is answered here so that clients see the same reply."""
    last = None
    for selector in _selectors(params, "Please provide stats name"):
        for e in select(selector):
            old = e.read()
            e.reset()
            new = e.read()
            last = f"{e.group}:{e.name} = {new}" if old == new else f"{e.group}:{e.name} = {new} ({old})"
    return last


STATS_COMMANDS = [
    RpcCommand("stats.get_statistics", get_statistics, "get core and modules stats"),
    RpcCommand("stats.fetch", fetch, "fetch core and modules stats as string values"),
    RpcCommand("stats.fetchn", fetchn, "fetch core and modules stats as number values"),
    RpcCommand("stats.reset_statistics", reset_statistics, "reset core and modules stats (silent operation)"),
    RpcCommand("stats.clear_statistics", clear_statistics, "clear core and modules stats (verbose operation)"),
]
