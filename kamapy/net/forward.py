"""Stateless forwarding (Kamailio: forward.c forward_request / forward_reply).

forward(msg[, (host, port)]) relays a request to $du / the R-URI (or the given hop)
with our Via on top, whose branch is computed from the request so a retransmission
gets the same one. forward_reply(msg) relays a reply that is not tm's: our Via is
removed and the reply goes where the next Via says (received/rport first).
"""

from __future__ import annotations

import logging

from .. import dns, ser_error, stats
from ..runtime import is_myself
from ..sip.errors import SipParseError
from ..sip.msg import PROTO_IDS, REPLY
from ..sip.msg_flags import FL_ADD_LOCAL_RPORT, FL_FORCE_RPORT
from ..sip.next_hop import uri_hop
from ..sip.outgoing import build_reply_forward, build_request
from ..sip.uri import parse_uri
from ..sip.via_branch import stateless_branch, via_value
from .onsend import onsend_route, run_onsend
from .send import choose_socket, resolve, send_to

log = logging.getLogger("kamapy.forward")

E_ADM_PROHIBITED = -510  # Kamailio error.h: what forward() returns when onsend_route drops


def _core_stat(name: str):
    g = stats.group("core")
    if g is not None:
        g[name].inc()



def forward(msg, dest=None) -> int:
    """The core forward() action: 1 when sent, a negative error code otherwise."""
    if msg.type == REPLY:
        return 1 if forward_reply(msg) else -1
    try:
        proto, host, ip, port, af = resolve_hop(msg, dest)
    except SipParseError as e:
        log.error("forward: bad destination: %s", e.reason)
        ser_error.set_error(ser_error.E_BAD_URI)
        return ser_error.E_BAD_URI
    except OSError as e:
        log.error("forward: cannot resolve %s: %s", e.args[1] if len(e.args) > 1 else "", e.args[0])
        ser_error.set_error(ser_error.E_BAD_ADDRESS)
        return ser_error.E_BAD_ADDRESS
    proto_id = PROTO_IDS.get(proto, 0)
    forced = msg.force_send_socket
    si = choose_socket(proto_id, af, forced if not isinstance(forced, tuple) else None)
    if si is None:
        log.error("forward: no socket for %s to %s", proto, host)
        ser_error.set_error(ser_error.E_NO_SOCKET)
        return ser_error.E_NO_SOCKET
    params = ";rport" if msg.xflags & FL_ADD_LOCAL_RPORT else ""
    if msg.rcv.proto != 1:  # came over a connection: ;i=<conid> before rport, as Kamailio
        from .tcp_send import via_id_param
        params = via_id_param(msg) + params
    # set_advertised_address/port() of this message win over the socket's (Kamailio
    # via_builder); an advertised port is always written, 5060 too -- hence the string
    via_host = msg.advertised_address or si.via_host
    via_port = msg.advertised_port or si.via_port
    via = via_value(via_host, via_port, proto, stateless_branch(msg), params)
    data = build_request(msg, via, proto, force_rport=bool(msg.xflags & FL_FORCE_RPORT))
    route = onsend_route()
    if route is not None and not run_onsend(route, msg, proto_id or 1, ip, port, af, si, data):
        # Kamailio: not an error of the send (ser_error E_OK), forward() returns
        # E_ADM_PROHIBITED
        log.info("request to %s:%d(%d) dropped (onsend_route)", ip, port, proto_id or 1)
        ser_error.set_error(ser_error.E_OK)
        return E_ADM_PROHIBITED
    if not send_to(proto_id, data, ip, port, si, 0, msg.fwd_send_flags):
        ser_error.set_error(ser_error.E_SEND)
        dns.blocklist_add(dns.blocklist.BLST_ERR_SEND, proto_id or 1, ip, port)
        return ser_error.E_SEND
    _core_stat("fwd_requests")
    return 1


def resolve_hop(msg, dest=None) -> tuple[str, str, str, int, int]:
    """(proto, host, ip, port, af) of a stateless next hop: forward(host[, port])'s, or
    $du / the R-URI's, located per RFC 3263 (kamapy.dns: NAPTR, SRV, A/AAAA, the
    hosts file, the shm cache); a blocklisted address is skipped. Raises
    SipParseError for a bad URI, OSError(reason, host) when nothing resolves."""
    if dest is not None:
        host, port = dest
        res = dns.locate(None, host, port or None)
    else:
        uri = parse_uri(msg.dst_uri) if msg.dst_uri else msg.parsed_ruri
        hop = _ip_hops.get(uri.text)
        if hop is not None and not dns.state().settings.use_blocklist:
            return hop
        host = uri_hop(uri)[1]
        res = dns.locate_uri(uri)
    target, _rest, blocked = dns.pick(res)
    if target is None:
        raise OSError("blocklisted" if blocked else res.rcode, host)
    hop = target.proto, host, target.ip, target.port, target.af
    if dest is None and res.how == "ip":
        if len(_ip_hops) >= 4096:  # a flood of distinct next hops must not grow it forever
            _ip_hops.clear()
        _ip_hops[uri.text] = hop
    return hop


# next-hop URI text -> resolve_hop's answer when the host is an IP address: it then
# depends on the URI alone (one address, no DNS), so a stateless relay to a contact's
# address (every ACK of a 2xx) skips the resolver; with the blocklist on, each send
# still asks it (tm's dns_failover._ip_hops does the same for branches)
_ip_hops: dict[str, tuple] = {}


def reply_hop(via) -> tuple[str, int]:
    """Where a relayed reply goes, from the Via below ours (RFC 3261 §18.2.2, RFC 3581):
    received (else the sent-by host), rport's value (else the sent-by port)."""
    port = 0
    if via.rport:
        try:
            port = int(via.rport)
        except ValueError:
            port = 0
    host = via.received or via.host
    if not port:
        port = via.port or 5060
    return host, port


def forward_reply(msg) -> bool:
    """Relay a reply statelessly; False (and a log line) when it is not ours to relay."""
    try:
        via1 = msg.via1
        if not is_myself(via1.host, via1.port or 0):
            log.info("forward_reply: the first Via (%s) is not us; dropping the reply", via1.host)
            _core_stat("drop_replies")
            return False
        via2 = msg.via2
        if via2 is None:
            log.info("forward_reply: no second Via; the reply was for us, dropping it")
            _core_stat("drop_replies")
            return False
        host, port = reply_hop(via2)
        proto = (via2.transport or "udp").lower()
        data = build_reply_forward(msg, proto)
    except SipParseError as e:
        log.warning("forward_reply: bad reply: %s", e.reason)
        _core_stat("err_replies")
        return False
    proto_id = PROTO_IDS.get(proto, 1)
    route = onsend_route(is_reply=True)
    if route is not None:
        try:
            ip, af = resolve(host)
        except OSError:
            ip, af = host, 0
        if not run_onsend(route, msg, proto_id, ip, port, af, msg.rcv.sock, data):
            log.error("reply to %s:%d(%d) dropped (onsend_route)", ip, port, proto_id)
            return False
    # over a connection: the one our Via's i= names (Kamailio's forward_reply)
    conid = 0
    if proto_id not in (0, 1):
        from .tcp_send import conid_from_via
        conid = conid_from_via(via1)
    ok = send_to(proto_id, data, host, port, msg.rcv.sock, conid, msg.fwd_send_flags | msg.rpl_send_flags)
    if ok:
        _core_stat("fwd_replies")
    return ok

