"""$ulc(profile=>attr)[i]: contacts fetched into a named profile by
reg_fetch_contacts() (and "exp", filled with the contact that just expired before
event_route[usrloc:contact-expired] runs). Profiles are per process, like
Kamailio's pkg-memory regpv profiles."""

from __future__ import annotations

import time

from kamapy.pv.base import Pv, resolve_index
from kamapy.pv.errors import PvError, TransformError
from kamapy.pv.registry import PvDef

from .aor import extract_aor
from .bound import ul
from .errors import RegError


class Profile:
    __slots__ = ("aor", "domain", "aorhash", "contacts")

    def __init__(self, aor="", domain="", contacts=()):
        self.aor = aor
        self.domain = domain
        self.aorhash = ul().get_aorhash(aor) if aor else 0
        self.contacts = list(contacts)


profiles: dict[str, Profile] = {}

_RECORD_ATTRS = {"aor": "aor", "domain": "domain", "aorhash": "aorhash"}
_CONTACT_ATTRS = {
    "addr": lambda c: c.contact, "path": lambda c: c.path, "received": lambda c: c.received,
    "expires": lambda c: int(c.expires), "callid": lambda c: c.callid, "q": lambda c: c.q,
    "cseq": lambda c: c.cseq, "flags": lambda c: c.flags, "cflags": lambda c: c.cflags,
    "user_agent": lambda c: c.user_agent, "socket": lambda c: c.socket or None,
    "modified": lambda c: int(c.last_modified), "methods": lambda c: c.methods,
    "ruid": lambda c: c.ruid, "regid": lambda c: c.reg_id, "instance": lambda c: c.instance or None,
    "conid": lambda c: c.connection_id if c.connection_id > 0 else None,
    "server_id": lambda c: c.server_id,
}
ATTRS = set(_RECORD_ATTRS) | set(_CONTACT_ATTRS) | {"count"}


class UlcPv(Pv):
    __slots__ = ("profile", "attr", "index")

    def __init__(self, spec):
        super().__init__(spec)
        name, arrow, attr = (spec.inner or "").partition("=>")
        if not arrow or not name.strip() or attr.strip() not in ATTRS:
            raise PvError(f"invalid $ulc name {spec.inner!r} (profile=>attr)", 0)
        self.profile = name.strip()
        self.attr = attr.strip()
        self.index = spec.index

    def get(self, msg):
        p = profiles.get(self.profile)
        if p is None or not p.contacts:
            return None
        attr = self.attr
        if attr == "count":
            return len(p.contacts)
        try:
            idx = resolve_index(self.index, msg) if self.index is not None else 0
        except TransformError:
            return None
        if not isinstance(idx, int) or idx < 0:
            idx = 0
        if idx >= len(p.contacts):
            return None
        if attr in _RECORD_ATTRS:
            return getattr(p, _RECORD_ATTRS[attr])
        value = _CONTACT_ATTRS[attr](p.contacts[idx])
        return value if value != "" else None


ULC_PV = PvDef("ulc", UlcPv, inner="required", index=True)


def fetch_contacts(msg, d, uri: str, profile: str) -> int:
    """reg_fetch_contacts(table, uri, profile): 1 with contacts, -1 without."""
    try:
        aor, _ = extract_aor(uri)
    except RegError:
        return -1
    profiles.pop(profile, None)
    r = d.get_urecord(aor)
    if r is None:
        return -1
    now = time.time()
    valid = [c for c in r.contacts if c.valid(now)]
    if not valid:
        return -1
    profiles[profile] = Profile(aor, d.name, valid)
    return 1


def free_contacts(_msg, profile: str) -> int:
    profiles.pop(profile, None)
    return 1
