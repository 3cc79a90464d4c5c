"""The NAT endpoints kept alive, in a shared-memory hash table every worker and the
timer process see (Kamailio: the module's NAT_Contact table).

Key: the endpoint URI "sip:ip:port" (what $source_uri gives for UDP). Value (JSON):
  s  the local socket the endpoint reached us on ("udp:ip:port")
  r  registration expiry (unix time, 0 = not registered)
  u  subscription expiry (0 = none)
  d  {dialog id: expiry} of the INVITE dialogs it takes part in
The entry's own htable expiry is the latest of these, so an endpoint whose every
condition ended is purged by the table's expire() alone. Every change is a
compare-and-swap (htable.replace), so no Python code holds a lock: a worker that dies
mid-update leaves the table consistent.
"""

from __future__ import annotations

import json
import time

from kamapy.mem.htable import SharedHashTable

DIALOG_TIMEOUT = 12 * 3600  # Kamailio's dialog default_timeout, the cap for a dialog condition

_table: list[SharedHashTable | None] = [None]


def create(size_log2: int = 9):
    """In mod_init, before the fork (512 slots, as Kamailio's HASH_SIZE)."""
    _table[0] = SharedHashTable(size_log2=size_log2, name="nat_traversal endpoints")


def table() -> SharedHashTable | None:
    return _table[0]


def source_uri(ip: str, port: int) -> str:
    host = f"[{ip}]" if ":" in ip else ip
    return f"sip:{host}:{port}"


def _decode(raw: bytes) -> dict:
    return json.loads(raw)


def _encode(rec: dict) -> bytes:
    return json.dumps(rec, separators=(",", ":"), sort_keys=True).encode()


def latest(rec: dict) -> float:
    return max([rec.get("r", 0), rec.get("u", 0), *rec.get("d", {}).values()])


def prune(rec: dict, now: float) -> dict:
    """Drop the conditions that ended by now."""
    if rec.get("r", 0) and now > rec["r"]:
        rec["r"] = 0
    if rec.get("u", 0) and now > rec["u"]:
        rec["u"] = 0
    d = rec.get("d") or {}
    rec["d"] = {k: v for k, v in d.items() if v and now <= v}
    return rec


def update(uri: str, change, socket: str | None = None, create_new: bool = True) -> dict | None:
    """Apply change(rec) -> rec (or None: leave it) to the endpoint, atomically; a new
    record is made only when create_new and socket are given. Returns the stored record."""
    t = _table[0]
    if t is None:
        return None
    key = uri.encode()
    now = time.time()
    while True:
        old = t.get(key)
        if old is None:
            if not create_new or socket is None:
                return None
            rec = change({"s": socket, "r": 0, "u": 0, "d": {}})
            if rec is None:
                return None
            exp = latest(rec)
            if exp <= now:
                return None
            if t.put_if_absent(key, _encode(rec), expires=exp):
                return rec
            continue
        rec = change(prune(_decode(old), now))
        if rec is None:
            return _decode(old)
        exp = latest(rec)
        if exp <= now:
            if t.replace(key, old, b"", expires=now - 1):
                t.delete(key)  # nothing keeps it alive any more
                return rec
            continue
        if t.replace(key, old, _encode(rec), expires=exp):
            return rec


def get(uri: str) -> dict | None:
    t = _table[0]
    if t is None:
        return None
    raw = t.get(uri.encode())
    if not raw:
        return None
    rec = prune(_decode(raw), time.time())
    return rec if latest(rec) else None


def registration(uri: str, socket: str, expire: float):
    """Keep the endpoint alive for its registration until expire (only ever extended,
    as Kamailio does for a refresh)."""
    def change(rec):
        if expire <= rec.get("r", 0):
            return None
        rec["r"] = expire
        return rec
    return update(uri, change, socket)


def end_registration(uri: str):
    """An unregister: the registration condition ends now (see docs/differences.md)."""
    def change(rec):
        if not rec.get("r"):
            return None
        rec["r"] = 0
        return rec
    return update(uri, change, create_new=False)


def subscription(uri: str, socket: str, expire: float):
    def change(rec):
        if expire <= rec.get("u", 0):
            return None
        rec["u"] = expire
        return rec
    return update(uri, change, socket)


def dialog_start(uri: str, socket: str | None, dialog_id: str, create_new: bool = True,
                 timeout: int | None = None):
    expire = time.time() + (timeout or DIALOG_TIMEOUT)

    def change(rec):
        d = rec.setdefault("d", {})
        if dialog_id in d:
            return None
        d[dialog_id] = expire
        return rec
    return update(uri, change, socket, create_new=create_new)


def dialog_end(uri: str, dialog_id: str):
    def change(rec):
        d = rec.get("d") or {}
        if dialog_id not in d:
            return None
        del d[dialog_id]
        return rec
    return update(uri, change, create_new=False)


def endpoints_with_dialog(dialog_id: str) -> list[str]:
    t = _table[0]
    if t is None:
        return []
    out = []
    for key, raw, _e, _f in t.entries():
        if raw and dialog_id in (_decode(raw).get("d") or {}):
            out.append(key.decode())
    return out


def snapshot(now: float | None = None) -> list[tuple[str, dict]]:
    """Every live endpoint as (uri, record), expired conditions dropped."""
    t = _table[0]
    if t is None:
        return []
    now = time.time() if now is None else now
    out = []
    for key, raw, _e, _f in t.entries():
        if not raw:
            continue
        rec = prune(_decode(raw), now)
        if latest(rec):
            out.append((key.decode(), rec))
    return out


def restore(uri: str, socket: str, reg: float, sub: float):
    """An entry from the state file, as it was saved."""
    def change(rec):
        rec["r"] = max(rec.get("r", 0), reg)
        rec["u"] = max(rec.get("u", 0), sub)
        return rec
    return update(uri, change, socket)
