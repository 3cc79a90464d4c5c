"""Record unique ids (Kamailio's sruid): unique across processes and restarts --
the start time of the server, the process id, then a per-process counter."""

from __future__ import annotations

import itertools
import os
import time

_state = {"pid": 0, "prefix": "", "counter": None}


def new_ruid(prefix: str = "uloc") -> str:
    pid = os.getpid()
    if _state["pid"] != pid:  # a forked child starts its own sequence
        _state["pid"] = pid
        _state["prefix"] = f"{prefix}-{int(time.time()):x}-{pid:x}-"
        _state["counter"] = itertools.count(1)
    return _state["prefix"] + str(next(_state["counter"]))
