"""What usrloc offers other modules (Kamailio: usrloc.h, usrloc_api_t, load_ul_api).

Two halves, as in Kamailio's usrloc.h:

- the data a binder reads and writes, importable from here (Kamailio's ucontact_t,
  urecord_t, ucontact_info_t constants): UContact and its C_* field indices, URecord,
  the contact flags, q values, matching modes, callback types and the xavp_contact
  attribute helpers;
- the functions, through the bound API (UsrlocApi), bound once:

      from kamapy.loader import BoundApi
      ul = BoundApi("usrloc")
      d = ul().register_udomain("location")       # before the fork (fixup / mod_init)
      d.lock(aor); r = d.get_urecord(aor); ...; d.save(r); d.unlock(aor)
      ul().register_ulcb(UL_CONTACT_EXPIRE, fn)
      for table, aor, c in ul().get_all_ucontacts(flags=nat_flag): ...

Nothing else of usrloc's package is for other modules (tests/module_api checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import attrs as _attrs
from .callbacks import UL_CONTACT_DELETE, UL_CONTACT_EXPIRE, UL_CONTACT_INSERT, UL_CONTACT_UPDATE
from .contact import (
    ALL_METHODS,
    C_CALLID,
    C_CFLAGS,
    C_CONNECTION_ID,
    C_CONTACT,
    C_CSEQ,
    C_EXPIRES,
    C_FLAGS,
    C_INSTANCE,
    C_KEEPALIVE,
    C_LAST_KEEPALIVE,
    C_LAST_MODIFIED,
    C_METHODS,
    C_PATH,
    C_Q,
    C_RECEIVED,
    C_REG_ID,
    C_RUID,
    C_SERVER_ID,
    C_SOCKET,
    C_STATE,
    C_USER_AGENT,
    C_XAVP,
    FIELDS,
    FL_MEM,
    Q_UNSPECIFIED,
    UContact,
    q_text,
)
from .record import URecord
from .settings import CONTACT_CALLID, CONTACT_CALLID_ONLY, CONTACT_ONLY, CONTACT_PATH

# a contact's attributes (xavp_contact): read from the message's xavp, copied per contact
xavp_from_message = _attrs.from_message
xavp_copy = _attrs.copy

__all__ = [
    "ALL_METHODS", "C_CALLID", "C_CFLAGS", "C_CONNECTION_ID", "C_CONTACT", "C_CSEQ", "C_EXPIRES",
    "C_FLAGS", "C_INSTANCE", "C_KEEPALIVE", "C_LAST_KEEPALIVE", "C_LAST_MODIFIED", "C_METHODS",
    "C_PATH", "C_Q", "C_RECEIVED", "C_REG_ID", "C_RUID", "C_SERVER_ID", "C_SOCKET", "C_STATE",
    "C_USER_AGENT", "C_XAVP", "CONTACT_CALLID", "CONTACT_CALLID_ONLY", "CONTACT_ONLY",
    "CONTACT_PATH", "FIELDS", "FL_MEM", "Q_UNSPECIFIED", "UL_CONTACT_DELETE", "UL_CONTACT_EXPIRE",
    "UL_CONTACT_INSERT", "UL_CONTACT_UPDATE", "UContact", "URecord", "UsrlocApi", "q_text",
    "xavp_copy", "xavp_from_message",
]


@dataclass(frozen=True)
class UsrlocApi:
    register_udomain: Callable    # register_udomain(name) -> UDomain, before the fork
    get_udomain: Callable         # get_udomain(name) -> UDomain | None
    get_all_ucontacts: Callable   # get_all_ucontacts(flags, part_idx, part_max, server_id)
    register_ulcb: Callable       # register_ulcb(UL_CONTACT_*, fn)
    get_aorhash: Callable         # get_aorhash(aor) -> int (the hash the tables use)
    new_ruid: Callable            # new_ruid() -> a record-unique id for a new contact
    set_keepalive_timeout: Callable
    refresh_keepalive: Callable   # refresh_keepalive(aorhash, ruid)
    use_domain: Callable          # use_domain() -> 0/1 (the modparam; any time after modparam)
    nat_flag: Callable            # nat_flag() -> the nat_bflag as a mask, 0 when unset
    settings: object              # the modparams as usrloc's mod_init applied them (read only)
