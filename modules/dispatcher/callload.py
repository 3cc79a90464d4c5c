"""Call load distribution, algorithm 10 (Kamailio: dispatcher's ds_ht.c and the
ds_load_* functions): the dispatcher's own light call tracking by Call-ID -- no
dialog module -- in a shm table (Call-ID -> set, duid, state), each destination's
load a shm counter. ds_load_update() on BYE/CANCEL takes the call off, on a 2xx to
the INVITE confirms it; unconfirmed calls expire after ds_hash_initexpire, confirmed
ones after ds_hash_expire (the timer, every ds_hash_check_interval)."""

from __future__ import annotations

import logging
import time

import msgpack

from . import core
from . import dslist as L

log = logging.getLogger("kamapy.dispatcher")

INIT, CONFIRMED = 0, 1


def _tbl():
    return core.shared().load


def least_loaded(s: L.DsSet, flags: list[int]) -> int:
    dl = core.shared().dload
    k, t = -1, 0x7FFFFFFF
    for j, d in enumerate(s.dests):
        if L.skip(flags[j]):
            continue
        load = dl.get(d.slot)
        if d.attrs.maxload and load >= d.attrs.maxload:
            continue
        if load < t:
            k, t = j, load
    return k


def _dest_by_duid(s: L.DsSet, duid: str) -> L.Dest | None:
    low = duid.lower()
    return next((d for d in s.dests if (d.attrs.duid or "").lower() == low), None)


def add(msg, s: L.DsSet, setid: int, idx: int) -> int:
    d = s.dests[idx]
    if not d.attrs.duid:
        log.error("dst unique id not set for %d (%s)", setid, msg.callid)
        return -1
    tbl = _tbl()
    if tbl is None:
        return -1
    key = msg.callid.encode("utf-8", "surrogateescape")
    val = msgpack.packb([setid, d.attrs.duid, INIT])
    if not tbl.put_if_absent(key, val, expires=time.time() + core.cfg.hash_initexpire):
        log.error("cannot add load to %d (%s)", setid, msg.callid)
        return -1
    core.shared().dload.add(d.slot, 1)
    return 0


def _get(msg):
    tbl = _tbl()
    if tbl is None:
        return None, None
    key = msg.callid.encode("utf-8", "surrogateescape")
    raw = tbl.get(key)
    return key, (msgpack.unpackb(raw, raw=False) if raw is not None else None)


def _dec(setid: int, duid: str) -> int:
    lst = core.current()
    s = lst.find(setid) if lst is not None else None
    d = _dest_by_duid(s, duid) if s is not None else None
    if d is None:
        log.error("old destination address not found for [%d, %s]", setid, duid)
        return -1
    if core.shared().dload.add(d.slot, -1) < 0:
        core.shared().dload.set(d.slot, 0)
    return 0


def replace(msg, duid: str) -> int:
    key, cell = _get(msg)
    if cell is None:
        log.error("cannot find load for (%s)", msg.callid)
        return -1
    setid, old_duid, _st = cell
    lst = core.current()
    s = lst.find(setid) if lst is not None else None
    if s is None:
        return -1
    if _dest_by_duid(s, old_duid) is None:
        log.warning("old destination address not found for [%d, %s]", setid, old_duid)
    new = _dest_by_duid(s, duid)
    if new is None:
        log.error("new destination address not found for [%d, %s]", setid, duid)
        return -2
    _tbl().delete(key)
    _dec(setid, old_duid)
    return add(msg, s, setid, s.dests.index(new))


def remove(msg) -> int:
    key, cell = _get(msg)
    if cell is None:
        log.error("cannot find load for (%s)", msg.callid)
        return -1
    if _dec(cell[0], cell[1]) < 0:
        return -1
    _tbl().delete(key)
    return 0


def update(msg) -> int:
    try:
        cid = msg.callid
        cseq = msg.cseq
    except Exception:  # noqa: BLE001
        log.error("cannot parse cseq and callid headers")
        return -1
    if not cid:
        return -1
    if msg.is_request:
        if msg.method in ("BYE", "CANCEL"):
            remove(msg)
        return 0
    if cseq.method == "INVITE" and 200 <= msg.status < 300:
        key, cell = _get(msg)
        if cell is None:
            return -1
        cell[2] = CONFIRMED
        _tbl().put(key, msgpack.packb(cell), expires=time.time() + core.cfg.hash_expire)
    return 0


def unset(msg) -> int:
    return remove(msg)


def expire(now: float):
    """The check timer: an expired call gives its load back."""
    tbl = _tbl()
    if tbl is None:
        return
    for key, raw in tbl.expire(now):
        try:
            cell = msgpack.unpackb(raw, raw=False)
            _dec(cell[0], cell[1])
        except Exception:  # noqa: BLE001
            log.debug("dispatcher: bad load cell %r", key)
