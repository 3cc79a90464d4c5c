"""save(): process a REGISTER (RFC 3261 §10.3; Kamailio: registrar/save.c).

Adds, refreshes and removes the AOR's bindings in usrloc, then answers 200 with every
current binding -- or an error. The whole REGISTER is applied to the record, or none of
it (one usrloc read and one write under the AOR lock).

Return codes, as Kamailio's: 1 contacts inserted, 2 updated, 3 deleted, 4 returned
(no Contact), -1 error, -2 too many contacts.
"""

from __future__ import annotations

import logging
import random
import struct
import time

from kamapy._native._kamapy_native import lib
from kamapy_modules.usrloc.api import (
    ALL_METHODS,
    C_CALLID,
    C_CFLAGS,
    C_CONNECTION_ID,
    C_CONTACT,
    C_CSEQ,
    C_EXPIRES,
    C_FLAGS,
    C_INSTANCE,
    C_LAST_MODIFIED,
    C_METHODS,
    C_PATH,
    C_Q,
    C_RECEIVED,
    C_SERVER_ID,
    C_SOCKET,
    C_USER_AGENT,
    C_XAVP,
    FL_MEM,
    Q_UNSPECIFIED,
    UContact,
    xavp_copy,
    xavp_from_message,
)

from kamapy import stats
from kamapy.db import DbError
from kamapy.module import FAILURE_ROUTE, REQUEST_ROUTE
from kamapy.sip.errors import SipParseError

from . import reply
from .aor import extract_aor
from .bound import ul
from .contact_info import MessageInfo, methods_mask, xavp_cfg_value
from .errors import RegError
from .settings import (
    OUTBOUND_NONE,
    OUTBOUND_REQUIRE,
    PATH_MODE_OFF,
    PATH_MODE_STRICT,
    REGID_OUTBOUND,
    SAVE_MEM,
    SAVE_NOREPLY,
    SAVE_NOVARIATION,
    SAVE_PREPARE_REPLY,
    SAVE_REPLACE,
    cfg,
)
from .sockets import received_socket

log = logging.getLogger("kamapy.registrar")


class PendingReply:
    """The reply save() prepared (sent at once, or later by reg_send_reply())."""

    __slots__ = ("msg", "error", "contact_hdr")

    def __init__(self):
        self.msg = None
        self.error = None
        self.contact_hdr = ""


pending = PendingReply()
_stats = {}


def stat(name):
    s = _stats.get(name)
    if s is None:
        s = _stats[name] = stats.stat("registrar", name)
    return s


def _max_contacts(msg) -> int:
    forced = xavp_cfg_value(msg, "max_contacts")
    if forced is not None:
        try:
            return int(forced)
        except (TypeError, ValueError):
            pass
    return cfg.max_contacts


def _check_contacts(msg, expires_hf):
    """(is_star, contacts) after Kamailio's check_contacts rules."""
    try:
        parsed = msg.contacts
    except SipParseError:
        hfs = msg.get_headers("Contact")
        if any(hf.value.strip() == "*" for hf in hfs):
            raise RegError("R_STAR_CONT") from None
        raise RegError("R_PARSE_CONT") from None
    if parsed.star:
        if expires_hf != 0:
            raise RegError("R_STAR_EXP")
        return True, []
    max_size = cfg.contact_max_size
    for c in parsed.contacts:
        if len(c.uri) > max_size:
            log.warning("contact uri is too long: [%s]", c.uri)
            raise RegError("R_CONTACT_LEN")
    return False, parsed.contacts


def _outbound_checks(msg, contacts, supported, require) -> bool:
    """RFC 5626 checks; returns whether reg-id is to be used."""
    mode = cfg.outbound_mode
    # as Kamailio: only a Supported header without `outbound` is refused (421); a
    # REGISTER with no Supported header at all goes on
    if mode == OUTBOUND_REQUIRE and "outbound" not in supported and msg.has_hdr("supported"):
        raise RegError("R_OB_UNSUP")
    if mode == OUTBOUND_NONE and "outbound" in require:
        raise RegError("R_OB_REQD")
    if mode == OUTBOUND_NONE or not contacts or msg.via2 is None:
        return True
    # not the first hop: outbound only through an edge proxy that put ;ob in Path
    use_ob = False
    try:
        paths = msg.paths
        use_ob = bool(paths) and paths[0].parsed_uri.has_param("ob")
    except SipParseError:
        raise RegError("R_PARSE_PATH") from None
    if not use_ob and cfg.regid_mode == REGID_OUTBOUND:
        if "outbound" in supported and contacts[0].param("reg-id"):
            raise RegError("R_OB_UNSUP_EDGE")
        return False
    return True


def _new_contact(info: MessageInfo, c, expires: int, use_regid: bool) -> UContact:
    instance = c.instance or ""
    return UContact((
        c.uri, expires, info.q_of(c), info.callid, info.cseq, info.flags, info.cflags, info.user_agent,
        info.received_of(c), info.path, info.socket, ul.api.new_ruid(), instance,
        info.reg_id_of(c, instance, use_regid), ul.api.settings.server_id, -1, 0, info.methods_of(c),
        info.now, 0, info.now, xavp_copy(info.xavp),
    ))


def _refresh(info: MessageInfo, u: UContact, c, expires: int):
    """Kamailio's update_ucontact: what a refresh changes in a binding."""
    if u[C_INSTANCE]:
        u[C_CONTACT] = c.uri
    u[C_CALLID] = info.callid
    u[C_USER_AGENT] = info.user_agent
    u[C_RECEIVED] = info.received_of(c)
    u[C_PATH] = info.path
    u[C_SOCKET] = info.socket
    u[C_EXPIRES] = expires
    u[C_Q] = info.q_of(c)
    u[C_CSEQ] = info.cseq
    u[C_METHODS] = info.methods_of(c)
    u[C_LAST_MODIFIED] = info.now
    u[C_FLAGS] = info.flags
    u[C_CFLAGS] = info.cflags
    u[C_SERVER_ID] = ul.api.settings.server_id
    u[C_CONNECTION_ID] = -1
    if info.xavp is not None:  # no attributes in this REGISTER: the stored ones stay
        u[C_XAVP] = xavp_copy(info.xavp)


def _insert_contacts(info, r, contacts, use_regid, maxc):
    """A new AOR: every contact with expires > 0 (Kamailio's insert_contacts)."""
    num = 0
    for c in contacts:
        expires = info.expires_of(c)
        if expires == 0:
            continue
        if maxc > 0 and num >= maxc:
            log.info("too many contacts (n:%d max:%d) for AOR <%s>", num, maxc, r.aor)
            raise RegError("R_TOO_MANY")
        num += 1
        instance = c.instance or ""
        # a client listing one address twice: the second refreshes the first
        rc, u = r.get_by_instance(c.uri, instance, MessageInfo.reg_id_of(c, instance, use_regid),
                                  info.callid, info.path, info.cseq + 1)
        if rc == 0 and u is not None:
            _refresh(info, u, c, expires)
            r.update_contact(u)
        else:
            r.insert_contact(_new_contact(info, c, expires, use_regid))
    return 1


def _test_max_contacts(info, r, contacts, use_regid, maxc):
    num = sum(1 for u in r.contacts if u.valid(info.now))
    for c in contacts:
        expires = info.expires_of(c)
        instance = c.instance or ""
        rc, _ = r.get_by_instance(c.uri, instance, MessageInfo.reg_id_of(c, instance, use_regid),
                                  info.callid, info.path, info.cseq)
        if rc == -1:
            raise RegError("R_INV_CSEQ")
        if rc == -2:
            continue
        if rc > 0:
            if expires:
                num += 1
        elif expires == 0:
            num -= 1
    if num > maxc:
        log.info("too many contacts for AOR <%s> (n:%d max:%d)", r.aor, num, maxc)
        raise RegError("R_TOO_MANY")


def _update_contacts(info, r, contacts, replace, use_regid, maxc):
    """An AOR with bindings: insert, refresh or remove each contact (update_contacts)."""
    if not replace and maxc > 0:
        _test_max_contacts(info, r, contacts, use_regid, maxc)
    rc = 0
    for c in contacts:
        expires = info.expires_of(c)
        instance = c.instance or ""
        reg_id = MessageInfo.reg_id_of(c, instance, use_regid)
        found, u = r.get_by_instance(c.uri, instance, reg_id, info.callid, info.path, info.cseq)
        if found == -1:
            log.error("invalid cseq for aor <%s>", r.aor)
            raise RegError("R_INV_CSEQ")
        if found == -2:  # a retransmission: answer as before, change nothing
            if expires and replace:
                break
            continue
        if found > 0:
            if expires == 0:
                continue
            u = r.insert_contact(_new_contact(info, c, expires, use_regid))
            rc = 1
            if replace:
                for other in [x for x in r.contacts if x is not u]:
                    r.delete_contact(other)
                break
            continue
        if expires == 0:
            if info.flags & FL_MEM:
                u[C_FLAGS] |= FL_MEM
            else:
                u[C_FLAGS] &= ~FL_MEM
            r.delete_contact(u)
            rc = 3
            continue
        if replace:
            for other in [x for x in r.contacts if x is not u]:
                r.delete_contact(other)
        elif instance and u[C_CALLID] != info.callid:
            # a new Call-ID from the same instance: its older bindings go
            for other in [x for x in r.contacts if x is not u and x[C_INSTANCE] == u[C_INSTANCE]]:
                r.delete_contact(other)
        _refresh(info, u, c, expires)
        r.update_contact(u)
        rc = 2
        if replace:
            break
    return rc


def _require_headers(msg):
    """Call-ID, CSeq and a parseable Expires (Kamailio's parse_message checks)."""
    code = "R_CID_MISS"
    try:
        callid = msg.callid
        code = "R_CS_MISS"
        cseq = msg.cseq
        code = "R_PARSE_EXP"
        expires = msg.expires
    except SipParseError:
        raise RegError(code) from None
    return callid, cseq, expires


_OK = reply.status_of(None)[1]

def _fast_refresh(msg, d, flags: int, aor: str, host: str):
    """The common REGISTER: a refresh of one existing binding by a plain `<uri>` Contact
    (no params, no Path, Require or xavp_cfg overrides), in memory or write-back mode.
    Does exactly what the general path below does for it, without its machinery: one
    C call (usrloc's UDomain.refresh, kp_regrefresh.c) reads the REGISTER from its scan,
    declining anything out of the plain case, and finds, checks, changes and stores the
    binding under the AOR lock. Returns (ret, contact_hdr, supported) or
    None -- having changed nothing -- when the general path is needed. A new AOR learns
    it from the C call too (no probe first): refreshes outnumber first registrations,
    and a probe cost every refresh a lookup (~4k instructions) to save a new binding
    this function's preparation (~9k)."""
    if flags & SAVE_REPLACE or cfg.outbound_mode != OUTBOUND_NONE or cfg.received_avp_name is not None \
            or (cfg.xavp_cfg and msg.xavps):
        return None
    scan = msg.clean_scan
    if scan is None:
        return None
    ul_cfg = ul.api.settings
    if ul_cfg.xavp_contact and xavp_from_message(msg) is not None:
        return None  # attributes to store with it: the general path
    try:
        supported = [t.lower() for t in msg.supported] if msg.has_hdr("supported") else []
        methods = methods_mask(msg.allow) if msg.has_hdr("allow") else ALL_METHODS
    except SipParseError:
        return None
    # expires_of()'s random part is drawn here, before the record is read: a refresh
    # that declines or does not use it puts the generator back, so the general path
    # draws the same number
    rnd = -1
    if not flags & SAVE_NOVARIATION and (cfg.expires_range or cfg.default_expires_range):
        state = random.getstate()
        rnd = random.randrange(100)
    sock = received_socket(msg).encode()
    now = int(time.time())
    try:
        nums = _pack_msg_nums(len(sock), now, FL_MEM if flags & SAVE_MEM else 0, msg.ruri_bflags, methods, rnd) \
            + (cfg.packed_nums or _pack_cfg_nums())
    except struct.error:  # a number past int64: the general path
        nums = None
    done = d.refresh(aor, msg.data, scan, sock, nums) if nums is not None else None
    if rnd >= 0 and (done is None or not done[1]):
        random.setstate(state)
    if done is None:
        return None
    contact_hdr = done[0]
    if contact_hdr.__class__ is not str:  # a binding needs more than `<uri>;expires=N`: the contacts
        contact_hdr = reply.contact_header(contact_hdr, now, aor, host, "gruu" in supported)
    return 2, contact_hdr, supported


# kp_regrefresh.h's KP_RN_* numbers, in that order: a REGISTER's own, then the modparams
_pack_msg_nums = struct.Struct(f"={lib.KP_RN_Q}q").pack
_pack_cfg = struct.Struct(f"={lib.KP_RN_NARGS - lib.KP_RN_Q}q").pack


def _pack_cfg_nums() -> bytes:
    """The modparam part, packed once and kept in cfg until a setting changes."""
    default_q = cfg.default_q
    packed = _pack_cfg(
        default_q if default_q >= 0 else Q_UNSPECIFIED, cfg.max_contacts, 1 if cfg.use_path else 0,
        cfg.contact_max_size, cfg.default_expires, cfg.default_expires_range, cfg.expires_range,
        cfg.min_expires, 1 if cfg.min_expires_mode else 0, cfg.max_expires)
    cfg.packed_nums = packed
    return packed


def save(msg, d, flags: int = 0, uri: str | None = None) -> int:
    """save(table[, flags[, uri]]) on a REGISTER."""
    try:
        if not uri:
            uri = msg.to_uri
        aor, puri = extract_aor(uri)
    except (RegError, SipParseError):
        log.error("failed to extract Address Of Record")
        return -1
    error = None
    contact_hdr = ""
    supported = require = ()
    fast = _fast_refresh(msg, d, flags, aor, puri.host)
    if fast is None:
        ret, error, contact_hdr, supported, require = _save(msg, d, flags, aor, puri)
        return _finish(msg, flags, ret, error, contact_hdr, supported, require)
    ret, contact_hdr, supported = fast
    if cfg.use_path:
        return _finish(msg, flags, ret, None, contact_hdr, supported, [])
    # _finish() for an accepted REGISTER without Path or outbound (no extra headers)
    s = stat("accepted_regs")
    if s is not None:
        s.inc()
    pending.msg = msg
    pending.error = None
    pending.contact_hdr = contact_hdr
    if not flags & SAVE_NOREPLY and (msg.ctx is None or msg.ctx.route_type & (REQUEST_ROUTE | FAILURE_ROUTE)) \
            and reply.send(msg, 200, _OK, [contact_hdr] if contact_hdr else []) <= 0:
        ret = -1
    return ret


def _save(msg, d, flags, aor, puri):
    """The general save(): (ret, error, contact_hdr, supported, require)."""
    error = None
    ret = 1
    contact_hdr = ""
    supported = require = ()
    try:
        callid, cseq, expires_hf = _require_headers(msg)
        star, contacts = _check_contacts(msg, expires_hf)
        supported = [t.lower() for t in msg.supported] if msg.has_hdr("supported") else []
        require = [t.lower() for t in msg.require] if msg.has_hdr("require") else []
        if cfg.use_path and cfg.path_mode == PATH_MODE_STRICT and "path" not in supported \
                and msg.has_hdr("path"):
            # RFC 3327 §5.3: refuse before storing anything (Kamailio stores, then says 420)
            raise RegError("R_PATH_UNSUP")
        use_regid = _outbound_checks(msg, contacts, supported, require)
        now = int(time.time())
        info = MessageInfo(msg, now, callid, cseq, expires_hf, bool(flags & SAVE_MEM),
                           bool(flags & SAVE_NOVARIATION)) if contacts else None
        host = puri.host
        with_gruu = "gruu" in supported
        d.lock(aor)
        try:
            r = d.get_urecord(aor)
            if not contacts:
                if star:
                    if r is not None:
                        for u in r.contacts:
                            if flags & SAVE_MEM:
                                u[C_FLAGS] |= FL_MEM
                            else:
                                u[C_FLAGS] &= ~FL_MEM
                        r.delete_all()
                        d.save(r)
                    ret = 3
                else:
                    if r is not None:
                        contact_hdr = reply.contact_header(r.contacts, now, aor, host, with_gruu)
                    ret = 4
            else:
                maxc = _max_contacts(msg)
                if r is None:
                    r = d.get_urecord(aor, create=True)
                    ret = _insert_contacts(info, r, contacts, use_regid, maxc)
                else:
                    try:
                        ret = _update_contacts(info, r, contacts, bool(flags & SAVE_REPLACE), use_regid,
                                               maxc) or 1
                    except RegError:
                        # Kamailio's add_contacts: a refused update of an existing AOR still
                        # lists its bindings (as stored: a refusal changes nothing here)
                        stored = d.get_urecord(aor)
                        if stored is not None:
                            contact_hdr = reply.contact_header(stored.contacts, now, aor, host, with_gruu)
                        raise
                if r.changes:
                    d.save(r)
                contact_hdr = reply.contact_header(r.contacts, now, aor, host, with_gruu)
        finally:
            d.unlock(aor)
    except RegError as e:
        error = e.code
    except SipParseError:
        error = "R_PARSE"
    except DbError as e:
        # db_mode 3: the location DB failed -- a 500, never a 200 for what was not stored
        log.error("failed to update the location table for %s: %s", aor, e)
        error = _UL_DB_ERRORS.get(getattr(e, "ul_op", ""), "R_UL_GET_R")
    return ret, error, contact_hdr, supported, require


_UL_DB_ERRORS = {"insert": "R_UL_INS_C", "update": "R_UL_UPD_C", "delete": "R_UL_DEL_C"}


def _finish(msg, flags, ret, error, contact_hdr, supported, require) -> int:
    """Count, keep the prepared reply, send it (unless told not to)."""
    if error is None:
        s = stat("accepted_regs")
    else:
        s = stat("rejected_regs")
        ret = -2 if error == "R_TOO_MANY" else -1
    if s is not None:
        s.inc()
    pending.msg = msg
    pending.error = error
    pending.contact_hdr = contact_hdr
    route_type = msg.ctx.route_type if msg.ctx is not None else REQUEST_ROUTE
    if not flags & SAVE_NOREPLY:
        if route_type & (REQUEST_ROUTE | FAILURE_ROUTE) and send_reply(msg, supported, require) < 0 \
                and error is None:
            ret = -1
    elif flags & SAVE_PREPARE_REPLY:
        pass  # the prepared reply waits in `pending` for reg_send_reply()
    if cfg.use_path and cfg.path_mode != PATH_MODE_OFF:
        msg.path_vec = None
    return ret


def send_reply(msg, supported=None, require=None) -> int:
    """Send the reply the last save() on msg prepared (reg_send_reply())."""
    if pending.msg is not msg:
        log.error("no registrar reply prepared for this message")
        return -1
    if supported is None:
        supported = [t.lower() for t in msg.supported] if msg.has_hdr("supported") else []
        require = [t.lower() for t in msg.require] if msg.has_hdr("require") else []
    error, headers = reply.extra_headers(msg, pending.error, supported, require)
    code, reason = reply.status_of(error)
    lines = [pending.contact_hdr] if pending.contact_hdr else []
    lines += headers
    if error is not None:
        lines += reply.error_headers(error, code)
    return 1 if reply.send(msg, code, reason, lines) > 0 else -1
