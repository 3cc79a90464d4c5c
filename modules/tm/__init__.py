"""tm: stateful SIP transactions (Kamailio: modules/tm).

Transactions live in shared memory (store.py), so whichever process receives a
reply, a CANCEL, an ACK or a retransmission finds the transaction the request
created. The parts:

  transaction.py  the record kept per transaction, and its branches
  matching.py     which transaction a request / reply belongs to
  relay.py        requests: lookup, t_newtran, t_relay, e2e CANCEL, ACK absorption
  uac.py          building and sending the branches (branch_route)
  replies.py      replies from downstream: onreply_route, relay, pick, ACK
  failure.py      the best reply of a round, failure_route, the final reply
  uas.py          replies upstream: t_reply, retransmissions, wait
  cancel.py       CANCEL and hop-by-hop ACK towards branches
  timers.py       retransmissions and timeouts, in the timer process
  functions.py    the config functions
  t_uac.py        local transactions: requests kamapy originates (t_uac)
  serial.py       serial forking by q and +sip.instance (t_load_contacts & co)
"""

from __future__ import annotations

import logging

from kamapy.module import Arg, Function, ModuleExports, RpcCommand

from . import api, stats
from .config import PARAMS, cfg
from .functions import FUNCTIONS
from .replies import reply_hook
from .t_uac import reply_hook as local_reply_hook

log = logging.getLogger("kamapy.tm")


def mod_init():
    from kamapy.timer import register_timer

    from . import cancel, store, t_uac, timers

    cfg.load(exports.values)
    if cfg.contacts_avp and not cfg.contact_flows_avp:
        log.error("tm: contact_flows_avp param has not been defined")
        return -1
    cancel.cancel_b_method[0] = exports.param("cancel_b_method")
    store.set_store(store.TransactionStore())
    stats.bind()  # (sl binds tm's API for send_reply(), not the other way round)
    register_timer("tm", timers.INTERVAL, timers.run_timers)
    t_uac.init()
    return 0


def response(msg, _local=local_reply_hook, _relayed=reply_hook) -> bool:
    """Kamailio's response_f (reply_received): a reply to one of our local requests
    (t_uac, a cheap prefix test on the branch first) is ours whatever happens; else the
    transaction the reply matches takes it (relayed or absorbed)."""
    return _local(msg) or _relayed(msg)


def rpc_stats(_rpc, _params):
    return stats.summary()


def rpc_t_uac_start(rpc, params):
    from .t_uac import rpc_t_uac_start as start
    return start(rpc, params)


def rpc_t_uac_wait(rpc, params):
    from .t_uac import rpc_t_uac_wait as wait
    return wait(rpc, params)


def rpc_t_uac_wait_block(rpc, params):
    from .t_uac import rpc_t_uac_wait_block as wait
    return wait(rpc, params)


def w_t_uac_send(msg, *args):
    from .t_uac import w_t_uac_send as send
    return send(msg, *args)


exports = ModuleExports(
    name="tm",
    params=PARAMS,
    functions=FUNCTIONS + [Function("t_uac_send", w_t_uac_send, args=tuple(Arg("spve") for _ in range(6)))],
    rpc=[RpcCommand("tm.stats", rpc_stats, "Print transaction statistics."),
         RpcCommand("tm.t_uac_start", rpc_t_uac_start, "starts a tm uac using  a list of string parameters: method, ruri, dst_uri send_sock, headers (CRLF separated) and body (optional)"),
         RpcCommand("tm.t_uac_wait", rpc_t_uac_wait, "starts a tm uac and waits for the final reply, using a list of string parameters: method, ruri, dst_uri send_sock, headers (CRLF separated) and body (optional)"),
         RpcCommand("tm.t_uac_wait_block", rpc_t_uac_wait_block, "starts a tm uac and waits for the final reply in blocking mode, using a list of string parameters: method, ruri, dst_uri send_sock, headers (CRLF separated) and body (optional)")],
    stats=stats.NAMES,
    event_routes=["tm:local-request"],  # run by t_uac.py for every local request
    mod_init=mod_init,
    response=response,
    api=api.make(),  # load_tm_api: the callbacks (TMCB_*) and local requests
    doc=__doc__,
)
