"""hitcount: the module docs/writing-a-module.md builds, step by step.

Counts requests per source IP in a window of `window` seconds, in a hash table in
shared memory so every worker sees the same counts:

    loadmodule "hitcount"
    modparam("hitcount", "window", 10)
    if (!hitcount_check("20")) { sl_send_reply("429", "Too Many Requests"); exit; }
    xlog("L_INFO", "$si sent $hitcount requests\n");

Exports a function, a pseudo-variable, an RPC command, a statistic and a timer.
"""

from __future__ import annotations

import logging
import time

from kamapy import stats
from kamapy.mem.htable import SharedHashTable
from kamapy.module import REQUEST_ROUTE, Arg, Function, ModuleExports, Param, RpcCommand
from kamapy.pv.base import Pv
from kamapy.pv.registry import PvDef
from kamapy.timer import register_timer

log = logging.getLogger("kamapy.hitcount")

# Made in mod_init, in the master before the fork: every worker inherits the same table.
_table: SharedHashTable | None = None


def mod_init():
    global _table
    _table = SharedHashTable(size_log2=exports.param("hash_size"))
    # forget windows that are over (the timer process runs this)
    register_timer("hitcount-expire", exports.param("window"), lambda now: _table.expire(now))
    log.info("hitcount: window %d s", exports.param("window"))


def _count(msg) -> int:
    value = _table.get(msg.rcv.src_ip.encode())
    return int(value) if value is not None else 0


def hitcount_check(msg, limit: int) -> int:
    """1 while the source is within `limit` requests per window, -1 beyond it."""
    key = msg.rcv.src_ip.encode()
    window_end = time.time() + exports.param("window")
    # A compare-and-swap loop: two workers counting the same source at once must
    # not lose an increment (get + put would).
    while True:
        old = _table.get(key)
        if old is None:
            if _table.put_if_absent(key, b"1", expires=window_end):
                count = 1
                break
            continue
        count = int(old) + 1
        if _table.replace(key, old, str(count).encode()):
            break
    if count > limit:
        stats.stat("hitcount", "blocked").inc()
        return -1
    return 1


class HitCountPv(Pv):
    """$hitcount: requests seen from the message's source IP in this window."""

    __slots__ = ()

    def get(self, msg):
        return _count(msg)


def rpc_dump(_rpc, _params):
    return [{"ip": key.decode(), "count": int(value)} for key, value in _table.items()]


def _positive(value: int):
    if value <= 0:
        raise ValueError("window must be > 0 seconds")


exports = ModuleExports(
    name="hitcount",
    params=[
        Param("window", int, 10, validate=_positive),
        Param("hash_size", int, 8),
    ],
    functions=[
        Function("hitcount_check", hitcount_check, (Arg("igp"),), REQUEST_ROUTE),
    ],
    pvs=[PvDef("hitcount", HitCountPv)],
    rpc=[RpcCommand("hitcount.dump", rpc_dump, "Requests per source IP in the current window.")],
    stats=["blocked"],
    mod_init=mod_init,
)
