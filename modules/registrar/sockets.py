"""The local socket a contact is bound to: stored as "proto:ip:port" text, found again
among the listen sockets at lookup; add_sock_hdr() and sock_flag/sock_hdr_name carry
it between replicated servers."""

from __future__ import annotations

import logging

from kamapy.runtime import rt
from kamapy.sip.lumps import append_header

from .settings import cfg

log = logging.getLogger("kamapy.registrar")


_texts: dict[tuple[int, bool], str] = {}
_plain: dict = {}  # socket -> its text (not advertised): received_socket()'s lookup


def socket_text(si, advertised: bool = False) -> str:
    """"proto:ip:port" of a listen socket (memoised: the sockets never change)."""
    if si is None:
        return ""
    key = (id(si), advertised)
    text = _texts.get(key)
    if text is None:
        if advertised and si.advertise_host:
            text = f"{si.proto_name}:{si.advertise_host}:{si.advertise_port or si.port}"
        else:
            text = str(si)
            _plain[si] = text
        _texts[key] = text
    return text


def find_socket(text: str):
    """The listen socket of a "proto:host:port" text (None when it is not ours)."""
    if not text:
        return None
    t = text.strip().lower()
    for si in rt.sockets:
        if str(si).lower() == t:
            return si
    return None


def _from_header(msg) -> str:
    hf = msg.get_header(cfg.sock_hdr_name) if cfg.sock_hdr_name else None
    return hf.value.strip() if hf is not None else ""


def _from_xavp(msg) -> str:
    if not cfg.xavp_cfg or not msg.xavps:
        return ""
    items = msg.xavps.get(cfg.xavp_cfg)
    if not items or not isinstance(items[0], dict):
        return ""
    values = items[0].get("socket")
    return str(values[0]) if values else ""


def received_socket(msg) -> str:
    """What save() stores as the contact's socket (Kamailio's pack_ci socket part)."""
    sock_flag = cfg.sock_flag
    if sock_flag < 0 and not cfg.sock_mode & 1:  # the usual case: the socket it came in on
        si = msg.rcv.sock
        text = _plain.get(si)
        return text if text is not None else socket_text(si)
    if sock_flag >= 0 and msg.flags & (1 << sock_flag):
        text = _from_header(msg) if cfg.sock_hdr_name else _from_xavp(msg)
        if text:
            si = find_socket(text)
            if si is not None:
                return str(si)
            log.error("non-local socket <%s>", text)
    return socket_text(msg.rcv.sock, bool(cfg.sock_mode & 1))


def add_sock_hdr(msg, name: str) -> int:
    """add_sock_hdr(name): a header with the receiving socket (proto:ip:port)."""
    if not name:
        return -1
    si = msg.rcv.sock
    if si is None:
        return -1
    append_header(msg, f"{name}: {socket_text(si)}\r\n")
    return 1
