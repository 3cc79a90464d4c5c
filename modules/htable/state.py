"""The module's tables by name (defined by the htable modparams, their shm made in
mod_init), the item an expiry event runs for, and the script iterators (per process,
as Kamailio's are)."""

from __future__ import annotations

import logging

from .table import HTable, parse_spec

log = logging.getLogger("kamapy.htable")

# name -> HTable, in definition order (Kamailio lists the newest first); built from
# the htable modparam values `source()` gives (the module's), rebuilt when they change
# (a new config loaded in the same process)
_tables: dict[str, HTable] = {}
_built_from: tuple = ()
source = None

# (name, value) of the item event_route[htable:expired:<table>] runs for
expired_record = None

ITERATORS = 4
_iterators: dict[str, dict] = {}


def _sync() -> dict[str, HTable]:
    global _built_from
    texts = tuple(source()) if source is not None else ()
    if texts != _built_from:
        _tables.clear()
        _iterators.clear()
        for text in texts:
            spec = parse_spec(str(text))
            _tables[spec["name"]] = HTable(spec)
        _built_from = texts
    return _tables


def table(name: str) -> HTable | None:
    """The table (with its shm made), or None."""
    t = _tables.get(name)
    if t is None:
        t = _sync().get(name)
    if t is None or t.store is None:
        return None
    return t


def defined(name: str) -> HTable | None:
    return _sync().get(name)


def tables() -> list[HTable]:
    """Kamailio's table list order: the last defined first."""
    return list(reversed(list(_sync().values())))


# -- sht_iterator_* --------------------------------------------------------------

def iterator_start(iname: str, hname: str) -> int:
    if iname not in _iterators and len(_iterators) >= ITERATORS:
        log.error("no iterator available - max number is %d", ITERATORS)
        return -1
    if len(iname) >= 32:
        log.error("iterator name is too big [%s] (max 32)", iname)
        return -1
    t = table(hname)
    if t is None:
        _iterators[iname] = {"table": None, "items": [], "pos": -1}
        log.error("cannot get hash table [%s]", hname)
        return -1
    items = [item for _slot, slot_items in t.slotted() for item in slot_items]
    _iterators[iname] = {"table": t, "items": items, "pos": -1}
    return 0


def _iterator(iname: str):
    it = _iterators.get(iname)
    if it is None:
        log.error("iterator not found [%s]", iname)
        return None
    if it["table"] is None:
        log.error("iterator not initialized [%s]", iname)
        return None
    return it


def iterator_next(iname: str) -> int:
    it = _iterator(iname)
    if it is None:
        return -1
    it["pos"] += 1
    if it["pos"] >= len(it["items"]):
        it["pos"] = len(it["items"])
        return -1
    return 0


def iterator_end(iname: str) -> int:
    if _iterators.pop(iname, None) is None:
        log.error("iterator not found [%s]", iname)
        return -1
    return 0


def iterator_current(iname: str):
    it = _iterators.get(iname)
    if it is None or not 0 <= it["pos"] < len(it["items"]):
        return None
    name, value, _expires = it["items"][it["pos"]]
    return name, value


def _iterator_at(iname: str):
    """(iterator, current item) for an iterator that stands on an item, else None (logged)."""
    it = _iterator(iname)
    if it is None:
        return None
    cur = iterator_current(iname)
    if cur is None:
        log.error("iterator not used [%s]", iname)
        return None
    return it, cur


def iterator_rm(iname: str) -> int:
    """Remove the current item and step to the next: 0, or -2 at the end."""
    at = _iterator_at(iname)
    if at is None:
        return -1
    it, cur = at
    it["table"].delete(cur[0])
    del it["items"][it["pos"]]
    if it["pos"] >= len(it["items"]):
        return -2
    return 0


def iterator_set(iname: str, value) -> int:
    at = _iterator_at(iname)
    if at is None:
        return -1
    it, cur = at
    it["table"].set(cur[0], value)
    name, _old, expires = it["items"][it["pos"]]
    it["items"][it["pos"]] = (name, value, expires)
    return 0


def iterator_setex(iname: str, seconds: int) -> int:
    at = _iterator_at(iname)
    if at is None:
        return -1
    it, cur = at
    it["table"].set_expire(cur[0], seconds)
    return 0
