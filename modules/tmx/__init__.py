"""tmx: extensions of tm (Kamailio: modules/tmx) -- t_precheck_trans, t_reply_callid,
t_flush_flags, the t_is_*_route checks, the $T_* pseudo-variables and the
transaction statistics as Kamailio's tmx names them."""

from __future__ import annotations

import logging
import time

from kamapy_modules.tm import context
from kamapy_modules.tm import stats as tm_stats

from kamapy import stats as core_stats
from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    REQUEST_ROUTE,
    TM_ONREPLY_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)
from kamapy.pv.registry import register_pv

from . import precheck
from .pvs import PVS

log = logging.getLogger("kamapy.tmx")

# Kamailio's tmx statistics, each computed from tm's counters
STAT_SOURCES = {
    "UAS_transactions": (tm_stats.TRANSACTIONS,),
    "UAC_transactions": (tm_stats.CLIENT_TRANSACTIONS,),
    "2xx_transactions": ("completed_2xx",),
    "3xx_transactions": ("completed_3xx",),
    "4xx_transactions": ("completed_4xx",),
    "5xx_transactions": ("completed_5xx",),
    "6xx_transactions": ("completed_6xx",),
    "inuse_transactions": None,
    "active_transactions": None,
    "rpl_received": (tm_stats.RPL_RECEIVED,),
    "rpl_absorbed": (tm_stats.RPL_ABSORBED,),
    "rpl_generated": (tm_stats.RPL_GENERATED,),
    "rpl_relayed": (tm_stats.RPL_RELAYED,),
    "rpl_sent": (tm_stats.RPL_SENT,),
}


class DerivedStat(core_stats.Stat):
    """A tmx statistic read from tm's counters (Kamailio: STAT_IS_FUNC)."""

    __slots__ = ("fn",)

    def __init__(self, group, name, fn):
        self.group, self.name, self.fn = group, name, fn
        self._arr, self._i = None, 0

    def get(self) -> int:
        return self.fn()

    def inc(self, n: int = 1):
        pass

    def dec(self, n: int = 1):
        pass

    def set(self, value: int):
        pass

    def reset(self):
        pass


def _source(name):
    sources = STAT_SOURCES[name]
    if name == "inuse_transactions":
        return lambda: tm_stats.summary()["current"]
    if name == "active_transactions":
        def active():
            s = tm_stats.summary()
            return max(0, s["current"] - s["waiting"])
        return active
    return lambda: sum(tm_stats.get(x) for x in sources)


def mod_init():
    from kamapy.timer import register_timer
    precheck.init()
    register_timer("tmx-precheck", 0.1, precheck.expire)
    g = core_stats.group("tmx")
    if g is not None:
        for name in STAT_SOURCES:
            g.stats[name] = DerivedStat("tmx", name, _source(name))
    return 0


# ---------------------------------------------------------------------- functions
def w_t_precheck_trans(msg) -> int:
    return precheck.precheck(msg)


def w_t_reply_callid(msg, callid, cseq, code, reason) -> int:
    """Reply to the first server transaction with this Call-ID and CSeq number."""
    from kamapy_modules.tm.store import store
    from kamapy_modules.tm.transaction import Transaction
    from kamapy_modules.tm.uas import reply_local, request_msg
    st = store()
    items = getattr(st.cells, "items", None)
    if items is None:
        return -1
    for _key, data in list(items()):
        t = Transaction.unpack(data)
        req = request_msg(t)
        try:
            if req.callid != callid or req.cseq.number != str(cseq):
                continue
        except Exception:
            continue
        lock = st.lock(t.tid)
        try:
            fresh = st.load(t.tid)
            if fresh is None or fresh.completed:
                return -1
            rc = reply_local(fresh, req, int(code), reason, time.time())
            st.save(fresh)
            return rc
        finally:
            st.unlock(lock)
    return -1


def w_t_flush_flags(msg) -> int:
    from kamapy_modules.tm.functions import _modify
    flags = msg.flags
    return _modify(msg, lambda t: setattr(t, "mflags", flags))


def _is_route(bit):
    def handler(msg) -> int:
        c = context.cur
        return 1 if c.msg is msg and c.route & bit else -1
    return handler


def w_t_is_request_route(msg) -> int:
    c = context.cur
    return 1 if not (c.msg is msg and c.route) else -1


exports = ModuleExports(
    name="tmx",
    params=[Param("precheck_trans", int, 1)],
    functions=[
        Function("t_precheck_trans", w_t_precheck_trans, (), REQUEST_ROUTE),
        Function("t_reply_callid", w_t_reply_callid,
                 (Arg("spve"), Arg("spve"), Arg("igp"), Arg("spve")), ANY_ROUTE),
        Function("t_flush_flags", w_t_flush_flags, (), ANY_ROUTE),
        Function("t_is_failure_route", _is_route(FAILURE_ROUTE), (), ANY_ROUTE),
        Function("t_is_branch_route", _is_route(BRANCH_ROUTE), (), ANY_ROUTE),
        Function("t_is_reply_route", _is_route(TM_ONREPLY_ROUTE), (), ANY_ROUTE),
        Function("t_is_request_route", w_t_is_request_route, (), ANY_ROUTE),
    ],
    stats=list(STAT_SOURCES),
    mod_init=mod_init,
    doc=__doc__,
)

# registered here, not through exports.pvs: the loader passes only name and factory
# on, and $T_req(...) / $T_rpl(...) need their inner-name rule
for _pv in PVS:
    register_pv(_pv)
