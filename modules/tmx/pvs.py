"""tmx's pseudo-variables: the transaction seen from the script (Kamailio:
tmx/t_var.c). $T_reply_code and $T_reply_reason give the reply being handled
(onreply_route), the winning one (failure_route) or the last one sent upstream
(request_route); $T_reply_ruid the usrloc ruid of that reply's branch;
$T_branch_idx the branch tm runs the route for; $T_req(pv) and $T_rpl(pv) read a PV
on the transaction's request and on its chosen reply."""

from __future__ import annotations

import logging

from kamapy_modules.tm import context
from kamapy_modules.tm.failure import pick_branch
from kamapy_modules.tm.store import store
from kamapy_modules.tm.uas import request_msg

from kamapy.module import BRANCH_FAILURE_ROUTE, FAILURE_ROUTE, TM_ONREPLY_ROUTE
from kamapy.pv.base import Pv
from kamapy.pv.registry import PvDef
from kamapy.sip.msg import REPLY, SipMsg

log = logging.getLogger("kamapy.tmx")


def _txn(msg):
    c = context.cur
    return c.txn if c.msg is msg else None


def reply_code(msg):
    """$T_reply_code: 0 when there is no reply yet (as Kamailio prints it)."""
    c = context.cur
    if msg.type == REPLY:
        return msg.status
    t = _txn(msg)
    if t is None:
        return 0
    if c.route and c.reply_code:
        if t.branches and c.route & FAILURE_ROUTE:  # the code as picked now
            best = pick_branch(t)
            if best >= 0:
                return t.branches[best].code
        return c.reply_code
    if c.lock == context.NOT_HELD:
        t = store().load(t.tid) or t  # replies may have moved it on in another process
    return t.uas_code


def reply_reason(msg):
    c = context.cur
    if msg.type == REPLY:
        return msg.reason
    t = _txn(msg)
    if t is None:
        return None
    if c.route & FAILURE_ROUTE:
        best = pick_branch(t)
        if best >= 0:
            return t.branches[best].reason or None
    return None


def reply_ruid(msg):
    """$T_reply_ruid: the usrloc ruid of the branch the reply is for (onreply_route),
    of the winning one (failure_route) or of the failed one (branch-failure)."""
    t = _txn(msg)
    if t is None:
        return ""
    c = context.cur
    if not c.route & (FAILURE_ROUTE | BRANCH_FAILURE_ROUTE | TM_ONREPLY_ROUTE):
        log.error("$T_reply_ruid: unsupported route type")
        return ""
    if not 0 <= c.branch < len(t.branches):
        return ""
    return t.branches[c.branch].ruid or ""


def branch_idx(msg):
    c = context.cur
    if c.msg is not msg and msg.type != REPLY:
        return 0
    return c.branch if c.branch >= 0 else 0


class _Inner(Pv):
    __slots__ = ("inner",)

    def __init__(self, spec):
        super().__init__(spec)
        from kamapy.pv import parse_pv
        self.inner = spec.inner_pv if spec.inner_pv is not None else parse_pv(spec.inner)


class TReqPv(_Inner):
    """$T_req(pv): pv read on the transaction's request."""

    __slots__ = ()

    def get(self, msg):
        t = _txn(msg)
        if t is None:
            return None
        if msg.type != REPLY:
            return self.inner.get(msg)
        req = msg.module_data.get("tmx_req")
        if req is None:
            req = msg.module_data["tmx_req"] = request_msg(t)
        return self.inner.get(req)


class TRplPv(_Inner):
    """$T_rpl(pv): pv read on the reply (the one handled, or the winning one)."""

    __slots__ = ()

    def get(self, msg):
        if msg.type == REPLY:
            return self.inner.get(msg)
        c = context.cur
        if c.msg is not msg or not c.reply:
            return None
        rpl = msg.module_data.get("tmx_rpl")
        if rpl is None:
            data = c.reply if isinstance(c.reply, bytes) else c.reply.data
            rpl = msg.module_data["tmx_rpl"] = SipMsg(data)
        return self.inner.get(rpl)


def _fn(name, getter):
    return type(name, (Pv,), {"__slots__": (), "get": staticmethod(getter)})


PVS = [
    PvDef("T_reply_code", _fn("TReplyCodePv", reply_code)),
    PvDef("T_reply_reason", _fn("TReplyReasonPv", reply_reason)),
    PvDef("T_reply_ruid", _fn("TReplyRuidPv", reply_ruid)),
    PvDef("T_branch_idx", _fn("TBranchIdxPv", branch_idx)),
    PvDef("T_req", TReqPv, inner="required"),
    PvDef("T_rpl", TRplPv, inner="required"),
]
