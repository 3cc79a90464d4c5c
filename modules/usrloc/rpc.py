"""ul.* RPC commands with the output shapes of Kamailio's usrloc (ul_rpc.c)."""

from __future__ import annotations

import time

from kamapy.rpc.errors import RpcError

from . import dbstore, keepalive
from .contact import ALL_METHODS, STATE_NAMES, UContact, q_float, q_from_float
from .domain import aor_hash, domains, get_udomain
from .ruid import new_ruid
from .settings import DB_ONLY, NO_DB, cfg

NOT_SET = "[not set]"
RPC_CALLID = "dfjrewr12386fd6-343@kamailio.mi"  # Kamailio's fixed Call-ID for RPC contacts
RPC_UA = "SIP Router MI Server"
RPC_CSEQ = 1


def contact_struct(c: UContact, now: float) -> dict:
    if c.expires == 0:
        expires = "permanent"
    elif now > c.expires:
        expires = "expired"
    else:
        expires = int(c.expires - now)
    return {"Contact": {
        "Address": c.contact, "Expires": expires, "Q": q_float(c.q), "Call-ID": c.callid,
        "CSeq": c.cseq, "User-Agent": c.user_agent or NOT_SET, "Received": c.received or NOT_SET,
        "Path": c.path or NOT_SET, "State": STATE_NAMES.get(c.state, "CS_UNKNOWN"), "Flags": c.flags,
        "CFlags": c.cflags, "Socket": c.socket or NOT_SET, "Methods": c.methods,
        "Ruid": c.ruid or NOT_SET, "Instance": c.instance or NOT_SET, "Reg-Id": c.reg_id,
        "Server-Id": c.server_id, "Tcpconn-Id": c.connection_id, "Keepalive": c.keepalive or (1 if c.cflags & cfg.nat_flag else 0),
        "Last-Keepalive": int(keepalive.last_keepalive(c)), "KA-Roundtrip": 0,
        "Last-Modified": int(c.last_modified),
    }}


def ul_dump(_rpc, params):
    brief = bool(params) and params[0] == "brief"
    now = time.time()
    out = []
    for d in domains():
        aors = []
        for r in d.records():
            if brief:
                aors.append({"AoR": r.aor})
            else:
                aors.append({"Info": {"AoR": r.aor, "HashID": aor_hash(r.aor),
                                      "Contacts": [contact_struct(c, now) for c in r.contacts]}})
        out.append({"Domain": {"Domain": d.name, "Size": d.size, "AoRs": aors,
                               "Stats": {"Records": len(aors), "Max-Slots": 1 if aors else 0}}})
    return {"Domains": out}


def _domain(params, n: int, what: str):
    if len(params) < n:
        raise RpcError(500, f"Not enough parameters ({what})")
    d = get_udomain(str(params[0]))
    if d is None:
        raise RpcError(500, "Domain table not found")
    return d


def fix_aor(aor: str) -> str:
    """Kamailio's rpc_fix_aor: the domain part only with use_domain, lower case."""
    at = aor.find("@")
    if cfg.use_domain:
        if at < 0:
            raise RpcError(500, "Domain missing in AOR")
    elif at >= 0:
        aor = aor[:at]
    return aor if cfg.case_sensitive else aor.lower()


def ul_lookup(_rpc, params):
    d = _domain(params, 2, "table and AOR to lookup")
    aor = fix_aor(str(params[1]))
    r = d.get_urecord(aor)
    if r is None:
        raise RpcError(500, "AOR not found in location table")
    now = time.time()
    contacts = [contact_struct(c, now) for c in r.contacts if c.valid(now)]
    if not contacts:
        raise RpcError(500, "AOR has no contacts")
    return {"AoR": aor, "Contacts": contacts}


def ul_rm(_rpc, params):
    d = _domain(params, 2, "table and AOR to lookup")
    aor = fix_aor(str(params[1]))
    d.delete_urecord(aor)
    return None


def ul_rm_contact(_rpc, params):
    d = _domain(params, 3, "table, AOR and contact")
    aor = fix_aor(str(params[1]))
    contact = str(params[2])
    with d.record(aor) as r:
        if r is None:
            raise RpcError(404, "AOR not found")
        c = next((c for c in r.contacts if c.contact == contact), None)
        if c is None:
            raise RpcError(404, "Contact not found")
        r.delete_contact(c)
        d.save(r)
    return None


def ul_flush(_rpc, _params):
    if cfg.db_mode in (NO_DB, DB_ONLY):
        raise RpcError(500, "Operation failed")
    try:
        for d in domains():
            d.timer()
    except Exception as e:
        raise RpcError(500, f"Operation failed: {e}") from None
    return None


def _is_set(value) -> bool:
    s = "" if value is None else str(value)
    return bool(s) and s not in (".", "0")


def ul_add(_rpc, params):
    if len(params) < 9:
        raise RpcError(500, "Not enough parameters or wrong format")
    d = _domain(params, 9, "")
    aor = fix_aor(str(params[1]))
    contact = str(params[2])
    try:
        expires = int(params[3])
        q = q_from_float(float(params[4]))
        flags, cflags, methods = int(params[6]), int(params[7]), int(params[8])
    except (TypeError, ValueError):
        raise RpcError(500, "Not enough parameters or wrong format") from None
    path = str(params[5]) if _is_set(params[5]) else ""
    received = str(params[9]) if len(params) > 9 and _is_set(params[9]) else ""
    socket = str(params[10]) if len(params) > 10 and _is_set(params[10]) else ""
    now = time.time()
    with d.record(aor, create=True) as r:
        rc, c = r.get_ucontact(contact, RPC_CALLID, path, RPC_CSEQ + 1)
        fields = dict(expires=(now + expires) if expires else 0, q=q, callid=RPC_CALLID, cseq=RPC_CSEQ,
                      flags=flags, cflags=cflags, user_agent=RPC_UA, received=received, path=path,
                      socket=socket, methods=methods & ALL_METHODS, last_modified=now,
                      server_id=cfg.server_id)
        if rc == 0 and c is not None:
            for k, v in fields.items():
                setattr(c, k, v)
            r.update_contact(c)
        else:
            r.insert_contact(UContact.new(contact, ruid=new_ruid(), **fields))
        d.save(r)
    return None


def _db_count(params, fn):
    if cfg.db_mode == NO_DB:
        raise RpcError(500, "Command is not supported in db_mode=0")
    if not params:
        raise RpcError(500, "Not enough parameters (table to lookup)")
    try:
        return fn(str(params[0]), time.time())
    except Exception as e:
        raise RpcError(500, f"Failed to query: {e}") from None


def ul_db_users(_rpc, params):
    return _db_count(params, dbstore.count_users)


def ul_db_contacts(_rpc, params):
    return _db_count(params, dbstore.count_contacts)


def ul_db_expired_contacts(_rpc, params):
    return _db_count(params, dbstore.count_expired)
