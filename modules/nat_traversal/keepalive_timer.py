"""The keepalive timer (Kamailio: keepalive_timer in its "TIMER NT" process).

Runs every second in kamapy's timer process. Endpoints are spread over the interval by
a hash of their URI: in each second the endpoints of that second's slot get their
keepalive, so each endpoint gets exactly one per keepalive_interval, and the sending is
spread instead of bursting. The same pass drops expired conditions and sets the
statistics from the table, so they stay right whichever process changed it (or died).
"""

from __future__ import annotations

import logging
import time
import zlib

from kamapy import stats
from kamapy.net.send import send_to
from kamapy.runtime import rt
from kamapy.sip.msg import PROTO_UDP

from . import endpoints, state_file

log = logging.getLogger("kamapy.nat_traversal")

_cfg = {"interval": 60, "builder": None, "state_file": None, "last_save": 0.0}


def setup(interval: int, builder, state_path: str | None):
    _cfg.update(interval=interval, builder=builder, state_file=state_path, last_save=time.time())


def slot(uri: str, interval: int) -> int:
    return zlib.crc32(uri.encode()) % interval


def socket_by_name(name: str):
    for si in rt.sockets:
        if str(si) == name:
            return si
    return None


def _split(uri: str) -> tuple[str, int] | None:
    hostport = uri[4:] if uri.startswith("sip:") else uri
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def send_keepalive(uri: str, rec: dict) -> bool:
    si = socket_by_name(rec.get("s", ""))
    hp = _split(uri)
    if si is None or hp is None:
        log.error("cannot send a keepalive to %s (socket %s)", uri, rec.get("s"))
        return False
    data = _cfg["builder"].build(uri, si)
    return send_to(PROTO_UDP, data, hp[0], hp[1], si)


def count(snapshot) -> dict[str, int]:
    return {
        "keepalive_endpoints": len(snapshot),
        "registered_endpoints": sum(1 for _u, r in snapshot if r.get("r")),
        "subscribed_endpoints": sum(1 for _u, r in snapshot if r.get("u")),
        "dialog_endpoints": sum(len(r.get("d") or {}) for _u, r in snapshot),
    }


def update_stats(snapshot):
    g = stats.group("nat_traversal")
    if g is None:
        return
    for name, value in count(snapshot).items():
        g[name].set(value)


def tick(now: float):
    t = endpoints.table()
    if t is None:
        return
    t.expire(now)
    snap = endpoints.snapshot(now)
    interval = _cfg["interval"]
    iteration = int(now) % interval
    for uri, rec in snap:
        if slot(uri, interval) == iteration:
            send_keepalive(uri, rec)
    update_stats(snap)
    # saved now and then too, so a crash of the whole server loses little
    if _cfg["state_file"] and now - _cfg["last_save"] >= interval:
        _cfg["last_save"] = now
        state_file.save(_cfg["state_file"], snap)
