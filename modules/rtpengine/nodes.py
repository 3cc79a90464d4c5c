"""rtpengine node sets: rtpengine_sock parsed into sets of nodes, their health in shm,
and the call -> node table (Kamailio rtpengine.c: rtpengine_add_rtpengine_set,
add_rtpengine_socks, select_rtpp_node*, and rtpengine_hash.c).

The node list is fixed once the config is read, so every process holds the same list
(built in the master, inherited by the fork). What changes at run time lives in shm:
per node whether it is disabled and when to look at it again (a CounterArray), and which
node serves a call (a SharedHashTable keyed by Call-ID and via-branch), so an answer or a
delete handled by another worker reaches the node the offer went to.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("kamapy.rtpengine")

PERMANENT = -1          # recheck time of a node disabled by rtpengine.enable(url, 0)
_DISABLED = 0           # counter slots per node
_RECHECK = 1
_SLOTS = 2

RNU_UDP, RNU_UDP6, RNU_LOCAL = "udp", "udp6", "unix"


class Node:
    __slots__ = ("idx", "url", "address", "mode", "weight", "host", "port", "set_id")

    def __init__(self, idx, url, address, mode, weight, host, port, set_id):
        self.idx = idx
        self.url = url
        self.address = address
        self.mode = mode
        self.weight = weight
        self.host = host
        self.port = port
        self.set_id = set_id

    def __repr__(self):
        return f"Node({self.url} w={self.weight} set={self.set_id})"


class NodeSet:
    __slots__ = ("id", "nodes")

    def __init__(self, set_id):
        self.id = set_id
        self.nodes: list[Node] = []


class SockParamError(ValueError):
    pass


def now_s() -> int:
    """Kamailio's ticks: whole seconds, the same clock in every process."""
    return int(time.monotonic())


def _split_host_port(mode: str, address: str) -> tuple[str, int] | None:
    """host and port of an udp:/udp6: address (port 22222 when left out); None when the
    port is not a number (Kamailio warns and ignores the node)."""
    if mode == RNU_UDP6:
        if address.startswith("["):
            close = address.find("]")
            host = address[1:close] if close > 0 else address[1:]
            rest = address[close + 1:] if close > 0 else ""
            port_s = rest[1:] if rest.startswith(":") else ""
        else:
            host, _, port_s = address.rpartition(":")
            if not host:
                host, port_s = address, ""
    else:
        host, colon, port_s = address.partition(":")
        if not colon:
            port_s = ""
    if port_s == "":
        return host, 22222
    if not port_s.isdigit() or int(port_s) > 0xFFFF:
        return None
    return host, int(port_s)


class Registry:
    """Every set and node (the same in each process) plus their shm health."""

    def __init__(self):
        self.sets: list[NodeSet] = []
        self.nodes: list[Node] = []
        self.health = None   # CounterArray, 2 slots per node
        self.calls = None    # SharedHashTable: call-id \0 via-branch -> node index
        self.default_id = 0
        self.built = False   # rtpengine_sock parsed (by the first fixup or mod_init)

    # -------------------------------------------------------------- building
    def get_set(self, set_id: int) -> NodeSet:
        for s in self.sets:
            if s.id == set_id:
                return s
        s = NodeSet(set_id)
        self.sets.append(s)
        return s

    def find_set(self, set_id: int) -> NodeSet | None:
        for s in self.sets:
            if s.id == set_id:
                return s
        return None

    def add_sock_param(self, value: str, default_id: int):
        """One rtpengine_sock value: "[<set id> ==] url[=weight] url[=weight] ..."."""
        text = value.strip()
        if not text:
            return
        set_id = default_id
        if "==" in text:
            head, _, text = text.partition("==")
            if not text:
                raise SockParamError("invalid rtpengine list")
            head = head.strip()
            if not head.isdigit():
                raise SockParamError("invalid set_id value")
            set_id = int(head)
        rset = self.get_set(set_id)
        for url, weight in url_weights(text):
            mode, address = url_mode(url)
            if mode is None:
                if url.lower().startswith(("ws://", "wss://")):
                    log.warning("Websocket protocol requested, but no websocket API loaded. "
                                "Ignore '%s'.", url)
                else:
                    log.warning("Node address must start with 'udp:' or 'udp6:' or 'unix:' or "
                                "'ws://' or 'wss://'. Ignore '%s'.", url)
                continue
            host, port = (address, 0) if mode == RNU_LOCAL else (None, None)
            if mode != RNU_LOCAL:
                hp = _split_host_port(mode, address)
                if hp is None:
                    log.warning("Node address must end with a valid port number. Ignore '%s'.",
                                address)
                    continue
                host, port = hp
            existing = next((n for n in rset.nodes if n.url == url), None)
            if existing is not None:   # the same URL again updates the node
                existing.weight = weight
                continue
            node = Node(len(self.nodes), url, address, mode, weight, host, port, set_id)
            rset.nodes.append(node)
            self.nodes.append(node)

    def create_shm(self, hash_size: int):
        from kamapy.mem.counters import CounterArray
        from kamapy.mem.htable import SharedHashTable
        self.health = CounterArray(max(1, _SLOTS * len(self.nodes)))
        size_log2 = max(0, (max(1, hash_size) - 1).bit_length())
        self.calls = SharedHashTable(size_log2=min(size_log2, 20), name="rtpengine calls")

    # -------------------------------------------------------------- health
    def disabled(self, node: Node) -> bool:
        return self.health.get(node.idx * _SLOTS + _DISABLED) != 0

    def recheck(self, node: Node) -> int:
        return self.health.get(node.idx * _SLOTS + _RECHECK)

    def set_state(self, node: Node, disabled: bool, recheck: int):
        # recheck first: a reader that sees the node disabled also sees when to retry
        self.health.set(node.idx * _SLOTS + _RECHECK, recheck)
        self.health.set(node.idx * _SLOTS + _DISABLED, 1 if disabled else 0)

    def disable_for(self, node: Node, seconds: int):
        self.set_state(node, True, now_s() + seconds)

    def permanent(self, node: Node) -> bool:
        return self.recheck(node) == PERMANENT

    def test_verdict(self, node: Node, isdisabled: bool, force: bool) -> bool | None:
        """The part of Kamailio's rtpp_test that both modules share: True (still
        disabled) or False (enabled) when no probe is due, None when the node must be
        asked."""
        if self.recheck(node) == PERMANENT:
            return True
        if not force:
            if not isdisabled:
                return False
            if self.recheck(node) > now_s():
                return True
        return None

    def pick(self, nodes: list[Node], total: int, retest, skip=(), redetect: bool = True) -> Node | None:
        """The weighted choice both modules make (Kamailio's select_rtpp_node in
        rtpproxy, select_rtpp_node_new in rtpengine): a disabled node whose recheck time
        has come is re-tested first (retest(node, True, False)); then the enabled nodes
        not in skip share total modulo the sum of their weights, in list order. No
        weight left: with redetect, every node is re-tested once by force and the
        choice made again; else None."""
        forced = False
        while True:
            weight_sum = 0
            for node in nodes:
                if self.disabled(node):
                    due = self.recheck(node)
                    if due != PERMANENT and due <= now_s():
                        retest(node, True, False)
                if not self.disabled(node) and node not in skip:
                    weight_sum += node.weight
            if weight_sum == 0:
                if not redetect or forced:
                    return None
                forced = True
                for node in nodes:
                    retest(node, True, True)
                continue
            cut = total % weight_sum
            for node in nodes:
                if self.disabled(node) or node in skip:
                    continue
                if cut < node.weight:
                    return node
                cut -= node.weight
            return None

    # -------------------------------------------------------------- call table
    @staticmethod
    def _key(callid: str, viabranch: str) -> bytes:
        return (callid + "\0" + viabranch).encode("latin-1", "replace")

    def lookup(self, callid: str, viabranch: str) -> Node | None:
        v = self.calls.get(self._key(callid, viabranch))
        if v is None:
            return None
        i = int(v)
        return self.nodes[i] if 0 <= i < len(self.nodes) else None

    def remember(self, callid: str, viabranch: str, node: Node, tout: int):
        if self.calls.get(self._key(callid, viabranch)) is not None:
            return
        self.calls.put(self._key(callid, viabranch), str(node.idx).encode(),
                       expires=time.time() + tout)

    def forget(self, callid: str, viabranch: str) -> bool:
        return self.calls.delete(self._key(callid, viabranch))

    def total_calls(self) -> int:
        return len(self.calls)


def url_weights(text: str) -> list[tuple[str, int]]:
    """The url[=weight] tokens of an rtpengine_sock / rtpproxy_sock list (weight 1 when
    not given); the list must not be empty."""
    text = text.strip()
    if not text:
        raise SockParamError("empty rtp_proxy list")
    out = []
    for tok in text.split():
        url, eq, weight = tok.partition("=")
        out.append((url, _strtoul(weight) if eq else 1))
    return out


def url_mode(url: str) -> tuple[str | None, str]:
    """(mode, address) of a node URL by its udp: / udp6: / unix: prefix (any case);
    (None, url) without one."""
    low = url[:5].lower()
    if low.startswith("udp:"):
        return RNU_UDP, url[4:]
    if low == "udp6:":
        return RNU_UDP6, url[5:]
    if low == "unix:":
        return RNU_LOCAL, url[5:]
    return None, url


def _strtoul(text: str) -> int:
    n = 0
    for ch in text.lstrip():
        if not ("0" <= ch <= "9"):
            break
        n = n * 10 + ord(ch) - 48
    return n


registry = Registry()
