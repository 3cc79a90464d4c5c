"""Which INVITE transactions carried an SDP offer when rtpengine_manage() saw them
(Kamailio sets FL_SDP_BODY on t->uas.request): a 2xx with SDP to such an INVITE is an
answer, to an INVITE without SDP it is the offer (late offer; the ACK then answers).

Kept in a small shm table keyed by the transaction id, since the reply may arrive at
another worker than the one that ran the INVITE. The id is the one tm gives (or will
give, when manage() runs in request_route before t_relay) the INVITE's transaction.
As in Kamailio, only an INVITE manage() saw with SDP is marked.
"""

from __future__ import annotations

import time

from .bound import tm

_table = None
_TTL = 300.0   # longer than any INVITE transaction lives


def create():
    global _table
    from kamapy.mem.htable import SharedHashTable
    _table = SharedHashTable(size_log2=10, name="rtpengine sdp marks")


def ensure() -> bool:
    """create() unless another module (rtpengine / rtpproxy, which share these marks as
    Kamailio's modules share FL_SDP_BODY) did already; True when this call made it."""
    if _table is None:
        create()
        return True
    return False


def mark(tid: str):
    if _table is not None:
        _table.put(tid.encode(), b"1", expires=time.time() + _TTL)


def expire(now: float):
    if _table is not None:
        _table.expire(now)


def mark_request(msg):
    """Mark the INVITE transaction msg starts or belongs to (tm's id for it)."""
    if _table is None:
        return
    try:
        tid = tm().t_tid(msg)[0]
    except Exception:  # noqa: BLE001 -- no tm, or no Via to key on: nothing to mark
        return
    mark(tid)


def offered(t) -> bool:
    return _table is not None and _table.get(t.tid.encode()) is not None
