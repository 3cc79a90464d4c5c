"""tm's relayed reply in one C call (kp_tmreply.c): the 180 and 200 of a call, and the
200 to its BYE, are most of what a proxy's workers do for replies.

replies.reply_hook asks relay(msg) first. The C call matches the reply to its
transaction by our Via branch, and, in the plain case (one branch, no tm callbacks,
no onreply_route, nothing CANCELed, a UDP request, a 1xx or 2xx with a clean scan),
changes the record as handle_reply() would, writes it back with its due entry under
the reply lock, releases it and sends the reply upstream (what outbox.py does for the
Python path). Anything else it declines, having changed nothing, and reply_hook goes
the Python way. tests/modules/tm/test_fast_reply.py holds the two paths to the same
record, due entry, datagram and counters on many variants.
"""

from __future__ import annotations

import logging
import os
import time
from _thread import get_ident as _get_ident

from kamapy._native._kamapy_native import ffi, lib

from kamapy.net import data_hooks
from kamapy.runtime import rt

from . import outbox, stats
from .config import cfg
from .store import LOCKS, store
from .transaction import Branch, Transaction

log = logging.getLogger("kamapy.tm")

# kp_tmreply.c reads and writes the record by position: its T_* and B_* orders
T_FIELDS = (
    "tid", "skey", "method", "flags", "created", "req", "req_lumped", "rcv", "rpl_dst",
    "new_uri", "dst_uri", "mflags", "bflags", "avps", "xavps", "on_failure", "on_reply",
    "on_branch", "on_branch_failure", "uas_code", "uas_buf", "uas_totag", "uas_retr_due",
    "uas_retr_ivl", "fr", "fr_inv", "t1", "t2", "end_of_life", "wait_due", "due_reg",
    "branches", "relayed", "first_branch", "cancel_reason", "cbs")
B_FIELDS = (
    "uri", "dst_uri", "path", "bflags", "proto", "ip", "port", "sock", "buf", "code",
    "reason", "reply", "flags", "retr_due", "retr_ivl", "fr_due", "cancel", "cancel_due",
    "cancel_ivl", "onreply", "cancel_end", "instance", "ruid", "on_bf")
if Transaction.__slots__ != T_FIELDS or Branch.__slots__ != B_FIELDS:
    raise ImportError("tm: the transaction fields are not the ones kp_tmreply.c reads")

_WCAP = 1 << 18       # the record read and the new one; a bigger record goes the Python way
_ABSORBED = lib.KP_TMR_ABSORBED
_RECOVERED = lib.KP_TMR_RECOVERED
_ENOLOCK = lib.KP_TMR_ENOLOCK
_ESHM = lib.KP_TMR_ESHM
_ELOCK = -2           # kp_htable.h KP_HT_ELOCK
# kp_tmreply.h's KP_TMN_* and KP_TMR_RES_* positions
_NOW, _WT, _RESTART_FR, _RELAY_100, _FD4, _FD6, _NSOCK, _NWCAP = range(8)
_R_GET, _R_RELEASE, _R_CODE, _R_WAITING, _R_ERRNO, _R_PORT, _R_LOCK = range(7)
_AF_INET, _AF_INET6 = 2, 10
_OWNER = _get_ident()  # its buffers are this thread's (the worker's loop)

_tm_reply = lib.kp_tm_reply
_work = ffi.new("char[]", _WCAP)
_res = ffi.new("int[]", lib.KP_TMR_NRES)
_nums = ffi.new("double[]", lib.KP_TMN_NARGS)
_nums[_NWCAP] = _WCAP
_bound = [None, None, None, None, None]  # store, cells, due, its LockSet, the C lock set
_socks = [None, None, 0]                 # rt.sockets, its table, how many


def _bind(st):
    """The C handles of the store's tables; None for a store without shm."""
    if not st.in_shm:
        _bound[:] = [st, None, None, None, None]
        return None
    locks = st.locks
    _bound[:] = [st, st.cells._ht, st.due._ht, locks, getattr(locks, "_set", None)]
    return _bound


def _socket_table():
    """The listen sockets as kp_tmr_sock_t rows (socket_for's order), and the first UDP
    socket of each family (choose_socket's fallback); made again when the list changes."""
    socks = rt.sockets
    rows = ffi.new("kp_tmr_sock_t[]", max(1, len(socks)))
    for n, si in enumerate(socks):
        addr = si.address.encode("ascii", "replace") if isinstance(si.address, str) else b""
        r = rows[n]
        # an address that does not fit matches nothing: its replies go the Python way
        r.address = addr if len(addr) < lib.KP_TMR_ADDR_MAX else b""
        r.port = si.port
        r.proto = si.proto
        r.af = si.af
        r.fd = si.sock.fileno() if si.sock is not None else -1
    for slot, af in ((_FD4, _AF_INET), (_FD6, _AF_INET6)):
        si = rt.first_socket(1, af)
        _nums[slot] = si.sock.fileno() if si is not None and si.sock is not None else -1
    _nums[_NSOCK] = len(socks)
    _socks[:] = [socks, rows, len(socks)]
    return rows


def relay(msg) -> bool:
    """True when the C call took the reply (relayed upstream or absorbed), counted as
    the Python path counts it; False, nothing changed, for the Python path."""
    scan = msg.clean_scan  # SipMsg's: the C scan when every line reads as is
    if scan is None or msg.lumps or data_hooks.data_out or outbox._held is not None \
            or _get_ident() != _OWNER:
        return False
    st = store()
    b = _bound
    if st is not b[0]:
        b = _bind(st)
        if b is None:
            return False
    if b[4] is None:
        return False
    rows = _socks[1]
    if _socks[0] is not rt.sockets or _socks[2] != len(rt.sockets):
        rows = _socket_table()
    nums = _nums
    nums[_NOW] = time.time()
    nums[_WT] = cfg.wt
    nums[_RESTART_FR] = cfg.restart_fr
    nums[_RELAY_100] = cfg.relay_100
    data = msg.data
    res = _res
    rc = _tm_reply(b[1], b[2], b[4], LOCKS, data, len(data), scan, nums, rows, _work, res)
    if rc >= 0:
        if res[_R_RELEASE]:
            b[3].release_failed(res[_R_RELEASE], res[_R_LOCK])
        # the counters the Python path moves for this outcome, in one call
        if rc == _ABSORBED:
            key = (True, 0, res[_R_WAITING] != 0)
        else:
            code = res[_R_CODE]
            key = (False, code // 100 if code >= 200 else 0, res[_R_WAITING] != 0)
            if res[_R_ERRNO]:  # send_udp's line
                log.error("sendto %s:%d failed: %s", ffi.string(_work).decode("ascii", "replace"),
                          res[_R_PORT], os.strerror(res[_R_ERRNO]))
        (stats.outcome_sets.get(key) or stats.reply_outcome(key)).inc()
        return True
    locks = b[3]
    if rc == _RECOVERED:  # held: the lock set's recovery, then the Python path
        locks._after_get(res[_R_GET], res[_R_LOCK], "lock_set_get")
        locks.release(res[_R_LOCK])
        return False
    if rc == _ENOLOCK:
        locks._after_get(res[_R_GET], res[_R_LOCK], "lock_set_get")  # raises
    if res[_R_RELEASE]:
        locks.release_failed(res[_R_RELEASE], res[_R_LOCK])
    if rc == _ELOCK or rc == _ESHM:
        raise st.cells._failed(rc if rc == _ELOCK else -1, b"")
    return False
