"""t_precheck_trans(): is another process already handling this request? (Kamailio:
tmx_pretran.c). A retransmission can reach a second worker while the first one is
still in the script, before the transaction exists; a small shm set of requests in
progress catches it.

As in Kamailio, the entry is cleared when the script ends (a post-script callback,
armed for the request that made the entry: SipMsg.after_script). An entry whose worker died mid-script expires
after HOLD seconds -- shorter than T1, so a retransmission that comes later is handled
normally (by then t_check_trans finds the transaction).
"""

from __future__ import annotations

import os
import time

from kamapy_modules.tm.relay import cached_tid
from kamapy_modules.tm.store import _LocalTable

from kamapy.sip.methods import METHOD_ACK, METHOD_CANCEL

HOLD = 0.4  # seconds an entry marks a request as being handled

_table = [None]
_MINE = "tmx.precheck"  # msg cache key: the entry this message put in the table

# this process' id as the table stores it: made on first use, forgotten in a forked child
# (os.register_at_fork), so each worker makes its own once -- no getpid() per request
_me = None


def _forget_me():
    global _me
    _me = None


os.register_at_fork(after_in_child=_forget_me)


def _my_id() -> bytes:
    global _me
    _me = str(os.getpid()).encode()
    return _me


def init():
    """In the master, before the fork."""
    try:
        from kamapy.mem import shm
        shm.pool()
        from kamapy.mem.htable import SharedHashTable
        _table[0] = SharedHashTable(12, name="tmx t_precheck_trans")
    except (ImportError, RuntimeError):
        _table[0] = _LocalTable()


def table():
    if _table[0] is None:
        init()
    return _table[0]


def precheck(msg) -> int:
    """1 when another process handles the same request now, -1 otherwise."""
    if msg.method_id & (METHOD_ACK | METHOD_CANCEL):
        return -1
    tid, _key = cached_tid(msg)
    key = tid.encode()
    me = _me
    if me is None:
        me = _my_id()
    tbl = table()
    if tbl.put_if_absent(key, me, time.time() + HOLD):
        msg.module_data[_MINE] = key
        msg.after_script(clear)
        return -1
    return -1 if tbl.get(key) == me else 1


def clear(msg):
    """After the script (armed by precheck): the request this process marked is no
    longer in the script."""
    key = msg.module_data.get(_MINE)
    if key is not None:
        table().delete(key)


def expire(now: float):
    """Timer job: drop the entries whose hold ended."""
    table().expire(now)
