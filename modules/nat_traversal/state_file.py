"""keepalive_state_file: the endpoints and their registration / subscription expiries,
saved at shutdown (and periodically by the timer) and read back at start-up.

The format is Kamailio's, one endpoint a line after a comment header:
    sip:1.2.3.4:5060 udp:10.0.0.1:5060 <registration expiry> <subscription expiry>
Dialog conditions are not saved (as in Kamailio: the dialogs do not survive a restart).
"""

from __future__ import annotations

import logging
import os
import time

from . import endpoints

log = logging.getLogger("kamapy.nat_traversal")

HEADER = "# Automatically generated file from internal keepalive state. Do NOT modify!\n"


def save(path: str, snapshot=None):
    snap = endpoints.snapshot() if snapshot is None else snapshot
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            f.write(HEADER)
            for uri, rec in snap:
                f.write(f"{uri} {rec['s']} {int(rec.get('r', 0))} {int(rec.get('u', 0))}\n")
        os.replace(tmp, path)  # readers never see half a file
    except OSError as e:
        log.error("failed to write keepalive state file (%s): %s", path, e.strerror)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def restore(path: str, known_sockets: set[str]) -> int:
    """Load the entries still alive whose socket we still listen on; returns how many."""
    try:
        f = open(path)
    except FileNotFoundError:
        return 0
    except OSError as e:
        log.error("failed to open keepalive state file for reading: %s", e.strerror)
        return 0
    now = time.time()
    n = 0
    with f:
        for lineno, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            parts = line.split()
            try:
                uri, sock, reg, sub = parts[0], parts[1], int(parts[2]), int(parts[3])
                if len(parts) != 4:
                    raise ValueError
            except (ValueError, IndexError):
                log.error("invalid/corrupted keepalive state file (%s:%d). ignoring remaining entries.",
                          path, lineno)
                break
            if now > reg and now > sub:
                continue  # expired while we were down
            if sock not in known_sockets:
                continue  # a socket we no longer listen on
            endpoints.restore(uri, sock, reg if reg > now else 0, sub if sub > now else 0)
            n += 1
    return n
