"""Kamailio's SREV_NET_DATA_IN / SREV_NET_DATA_OUT events (core/events.c): a module may
see, and replace, the bytes of every SIP message as it arrives (before it is parsed,
in receive_msg) and as it leaves (in send_to, once per send: a retransmission is
passed again, the buffer tm keeps is not changed).

A module registers in its mod_init, before the fork, as Kamailio's modules call
sr_event_register_cb; dialog's track_cseq_updates is the user (Kamailio's topoh is the
other). With nothing registered the cost is one test of an empty list.
"""

from __future__ import annotations

import logging

log = logging.getLogger("kamapy.net")

data_in: list = []   # fn(data: bytes) -> bytes, on what arrives
data_out: list = []  # fn(data: bytes) -> bytes, on what leaves


def register_in(fn) -> None:
    if fn not in data_in:
        data_in.append(fn)


def register_out(fn) -> None:
    if fn not in data_out:
        data_out.append(fn)


def _run(hooks: list, data: bytes) -> bytes:
    for fn in hooks:
        try:
            out = fn(data)
        except Exception:
            log.exception("net data hook %s failed; the message goes as it was", fn)
            continue
        if out is not None:
            data = out
    return data


def run_in(data: bytes) -> bytes:
    return _run(data_in, data)


def run_out(data: bytes) -> bytes:
    return _run(data_out, data)
