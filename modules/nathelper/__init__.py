"""nathelper: NAT detection and fixing of SIP messages, and NAT pinging (Kamailio:
modules/nathelper, 5.6 README).

Two halves, one file each:
  messages.py  nat_uac_test(), fix_nated_contact/sdp/register(), add_rcv_param(),
               is_rfc1918(), the alias functions, $rr_count / $rr_top_count
  ping.py      keep-alive pings to NATed contacts in usrloc: their parameters, the ping
               processes, and the nathelper.enable_ping RPC
  selects.py   @nathelper.rewrite_contact[n]
"""

from __future__ import annotations

from kamapy.module import ModuleExports
from kamapy.pv.select_pvs import MODULE_SELECTS

from . import messages, ping, selects

MODULE_SELECTS["nathelper"] = selects.make


def _mod_init():
    for init in (messages.mod_init, ping.mod_init):
        if init is not None and init() not in (None, 0):
            return -1
    return 0


def _child_init(rank):
    for init in (messages.child_init, ping.child_init):
        if init is not None and init(rank) not in (None, 0):
            return -1
    return 0


def _check():
    return [*(messages.check() if messages.check else ()), *(ping.check() if ping.check else ())]


exports = ModuleExports(
    name="nathelper",
    params=[*messages.PARAMS, *ping.PARAMS],
    functions=messages.FUNCTIONS,
    pvs=messages.PVS,
    rpc=ping.RPC,
    stats=ping.STATS,
    procs=ping.PROCS,
    mod_init=_mod_init,
    child_init=_child_init,
    check=_check,
)
