"""corex: more core extensions (Kamailio: modules/corex) -- the ones a stock config
reaches for: setxflag/resetxflag/isxflagset, set_send_socket, send_udp / send_data,
file_read / file_write, is_socket_name. append_branch() is a kamapy core function.

Kamailio's "extended flags" are a second 64-bit message flag set, separate from the
internal msg_flags kamapy keeps in msg.xflags; until SipMsg has a slot for them they
live in the message's cache under XFLAGS_KEY.
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, BRANCH_ROUTE, FAILURE_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports

log = logging.getLogger("kamapy_modules.corex")

XFLAGS_KEY = "corex.xflags"
MAX_XFLAG = 63


def _flag(value) -> int:
    flag = int(value)
    if not 0 <= flag <= MAX_XFLAG:
        raise ValueError(f"xflag {flag} out of range (0..{MAX_XFLAG})")
    return flag


def setxflag(msg, flag) -> int:
    msg.module_data[XFLAGS_KEY] = msg.module_data.get(XFLAGS_KEY, 0) | (1 << int(flag))
    return 1


def resetxflag(msg, flag) -> int:
    msg.module_data[XFLAGS_KEY] = msg.module_data.get(XFLAGS_KEY, 0) & ~(1 << int(flag))
    return 1


def isxflagset(msg, flag) -> int:
    return 1 if msg.module_data.get(XFLAGS_KEY, 0) & (1 << int(flag)) else -1


def set_send_socket(msg, target: str) -> int:
    from kamapy.core_functions import force_send_socket
    return force_send_socket(msg, target)


def send_udp(msg, target: str | None = None) -> int:
    """Send the request as it is (lumps applied) over UDP to the URI or $du/R-URI."""
    from kamapy.net.send import send_to
    from kamapy.sip.errors import SipParseError
    from kamapy.sip.next_hop import next_hop, uri_hop
    from kamapy.sip.outgoing import build_message
    from kamapy.sip.uri import parse_uri
    try:
        _proto, host, port = uri_hop(parse_uri(target)) if target else next_hop(msg)
    except SipParseError as e:
        log.error("send_udp: bad destination: %s", e)
        return -1
    return 1 if send_to(1, build_message(msg), host, port) else -1


def send_data(msg, uri: str, data: str) -> int:
    from kamapy.net.send import send_to
    from kamapy.sip.errors import SipParseError
    from kamapy.sip.next_hop import uri_hop
    from kamapy.sip.uri import parse_uri
    from kamapy.sip.wire import to_wire
    try:
        _proto, host, port = uri_hop(parse_uri(uri))
    except SipParseError as e:
        log.error("send_data: bad destination: %s", e)
        return -1
    return 1 if send_to(1, to_wire(data), host, port) else -1


def file_read(msg, path: str, pv) -> int:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            pv.set(msg, f.read())
    except OSError as e:
        log.error("file_read %s: %s", path, e)
        return -1
    return 1


def file_write(msg, path: str, text: str) -> int:
    try:
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
    except OSError as e:
        log.error("file_write %s: %s", path, e)
        return -1
    return 1


def is_socket_name(msg, name: str) -> int:
    from kamapy.runtime import rt
    return 1 if any(si.name == name for si in rt.sockets) else -1


FLAG = Arg("igp", fixup=_flag)

exports = ModuleExports(
    name="corex",
    functions=[
        Function("setxflag", setxflag, (FLAG,), ANY_ROUTE),
        Function("resetxflag", resetxflag, (FLAG,), ANY_ROUTE),
        Function("isxflagset", isxflagset, (FLAG,), ANY_ROUTE),
        Function("set_send_socket", set_send_socket, (Arg("str"),), ANY_ROUTE),
        Function("send_udp", send_udp, (Arg("spve", optional=True),), REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE),
        Function("send_data", send_data, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("file_read", file_read, (Arg("spve"), Arg("pvar")), ANY_ROUTE),
        Function("file_write", file_write, (Arg("spve"), Arg("spve")), ANY_ROUTE),
        Function("is_socket_name", is_socket_name, (Arg("spve"),), ANY_ROUTE),
    ],
    doc=__doc__,
)
