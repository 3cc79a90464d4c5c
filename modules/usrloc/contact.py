"""One binding of an AOR (Kamailio's ucontact_t), kept as a list so a whole record
packs and unpacks with msgpack in one C call; UContact names the fields.

Times are Unix seconds (float); `expires` 0 means permanent. q is in thousandths
(1000 = q=1.0), Q_UNSPECIFIED when the UA sent none, as Kamailio's qvalue_t.
"""

from __future__ import annotations

from operator import itemgetter

Q_UNSPECIFIED = -1
ALL_METHODS = 0xFFFFFFFF

# contact states for the write-back cache (Kamailio: cstate_t)
CS_NEW, CS_SYNC, CS_DIRTY = 0, 1, 2
STATE_NAMES = {CS_NEW: "CS_NEW", CS_SYNC: "CS_SYNC", CS_DIRTY: "CS_DIRTY"}

# ucontact flags (Kamailio: FL_MEM = do not write this contact to the DB)
FL_NONE, FL_MEM = 0, 1 << 0

FIELDS = (
    "contact", "expires", "q", "callid", "cseq", "flags", "cflags", "user_agent", "received",
    "path", "socket", "ruid", "instance", "reg_id", "server_id", "connection_id", "keepalive",
    "methods", "last_modified", "state", "last_keepalive", "xavp",
)
(C_CONTACT, C_EXPIRES, C_Q, C_CALLID, C_CSEQ, C_FLAGS, C_CFLAGS, C_USER_AGENT, C_RECEIVED,
 C_PATH, C_SOCKET, C_RUID, C_INSTANCE, C_REG_ID, C_SERVER_ID, C_CONNECTION_ID, C_KEEPALIVE,
 C_METHODS, C_LAST_MODIFIED, C_STATE, C_LAST_KEEPALIVE, C_XAVP) = range(len(FIELDS))
# C_XAVP: the contact's attributes (usrloc xavp_contact), a record {name: [values]} or None


def _field(i):
    def setter(self, value):
        self[i] = value
    return property(itemgetter(i), setter)


class UContact(list):
    """A contact: a list in FIELDS order with a named attribute per field."""

    __slots__ = ()

    @classmethod
    def new(cls, contact: str, *, expires: float = 0.0, q: int = Q_UNSPECIFIED, callid: str = "",
            cseq: int = 0, flags: int = 0, cflags: int = 0, user_agent: str = "", received: str = "",
            path: str = "", socket: str = "", ruid: str = "", instance: str = "", reg_id: int = 0,
            server_id: int = 0, connection_id: int = -1, keepalive: int = 0,
            methods: int = ALL_METHODS, last_modified: float = 0.0, state: int = CS_NEW,
            last_keepalive: float = 0.0, xavp: dict | None = None) -> UContact:
        return cls((contact, expires, q, callid, cseq, flags, cflags, user_agent, received, path,
                    socket, ruid, instance, reg_id, server_id, connection_id, keepalive, methods,
                    last_modified, state, last_keepalive, xavp))

    def valid(self, now: float) -> bool:
        """Kamailio's VALID_CONTACT: permanent, or not expired yet."""
        e = self[C_EXPIRES]
        return e == 0 or e > now

    def as_dict(self) -> dict:
        return dict(zip(FIELDS, self, strict=False))

    def __repr__(self):
        return f"UContact({self[C_CONTACT]!r}, expires={self[C_EXPIRES]}, ruid={self[C_RUID]!r})"


for _i, _name in enumerate(FIELDS):
    setattr(UContact, _name, _field(_i))
del _i, _name


def q_text(q: int) -> str:
    """q in thousandths as the Contact parameter prints it ('' when unspecified)."""
    if q == Q_UNSPECIFIED:
        return ""
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return "0." + f"{q:03d}".rstrip("0")


def q_float(q: int) -> float:
    return -1.0 if q == Q_UNSPECIFIED else q / 1000.0


def q_from_float(q: float | None) -> int:
    if q is None or q < 0:
        return Q_UNSPECIFIED
    return int(round(q * 1000))
