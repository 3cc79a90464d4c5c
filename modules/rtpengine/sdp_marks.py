"""Which INVITE transactions carried an SDP offer when rtpengine_manage() saw them
(Kamailio sets FL_SDP_BODY on t->uas.request): a 2xx with SDP to such an INVITE is an
answer, to an INVITE without SDP it is the offer (late offer; the ACK then answers).

Kept in a small shm table keyed by the transaction id, since the reply may arrive at
another worker than the one that ran the INVITE's branch_route. When manage() ran before
the transaction existed (request_route, before t_relay), the stored request tells.
"""

from __future__ import annotations

import time

_table = None
_TTL = 300.0   # longer than any INVITE transaction lives


def create():
    global _table
    from kamapy.htable import SharedHashTable
    _table = SharedHashTable(size_log2=10, name="rtpengine sdp marks")


def mark(tid: str):
    if _table is not None:
        _table.put(tid.encode(), b"1", expires=time.time() + _TTL)


def expire(now: float):
    if _table is not None:
        _table.expire(now)


def offered(t) -> bool:
    if _table is not None and _table.get(t.tid.encode()) is not None:
        return True
    req = getattr(t, "req", b"") or b""
    if not req:
        return False
    try:
        from kamapy.sip.msg import RecvInfo, SipMsg

        from . import body
        return body.has_sdp(SipMsg(bytes(req), RecvInfo()))
    except Exception:  # noqa: BLE001 -- a stored request that does not parse has no SDP
        return False
