"""lookup(), lookup_to_dset(), lookup_branches(), registered() (Kamailio:
registrar/lookup.c): find the bindings of the R-URI's AOR and route to them.

The first usable binding (they are kept best-q first) rewrites the R-URI; its Path
becomes the route set and next hop ($du = first Path URI), else its received address
becomes $du; the others become extra branches (append_branches). Return codes:
1 found, -1 not found, -2 found but none allows the method (method_filtering),
-3 internal error.
"""

from __future__ import annotations

import logging
import time

from kamapy_modules.usrloc.api import C_XAVP, xavp_copy

from kamapy.db import DbError
from kamapy.pv.dset import append_branch
from kamapy.pv.xavp import xavp_add_field, xavp_insert
from kamapy.runtime import is_myself
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import REQUEST
from kamapy.sip.uri import parse_uri

from .aor import extract_aor
from .bound import ul
from .contact_info import xavp_cfg_value
from .errors import RegError
from .path import path_dst_uri, skip_first_hop
from .settings import cfg
from .sockets import find_socket

log = logging.getLogger("kamapy.registrar")

NOT_FOUND, METHOD_NOT_ALLOWED, INTERNAL_ERROR = -1, -2, -3


def _has_to_tag(msg) -> bool:
    try:
        return msg.to_hdr.tag is not None
    except SipParseError:
        return False


def _allowed(msg, c) -> bool:
    return not cfg.method_filtering or bool(msg.method_id & c.methods) or _has_to_tag(msg)


def _filter_ok(msg, c) -> bool:
    if cfg.lookup_filter_mode & 1:
        bflags = xavp_cfg_value(msg, "rlf_bflags")
        if bflags:
            try:
                return bool(c.cflags & int(bflags))
            except (TypeError, ValueError):
                return True
    return True


def _strip_angle(s: str) -> str:
    return s[1:-1] if len(s) > 2 and s[0] == "<" and s[-1] == ">" else s


def _next_hop(c) -> tuple[str, str]:
    """(destination URI, path vector) for a binding: the Path's first hop (or the one
    after it when it is us, path_check_local), else the received address."""
    path = c.path
    if path:
        dst = path_dst_uri(path)
        if dst and cfg.path_check_local:
            try:
                u = parse_uri(dst)
                if is_myself(u.host_bare, u.port or 0):
                    path = skip_first_hop(path)
                    dst = path_dst_uri(path) if path else ""
            except SipParseError:
                pass
        if dst:
            return dst, path
    return c.received or "", ""


def _gruu(puri):
    """(instance, temp-gruu ruid, temp-gruu hash) of a GRUU R-URI, or Nones."""
    gr = puri.param("gr")
    if gr is None:
        return None, None, None
    if gr:
        return gr, None, None
    user = puri.user
    sep = user.rfind("-")
    if sep < 0:
        raise RegError("R_AOR_PARSE")
    digits = user[sep + 1:]
    try:
        ahash = int(digits[::-1], 16) if digits else 0
    except ValueError:
        raise RegError("R_AOR_PARSE") from None
    return None, user[:sep], ahash


def _usable(msg, c, now) -> bool:
    return (c.valid(now) or cfg.use_expired_contacts)


def lookup(msg, d, uri: str | None = None, to_dset: bool = False) -> int:
    """lookup(table[, uri]) / lookup_to_dset(table[, uri])."""
    try:
        aor, puri = extract_aor(uri if uri else msg.current_uri)
        inst, temp_ruid, temp_hash = _gruu(puri)
    except (RegError, SipParseError):
        log.error("failed to extract address of record")
        return INTERNAL_ERROR
    now = time.time()
    ret = NOT_FOUND
    if temp_ruid is not None:
        first, rest = None, []
        for r in d.records():
            if ul.api.get_aorhash(r.aor) != temp_hash:
                continue
            c = r.find_ruid(temp_ruid)
            if c is not None:
                if not _usable(msg, c, now):
                    return NOT_FOUND
                if not _allowed(msg, c):
                    return METHOD_NOT_ALLOWED
                first = c
                break
        if first is None:
            return NOT_FOUND
    else:
        try:
            r = d.get_urecord(aor)
        except DbError:
            return NOT_FOUND  # db_mode 3, DB down (logged): no record, as in Kamailio
        if r is None:
            return NOT_FOUND
        first = None
        contacts = r.contacts
        for pos, c in enumerate(contacts):
            if not _usable(msg, c, now):
                continue
            if not _allowed(msg, c):
                ret = METHOD_NOT_ALLOWED
                continue
            if inst is not None:
                if _strip_angle(c.instance) == _strip_angle(inst) and c.instance:
                    first = c
                    break
            elif _filter_ok(msg, c):
                first = c
                rest = contacts[pos + 1:]
                break
        if first is None:
            return ret
        if inst is not None:
            rest = []
    if to_dset:
        rest = [first] + list(rest)
    else:
        _apply_first(msg, first)
        _record_details(msg, first, now)
        _restore_attrs(msg, first, 0)
    if not cfg.append_branches and not to_dset:
        return 1
    for c in rest:
        if _usable(msg, c, now) and _allowed(msg, c) and _filter_ok(msg, c):
            dst, path = _next_hop(c)
            if append_branch(msg, c.contact, dst or None, path or None, c.q, c.cflags,
                             find_socket(c.socket), c.instance or None,
                             c.reg_id if c.instance else 0, c.ruid, c.user_agent) < 0:
                log.error("failed to append a branch")
                continue
            _restore_attrs(msg, c, len(msg.branches))
    return 1


def _restore_attrs(msg, c, branch: int):
    """usrloc xavp_contact: the contact's stored attributes back into the message, at
    the position of its branch ($xavp(name[0]) for the R-URI, [i] for branch i)."""
    if c[C_XAVP] is not None:
        name = ul.api.settings.xavp_contact
        if name:
            xavp_insert(msg, name, xavp_copy(c[C_XAVP]), branch)


# xavp_rcd_mask bits: what not to put in the record details
RCD_RUID, RCD_CONTACT, RCD_EXPIRES, RCD_RECEIVED, RCD_PATH = 1, 2, 4, 8, 16


def _record_details(msg, c, now: float):
    """xavp_rcd: the chosen contact's ruid, received, contact, expires (seconds left)
    and path, in $xavp(<xavp_rcd>) (Kamailio's xavp_rcd_helper)."""
    name = cfg.xavp_rcd
    if not name:
        return
    mask = cfg.xavp_rcd_mask
    if not mask & RCD_RUID:
        xavp_add_field(msg, name, "ruid", c.ruid)
    if not mask & RCD_RECEIVED and c.received:
        xavp_add_field(msg, name, "received", c.received)
    if not mask & RCD_CONTACT:
        xavp_add_field(msg, name, "contact", c.contact)
    if not mask & RCD_EXPIRES:
        xavp_add_field(msg, name, "expires", int(c.expires - int(now)))
    if not mask & RCD_PATH and c.path:
        xavp_add_field(msg, name, "path", c.path)


def _apply_first(msg, c):
    msg.set_ruri(c.contact)
    msg.dst_uri = None
    dst, path = _next_hop(c)
    if dst:
        msg.dst_uri = dst
    if path:
        msg.path_vec = path
    msg.instance = c.instance or None
    msg.reg_id = c.reg_id
    msg.ruid = c.ruid or None
    msg.ruri_q = c.q
    msg.ruri_bflags |= c.cflags
    si = find_socket(c.socket)
    if si is not None:
        msg.force_send_socket = si


def lookup_branches(msg, d) -> int:
    """lookup(table) on the R-URI, then on every branch that holds only a URI."""
    originals = msg.branches
    msg.branches = []
    ret = lookup(msg, d)
    found = ret > 0
    for b in originals:
        plain = not (b.dst_uri or b.path or b.flags or b.socket or b.instance or b.ruid)
        if not plain:
            msg.branches.append(b)
            continue
        rc = lookup(msg, d, b.uri, to_dset=True)
        if rc > 0:
            found = True
        else:
            msg.branches.append(b)
    return 1 if found else ret


def registered(msg, d, uri: str | None = None, match_option: int = 0, match_action: int = 0) -> int:
    """registered(table[, uri[, match_option[, match_action]]]): 1 when the AOR has a
    valid binding (matching Call-ID / received / contact from xavp_cfg if asked)."""
    if not uri:
        if msg.type == REQUEST:
            uri = msg.current_uri
        else:
            try:
                uri = msg.to_hdr.uri
            except SipParseError:
                return -1
    try:
        aor, _ = extract_aor(uri)
    except RegError:
        return -1
    try:
        r = d.get_urecord(aor)
    except DbError:
        return -1
    if r is None:
        return -1
    now = time.time()
    want_callid = xavp_cfg_value(msg, "match_callid") if match_option & 1 else None
    want_received = xavp_cfg_value(msg, "match_received") if match_option & 2 else None
    want_contact = xavp_cfg_value(msg, "match_contact") if match_option & 4 else None
    for c in r.contacts:
        if not c.valid(now):
            continue
        if want_callid is not None and c.callid != str(want_callid):
            continue
        if want_received is not None and c.received != str(want_received):
            continue
        if want_contact is not None and c.contact != str(want_contact):
            continue
        return 1
    return -1
