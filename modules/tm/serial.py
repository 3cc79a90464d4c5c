"""Serial forking by q value and +sip.instance (Kamailio: tm/t_serial.c).

t_load_contacts([mode]) moves the R-URI (when it is still usable for forking) and
every branch of the destination set into the XAVP named by contacts_avp, one record
per contact, ordered so the record in front is the one to try first. A record's
q_flag (Q_FLAG) says "the last one of its priority class".

t_next_contacts() takes the front class off that list: the first contact becomes the
R-URI, the others branches; of contacts with the same +sip.instance (RFC 5626 flows
of one UA) only the first is used, the others go to contact_flows_avp.

t_next_contact_flow() (in event_route[tm:branch-failure]) adds, as a branch, the next
flow of the instance whose branch failed.

The records keep Kamailio's field names (uri, dst_uri, path, sock, flags, q_flag,
instance, ruid, ua), so a script reading $xavp(tm_contacts=>uri) sees what it sees
on Kamailio.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from kamapy.module import BRANCH_FAILURE_ROUTE
from kamapy.pv.dset import Q_UNSPECIFIED, RURI0_KEY, append_branch, ruri_is_new, ruri_mark_new
from kamapy.pv.xavp import xavp_insert
from kamapy.runtime import rt

from .config import cfg
from .context import cur

log = logging.getLogger("kamapy.tm")

Q_FLAG = 1 << 2
STANDARD, PROPORTIONAL = 0, 1
NOTHING_LEFT = -2  # t_next_contacts / t_next_contact_flow: no contact to take


@dataclass
class _Contact:
    uri: str
    q: int
    dst_uri: str | None
    path: str | None
    sock: object
    instance: str | None
    ruid: str | None
    ua: str | None
    flags: int
    ulattrs: dict | None
    q_flag: int = 0
    q_index: int = 0


def _ulattrs(msg, index: int) -> dict | None:
    """One level copy of $xavp(<xavp_contact>[index]) (xavp_clone_level_nodata)."""
    name = cfg.xavp_contact
    if not name or not msg.xavps:
        return None
    items = msg.xavps.get(name)
    if not items or index >= len(items) or not isinstance(items[index], dict):
        return None
    return {k: [v for v in vals if not isinstance(v, dict)] for k, vals in items[index].items()}


def _sock_text(sock) -> str:
    if sock is None:
        return ""
    if isinstance(sock, tuple):  # force_send_socket to an address not ours
        proto, host, port = sock
        return f"{proto}:{host}:{port}" if port else f"{proto}:{host}"
    return str(sock)


class _BadSocket(Exception):
    pass


def _find_sock(text):
    """The listen socket of a record's "proto:ip:port" (Kamailio: parse_phostport +
    grep_sock_info); _BadSocket when it is not one of ours."""
    if not text:
        return None
    want = str(text).strip().rstrip("\x00").lower()
    for si in rt.sockets:
        if str(si).lower() == want:
            return si
    log.error("t_next_contacts: socket <%s> is not a listen socket", text)
    raise _BadSocket(text)


def _record(c: _Contact) -> dict:
    """The contacts_avp record of a contact, fields in Kamailio's order."""
    rec = {"uri": [c.uri]}
    if c.dst_uri:
        rec["dst_uri"] = [c.dst_uri]
    if c.path:
        rec["path"] = [c.path]
    sock = _sock_text(c.sock)
    if sock:
        rec["sock"] = [sock + "\x00"]  # Kamailio keeps the C string's NUL in the value
    rec["flags"] = [c.flags]
    rec["q_flag"] = [c.q_flag]
    if c.instance:
        rec["instance"] = [c.instance]
    if c.ruid:
        rec["ruid"] = [c.ruid]
    if c.ua:
        rec["ua"] = [c.ua]
    if c.ulattrs is not None and cfg.xavp_contact:
        rec[cfg.xavp_contact] = [c.ulattrs]
    return rec


def _gather(msg) -> list[_Contact] | None:
    """The R-URI (if new) and the branches, in destination set order; None when there
    is nothing to order (one contact only)."""
    branches = msg.branches
    new = ruri_is_new(msg)
    if not branches or (len(branches) == 1 and not new):
        return None
    out = []
    if new:
        out.append(_Contact(msg.current_uri, msg.ruri_q, msg.dst_uri, msg.path_vec,
                            msg.force_send_socket, msg.instance, msg.ruid,
                            getattr(msg, "location_ua", None), msg.ruri_bflags, _ulattrs(msg, 0)))
    for i, b in enumerate(branches):
        # branch i's attributes sit at index i + 1 (index 0 is the R-URI's)
        out.append(_Contact(b.uri, b.q, b.dst_uri, b.path, b.socket, b.instance, b.ruid,
                            b.location_ua, b.flags, _ulattrs(msg, i + 1)))
    return out


def _sorted(contacts: list[_Contact], mode: int) -> tuple[list[_Contact], int, int]:
    """Ascending order (by q, or by the running q sum in proportional mode); among
    equals a contact with a Path goes before the ones already there, one without after
    them, as Kamailio's insertion does. Returns (list, positive count, q total)."""
    q_total = n_positive = 0
    for c in contacts:
        c.q_index = c.q
        if mode == PROPORTIONAL:
            if c.q > 0:
                q_total += c.q
                n_positive += 1
            c.q_index = q_total
    key = (lambda c: c.q_index) if mode == PROPORTIONAL else (lambda c: c.q)
    ordered = [contacts[0]]
    for nxt in contacts[1:]:
        k = key(nxt)
        i = 0
        while i < len(ordered) and (key(ordered[i]) < k or (key(ordered[i]) == k and not nxt.path)):
            i += 1
        ordered.insert(i, nxt)
    return ordered, n_positive, q_total


def _standard(ordered: list[_Contact]) -> list[dict]:
    """Highest q first; Q_FLAG marks the last record of each class."""
    ordered[0].q_flag = 0
    for prev, c in zip(ordered, ordered[1:], strict=False):
        c.q_flag = Q_FLAG if prev.q < c.q else 0
    return [_record(c) for c in reversed(ordered)]


def _proportional(ordered: list[_Contact], n: int, q_total: int, rand=random.randrange) -> list[dict]:
    """Drawn one at a time with the q as weight, each alone in its class; contacts
    with q <= 0 after them as backups, in their order."""
    out = []
    for _ in range(n):
        q_remove = 0
        pick = rand(q_total)
        for c in ordered:
            if c.q <= 0:
                continue
            if q_remove:
                c.q_index -= q_remove
            elif c.q_index > pick:
                q_remove = c.q
                q_total -= q_remove
                c.q_index -= q_remove
                c.q_flag = Q_FLAG
                out.append(_record(c))
    for c in ordered:
        if c.q <= 0:
            c.q_flag = Q_FLAG
            out.append(_record(c))
    return out


def load_contacts(msg, mode: int = STANDARD, rand=random.randrange) -> int:
    """t_load_contacts([mode]): 1 (loaded, or nothing to do), -1 on error."""
    name = cfg.contacts_avp
    if not name:
        log.error("t_load_contacts: feature has been disabled - to enable define "
                  "contacts_avp module parameter")
        return -1
    if mode not in (STANDARD, PROPORTIONAL):
        log.error("t_load_contacts: invalid load_contact mode: %s, please use 0 (standard) "
                  "or 1 (proportional)", mode)
        return -1
    contacts = _gather(msg)
    if contacts is None:
        return 1
    ordered, n, q_total = _sorted(contacts, mode)
    records = _proportional(ordered, n, q_total, rand) if mode == PROPORTIONAL else _standard(ordered)
    if msg.xavps is None:
        msg.xavps = {}
    msg.xavps[name] = records + msg.xavps.get(name, [])
    # Kamailio's clear_branches(): the R-URI's q and flags go too, and it is used up
    msg.branches.clear()
    msg.ruri_q = Q_UNSPECIFIED
    msg.ruri_bflags = 0
    msg.module_data[RURI0_KEY] = msg.current_uri
    if cfg.xavp_contact:
        msg.xavps.pop(cfg.xavp_contact, None)
    return 1


def _field(rec: dict, name: str):
    values = rec.get(name)
    return values[0] if values else None


def _take_ulattrs(msg, rec: dict, index: int):
    """The contact's attributes out of its record, into $xavp(<xavp_contact>[index])."""
    name = cfg.xavp_contact
    if name:
        attrs = rec.pop(name, None)
        if attrs and isinstance(attrs[0], dict):
            xavp_insert(msg, name, attrs[0], index)


def _int(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _append(msg, rec: dict, instance) -> int:
    """A branch for a record (q 0 and reg-id 0, as Kamailio appends them)."""
    sock = _find_sock(_field(rec, "sock"))
    return append_branch(msg, _field(rec, "uri") or "", _field(rec, "dst_uri"), _field(rec, "path"),
                         0, _int(_field(rec, "flags")), sock, instance or None, 0,
                         _field(rec, "ruid"), _field(rec, "ua"))


def _flow_record(rec: dict) -> dict:
    """The contact_flows_avp record of a contacts_avp one (flags last, no q_flag)."""
    out = {k: v for k, v in rec.items() if k not in ("flags", "q_flag")}
    out["flags"] = [_int(_field(rec, "flags"))]
    return out


def next_contacts(msg) -> int:
    """t_next_contacts(): 1 a new destination set, -2 none left, -1 on error."""
    name = cfg.contacts_avp
    if not name:
        log.error("t_next_contacts: feature has been disabled - to enable define "
                  "contacts_avp module parameter")
        return -1
    items = msg.xavps.get(name) if msg.xavps else None
    if not items:
        return NOTHING_LEFT
    head = items[0]
    if not isinstance(head, dict) or not _field(head, "uri"):
        log.error("t_next_contacts: invalid value in $xavp(%s)", name)
        return -1
    try:
        sock = _find_sock(_field(head, "sock"))
    except _BadSocket:
        del items[0]
        _drop_if_empty(msg, name)
        return -1
    q_flag = _int(_field(head, "q_flag"))
    instance = _field(head, "instance")
    seen = []
    if instance and not q_flag:
        seen.append(instance)
        msg.instance = instance
    _take_ulattrs(msg, head, 0)
    msg.set_ruri(_field(head, "uri"))
    ruri_mark_new(msg)  # t_relay forks on it
    msg.dst_uri = _field(head, "dst_uri") or None
    msg.path_vec = _field(head, "path") or None
    msg.force_send_socket = sock
    msg.ruri_bflags = _int(_field(head, "flags"))
    msg.ruid = _field(head, "ruid") or None
    if q_flag:
        del items[0]
        _drop_if_empty(msg, name)
        return 1
    flows_name = cfg.contact_flows_avp
    msg.xavps.pop(flows_name, None)
    flows = []
    used = 1  # records consumed from the front of the list
    rc = 1
    for rec in items[1:]:
        if not isinstance(rec, dict):
            used += 1
            continue
        q_flag = _int(_field(rec, "q_flag"))
        instance = _field(rec, "instance")
        if instance and instance in seen:
            flow = _flow_record(rec)
            flows.insert(0, flow)  # Kamailio adds each in front
        else:
            if instance and not q_flag:
                seen.append(instance)
            try:
                ok = _append(msg, rec, instance) == 1
            except _BadSocket:
                ok = False
            if not ok:
                log.error("t_next_contacts: appending branch failed")
                rc = -1
                break
            _take_ulattrs(msg, rec, len(msg.branches))
        used += 1
        if q_flag:
            break
    del items[:used]
    _drop_if_empty(msg, name)
    if flows:
        msg.xavps[flows_name] = flows
    return rc


def _drop_if_empty(msg, name: str):
    if msg.xavps is not None and not msg.xavps.get(name, True):
        del msg.xavps[name]


def next_contact_flow(msg) -> int:
    """t_next_contact_flow(): 1 a branch to the next flow of the failed branch's
    instance, -2 none (no instance on the branch, no flows left), -1 on error or when
    no flow of that instance is left."""
    flows_name = cfg.contact_flows_avp
    if not flows_name:
        log.error("t_next_contact_flow: feature has been disabled - to enable define "
                  "contact_flows_avp module parameter")
        return -1
    c = cur
    t = c.txn if c.msg is msg else None
    if not c.route & BRANCH_FAILURE_ROUTE or t is None or not 0 <= c.branch < len(t.branches):
        log.error("t_next_contact_flow: called not in a branch_failure_route")
        return -1
    this = t.branches[c.branch].instance
    if not this:
        return NOTHING_LEFT
    items = msg.xavps.get(flows_name) if msg.xavps else None
    if not items:
        return NOTHING_LEFT
    for pos, rec in enumerate(items):
        if not isinstance(rec, dict) or _field(rec, "instance") != this or not _field(rec, "uri"):
            continue
        try:
            ok = _append(msg, rec, this) == 1
        except _BadSocket:
            del items[pos]
            _drop_if_empty(msg, flows_name)
            return -1
        if not ok:
            log.error("t_next_contact_flow: appending branch failed")
            del items[0]  # Kamailio removes the list's first record here
            _drop_if_empty(msg, flows_name)
            return -1
        _take_ulattrs(msg, rec, len(msg.branches))
        del items[pos]
        _drop_if_empty(msg, flows_name)
        return 1
    return -1
