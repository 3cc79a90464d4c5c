"""Keepalives (Kamailio: ds_ping_set, ds_options_callback): every ds_ping_interval the
timer process sends ds_ping_method to the destinations ds_probing_mode picks, each on
a tm local transaction; the final reply (or tm's 408 on timeout) moves the
destination's state through ds_probing_threshold / ds_inactive_threshold."""

from __future__ import annotations

import logging
import time

from kamapy.loader import BoundApi

from . import core
from . import dslist as L

log = logging.getLogger("kamapy.dispatcher")

PING_CB = "dispatcher.ping_reply"
tmb = BoundApi("tm")  # Kamailio's dispatch.c tmb: bound in mod_init when pinging


def _wanted(flags: int) -> bool:
    mode = core.cfg.probing_mode
    if mode == core.PROBE_ALL:
        return True
    if mode != core.PROBE_INACTIVE and flags & L.PROBING:
        return True
    return bool(mode == core.PROBE_INACTIVE and flags & L.PROBING and flags & L.INACTIVE)


def reply_ok(code: int) -> bool:
    if 200 <= code <= 299:
        return True
    for kind, n in core.cfg.ping_reply_codes:
        if kind == "code" and code == n:
            return True
        if kind == "class" and code // 100 == n:
            return True
    return False


def parse_reply_codes(text: str) -> list:
    out = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name not in ("code", "class") or not value.strip().isdigit():
            raise ValueError(f"bad ping reply code entry {part!r}")
        out.append((name, int(value)))
    return out


def _sock_spec(d: L.Dest):
    if d.sock is not None:
        return d.sock
    return core.cfg.default_socket or ""


def ping_all(now: float | None = None):
    """ds_check_timer."""
    sh = core.shared()
    if sh is None or not sh.misc.get(0):
        return
    lst = core.current()
    if lst is None:
        return
    for s in lst.tree.walk():
        for d in s.dests:
            flags = sh.flags.get(d.slot)
            if flags & L.DISABLED or not _wanted(flags):
                continue
            if not send_ping(s.id, d):
                state = L.TRYING | (L.PROBING if core.cfg.probing_mode != core.PROBE_NONE else 0)
                if not sh.flags.get(d.slot) & L.DISABLED:
                    core.update_state(None, s.id, d.uri, state,
                                      {"flags": 0, "code": 500,
                                       "reason": "Sending keepalive failed"})


def send_ping(setid: int, d: L.Dest) -> bool:
    frm = d.attrs.ping_from or core.cfg.ping_from
    obp = d.attrs.obproxy or core.cfg.outbound_proxy or ""
    # Kamailio's ds_ping_set: tmb.t_request, a new Call-ID and CSeq each time
    lid = tmb().t_request(core.cfg.ping_method, d.uri, d.uri, frm, next_hop=obp,
                          send_sock=_sock_spec(d), cb=PING_CB, cbp=[setid, d.uri, time.time()])
    if lid is None:
        log.error("unable to ping [%s] in group [%d]", d.uri, setid)
        return False
    return True


def on_reply(_t, _cbtype, reply, code, param):
    """ds_options_callback, in whichever process got the reply (or the timer's 408)."""
    try:
        setid, uri, sent = param
    except (TypeError, ValueError):
        return
    cfg = core.cfg
    if cfg.ping_latency_stats:
        core.update_latency(setid, uri, code, int((time.time() - sent) * 1000))
    rctx = {"flags": 0, "code": code, "reason": None}
    if reply is not None:
        rctx = {"flags": 1, "code": code, "reason": reply.reason}
    cur = core.get_state(setid, uri)
    if cur < 0:
        return
    if cfg.probing_mode == core.PROBE_ONLYFLAGGED and not cur & L.PROBING:
        return
    if reply_ok(code):
        state = 0
        if cfg.probing_mode == core.PROBE_ALL or (
                cfg.probing_mode == core.PROBE_ONLYFLAGGED and cur & L.PROBING):
            state |= L.PROBING
    else:
        state = L.TRYING | (L.PROBING if cfg.probing_mode != core.PROBE_NONE else 0)
    if not cur & L.DISABLED and core.update_state(None, setid, uri, state, rctx) != 0:
        log.error("Setting the state failed (%s, group %d)", uri, setid)
