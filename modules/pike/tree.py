"""Pike's IP tree in shared memory (Kamailio: modules/pike/ip_tree.c, pike_funcs.c).

The tree is Kamailio's: one node per address prefix byte, grown one level each time a
prefix gets "hot" (a quarter of reqs_density hits in a sampling unit), so a single
address reaches its full-length leaf only after it kept sending; the leaf's hits in the
current and previous sampling units decide blocking (>= reqs_density in either, or
their mean). That is why the limit is "between x and 3*x".

Each node is an entry of a kamapy.mem.htable.SharedHashTable keyed by its prefix bytes
(b"\\x0a" for 10., b"\\x0a\\x00" for 10.0., ...), holding a fixed record (expires in
ticks, leaf hits and hits for the previous and current unit, flags, a creation number)
followed by its kids' bytes, newest first. Every change to a branch (the subtree of one
first byte) is made holding that branch's lock, one of 256 robust process-shared
mutexes, so all workers share one tree.

Ticks are whole seconds of the monotonic clock (Kamailio's get_ticks()).
"""

from __future__ import annotations

import logging
import struct
import time

log = logging.getLogger("kamapy.pike")

# node flags
EXPIRED = 1 << 0
INTIMER = 1 << 1
IPLEAF = 1 << 2
ISRED = 1 << 3

# mark() result flags
NEW_NODE = 1 << 0
RED_NODE = 1 << 1
NEWRED_NODE = 1 << 2
NO_UPDATE = 1 << 3

STATUS_OK, STATUS_WARM, STATUS_HOT, STATUS_ALL = 0, 1, 2, 3
STATUS_NAMES = ["", "WARM", "HOT", "ALL"]

_U16_MAX = 0xFFFF
_REC = struct.Struct("=IHHHHHI")  # expires, leaf_prev, leaf_curr, hits_prev, hits_curr, flags, seq


def ticks() -> int:
    return int(time.monotonic())


class Node:
    __slots__ = ("expires", "leaf_prev", "leaf_curr", "hits_prev", "hits_curr", "flags", "seq", "kids")

    def __init__(self, seq=0):
        self.expires = 0
        self.leaf_prev = self.leaf_curr = 0
        self.hits_prev = self.hits_curr = 0
        self.flags = 0
        self.seq = seq
        self.kids = b""

    def pack(self) -> bytes:
        return _REC.pack(self.expires & 0xFFFFFFFF, self.leaf_prev, self.leaf_curr, self.hits_prev,
                         self.hits_curr, self.flags, self.seq & 0xFFFFFFFF) + self.kids

    @classmethod
    def unpack(cls, blob: bytes) -> Node:
        n = cls.__new__(cls)
        (n.expires, n.leaf_prev, n.leaf_curr, n.hits_prev, n.hits_curr, n.flags,
         n.seq) = _REC.unpack_from(blob)
        n.kids = bytes(blob[_REC.size:])
        return n


class IpTree:
    """The shared tree; made in the master (mod_init) before the fork."""

    def __init__(self, max_hits: int, timeout: int, log_level: int = 0):
        from kamapy.mem.counters import Counter
        from kamapy.mem.htable import SharedHashTable
        from kamapy.mem.lockset import LockSet
        self.max_hits = max_hits & _U16_MAX
        self.timeout = timeout
        self.log_level = log_level
        self.nodes = SharedHashTable(size_log2=12, name="pike ip tree")
        self.locks = LockSet(256, name="pike branches")
        self._seq = Counter()

    # -- node access (the branch lock held) ----------------------------------------

    def _get(self, key: bytes) -> Node | None:
        blob = self.nodes.get(key)
        return None if blob is None else Node.unpack(blob)

    def _put(self, key: bytes, node: Node):
        self.nodes.put(key, node.pack())

    def _new(self) -> Node:
        return Node(self._seq.add(1))

    # -- the hotness tests (ip_tree.c's macros) ----------------------------------

    def hot_non_leaf(self, n: Node) -> bool:
        q = self.max_hits >> 2
        return n.hits_prev >= q or n.hits_curr >= q or ((n.hits_prev + n.hits_curr) >> 1) >= q

    def hot_leaf(self, n: Node) -> bool:
        m = self.max_hits
        return n.leaf_prev >= m or n.leaf_curr >= m or ((n.leaf_prev + n.leaf_curr) >> 1) >= m

    def warm_leaf(self, n: Node) -> bool:
        return n.hits_curr >= self.max_hits >> 2

    def status(self, n: Node) -> int:
        if self.hot_leaf(n):
            return STATUS_HOT
        if self.warm_leaf(n):
            return STATUS_WARM
        return STATUS_OK

    # -- one request ------------------------------------------------------------

    def check(self, ip: bytes) -> int:
        """pike_check_ipaddr: 1 not blocked, -1 blocked, -2 blocked from now on."""
        branch = ip[0]
        self.locks.get(branch)
        try:
            flags = self._mark(ip)
        finally:
            self.locks.release(branch)
        if flags & RED_NODE:
            if flags & NEWRED_NODE:
                return -2
            return -1
        return 1

    def _mark(self, ip: bytes) -> int:
        now = ticks()
        depth = 0
        node = None
        # the longest prefix of the address in the tree
        while depth < len(ip):
            found = self._get(ip[:depth + 1])
            if found is None:
                break
            node = found
            depth += 1
        flags = 0
        father = father_key = None
        if depth == len(ip):
            key = ip
            node.flags |= IPLEAF
            if node.leaf_curr < _U16_MAX - 1:
                node.leaf_curr += 1
            if not node.flags & ISRED:
                if self.hot_leaf(node):
                    flags |= RED_NODE | NEWRED_NODE
                    node.flags |= ISRED
            else:
                flags |= RED_NODE
        elif depth == 0:
            key = ip[:1]
            node = self._new()
            node.hits_curr = 1
            flags = NEW_NODE
        else:
            dad_key = ip[:depth]
            if node.hits_curr < _U16_MAX - 1:
                node.hits_curr += 1
            if self.hot_non_leaf(node):
                flags = NEW_NODE
                father, father_key = node, dad_key
                kid = self._new()
                if father.hits_curr >= 1:
                    kid.hits_curr = father.hits_curr - 1
                if father.leaf_curr >= 1:  # Kamailio tests the current, copies the previous
                    kid.leaf_prev = (father.leaf_prev - 1) & _U16_MAX
                father.kids = ip[depth:depth + 1] + father.kids
                node, key = kid, ip[:depth + 1]
            else:
                key = dad_key
                if not self.warm_leaf(node):
                    flags = NO_UPDATE
        # the timer
        if flags & NEW_NODE:
            node.expires = now + self.timeout
            node.flags |= INTIMER
            if father is not None:
                if not father.flags & IPLEAF and len(father.kids) == 1:
                    if not father.flags & EXPIRED:
                        father.flags &= ~INTIMER
                    else:
                        father.flags &= ~EXPIRED
                self._put(father_key, father)
        elif node.flags & IPLEAF or not node.kids:
            if not flags & NO_UPDATE and not node.flags & EXPIRED:
                node.expires = now + self.timeout
        self._put(key, node)
        return flags

    # -- the timers ---------------------------------------------------------------

    def _branch_nodes(self, root: bytes) -> list[tuple[bytes, Node]]:
        """(key, node) of a branch, depth first, kids newest first (the lock held)."""
        out = []
        todo = [root]
        while todo:
            key = todo.pop()
            node = self._get(key)
            if node is None:
                continue
            out.append((key, node))
            todo.extend(key + bytes([b]) for b in reversed(node.kids))
        return out

    def branches(self) -> list[int]:
        return [b for b in range(256) if bytes([b]) in self.nodes]

    def swap(self):
        """Every sampling_time_unit: the current unit becomes the previous one."""
        from kamapy.log import python_level
        for b in self.branches():
            self.locks.get(b)
            try:
                for key, n in self._branch_nodes(bytes([b])):
                    n.hits_prev, n.hits_curr = n.hits_curr, 0
                    n.leaf_prev, n.leaf_curr = n.leaf_curr, 0
                    if n.flags & ISRED and not self.hot_leaf(n):
                        n.flags &= ~ISRED
                        log.log(python_level(self.log_level), "PIKE - UNBLOCKing node %s", _addr(key))
                    self._put(key, n)
            finally:
                self.locks.release(b)

    def clean(self):
        """Every second: drop the nodes whose remove_latency ran out (clean_routine)."""
        now = ticks()
        for b in self.branches():
            self.locks.get(b)
            try:
                due = [(n.expires, n.seq, key) for key, n in self._branch_nodes(bytes([b]))
                       if n.flags & INTIMER and n.expires <= now]
                for _e, _s, key in sorted(due):
                    self._expire(key, now)
            finally:
                self.locks.release(b)

    def _expire(self, key: bytes, now: int):
        node = self._get(key)
        if node is None:
            return
        node.flags &= ~(INTIMER | EXPIRED)
        node.expires = 0
        if node.kids:
            # an IPv4 leaf inside a longer address: it stays until its kids go
            node.flags &= ~IPLEAF
            node.leaf_curr = 0
            self._put(key, node)
            return
        if len(key) > 1:
            dad_key = key[:-1]
            dad = self._get(dad_key)
            if dad is not None:
                if dad.kids == key[-1:]:  # the last kid: the father goes into the timer
                    if not dad.flags & IPLEAF:
                        dad.expires = ticks() + self.timeout
                        dad.flags |= INTIMER
                dad.kids = dad.kids.replace(key[-1:], b"", 1)
                self._put(dad_key, dad)
        self.nodes.delete(key)

    # -- pike.top ------------------------------------------------------------------

    def top(self, option: int) -> list[dict]:
        now = ticks()
        found = []
        for b in range(256):
            if bytes([b]) not in self.nodes:
                continue
            self.locks.get(b)
            try:
                nodes = self._branch_nodes(bytes([b]))
            finally:
                self.locks.release(b)
            for key, n in nodes:
                if not n.flags & IPLEAF:
                    continue
                ns = self.status(n)
                if (option == STATUS_HOT and ns & STATUS_HOT) or option == STATUS_ALL:
                    exp = (n.expires - now) & 0xFFFFFFFF
                    if exp & 0x80000000:
                        exp -= 0x100000000
                    found.append({"ip_addr": _addr(key), "leaf_hits_prev": n.leaf_prev,
                                  "leaf_hits_curr": n.leaf_curr, "expires": exp,
                                  "status": STATUS_NAMES[ns]})
        found.reverse()  # Kamailio prepends each one to its list
        return found


def _addr(key: bytes) -> str:
    import socket
    if len(key) == 4:
        return socket.inet_ntop(socket.AF_INET, key)
    if len(key) == 16:
        return socket.inet_ntop(socket.AF_INET6, key)
    padded = key + bytes(16 - len(key)) if len(key) < 16 else key[:16]
    return ":".join(f"{padded[i] << 8 | padded[i + 1]:04x}" for i in range(0, 16, 2))
