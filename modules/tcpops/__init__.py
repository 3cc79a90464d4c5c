"""tcpops: TCP connection operations from the config (Kamailio's tcpops module,
its basic functions; return values checked against Kamailio 5.6.3's).

  tcp_conid_state(conid)                    1 open, 2 still connecting, -1 none
  tcp_conid_alive(conid)                    1 when the connection exists, else -1
  tcp_get_conid("ip:port", $pv)             the connection to that address
  tcp_close_connection([conid])             close (the message's connection)
  tcp_set_connection_lifetime([conid,] s)   its own idle lifetime
  tcp_keepalive_enable([conid,] idle, count, interval) / tcp_keepalive_disable([conid])

A connection lives in the TCP reader that owns it: options on another process'
connection go there as a command (kamapy.net.tcp_send.set_option). Not built yet:
tcp_enable_closed_event and event_route[tcp:closed|timeout|reset], tcp_set_otcpid*.
"""

from __future__ import annotations

import logging

from kamapy.module import ANY_ROUTE, Arg, Function, ModuleExports, Param

log = logging.getLogger("kamapy.tcpops")


def _state():
    from kamapy.net import tcp_state
    return tcp_state.state


def _current(msg) -> int:
    return getattr(msg.rcv, "con_id", 0) or 0


def _conid(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def tcp_conid_state(msg, conid) -> int:
    st = _state()
    rec = st.record(_conid(conid)) if st is not None and _conid(conid) else None
    if rec is None:
        return -1
    state = rec[9] if len(rec) > 9 else "open"
    return 1 if state == "open" else 2


def tcp_conid_alive(msg, conid) -> int:
    st = _state()
    return 1 if st is not None and _conid(conid) and st.record(_conid(conid)) is not None else -1


def tcp_get_conid(msg, hostport, pvar) -> int:
    st = _state()
    if st is None:
        return -1
    host, sep, port = str(hostport).strip().rpartition(":")
    if not sep or not port.isdigit():
        log.error("tcp_get_conid: %r is not ip:port", hostport)
        return -1
    host = host.strip("[]")
    for proto in (2, 3, 5, 6):  # tcp, tls, ws, wss
        cid = st.find(proto, host, int(port))
        if cid and st.record(cid) is not None:
            pvar.set(msg, cid)
            return 1
    return -1


def tcp_close_connection(msg, conid=None) -> int:
    from kamapy.net import tcp_send
    cid = _conid(conid) if conid not in (None, "") else _current(msg)
    return 1 if cid and tcp_send.close(cid) else -1


def tcp_set_connection_lifetime(msg, a, b=None) -> int:
    from kamapy.net import tcp_send
    conid, lifetime = (_current(msg), a) if b is None else (_conid(a), b)
    try:
        lifetime = int(lifetime)
    except (TypeError, ValueError):
        return -1
    return 1 if conid and lifetime > 0 and tcp_send.set_option(conid, "lifetime", lifetime) else -1


def tcp_keepalive_enable(msg, a, b, c, d=None) -> int:
    from kamapy.net import tcp_send
    conid, idle, count, interval = (_current(msg), a, b, c) if d is None else (_conid(a), b, c, d)
    try:
        values = [int(idle), int(count), int(interval)]
    except (TypeError, ValueError):
        return -1
    return 1 if conid and tcp_send.set_option(conid, "keepalive", 1, *values) else -1


def tcp_keepalive_disable(msg, conid=None) -> int:
    from kamapy.net import tcp_send
    cid = _conid(conid) if conid not in (None, "") else _current(msg)
    return 1 if cid and tcp_send.set_option(cid, "keepalive", 0, 0, 0, 0) else -1


def mod_init():
    if exports.param("closed_event") not in (None, 0, 1):
        log.warning("tcpops: closed_event is not implemented by kamapy (no event_route[tcp:*] yet)")
    return 0


OPT = {"optional": True}

exports = ModuleExports(
    name="tcpops",
    params=[Param("closed_event", int, None, unsupported="no event_route[tcp:closed] yet")],
    functions=[
        Function("tcp_conid_state", tcp_conid_state, (Arg("igp"),), ANY_ROUTE),
        Function("tcp_conid_alive", tcp_conid_alive, (Arg("igp"),), ANY_ROUTE),
        Function("tcp_get_conid", tcp_get_conid, (Arg("spve"), Arg("pvar")), ANY_ROUTE),
        Function("tcp_close_connection", tcp_close_connection, (Arg("igp", **OPT),), ANY_ROUTE),
        Function("tcp_set_connection_lifetime", tcp_set_connection_lifetime,
                 (Arg("igp"), Arg("igp", **OPT)), ANY_ROUTE),
        Function("tcp_keepalive_enable", tcp_keepalive_enable,
                 (Arg("igp"), Arg("igp"), Arg("igp"), Arg("igp", **OPT)), ANY_ROUTE),
        Function("tcp_keepalive_disable", tcp_keepalive_disable, (Arg("igp", **OPT),), ANY_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
