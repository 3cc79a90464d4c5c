"""One htable: its definition and its items in shared memory (Kamailio: ht_api.c).

Items live in a kamapy.mem.htable.SharedHashTable created in the master (mod_init), so every
worker and the timer process see the same items. An item's value is stored with its
type: b"i" + decimal for an integer, b"s" + the text for a string; its expiry (whole
seconds since the epoch, 0 = never) is the entry's C header, which the timer's
expire walk reads. Every update is a compare-and-swap on the stored value, so two
workers changing one item at once never lose an update ($shtinc is atomic).

Slot numbers (htable.dump's "entry", htable.stats) are Kamailio's own: the core's
case-insensitive hash of the name masked to the table size, so the dump reads as
Kamailio's; the shm table underneath hashes on its own.
"""

from __future__ import annotations

import logging
import re
import time

log = logging.getLogger("kamapy.htable")

INT = b"i"
STR = b"s"

# where a regex runs (Kamailio: regcomp with REG_EXTENDED|REG_ICASE|REG_NEWLINE)
_RE_FLAGS = re.IGNORECASE | re.MULTILINE


def encode(value) -> bytes:
    if value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool)):
        return INT + str(_int32(value)).encode()
    return STR + str(value).encode("utf-8", "surrogateescape")


def decode(blob: bytes):
    if blob[:1] == INT:
        return int(blob[1:])
    return blob[1:].decode("utf-8", "surrogateescape")


def _int32(n: int) -> int:
    """Kamailio keeps an item's integer in a C int: it wraps at 32 bits."""
    n = int(n) & 0xFFFFFFFF
    return n - 0x100000000 if n & 0x80000000 else n


def case_hash(name: str) -> int:
    """Kamailio's core_case_hash(name) (src/core/hashes.h), chars signed as on x86."""
    data = name.encode("utf-8", "surrogateescape")
    mask = 0xFFFFFFFF

    def ch(b: int) -> int:
        if 65 <= b <= 90:
            b |= 0x20
        return b - 256 if b > 127 else b

    h = 0
    i, n = 0, len(data)
    while i <= n - 4:
        v = ((ch(data[i]) << 24) + (ch(data[i + 1]) << 16) + (ch(data[i + 2]) << 8) + ch(data[i + 3])) & mask
        h = (h + (v ^ (v >> 3))) & mask
        i += 4
    v = 0
    while i < n:
        v = ((v << 8) + ch(data[i])) & mask
        i += 1
    h = (h + (v ^ (v >> 3))) & mask
    return ((h + (h >> 11)) + ((h >> 13) + (h >> 23))) & mask


class SpecError(ValueError):
    pass


def parse_spec(text: str) -> dict:
    """'name=>size=8;autoexpire=300;...' -> the definition's attributes."""
    s = text.strip()
    head, arrow, rest = s.partition("=>")
    name = head.strip()
    if not arrow or not name or any(c in name for c in " \t\r\n="):
        raise SpecError(f"invalid htable parameter [{text}]")
    spec = {"name": name, "size": 4, "autoexpire": 0, "dbtable": "", "cols": "", "dbmode": 0,
            "initval": None, "updateexpire": 1, "dmqreplicate": 0}
    body = rest.strip()
    if body.endswith(";"):
        body = body[:-1]
    for part in body.split(";") if body else []:
        key, _eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key in ("dbtable", "cols"):
            spec[key] = value
        elif key in ("autoexpire", "size", "dbmode", "updateexpire", "dmqreplicate"):
            if not value.isdigit():
                raise SpecError(f"invalid htable parameter [{text}]")
            spec[key] = int(value)
        elif key == "initval":
            if not re.fullmatch(r"[+-]?\d+", value):
                raise SpecError(f"invalid htable parameter [{text}]")
            spec[key] = int(value)
        else:
            raise SpecError(f"invalid htable parameter [{text}]")
    if spec["cols"]:
        cols = spec["cols"].split(",")
        if len(cols) < 2:
            raise SpecError("there must be at least two columns (prefix, value)")
        if len(cols) > 8:
            raise SpecError(f"too many columns {len(cols) - 1}")
    return spec


def slots_of(size: int) -> int:
    """The number of slots Kamailio makes for `size` (ht_add_table)."""
    if size <= 1:
        return 8
    if size > 31:
        return 1 << 14
    return 1 << size


class HTable:
    """A defined table; `store` (the shm table) and `locks` come in create()."""

    def __init__(self, spec: dict):
        self.name = spec["name"]
        self.size = spec["size"]
        self.slots = slots_of(spec["size"])
        self.htexpire = spec["autoexpire"]
        self.dbtable = spec["dbtable"]
        self.cols = [c.strip() for c in spec["cols"].split(",")] if spec["cols"] else []
        self.dbmode = spec["dbmode"]
        self.initval = spec["initval"]
        self.updateexpire = spec["updateexpire"]
        self.dmqreplicate = spec["dmqreplicate"]
        self.dbload = False
        self.replica = None   # replication.Replica when the table is shared (dmqreplicate=1)
        self.store = None
        self.locks = None
        self._held: dict[int, int] = {}  # slot -> depth of this process' sht_lock

    def create(self):
        """The shm part, in the master before the fork."""
        from kamapy.mem.htable import SharedHashTable
        from kamapy.mem.lockset import LockSet
        log2 = max(3, min(self.slots.bit_length() - 1, 16))
        self.store = SharedHashTable(size_log2=log2, name=f"htable {self.name}")
        self.locks = LockSet(min(self.slots, 256), name=f"htable {self.name} sht_lock")

    # -- time -------------------------------------------------------------------

    def _now(self) -> int:
        return int(time.time()) if self.htexpire > 0 else 0

    def _expired(self, expires: float) -> bool:
        return self.htexpire > 0 and expires != 0 and expires < int(time.time())

    # -- items ------------------------------------------------------------------

    @staticmethod
    def _key(name: str) -> bytes:
        return name.encode("utf-8", "surrogateescape")

    def get(self, name: str):
        """The value (int or str), or None (absent or expired): the initval then, if any."""
        entry = self.store.get_entry(self._key(name))
        if entry is None or self._expired(entry[1]):
            return self.initval
        return decode(entry[0])

    def get_item(self, name: str):
        """(value, expires) or None -- expired items are None (htable.get)."""
        entry = self.store.get_entry(self._key(name))
        if entry is None or self._expired(entry[1]):
            return None
        return decode(entry[0]), int(entry[1])

    def exists(self, name: str) -> bool:
        return self.get_item(name) is not None

    def set(self, name: str, value, exv: int = 0) -> None:
        """Set an item (ht_set_cell_ex): exv > 0 sets its expiry to now+exv, else a new
        item gets the table's autoexpire and an updated one keeps or renews its expiry
        by updateexpire."""
        key = self._key(name)
        new = encode(value)
        now = self._now()
        store = self.store
        while True:
            entry = store.get_entry(key)
            if entry is None:
                expires = now + (exv if exv > 0 else self.htexpire)
                if store.put_if_absent(key, new, expires=float(expires)):
                    break
                continue
            old, old_expires, _flags = entry
            if exv > 0:
                # Kamailio sets the expiry on the old cell when a string grows into a
                # new one: the new cell then keeps 0 (never expires)
                if old[:1] == STR and new[:1] == STR and len(new) > len(old):
                    expires = 0
                elif old[:1] == INT and new[:1] == STR:
                    expires = 0
                else:
                    expires = now + exv
            elif self.updateexpire:
                expires = now + self.htexpire
            else:
                expires = old_expires
            if store.replace(key, old, new, expires=float(expires)):
                break
        if self.replica is not None:
            self.replica.changed(self, name)

    def delete(self, name: str) -> bool:
        ok = self.store.delete(self._key(name))
        if ok and self.replica is not None:
            self.replica.changed(self, name)
        return ok

    def add(self, name: str, delta: int):
        """$shtinc/$shtdec (ht_cell_value_add): the new integer, or None (a string
        item, or absent/expired with no initval)."""
        value = self._add(name, delta)
        if value is not None and self.replica is not None:
            self.replica.changed(self, name)  # the result travels, as a set
        return value

    def _add(self, name: str, delta: int):
        key = self._key(name)
        store = self.store
        now = self._now()
        while True:
            entry = store.get_entry(key)
            if entry is None:
                if self.initval is None:
                    return None
                value = _int32(self.initval + delta)
                if store.put_if_absent(key, encode(value), expires=float(now + self.htexpire)):
                    return value
                continue
            old, old_expires, _flags = entry
            if now > 0 and old_expires != 0 and old_expires < now:
                if self.initval is None:
                    return None
                base = self.initval
            elif old[:1] != INT:
                return None
            else:
                base = int(old[1:])
            value = _int32(base + delta)
            expires = now + self.htexpire if self.updateexpire else old_expires
            if store.replace(key, old, encode(value), expires=float(expires)):
                return value

    def set_expire(self, name: str, seconds: int) -> None:
        """$shtex write / sht_setex: expire in `seconds` (0 = never); only for an
        autoexpire table and an item that is there."""
        if self.htexpire == 0:
            return
        key = self._key(name)
        expires = int(time.time()) + seconds if seconds > 0 else 0
        while True:
            entry = self.store.get_entry(key)
            if entry is None:
                return
            if self.store.replace(key, entry[0], entry[0], expires=float(expires)):
                break
        if self.replica is not None:
            self.replica.changed(self, name)

    def get_expire(self, name: str) -> int:
        """$shtex read: seconds left (as Kamailio's unsigned difference), 0 when the
        table has no autoexpire or the item is not there."""
        if self.htexpire == 0:
            return 0
        entry = self.store.get_entry(self._key(name))
        if entry is None:
            return 0
        return (int(entry[1]) - int(time.time())) & 0xFFFFFFFF

    # -- many items -------------------------------------------------------------

    def items(self) -> list[tuple[str, object, int]]:
        """(name, value, expires) of every item, expired ones not yet removed too."""
        out = []
        for key, value, expires, _flags in self.store.entries():
            out.append((key.decode("utf-8", "surrogateescape"), decode(value), int(expires)))
        return out

    def slotted(self) -> list[tuple[int, list[tuple[str, object, int]]]]:
        """[(slot, items)] in Kamailio's order: slots ascending, items by hash id."""
        by_slot: dict[int, list] = {}
        mask = self.slots - 1
        for item in self.items():
            h = case_hash(item[0])
            by_slot.setdefault(h & mask, []).append((h, item))
        return [(slot, [it for _h, it in sorted(entries, key=lambda e: e[0])])
                for slot, entries in sorted(by_slot.items())]

    def _delete_if(self, pred) -> int:
        n = 0
        for name, value, _expires in self.items():
            if pred(name, value) and self.delete(name):
                n += 1
        return n

    def rm_re(self, pattern: str, by_value: bool) -> int:
        """sht_rm_name_re / sht_rm_value_re: -1 on a bad regex, else 0."""
        try:
            rx = re.compile(pattern, _RE_FLAGS)
        except re.error:
            log.error("bad re %s", pattern)
            return -1
        if by_value:
            self._delete_if(lambda _n, v: isinstance(v, str) and rx.search(v) is not None)
        else:
            self._delete_if(lambda n, _v: rx.search(n) is not None)
        return 0

    def rm_sw(self, prefix: str, by_value: bool) -> int:
        if by_value:
            self._delete_if(lambda _n, v: isinstance(v, str) and v.startswith(prefix))
        else:
            self._delete_if(lambda n, _v: n.startswith(prefix))
        return 0

    def _subjects(self, by_value: bool):
        """What sht_match_* and $shtcn/$shtcv test: the names, or the string values."""
        for name, value, _e in self.items():
            if not by_value:
                yield name
            elif isinstance(value, str):
                yield value

    def match(self, op: str, text: str, by_value: bool) -> int:
        """sht_match_name / sht_match_str_value: 1 when an item matches, else -1."""
        if op == "re":
            try:
                rx = re.compile(text, _RE_FLAGS)
            except re.error:
                log.error("bad re %s", text)
                return -1
        for subject in self._subjects(by_value):
            if ((op == "eq" and subject == text) or (op == "ne" and subject != text)
                    or (op == "sw" and subject.startswith(text))
                    or (op == "re" and rx.search(subject) is not None)):
                return 1
        return -1

    def count(self, expr: str, by_value: bool) -> int:
        """$shtcn / $shtcv (ht_count_cells_re): "~~re", "~%suffix", "%~prefix",
        "==text", "eqN" (integer values), "**" (all), else a regex."""
        if not expr:
            return 0
        op = 0
        two = expr[:2]
        op = {"~~": 1, "~%": 2, "%~": 3, "==": 4, "eq": 5, "**": 6}.get(two, 0) if len(expr) >= 2 else 0
        if op == 6:
            return len(self.store)
        if op:
            if len(expr) <= 2:
                return 0
            sval = expr[2:]
        else:
            sval, op = expr, 1
        if op == 5:
            if not by_value:
                return 0
            m = re.match(r"[+-]?\d+", sval)
            ival = int(m.group(0)) if m else 0
            return sum(1 for _n, v, _e in self.items() if isinstance(v, int) and v == ival)
        if op == 1:
            try:
                rx = re.compile(sval, _RE_FLAGS)
            except re.error:
                log.error("bad re %s", expr)
                return 0
        n = 0
        for subject in self._subjects(by_value):
            if op == 1:
                n += rx.search(subject) is not None
            elif op == 2:
                n += subject.endswith(sval)
            elif op == 3:
                n += subject.startswith(sval)
            elif op == 4:
                n += subject == sval
        return n

    def reset(self) -> None:
        for name, _v, _e in self.items():
            self.delete(name)

    def expire(self, now: int) -> list[tuple[str, object]]:
        """Remove the items whose expiry is before `now` (the timer); [(name, value)]."""
        if self.htexpire <= 0:
            return []
        out = []
        for key, value, _expires, _flags in self.store.expire_entries(float(now - 1)):
            out.append((key.decode("utf-8", "surrogateescape"), decode(value)))
        return out

    # -- sht_lock / sht_unlock ----------------------------------------------------

    def slot_of(self, name: str) -> int:
        return case_hash(name) & (self.slots - 1)

    def lock(self, name: str) -> None:
        """Re-entrant for this process, as Kamailio's slot lock."""
        slot = self.slot_of(name) % len(self.locks)
        depth = self._held.get(slot, 0)
        if depth == 0:
            self.locks.get(slot)
        self._held[slot] = depth + 1

    def unlock(self, name: str) -> None:
        slot = self.slot_of(name) % len(self.locks)
        depth = self._held.get(slot, 0)
        if depth <= 0:
            log.error("htable %s: slot of [%s] is not locked by this process", self.name, name)
            return
        if depth == 1:
            del self._held[slot]
            self.locks.release(slot)
        else:
            self._held[slot] = depth - 1
