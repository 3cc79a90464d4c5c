"""Remote registrations (Kamailio 5.6 uac_reg.c): kamapy registers itself to upstream
registrars, one record per row of the `uacreg` table (reg_db_url, reg_db_table).

A process of its own ("TIMER UAC REG") loads the table, then every reg_timer_interval
seconds sends REGISTER for each record that is due:

    REGISTER sip:<r_domain>            To = From = sip:<r_username>@<r_domain>
    Contact: <sip:<l_uuid>@<contact_addr>>   Expires: <expires>
    (through auth_proxy when set; socket / default_socket to send from)

A record is due when it is not registered, or when its registration ends within
reg_timer_interval + 3 s. The reply reaches whichever SIP worker receives it (tm's
local transactions): 200 with our Contact -> registered until now + its expires; 401 /
407 -> answered once with auth_username and auth_password (or auth_ha1), realm checked
when the record names one; 423 -> expires raised to Min-Expires (or doubled), retried
on the next round; anything else -> disabled, or retried after reg_retry_interval.
The records live in shared memory (a hash table keyed by l_uuid, msgpack values, a
lock per record), so uac_reg_lookup / uac_reg_status / uac_reg_request_to in any worker
and the uac.reg_* RPCs see the same state.
"""

from __future__ import annotations

import logging
import random
import time
import zlib

import msgpack
from kamapy_modules.tm.api import LocalDialog

from .bound import tmb

log = logging.getLogger("kamapy.uac")

DISABLED, ONGOING, ONLINE, AUTHSENT, INIT = 1, 2, 4, 8, 16
CB_REG = "uac.reg_reply"
COLUMNS = ("l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm", "auth_username",
           "auth_password", "auth_ha1", "auth_proxy", "expires", "flags", "reg_delay", "contact_addr",
           "socket")
TABLE_VERSION = 5
REQTO_MASK_USER, REQTO_MASK_AUTH = 1, 2


class Settings:
    enabled = False
    db_url = ""
    table = "uacreg"
    interval = 90
    retry = 0
    random_delay = 0
    contact_addr = ""
    keep_callid = 0
    use_domain = 0
    default_socket = ""


S = Settings()
_ht = None        # SharedHashTable: b"id:<uuid>" -> record, b"u:<user>[@dom]" -> uuid, b"!uuids" -> list
_locks = None     # LockSet
_active = None    # CounterArray(1): reg_active


def init_shared(size_log2: int, active: int):
    global _ht, _locks, _active
    from kamapy.mem.counters import CounterArray
    from kamapy.mem.htable import SharedHashTable
    from kamapy.mem.lockset import LockSet
    _ht = SharedHashTable(size_log2=max(2, min(size_log2, 14)))
    _locks = LockSet(16)
    _active = CounterArray(1)
    _active.set(0, 1 if active else 0)


def _lock_index(uuid: str) -> int:
    return zlib.crc32(uuid.encode()) % 16


def _user_key(user: str, domain: str | None) -> bytes:
    return ("u:" + user + ("@" + domain if domain is not None and S.use_domain else "")).encode()


def _get(uuid: str) -> dict | None:
    raw = _ht.get(b"id:" + uuid.encode())
    return msgpack.unpackb(raw, raw=False) if raw else None


def _put(r: dict):
    _ht.put(b"id:" + r["l_uuid"].encode(), msgpack.packb(r, use_bin_type=True))


def uuids() -> list[str]:
    raw = _ht.get(b"!uuids") if _ht is not None else None
    return msgpack.unpackb(raw, raw=False) if raw else []


class _Locked:
    """with _Locked(uuid) as rec: ... -- the record read under its lock, written back
    when the block sets rec["_dirty"] (or deleted when it sets rec["_delete"])."""

    def __init__(self, uuid):
        self.uuid = uuid
        self.i = _lock_index(uuid)

    def __enter__(self):
        _locks.get(self.i)
        self.rec = _get(self.uuid)
        return self.rec

    def __exit__(self, *exc):
        try:
            if self.rec is not None and self.rec.pop("_dirty", False):
                _put(self.rec)
        finally:
            _locks.release(self.i)


# ------------------------------------------------------------------ loading


def row_to_record(row: dict, now: float) -> dict:
    r = {c: ("" if row.get(c) is None else row.get(c)) for c in COLUMNS}
    for c in ("expires", "flags", "reg_delay"):
        r[c] = int(r[c] or 0)
    for c in COLUMNS:
        if c not in ("expires", "flags", "reg_delay"):
            r[c] = str(r[c])
    if not r["contact_addr"]:
        r["contact_addr"] = S.contact_addr
    r["timer_expires"] = 0
    r["reg_init"] = int(now)
    r["cseq"] = 0
    r["callid"] = ""
    if S.random_delay > 0 and not r["reg_delay"]:
        r["reg_delay"] = random.randint(0, S.random_delay)
    return r


def _check_password(r: dict) -> bool:
    if not r["auth_password"] and not r["auth_ha1"] and r["auth_username"]:
        log.error("no password value for l_uuid %s", r["l_uuid"])
        return False
    return True


def load_db() -> int:
    """(Re)load every row; returns how many records."""
    from kamapy import db
    from kamapy.db.schema import table_version
    conn = db.connect(S.db_url)
    try:
        have = table_version(conn, S.table)
        if have is not None and have != TABLE_VERSION:
            raise RuntimeError(f"table {S.table!r} has version {have}, uac expects {TABLE_VERSION}")
        rows = conn.query(S.table, list(COLUMNS))
    finally:
        conn.close()
    now = time.time()
    old = uuids()
    new = []
    for row in rows:
        r = row_to_record(dict(zip(COLUMNS, row, strict=True)), now)
        if not r["l_uuid"] or not _check_password(r):
            continue
        add_record(r)
        new.append(r["l_uuid"])
    for u in old:
        if u not in new:
            remove_record(u)
    _ht.put(b"!uuids", msgpack.packb(new, use_bin_type=True))
    log.info("uac: loaded %d remote registration(s)", len(new))
    return len(new)


def add_record(r: dict):
    i = _lock_index(r["l_uuid"])
    _locks.get(i)
    try:
        prev = _get(r["l_uuid"])
        if prev is not None:
            # a reload keeps the registration state of a record that is still there
            for k in ("timer_expires", "cseq", "callid", "reg_init"):
                r[k] = prev.get(k, r[k])
            r["flags"] = (prev.get("flags", 0) & (ONLINE | ONGOING | INIT)) | (r["flags"] & DISABLED)
        _put(r)
        _ht.put(_user_key(r["l_username"], r["l_domain"]), r["l_uuid"].encode())
    finally:
        _locks.release(i)
    lst = uuids()
    if r["l_uuid"] not in lst:
        lst.append(r["l_uuid"])
        _ht.put(b"!uuids", msgpack.packb(lst, use_bin_type=True))


def remove_record(uuid: str) -> bool:
    i = _lock_index(uuid)
    _locks.get(i)
    try:
        r = _get(uuid)
        if r is None:
            return False
        _ht.delete(b"id:" + uuid.encode())
        _ht.delete(_user_key(r["l_username"], r["l_domain"]))
    finally:
        _locks.release(i)
    lst = [u for u in uuids() if u != uuid]
    _ht.put(b"!uuids", msgpack.packb(lst, use_bin_type=True))
    return True


def by_user(user: str, domain: str | None) -> str | None:
    raw = _ht.get(_user_key(user, domain))
    return raw.decode() if raw else None


def by_filter(attr: str, val: str) -> str | None:
    if attr == "l_uuid":
        return val if _get(val) is not None else None
    if attr not in ("l_username", "r_username", "auth_username"):
        return None
    for u in uuids():
        r = _get(u)
        if r is not None and r[attr] == val:
            return u
    return None


# ------------------------------------------------------------------ sending


def new_call_id() -> str:
    """A Call-ID for a request of ours (tm's t_request makes one when given none)."""
    import uuid
    return f"{uuid.uuid4().hex}@kamapy"


def _dialog(r: dict, call_id="", loc_tag="", loc_seq=None):
    ruri = f"sip:{r['r_domain']}"
    turi = f"sip:{r['r_username']}@{r['r_domain']}"
    return LocalDialog(rem_target=ruri, rem_uri=turi, loc_uri=turi, call_id=call_id or new_call_id(),
                       loc_tag=loc_tag,
                       loc_seq=10 if loc_seq is None else loc_seq, dst_uri=r["auth_proxy"],
                       send_sock=r["socket"] or S.default_socket)


def _contact(r: dict) -> str:
    return f"Contact: <sip:{r['l_uuid']}@{r['contact_addr']}>\r\nExpires: {r['expires']}\r\n"


def send(r: dict, now: float) -> int:
    """uac_reg_send on a locked record (marks it dirty)."""
    r["timer_expires"] = int(now)
    r["flags"] |= ONGOING
    if S.keep_callid and r["flags"] & ONLINE and 0 < r["cseq"] < 2147483638 and r["callid"]:
        dlg = _dialog(r, call_id=r["callid"], loc_seq=r["cseq"] + 1)
    else:
        dlg = _dialog(r)
    r["flags"] &= ~ONLINE
    r["_dirty"] = True
    lid = tmb().t_uac("REGISTER", _contact(r), b"", dlg=dlg, cb=CB_REG, cbp=r["l_uuid"])
    if not lid:
        log.error("failed to send request for [%s]", r["l_uuid"])
        if S.retry:
            r["timer_expires"] = int(now) + S.retry
        else:
            r["flags"] |= DISABLED
        r["flags"] &= ~ONGOING
        return -1
    return 0


def update(r: dict, now: float) -> int:
    """uac_reg_update: 1 no expires, 2 waiting, 3 not due, 4 disabled/inactive, 0 sent."""
    if r["expires"] == 0:
        return 1
    if r["flags"] & ONGOING:
        if r["timer_expires"] > now - S.retry:
            return 2
        r["flags"] &= ~(ONLINE | AUTHSENT)
        r["_dirty"] = True
    if _active.get(0) == 0 or r["flags"] & DISABLED:
        return 4
    if not r["flags"] & INIT:
        if r["reg_delay"] > 0 and now < r["reg_init"] + r["reg_delay"]:
            return 2
        r["flags"] |= INIT
        r["_dirty"] = True
    if r["timer_expires"] > now + S.interval + 3:
        return 3
    return send(r, now)


def timer_round(now: float | None = None):
    now = time.time() if now is None else now
    for u in uuids():
        with _Locked(u) as r:
            if r is not None:
                update(r, now)


def run_process(_rank: int):
    """The TIMER UAC REG process: load, then a round every reg_timer_interval s."""
    from kamapy.runtime import rt
    try:
        load_db()
    except Exception as e:
        log.error("uac: cannot load the %s table from %s: %s", S.table, S.db_url, e)
    next_round = 0.0
    while not rt.stopping:
        now = time.time()
        if now >= next_round:
            try:
                timer_round(now)
            except Exception:
                log.exception("uac: registration round failed")
            next_round = now + S.interval
        time.sleep(min(0.2, max(0.01, next_round - time.time())))


# ------------------------------------------------------------------ replies


def _fail(r: dict):
    if S.retry:
        r["timer_expires"] = int(time.time()) + S.retry
    else:
        r["flags"] |= DISABLED
    r["cseq"] = 0


def on_reply(_lt, _type, reply, code, uuid):
    """TMCB_LOCAL_COMPLETED of our REGISTER (in the SIP worker that got the reply)."""
    with _Locked(uuid) as r:
        if r is None:
            return
        r["_dirty"] = True
        keep_ongoing = _handle(r, reply, code, uuid)
        if not keep_ongoing:
            r["flags"] &= ~(ONGOING | AUTHSENT)


def _handle(r: dict, reply, code: int, uuid: str) -> bool:
    """True when a new (authenticated) REGISTER is on its way."""
    if code == 200 and reply is not None:
        try:
            contacts = reply.contacts
        except Exception as e:
            log.error("failed to parse Contact HF: %s", e)
            _fail(r)
            return False
        if contacts is not None and contacts.star:
            return False
        for c in contacts or []:
            try:
                user = c.parsed_uri.user
            except Exception:
                continue
            if user != uuid:
                continue
            exp = c.param("expires")
            if exp is None or exp == "":
                try:
                    exp = reply.header_value("expires")
                except Exception:
                    exp = None
            try:
                expires = int(str(exp).strip()) if exp not in (None, "") else 0
            except ValueError:
                expires = 0
            r["timer_expires"] = r["timer_expires"] + expires
            r["flags"] |= ONLINE
            if S.keep_callid:
                r["callid"] = reply.callid.strip()
                r["cseq"] = int(reply.cseq.number)
            return False
        log.info("no contact matched in the %d reply for %s", code, uuid)
        return False
    if code in (401, 407) and reply is not None:
        if r["flags"] & AUTHSENT:
            log.error("authentication failed for <%s>", uuid)
            _fail(r)
            return False
        return _authenticate(r, reply, code, uuid)
    if code == 423 and reply is not None:
        try:
            me = reply.header_value("min-expires")
            r["expires"] = int(me.strip()) if me else r["expires"] * 2
        except (ValueError, AttributeError):
            r["expires"] *= 2
        return False
    log.error("got sip response %d while registering [%s]", code, uuid)
    _fail(r)
    return False


def _authenticate(r: dict, reply, code: int, uuid: str) -> bool:

    from . import auth as A
    auth = A.challenge(reply, code)
    if auth is None:
        _fail(r)
        return False
    if r["realm"] and auth["realm"] != r["realm"]:
        log.error("realms do not match. requested realm: [%s]", auth["realm"])
        _fail(r)
        return False
    ha1 = bool(r["auth_ha1"])
    crd = A.Credential(r["auth_username"], auth["realm"], r["auth_ha1"] if ha1 else r["auth_password"])
    ruri = f"sip:{r['r_domain']}"
    resp, cnonce = A.response("REGISTER", ruri, crd, auth, ha1)
    hdr = A.header(code, ruri, crd, auth, resp, cnonce)
    try:
        dlg = _dialog(r, call_id=reply.callid.strip(), loc_tag=reply.from_hdr.tag or "",
                      loc_seq=int(reply.cseq.number) + 1)
        dlg.loc_uri = reply.from_hdr.uri
        dlg.rem_uri = reply.to_hdr.uri
    except Exception as e:
        log.error("failed to build tm dialog: %s", e)
        _fail(r)
        return False
    if not tmb().t_uac("REGISTER", _contact(r) + hdr, b"", dlg=dlg, cb=CB_REG, cbp=uuid):
        log.error("failed to send request with authentication for [%s]", uuid)
        _fail(r)
        return False
    r["flags"] |= AUTHSENT
    return True


# ------------------------------------------------------------------ script functions


def _by_uri(src: str) -> str | None:
    """by_user() for the user and host of the URI src; ValueError (logged) when src is
    not a URI."""
    from kamapy.sip.uri import parse_uri
    try:
        u = parse_uri(src)
    except Exception:
        log.error("failed to parse uri")
        raise ValueError(src) from None
    return by_user(u.user or "", u.host)


def lookup(msg, src: str, dst, mode: int = 0) -> int:
    if _ht is None:
        return -1
    if mode == 0:
        r = _get(src)
        if r is None:
            return -1
        value = f"sip:{r['l_username']}@{r['l_domain']}"
    else:
        try:
            uuid = _by_uri(src)
        except ValueError:
            return -2
        if uuid is None:
            return -1
        value = uuid
    dst.set(msg, value)
    return 1


def status(msg, src: str) -> int:
    if _ht is None:
        return -1
    r = _get(src)
    if r is None:
        return -1
    if r["flags"] & ONLINE and r["timer_expires"] > time.time():
        return 1
    if r["flags"] & ONGOING:
        return -2
    if r["flags"] & DISABLED:
        return -3
    return -99


def request_to(msg, src: str, mode: int) -> int:
    if _ht is None:
        return -1
    umode, amode = mode & REQTO_MASK_USER, mode & REQTO_MASK_AUTH
    if umode == 0:
        uuid = src if _get(src) is not None else None
    else:
        if S.use_domain:
            try:
                uuid = _by_uri(src)
            except ValueError:
                return -2
        else:
            uuid = by_user(src, None)
    r = _get(uuid) if uuid else None
    if r is None:
        return -1
    from . import auth as A
    if A.S.realm_pv is None:
        log.error("uac_reg_request_to needs auth_realm_avp, auth_username_avp and auth_password_avp")
        return -1
    try:
        msg.set_ruri(f"sip:{r['r_username']}@{r['r_domain']}")
        msg.dst_uri = r["auth_proxy"] or None
        A.S.realm_pv.set(msg, r["realm"])
        A.S.user_pv.set(msg, r["auth_username"])
        A.S.passwd_pv.set(msg, r["auth_ha1"] if amode else r["auth_password"])
    except Exception as e:
        log.error("error while setting the request to the remote registrar: %s", e)
        return -1
    return 1


def set_flag(attr: str, val: str, enable: bool) -> int:
    uuid = by_filter(attr, val)
    if uuid is None:
        return -1
    with _Locked(uuid) as r:
        if r is None:
            return -1
        if enable:
            r["flags"] &= ~DISABLED
        else:
            r["flags"] |= DISABLED
        r["_dirty"] = True
    return 1


def refresh(uuid: str) -> int:
    """uac_reg_refresh: reload one record from the database (1, or -1 not found)."""
    from kamapy import db
    conn = db.connect(S.db_url)
    try:
        rows = conn.query(S.table, list(COLUMNS), {"l_uuid": uuid})
    finally:
        conn.close()
    if not rows:
        log.warning("record not found: %s", uuid)
        return -1
    r = row_to_record(dict(zip(COLUMNS, rows[0], strict=True)), time.time())
    if not _check_password(r):
        return -1
    add_record(r)
    return 1


# ------------------------------------------------------------------ RPC


def _node(r: dict, now: float) -> dict:
    none = "none"
    return {
        "l_uuid": r["l_uuid"], "l_username": r["l_username"], "l_domain": r["l_domain"],
        "r_username": r["r_username"], "r_domain": r["r_domain"], "realm": r["realm"],
        "auth_username": r["auth_username"], "auth_password": r["auth_password"] or none,
        "auth_ha1": r["auth_ha1"] or none, "auth_proxy": r["auth_proxy"] or none,
        "expires": r["expires"], "flags": r["flags"], "diff_expires": int(r["timer_expires"] - now),
        "timer_expires": int(r["timer_expires"]), "reg_init": int(r["reg_init"]),
        "reg_delay": r["reg_delay"], "contact_addr": r["contact_addr"] or none, "socket": r["socket"],
    }


def _not_enabled():
    from kamapy.rpc.errors import RpcError
    if _ht is None:
        raise RpcError(500, "Not enabled")


def _params(params, n, what):
    from kamapy.rpc.errors import RpcError
    if len(params) < n:
        raise RpcError(500, f"Invalid Parameters ({what})")
    return [str(p) for p in params[:n]]


def rpc_dump(_rpc, _params_):
    _not_enabled()
    now = time.time()
    return [_node(r, now) for r in (_get(u) for u in uuids()) if r is not None]


def rpc_info(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    attr, val = _params(params, 2, "attr, val")
    uuid = by_filter(attr, val)
    if uuid is None:
        raise RpcError(404, "Record not found")
    return _node(_get(uuid), time.time())


def _rpc_flag(params, enable):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    attr, val = _params(params, 2, "attr, val")
    if set_flag(attr, val, enable) < 0:
        raise RpcError(404, "Record not found")
    return None


def rpc_enable(_rpc, params):
    return _rpc_flag(params, True)


def rpc_disable(_rpc, params):
    return _rpc_flag(params, False)


def rpc_reload(_rpc, _p):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    try:
        load_db()
    except Exception as e:
        raise RpcError(500, f"Failed to reload records: {e}") from None
    return None


def rpc_refresh(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    (uuid,) = _params(params, 1, "l_uuid")
    if refresh(uuid) < 0:
        raise RpcError(500, "Failed to refresh record - check log messages")
    return None


def rpc_remove(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    (uuid,) = _params(params, 1, "l_uuid")
    if not remove_record(uuid):
        raise RpcError(404, "Record not found")
    return None


def rpc_active(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    if not params:
        raise RpcError(500, "Missing parameter")
    try:
        nmode = int(params[0])
    except (TypeError, ValueError):
        raise RpcError(500, "Missing parameter") from None
    omode = _active.get(0)
    _active.set(0, 1 if nmode else 0)
    return {"omode": omode, "nmode": nmode}


def rpc_add(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    vals = _params(params, len(COLUMNS), ", ".join(COLUMNS))
    row = dict(zip(COLUMNS, vals, strict=True))
    for c in ("auth_password", "auth_ha1", "auth_proxy", "contact_addr"):
        if row[c] in (".", "0"):
            row[c] = ""
    try:
        r = row_to_record(row, time.time())
    except ValueError as e:
        raise RpcError(500, f"Invalid Parameters: {e}") from None
    if not _check_password(r):
        raise RpcError(500, "Failed to add record - check log messages")
    add_record(r)
    return None


def rpc_unregister(_rpc, params):
    from kamapy.rpc.errors import RpcError
    _not_enabled()
    attr, val = _params(params, 2, "attr, val")
    if attr not in ("l_uuid", "l_username", "r_username", "auth_username"):
        raise RpcError(400, "Unsupported filter attribute")
    uuid = by_filter(attr, val)
    if uuid is None:
        raise RpcError(404, "Record not found")
    with _Locked(uuid) as r:
        # expires 0 from now on: this REGISTER removes the binding, later rounds skip
        # the record until a reload or refresh brings its expires back
        r["expires"] = 0
        send(r, time.time())
    return None


RPCS = [
    ("uac.reg_dump", rpc_dump, "Dump the contents of user registrations table."),
    ("uac.reg_info", rpc_info, "Return the details of registration for a particular record."),
    ("uac.reg_enable", rpc_enable, "Enable registration for a particular record."),
    ("uac.reg_disable", rpc_disable, "Disable registration for a particular record."),
    ("uac.reg_reload", rpc_reload, "Reload records from database."),
    ("uac.reg_refresh", rpc_refresh, "Refresh a record from database."),
    ("uac.reg_remove", rpc_remove, "Remove a record from memory."),
    ("uac.reg_active", rpc_active, "Set or get remote registration active mode."),
    ("uac.reg_add", rpc_add, "Add a record to memory."),
    ("uac.reg_unregister", rpc_unregister, "Send a register request with expires 0."),
]
