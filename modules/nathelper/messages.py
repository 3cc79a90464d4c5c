"""nathelper's message functions (filled in by the NAT work; see __init__.py)."""

from __future__ import annotations

PARAMS: list = []
FUNCTIONS: list = []
PVS: list = []
mod_init = None
child_init = None
check = None
