"""nathelper's NAT pinging (filled in by the NAT work; see __init__.py)."""

from __future__ import annotations

PARAMS: list = []
RPC: list = []
STATS: list = []
PROCS: list = []
mod_init = None
child_init = None
check = None
