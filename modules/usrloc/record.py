"""An address-of-record with its contacts (Kamailio's urecord_t), and its form in shm:

    value = HEADER(earliest expiry, flags) + msgpack([contacts, deleted_ruids])

The fixed header lets the timer find records with something to do (a contact due to
expire, unsaved write-back changes) without unpacking them. `deleted` holds the ruids
of contacts removed in memory but not yet from the DB (db_mode 2).

A URecord is private: take the AOR lock (UDomain.lock), get it, change it through
the methods below, and UDomain.save() it -- the methods note each change in `changes`
so save() can write the DB, count the statistics and run the callbacks.
"""

from __future__ import annotations

import struct
import time

import msgpack

from .contact import (
    C_CALLID,
    C_CONTACT,
    C_CSEQ,
    C_EXPIRES,
    C_INSTANCE,
    C_LAST_MODIFIED,
    C_PATH,
    C_Q,
    C_REG_ID,
    C_STATE,
    UContact,
)
from .settings import CONTACT_CALLID, CONTACT_CALLID_ONLY, CONTACT_ONLY, CONTACT_PATH, cfg

HEADER = struct.Struct("<dI")
_pack_header = HEADER.pack
_HSIZE = HEADER.size
REC_DIRTY = 1  # unsaved write-back changes

INSERT, UPDATE, DELETE = "insert", "update", "delete"

_packb = msgpack.Packer(use_bin_type=True).pack
_unpackb = msgpack.unpackb


class URecord:
    __slots__ = ("aor", "contacts", "deleted", "changes", "existed")

    def __init__(self, aor: str, contacts=None, deleted=None, existed: bool = False):
        self.aor = aor
        self.contacts: list[UContact] = contacts if contacts is not None else []
        self.deleted: list[str] = deleted if deleted is not None else []
        self.changes: list[tuple[str, UContact]] = []
        self.existed = existed

    # ------------------------------------------------------------------ shm form
    def pack(self) -> bytes:
        return self.pack_with_header()[0]

    def pack_with_header(self) -> tuple[bytes, float, int]:
        """(packed record, earliest expiry, flags): the blob and what its header says."""
        return URecord.pack_contacts(self.contacts, self.deleted)

    @staticmethod
    def pack_contacts(contacts, deleted) -> tuple[bytes, float, int]:
        flags = REC_DIRTY if deleted else 0
        soonest = 0.0
        for c in contacts:
            if c[C_STATE] != 1:
                flags = REC_DIRTY
            e = c[C_EXPIRES]
            if e and (soonest == 0.0 or e < soonest):
                soonest = e
        return _pack_header(soonest, flags) + _packb((contacts, deleted)), float(soonest), flags

    @classmethod
    def unpack(cls, aor: str, blob: bytes) -> URecord:
        contacts, deleted = _unpackb(blob[HEADER.size:])
        return cls(aor, [UContact(c) for c in contacts], deleted, True)

    def earliest_expiry(self) -> float:
        soonest = 0.0
        for c in self.contacts:
            e = c[C_EXPIRES]
            if e and (soonest == 0.0 or e < soonest):
                soonest = e
        return soonest

    # ------------------------------------------------------------------ queries
    def valid_contacts(self, now: float | None = None) -> list[UContact]:
        now = time.time() if now is None else now
        return [c for c in self.contacts if c.valid(now)]

    def get_ucontact(self, contact: str, callid: str, path: str, cseq: int):
        """Find the binding a REGISTER contact refers to (Kamailio's get_ucontact):
        (0, c) found; (1, None) not found; (-1, c) out-of-order CSeq for the same
        Call-ID; (-2, c) a retransmission within cseq_delay (to be skipped)."""
        mode = cfg.matching_mode
        found = None
        for c in self.contacts:
            if mode == CONTACT_ONLY:
                hit = c[C_CONTACT] == contact
            elif mode == CONTACT_CALLID:
                hit = c[C_CONTACT] == contact and c[C_CALLID] == callid
            elif mode == CONTACT_PATH:
                hit = c[C_CONTACT] == contact and (not path or c[C_PATH] == path)
            elif mode == CONTACT_CALLID_ONLY:
                hit = c[C_CALLID] == callid
            else:
                hit = False
            if hit:
                found = c
                break
        if found is None:
            return 1, None
        if mode == CONTACT_CALLID or found[C_CALLID] == callid:
            if cseq < found[C_CSEQ]:
                return -1, found
            if cseq == found[C_CSEQ]:
                if found[C_LAST_MODIFIED] + cfg.cseq_delay > time.time():
                    return -2, found
                return -1, found
        return 0, found

    def get_by_instance(self, contact: str, instance: str, reg_id: int, callid: str, path: str, cseq: int):
        """By +sip.instance and reg-id when the REGISTER has an instance (RFC 5626),
        else as get_ucontact (Kamailio's get_ucontact_by_instance)."""
        if not instance:
            return self.get_ucontact(contact, callid, path, cseq)
        want = _strip_angle(instance)
        for c in self.contacts:
            if c[C_INSTANCE] and c[C_REG_ID] == reg_id and _strip_angle(c[C_INSTANCE]) == want:
                return 0, c
        return 1, None

    def find_ruid(self, ruid: str) -> UContact | None:
        for c in self.contacts:
            if c.ruid == ruid:
                return c
        return None

    # ------------------------------------------------------------------ changes
    def insert_contact(self, c: UContact) -> UContact:
        """Add a binding at its place: by q, highest first (equal q: older first), or
        newest first with desc_time_order."""
        self._place(c)
        self.changes.append((INSERT, c))
        return c

    def update_contact(self, c: UContact) -> UContact:
        """Note that c (already in the record) changed; move it if its order changed."""
        if cfg.desc_time_order or len(self.contacts) > 1:
            self.contacts.remove(c)
            self._place(c)
        self.changes.append((UPDATE, c))
        return c

    def delete_contact(self, c: UContact):
        self.contacts.remove(c)
        self.changes.append((DELETE, c))

    def delete_all(self):
        for c in list(self.contacts):
            self.delete_contact(c)

    def _place(self, c: UContact):
        contacts = self.contacts
        if cfg.desc_time_order:
            contacts.insert(0, c)
            return
        q = c[C_Q]
        for i, other in enumerate(contacts):
            if other[C_Q] < q:
                contacts.insert(i, c)
                return
        contacts.append(c)


def _strip_angle(s: str) -> str:
    return s[1:-1] if len(s) >= 2 and s[0] == "<" and s[-1] == ">" else s


def header_of(blob: bytes) -> tuple[float, int]:
    """(earliest expiry, flags) of a packed record, without unpacking it."""
    return HEADER.unpack_from(blob)
