"""rtpproxy nodes and the control protocol (Kamailio 5.6 rtpproxy.c: rtpproxy_sock
parsing, rtpp_test, send_rtpp_command, select_rtpp_node).

The set/node list and its health come from the rtpengine module (nodes.Registry: the
list fixed at start, per node "disabled" and "recheck at" in shm); this registry only
parses rtpproxy_sock the way rtpproxy does (an unknown prefix is a unix socket, the
port after the last ':', 22222 by default) and keeps two more shm slots per node, the
capabilities rtpp_test found (re-packetization, play-to-leg).

The wire: "<cookie> <command>" over UDP (cookie "<pid>_<seq>"), the reply
"<cookie> <answer>"; over a unix: stream socket the bare command, no cookie.
"""

from __future__ import annotations

import errno
import logging
import select
import socket

from kamapy.node_sockets import NodeSockets
from kamapy.strutil import atoi

from ..rtpengine.nodes import (
    PERMANENT,
    Node,
    NodeSet,
    Registry,
    SockParamError,
    now_s,
    url_mode,
    url_weights,
)

log = logging.getLogger("kamapy.rtpproxy")

SUP_CPROTOVER = 20040107
REQ_CPROTOVER = "20050322"
REP_CPROTOVER = "20071116"
PTL_CPROTOVER = "20081102"
CPORT = 22222
_REP, _PTL = 0, 1

__all__ = ["PERMANENT", "Node", "NodeSet", "RtppRegistry", "SockParamError", "registry"]


class Settings:
    tout = 1
    retr = 5
    disable_tout = 60


settings = Settings()


class RtppRegistry(Registry):
    caps = None

    def add_sock_param(self, value: str, default_id: int = 0):
        text = value.lstrip()
        if not text:
            return
        set_id = 0
        i = text.find("==")
        if i >= 0:
            if not text[i + 2:]:
                raise SockParamError("invalid rtp proxy list")
            head = text[:i].strip()
            if not head:
                raise SockParamError("invalid set_id value")
            if not head.isdigit():
                raise SockParamError(f"Invalid set name '{head}' - must be integer")
            set_id = int(head)
            text = text[i + 2:]
        rset = self.get_set(set_id)
        for url, weight in url_weights(text):
            mode, address = url_mode(url)
            if mode is None:
                mode = "unix"
            host, port = None, 0
            if mode != "unix":
                host, colon, port_s = address.rpartition(":")
                if not colon:
                    host, port_s = address, ""
                if mode == "udp6" and host.startswith("[") and host.endswith("]"):
                    host = host[1:-1]
                port = int(port_s) if port_s.isdigit() else (CPORT if not port_s else -1)
            node = Node(len(self.nodes), url, address, mode, weight, host, port, set_id)
            rset.nodes.append(node)
            self.nodes.append(node)

    def create_shm(self, hash_size: int = 0):
        from kamapy.mem.counters import CounterArray
        self.health = CounterArray(max(1, 2 * len(self.nodes)))
        self.caps = CounterArray(max(1, 2 * len(self.nodes)))

    def cap(self, node: Node, which: int) -> int:
        return self.caps.get(node.idx * 2 + which)

    def set_cap(self, node: Node, which: int, value: int):
        self.caps.set(node.idx * 2 + which, value)


registry = RtppRegistry()

# ------------------------------------------------------------------ the wire
_socks = NodeSockets()
reset = _socks.reset
_seq = 0


def _sock(node: Node):
    return _socks.get(node.idx, lambda: _connect(node))


def _connect(node: Node):
    family = socket.AF_INET6 if node.mode == "udp6" else socket.AF_INET
    try:
        infos = socket.getaddrinfo(node.host, node.port if node.port >= 0 else None,
                                   family, socket.SOCK_DGRAM)
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.connect(infos[0][4])
    except OSError as e:
        log.error("can't connect to a RTP proxy: %s", e)
        return None
    return s


def _bad(node: Node):
    log.error("proxy <%s> does not respond, disable it", node.url)
    if not registry.permanent(node):
        registry.disable_for(node, settings.disable_tout)
    else:
        registry.set_state(node, True, PERMANENT)


def send_command(node: Node, command: str) -> str | None:
    """The proxy's answer to command (cookie stripped), or None (the node is then
    disabled for rtpproxy_disable_tout seconds)."""
    global _seq
    data = command.encode("latin-1", "replace")
    if node.mode == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(max(1, settings.tout) * max(1, settings.retr))
        try:
            s.connect(node.address)
            s.sendall(data)
            reply = s.recv(255)
        except OSError:
            log.error("can't send command to a RTP proxy")
            _bad(node)
            return None
        finally:
            s.close()
        if not reply:
            log.error("can't read reply from a RTP proxy")
            _bad(node)
            return None
        return reply.decode("latin-1")
    s = _sock(node)
    if s is None:
        _bad(node)
        return None
    try:
        while True:
            s.recv(256)
    except OSError:
        pass
    cookie = f"{_socks.pid}_{_seq}".encode()
    _seq += 1
    packet = cookie + b" " + data
    poller = select.poll()
    poller.register(s, select.POLLIN)
    for _ in range(max(0, settings.retr)):
        try:
            s.send(packet)
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EINTR, errno.ECONNREFUSED):
                log.error("can't send command to a RTP proxy")
                _bad(node)
                return None
        while poller.poll(settings.tout * 1000):
            try:
                reply = s.recv(255)
            except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                break
            except OSError:
                log.error("can't read reply from a RTP proxy")
                _bad(node)
                return None
            if reply.startswith(cookie):
                rest = reply[len(cookie):]
                if rest[:1] in (b" ", b"\n", b"\t"):
                    rest = rest[1:]
                return rest.decode("latin-1")
    log.error("timeout waiting reply from a RTP proxy")
    _bad(node)
    return None


# ------------------------------------------------------------------ health, selection
def _checkcap(node: Node, cap: str) -> int:
    r = send_command(node, "VF " + cap)
    if r is None:
        return -1
    return 0 if r.startswith("E") or atoi(r) != 1 else 1


def rtpp_test(node: Node, isdisabled: bool, force: bool) -> bool:
    """True when the node is (still) disabled (Kamailio rtpp_test)."""
    verdict = registry.test_verdict(node, isdisabled, force)
    if verdict is not None:
        return verdict
    ok = False
    r = send_command(node, "V")
    if r is None:
        log.warning("can't get version of the RTP proxy")
    elif atoi(r) != SUP_CPROTOVER:
        log.warning("unsupported version of RTP proxy <%s> found: %d supported,%d present",
                    node.url, SUP_CPROTOVER, atoi(r))
    else:
        rv = _checkcap(node, REQ_CPROTOVER)
        if rv == -1:
            log.warning("RTP proxy went down during version query")
        elif rv == 0:
            log.warning("of RTP proxy <%s> doesn't support required protocol version%s",
                        node.url, REQ_CPROTOVER)
        else:
            ok = True
    if not ok:
        log.warning("support for RTP proxy <%s> has been disabled%s", node.url,
                    "" if settings.disable_tout < 0 else " temporarily")
        if settings.disable_tout >= 0:
            registry.set_state(node, True, now_s() + settings.disable_tout)
        return True
    log.info("rtp proxy <%s> found, support for it %senabled", node.url,
             "re-" if not force else "")
    registry.set_cap(node, _REP, max(0, _checkcap(node, REP_CPROTOVER)))
    registry.set_cap(node, _PTL, max(0, _checkcap(node, PTL_CPROTOVER)))
    return False


def retest(node: Node, isdisabled: bool, force: bool) -> bool:
    disabled = rtpp_test(node, isdisabled, force)
    registry.set_state(node, disabled, registry.recheck(node))
    return disabled


def select_node(rset: NodeSet | None, callid: str) -> Node | None:
    """Kamailio select_rtpp_node(callid, 1): by the Call-ID's byte sum over the weights
    of the enabled nodes; all disabled: every node re-tested once."""
    if rset is None or not rset.nodes:
        log.error("script error -no valid set selected")
        return None
    if len(rset.nodes) == 1:
        node = rset.nodes[0]
        if registry.disabled(node) and registry.recheck(node) <= now_s():
            retest(node, True, False)
        return None if registry.disabled(node) else node
    # a node disabled for good (PERMANENT) is not re-tested; rtpp_test would keep it so
    return registry.pick(rset.nodes, sum(callid.encode("latin-1", "replace")) & 0xFF, retest)
