"""Sends held back until the transaction they belong to is written back.

Retransmitted requests are answered from the stored record without taking its lock,
so a reply must not reach the caller before the record says it was sent: otherwise
the caller's next retransmission could be answered with the reply before it. Code
that changes a transaction under its lock opens the outbox, saves, then flushes.
"""

from __future__ import annotations

from kamapy.net.send import send_to

_held: list | None = None


def send(proto: int, data: bytes, ip: str, port: int, sock, conid: int = 0, flags: int = 0) -> bool:
    if _held is not None:
        _held.append((proto, data, ip, port, sock, conid, flags))
        return True
    return send_to(proto, data, ip, port, sock, conid, flags)


def hold():
    """Start holding sends (nested holds share one outbox)."""
    global _held
    if _held is None:
        _held = []
        return True
    return False


def flush(opened: bool):
    """Send what was held, if this caller opened the outbox."""
    global _held
    if not opened:
        return
    held, _held = _held, None
    for proto, data, ip, port, sock, conid, flags in held:
        send_to(proto, data, ip, port, sock, conid, flags)


def drop(opened: bool):
    global _held
    if opened:
        _held = None
