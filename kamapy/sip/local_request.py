"""Requests kamapy itself originates, sent statelessly: nathelper's SIP pings
(modules/nathelper/sipping.py) and nat_traversal's keepalives
(modules/nat_traversal/keepalive_request.py) build theirs here; tm's local requests
(t_uac.py) take the Via from here. A request line, a Via naming the socket it leaves
from, and the dialog headers the caller gives, in that order, ending with
Content-Length.

    data = build_local_request("OPTIONS", "sip:u@1.2.3.4:5060", sock,
                               from_="sip:pinger@example.org", from_tag="x1",
                               to="sip:u@1.2.3.4:5060", call_id="abc@1.2.3.4", cseq=1)

Values go in as given (no escaping, no angle brackets added): the caller decides the
exact bytes, as Kamailio's builders do.
"""

from __future__ import annotations

import random

MAGIC_COOKIE = "z9hG4bK"

_rand = random.SystemRandom()


def new_branch(digits: int = 7) -> str:
    """A fresh RFC 3261 branch for a stateless request: the magic cookie and random
    digits (Kamailio's SIP ping uses 7)."""
    lo = 10 ** (digits - 1)
    return f"{MAGIC_COOKIE}{_rand.randrange(lo, lo * 10)}"


def via_for_socket(sock, branch: str, always_port: bool = True, transport: str | None = None) -> str:
    """The Via value of a request leaving from `sock` (a kamapy.net SocketInfo): its
    advertised address and port if set, IPv6 in brackets. Kamailio's locally built
    pings always print the port; via_value() of forward.py leaves 5060 out.
    `transport` names the Via's transport instead of the socket's (nat_traversal's
    keepalives always say UDP)."""
    host = sock.via_host
    port = sock.via_port
    proto = transport or sock.proto_name.upper()
    if always_port or port != 5060:
        return f"SIP/2.0/{proto} {host}:{port};branch={branch}"
    return f"SIP/2.0/{proto} {host};branch={branch}"


def build_local_request(method: str, ruri: str, sock, *, from_: str, to: str, call_id: str,
                        cseq: int, from_tag: str = "", to_tag: str = "", branch: str | None = None,
                        route: str = "", headers: list[tuple[str, str]] | tuple = (),
                        extra: str = "", body: bytes = b"", max_forwards: int | None = None,
                        transport: str | None = None) -> bytes:
    """The bytes of a request kamapy sends on its own. `route` is a Route value (a
    Path set, for instance) put after the Via; `headers` are (name, value) pairs added
    after CSeq, then `extra`, header lines as written, each ending in CRLF (a modparam
    such as keepalive_extra_headers); Max-Forwards only when given (Kamailio's ping has
    none); `transport` as in via_for_socket."""
    lines = [f"{method} {ruri} SIP/2.0",
             "Via: " + via_for_socket(sock, branch or new_branch(), transport=transport)]
    if max_forwards is not None:
        lines.append(f"Max-Forwards: {max_forwards}")
    if route:
        lines.append("Route: " + route)
    lines.append(f"From: {from_};tag={from_tag}" if from_tag else f"From: {from_}")
    lines.append(f"To: {to};tag={to_tag}" if to_tag else f"To: {to}")
    lines.append("Call-ID: " + call_id)
    lines.append(f"CSeq: {cseq} {method}")
    for name, value in headers:
        lines.append(f"{name}: {value}")
    if extra:
        lines.append(extra[:-2] if extra.endswith("\r\n") else extra)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body
