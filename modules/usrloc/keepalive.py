"""Keepalive state of contacts, for nathelper's SIP pings (Kamailio: usrloc's
ul_keepalive_timeout, ul_refresh_keepalive, get_all_ucontacts' timeout check).

A reply to a SIP ping is seen by a SIP worker that knows only the ruid and the AOR
hash echoed in the From tag, not the AOR; records are keyed by AOR. So the time of the
last answered ping is kept apart, in a small shm table keyed by ruid
(ruid -> 8-byte time), and a contact's last keepalive is the latest of that, its
stored last_keepalive and its last_modified (a REGISTER refresh counts, as Kamailio
sets last_keepalive on update). The table entries expire on their own.
"""

from __future__ import annotations

import logging
import struct
import time

from .contact import C_EXPIRES, C_LAST_KEEPALIVE, C_LAST_MODIFIED, C_RUID, C_SOCKET

log = logging.getLogger("kamapy.usrloc")

_TIME = struct.Struct("<d")


class _State:
    timeout = 0          # seconds; 0 = feature off
    table = None         # SharedHashTable ruid -> time, made before the fork


state = _State()


def set_keepalive_timeout(seconds: int, size_log2: int = 12):
    """Turn on the removal of UDP contacts that stop answering keepalives (Kamailio's
    ul.set_keepalive_timeout). Call before the fork."""
    state.timeout = int(seconds)
    if state.timeout > 0 and state.table is None:
        from kamapy.mem.htable import SharedHashTable
        state.table = SharedHashTable(size_log2=size_log2, name="usrloc keepalives")


def refresh_keepalive(aorhash: int, ruid: str, now: float | None = None) -> int:
    """A keepalive of contact `ruid` was answered (Kamailio's ul_refresh_keepalive).
    The AOR hash is not needed to find it here; it is accepted for the API's shape."""
    table = state.table
    if table is None or not ruid:
        return 0
    now = time.time() if now is None else now
    # the entry outlives the timeout a little, so a silent contact's entry goes away
    table.put(ruid.encode("utf-8", "surrogatepass"), _TIME.pack(now), now + 2 * state.timeout + 60)
    return 0


def last_keepalive(c) -> float:
    """The last time contact c was heard from: an answered ping, or a REGISTER."""
    t = max(c[C_LAST_KEEPALIVE] or 0.0, c[C_LAST_MODIFIED] or 0.0)
    table = state.table
    if table is not None and c[C_RUID]:
        v = table.get(c[C_RUID].encode("utf-8", "surrogatepass"))
        if v is not None:
            t = max(t, _TIME.unpack(v)[0])
    return t


def timed_out(c, now: float) -> bool:
    """Kamailio's check in get_all_mem_ucontacts: a UDP contact not heard from for
    keepalive_timeout seconds."""
    if state.timeout <= 0:
        return False
    sock = c[C_SOCKET] or ""
    if sock and not sock.lower().startswith("udp:"):
        return False
    last = last_keepalive(c)
    return last > 0 and last + state.timeout < now


def expire_soon(d, aor: str, ruid: str, now: float) -> bool:
    """Let a timed-out contact expire in 10 s (Kamailio shortens c->expires; the usrloc
    timer then removes it and runs the expired callbacks). Memory only, as Kamailio."""
    if d.table is None:
        return False
    with d.record(aor) as r:
        c = r.find_ruid(ruid) if r is not None else None
        if c is None:
            return False
        if c[C_EXPIRES] > now + 10:  # a permanent one (0) stays, as in Kamailio
            c[C_EXPIRES] = now + 10
            blob, earliest, flags = r.pack_with_header()
            d.table.put(d._slot(aor)[0], blob, earliest, flags)
            log.info("usrloc: contact %s of %s did not answer keepalives for %ds; expires in 10s",
                     c[0], aor, state.timeout)
        return True


def reset():
    state.timeout = 0
    state.table = None
