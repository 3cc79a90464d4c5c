"""The client side: turning a request into branches and sending them (Kamailio:
t_fwd.c t_forward_nonack, add_uac, t_send_branch).

One branch per destination: the R-URI (with $du, path, branch flags) and every
branch of the destination set (append_branch, lookup). For each one branch_route
runs (if t_on_branch set one) on the request with that branch's R-URI; what it
changes holds for that branch only. The request is built once per branch (our Via
carries `z9hG4bK<tid>.<index>`) and kept for retransmissions, CANCEL and ACK.
"""

from __future__ import annotations

import logging
import socket

from kamapy import ser_error
from kamapy.module import BRANCH_ROUTE
from kamapy.net.onsend import onsend_route, run_onsend
from kamapy.net.send import choose_socket
from kamapy.net.socket_info import socket_for
from kamapy.runtime import rt
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_IDS, PROTO_NAMES, PROTO_TCP, PROTO_TLS, PROTO_UDP
from kamapy.sip.msg_flags import FL_ADD_LOCAL_RPORT, FL_FORCE_RPORT
from kamapy.sip.next_hop import uri_hop
from kamapy.sip.outgoing import build_request
from kamapy.sip.uri import parse_uri
from kamapy.sip.via_branch import via_value

from . import dns_failover
from .cancel import send_branch
from .matching import our_branch
from .script import find_route, run_with
from .transaction import B_SEND_FAILED, B_SND_SHIFT, Branch, Transaction

log = logging.getLogger("kamapy.tm")

MAX_BRANCHES = 12  # Kamailio's sr_dst_max_branches default


class RelayError(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def destinations(msg, include_ruri: bool = True) -> list[tuple]:
    """(uri, dst_uri, path, bflags, socket, instance, ruid) of every branch the request
    forks to."""
    out = []
    if include_ruri:
        out.append((msg.current_uri, msg.dst_uri, msg.path_vec, msg.ruri_bflags, msg.force_send_socket,
                    msg.instance, msg.ruid))
    for b in msg.branches:
        out.append((b.uri, b.dst_uri, b.path, b.flags, b.socket, b.instance, b.ruid))
    return out


def _hop(msg, uri: str, dst_uri: str | None, proxy) -> tuple[int, str, int]:
    """(proto id, host, port) of the next hop of a branch."""
    if proxy is not None:
        return proxy
    try:
        parsed = msg.parsed_ruri if dst_uri is None and uri == msg.current_uri else parse_uri(dst_uri or uri)
        proto, host, port = uri_hop(parsed)
    except SipParseError as e:
        log.error("t_relay: bad destination %s: %s", dst_uri or uri, e.reason)
        raise RelayError(ser_error.E_BAD_URI) from None
    return PROTO_IDS.get(proto, 0), host, port


def _copy_lumps(lumps, mapping: dict | None = None):
    """A copy of a lump list deep enough that a branch_route's additions stay out;
    mapping, when given, learns id(original) -> copy of every lump (chains too)."""
    if not lumps:
        return lumps
    if mapping is None:
        mapping = {}

    def chain(lump, attr):
        first = None
        prev = None
        r = getattr(lump, attr)
        while r is not None:
            c = mapping[id(r)] = r.clone()
            if prev is None:
                first = c
            else:
                setattr(prev, attr, c)
            prev = c
            r = getattr(r, attr)
        return first

    out = []
    for lump in lumps:
        c = mapping[id(lump)] = lump.clone()
        c.before = chain(lump, "before")
        c.after = chain(lump, "after")
        out.append(c)
    return out


def _branch_module_data(md: dict, mapping: dict) -> dict:
    """Swap in, for a branch_route, each module's per-message state that points at
    lumps (it has branch_copy(mapping), like rr's); returns the originals to put back."""
    swapped = {}
    for key, value in md.items():
        copy = getattr(value, "branch_copy", None)
        if copy is not None:
            swapped[key] = value
    for key, value in swapped.items():
        md[key] = value.branch_copy(mapping)
    return swapped


def build_branch(t: Transaction, msg, idx: int, dest, proxy, now: float, lock: int) -> Branch | None:
    """Run branch_route (if any) and build the request of branch idx; None when the
    branch_route dropped it. Raises RelayError."""
    uri, dst_uri, path, bflags, sock, instance, ruid = dest
    saved = (msg.new_uri, msg.dst_uri, msg.path_vec, msg.ruri_bflags, msg.force_send_socket)
    lumps = msg.lumps
    swapped = None
    # set_forward_close()/no_connect() in branch_route count for this branch only
    # (Kamailio's t_fwd.c keeps the request's send flags around the branch route)
    fwd_flags = msg.fwd_send_flags
    try:
        if uri != msg.current_uri:
            msg.set_ruri(uri)
        msg.dst_uri, msg.path_vec, msg.ruri_bflags, msg.force_send_socket = dst_uri, path, bflags, sock
        onreply = ""
        route = find_route("branch", t.on_branch) if t.on_branch else None
        if route is not None:
            mapping = {}
            msg.lumps = _copy_lumps(lumps, mapping)
            swapped = _branch_module_data(msg.module_data, mapping)
            before = t.on_reply
            ctx = run_with(t, lock, route, msg, BRANCH_ROUTE, branch=idx)
            if ctx is not None and ctx.dropped:
                return None
            if t.on_reply != before:  # t_on_reply in branch_route: for this branch only
                onreply, t.on_reply = t.on_reply, before
            uri, dst_uri, path = msg.current_uri, msg.dst_uri, msg.path_vec
            bflags, sock = msg.ruri_bflags, msg.force_send_socket
        snd_flags = msg.fwd_send_flags
        proto, host, port = _hop(msg, uri, dst_uri, proxy)
        if proto not in (0, PROTO_UDP, PROTO_TCP, PROTO_TLS, 5, 6):  # 5, 6: ws, wss
            log.error("t_relay: transport %d is not supported yet (branch %s)", proto, uri)
            raise RelayError(ser_error.E_BAD_PROTO)
        proto = proto or PROTO_UDP
        # RFC 3263 (NAPTR, SRV, A/AAAA); the other addresses are kept for DNS failover
        proto, ip, port, af = dns_failover.resolve_branch(t, idx, msg, uri, dst_uri, proxy)
        si = choose_socket(proto, af, sock if not isinstance(sock, tuple) else None)
        if si is None:
            # no socket of that address family: Kamailio's uri2dst fails, "unresolvable"
            # (478); sockets of that family but none of this transport: its
            # prepare_new_uac finds no listening socket, E_NO_SOCKET (500 "(7/TM)")
            log.error("t_relay: no %s socket to send to %s (af %s)", PROTO_NAMES.get(proto, proto), host, af)
            if any(s.af == af for s in rt.sockets):
                raise RelayError(ser_error.E_NO_SOCKET)
            raise RelayError(ser_error.E_BAD_ADDRESS)
        params = ";rport" if msg.xflags & FL_ADD_LOCAL_RPORT else ""
        if msg.rcv.proto != 1:  # came over a connection: ;i=<conid>, as Kamailio's Via
            from kamapy.net.tcp_send import via_id_param
            params = via_id_param(msg) + params
        pname = PROTO_NAMES[proto]
        via = via_value(si.via_host, si.via_port, pname, our_branch(t.tid, idx), params)
        buf = build_request(msg, via, pname, force_rport=bool(msg.xflags & FL_FORCE_RPORT))
    finally:
        msg.fwd_send_flags = fwd_flags
        msg.lumps = lumps
        if swapped:
            msg.module_data.update(swapped)
        if msg.new_uri != saved[0]:
            msg.set_ruri(saved[0])
        msg.dst_uri, msg.path_vec, msg.ruri_bflags, msg.force_send_socket = saved[1:]
    b = Branch(uri, dst_uri, path, bflags, proto, ip, port, (si.address, si.port), buf)
    b.flags |= (snd_flags & 3) << B_SND_SHIFT
    b.onreply = onreply
    b.instance, b.ruid = instance, ruid
    b.on_bf = t.on_branch_failure  # each branch keeps the one armed when it was made
    b.retr_ivl = t.t1
    # no retransmissions on a reliable transport (RFC 3261 17.1.1.2; Kamailio)
    b.retr_due = now + t.t1 if proto == PROTO_UDP else 0.0
    b.fr_due = now + t.fr
    return b


def add_branches(t: Transaction, msg, now: float, proxy=None, include_ruri: bool = True,
                 lock: int = -1) -> list[int]:
    """Build a branch per destination; returns their indexes. Raises RelayError when
    none could be built."""
    dests = destinations(msg, include_ruri)
    if not dests:
        raise RelayError(ser_error.E_UNSPEC)
    added = []
    error = ser_error.E_UNSPEC
    for dest in dests:
        idx = len(t.branches)
        if idx >= MAX_BRANCHES:
            log.error("t_relay: too many branches (%d)", idx)
            error = ser_error.E_TOO_MANY_BRANCHES
            break
        try:
            b = build_branch(t, msg, idx, dest, proxy, now, lock)
        except RelayError as e:
            error = e.code
            continue
        except SipParseError as e:
            log.error("t_relay: cannot build the request for %s: %s", dest[0], e.reason)
            error = ser_error.E_BAD_REQ
            continue
        if b is None:
            continue
        t.branches.append(b)
        added.append(idx)
    if not added:
        raise RelayError(error)
    return added


def send_branches(t: Transaction, indexes: list[int], msg=None) -> int:
    """Send the new branches; returns how many went out (failed ones are marked).
    onsend_route (if any) runs for each one first, on msg, the request being relayed
    (Kamailio: t_send_branch); a branch it drops counts as one whose send failed."""
    sent = 0
    route = onsend_route() if msg is not None else None
    for i in indexes:
        b = t.branches[i]
        dropped = route is not None and not _onsend_ok(route, msg, b)
        if dropped:
            log.debug("onsend_route dropped the request to %s:%d (branch %d)", b.ip, b.port, i)
        elif send_branch(b, b.buf):
            sent += 1
            continue
        b.flags |= B_SEND_FAILED  # no retransmission, no fr timer: never picked
        b.retr_due = b.fr_due = 0.0
        if not dropped:
            sent += dns_failover.on_send_failed(t, i)  # the next address, if any
    return sent


def _onsend_ok(route, msg, b: Branch) -> bool:
    af = socket.AF_INET6 if ":" in b.ip else socket.AF_INET
    return run_onsend(route, msg, b.proto, b.ip, b.port, af, socket_for(b.sock), b.buf)


def saved_request(msg) -> bytes:
    """The request with request_route's lumps applied and the R-URI as received: what
    failure_route starts from (Kamailio: save_msg_lumps)."""
    saved = msg.new_uri
    msg.new_uri = None
    try:
        return build_request(msg, None, "udp", path=False)
    finally:
        msg.new_uri = saved
