"""The destination list (Kamailio 5.6 dispatcher: the list file / table, the sets and
their order), built the same way in every process from the same rows.

A set's destinations are kept highest priority first; destinations of equal priority
end up in the reverse of the order they were read (Kamailio inserts each one after
the others of its priority, then copies the list backwards). Sets are kept in an AVL
tree keyed by set id, and walked as Kamailio walks it (both subtrees, then the node),
which is the order dispatcher.list prints and ds_is_from_list() tries them in.
"""

from __future__ import annotations

import logging
import random

from kamapy.sip.uri import parse_uri
from kamapy.strutil import str2sint

log = logging.getLogger("kamapy.dispatcher")

# destination flags (Kamailio's dispatch.h)
INACTIVE = 1
TRYING = 2
DISABLED = 4
PROBING = 8
NODNSARES = 16
STATES_ALL = 31

PROTO_IDS = {"udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}


def skip(flags: int) -> bool:
    """ds_skip_dst: inactive or disabled destinations are not selected."""
    return bool(flags & (INACTIVE | DISABLED))


class Attrs:
    __slots__ = ("body", "duid", "maxload", "weight", "rweight", "socket", "sockname",
                 "ping_from", "obproxy", "cc", "latency")

    def __init__(self):
        self.body = None
        self.duid = None
        self.maxload = 0
        self.weight = 0
        self.rweight = 0
        self.socket = None
        self.sockname = None
        self.ping_from = None
        self.obproxy = None
        self.cc = 0
        self.latency = None


def parse_attrs(text: str | None, attrs_none: bool = False) -> Attrs:
    a = Attrs()
    if not text:
        if not attrs_none:
            return a
        text = "none=yes"
    if text.endswith(";"):
        text = text[:-1]
    a.body = text
    for part in text.split(";"):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if name == "duid":
            a.duid = value
        elif name == "cc":
            a.cc = str2sint(value)
        elif name == "weight":
            w = str2sint(value)
            a.weight = w if 1 <= w <= 100 else 0
            if not 1 <= w <= 100:
                log.error("weight %d not in 1-100 range - ignoring destination", w)
        elif name == "rweight":
            w = str2sint(value)
            a.rweight = w if 1 <= w <= 100 else 0
            if not 1 <= w <= 100:
                log.warning("rweight %d not in 1-100 range - ignoring", w)
        elif name == "latency":
            a.latency = str2sint(value)
        elif name == "maxload":
            a.maxload = str2sint(value)
        elif name == "socket":
            a.socket = value
        elif name == "sockname":
            a.sockname = value
        elif name == "ping_from":
            a.ping_from = value
        elif name == "obproxy":
            a.obproxy = value
    return a


class Dest:
    """One destination; `slot` indexes its state (flags, counters) in shm."""

    __slots__ = ("uri", "flags", "priority", "attrs", "host", "port", "proto", "ip", "slot",
                 "sock")

    def __init__(self, uri, flags, priority, attrs, host, port, proto, ip):
        self.uri = uri
        self.flags = flags          # the flags it was loaded with
        self.priority = priority
        self.attrs = attrs
        self.host = host
        self.port = port            # 0 when the URI has none (matches any port)
        self.proto = proto          # 0 when the URI has no transport
        self.ip = ip                # resolved address, None with flag 16
        self.slot = -1
        self.sock = None            # the SocketInfo from socket=/sockname=, or None


class DsSet:
    __slots__ = ("id", "dests", "wlist", "left", "right", "longer", "index")

    def __init__(self, sid):
        self.id = sid
        self.dests: list[Dest] = []
        self.wlist: list[int] = []
        self.left = None
        self.right = None
        self.longer = -1   # AVL: -1 balanced, 0 left, 1 right
        self.index = 0     # position of the set's counters in shm


# ------------------------------------------------------------------ the AVL tree
def _child(n, d):
    return n.right if d else n.left


def _set_child(n, d, v):
    if d:
        n.right = v
    else:
        n.left = v


class Tree:
    """The sets, in the shape Kamailio's AVL insert gives them (it decides the order
    sets are printed and matched in)."""

    def __init__(self):
        self.root = None
        self.count = 0

    # a "slot" is (parent, dir) or (None, None) for the root
    def _get(self, slot):
        parent, d = slot
        return self.root if parent is None else _child(parent, d)

    def _put(self, slot, node):
        parent, d = slot
        if parent is None:
            self.root = node
        else:
            _set_child(parent, d, node)

    def find(self, sid):
        n = self.root
        while n is not None and n.id != sid:
            n = n.right if sid > n.id else n.left
        return n

    def insert(self, sid) -> DsSet:
        top = (None, None)
        slot = (None, None)
        node = self.root
        while node is not None and node.id != sid:
            d = 1 if sid > node.id else 0
            if node.longer != -1:
                top = slot
            slot = (node, d)
            node = _child(node, d)
        if node is None:
            node = DsSet(sid)
            self._put(slot, node)
            self._rebalance(top, sid)
            self.count += 1
        return node

    @staticmethod
    def _mark_path(path, sid):
        while path is not None and path.id != sid:
            d = 1 if sid > path.id else 0
            path.longer = d
            path = _child(path, d)

    def _rotate2(self, top, d):
        b = self._get(top)
        dd = _child(b, d)
        c = _child(dd, 1 - d)
        e = _child(dd, d)
        self._put(top, dd)
        _set_child(dd, 1 - d, b)
        _set_child(b, d, c)
        b.longer = dd.longer = -1
        return e

    def _rotate3(self, top, d, third):
        b = self._get(top)
        f = _child(b, d)
        dd = _child(f, 1 - d)
        c = _child(dd, 1 - d)
        e = _child(dd, d)
        self._put(top, dd)
        _set_child(dd, 1 - d, b)
        _set_child(dd, d, f)
        _set_child(b, d, c)
        _set_child(f, 1 - d, e)
        dd.longer = b.longer = f.longer = -1
        if third == -1:
            return None
        if third == d:
            b.longer = 1 - d
            return e
        f.longer = d
        return c

    def _rebalance(self, top, sid):
        path = self._get(top)
        if path.longer == -1:
            self._mark_path(path, sid)
            return
        first = 1 if sid > path.id else 0
        if path.longer != first:
            path.longer = -1
            self._mark_path(_child(path, first), sid)
            return
        nxt = _child(path, first)
        second = 1 if sid > nxt.id else 0
        if first == second:
            self._mark_path(self._rotate2(top, first), sid)
            return
        p = _child(nxt, second)
        third = -1 if sid == p.id else (1 if sid > p.id else 0)
        self._mark_path(self._rotate3(top, first, third), sid)

    def walk(self):
        """Kamailio's order: left subtree, right subtree, then the node."""
        out = []

        def rec(n):
            if n is None:
                return
            rec(n.left)
            rec(n.right)
            out.append(n)
        rec(self.root)
        return out


# ------------------------------------------------------------------ hashing
def ds_hash(x: str | None, y: str | None = None) -> int:
    """Kamailio's ds_get_hash over one or two strings (bytes taken as signed chars)."""
    if x is None and y is None:
        return 0
    h = 0
    for s in (x, y):
        if s is None:
            continue
        b = s.encode("utf-8", "surrogateescape")
        sb = [c - 256 if c > 127 else c for c in b]
        n = len(sb)
        p = 0
        while p + 4 <= n:
            v = ((sb[p] << 24) + (sb[p + 1] << 16) + (sb[p + 2] << 8) + sb[p + 3]) & 0xFFFFFFFF
            h = (h + (v ^ (v >> 3))) & 0xFFFFFFFF
            p += 4
        v = 0
        while p < n:
            v = ((v << 8) + sb[p]) & 0xFFFFFFFF
            p += 1
        h = (h + (v ^ (v >> 3))) & 0xFFFFFFFF
    h = (h + (h >> 11) + (h >> 13) + (h >> 23)) & 0xFFFFFFFF
    return h or 1


def uri_hash_keys(uri_text: str, user_only: bool) -> tuple[str, str | None]:
    """(user, host[:port]) of a URI as the hash keys: the port only when it is not the
    scheme's default; with flag 1 only the user."""
    u = parse_uri(uri_text.strip())
    if not u.host:
        raise ValueError(f"invalid uri, no host present: {uri_text}")
    if user_only:
        return u.user, None
    key2 = u.host
    if u.port_str:
        default = 5061 if u.scheme == "sips" else 5060
        if u.port != default:
            key2 = f"{u.host}:{u.port_str}"
    return u.user, key2


# ------------------------------------------------------------------ loading
def _resolve(host: str) -> str | None:
    h = host[1:-1] if host.startswith("[") else host
    try:
        import ipaddress
        ipaddress.ip_address(h)
        return h
    except ValueError:
        pass
    try:
        from kamapy.net.send import resolve
        return resolve(h)[0]
    except Exception:  # noqa: BLE001 - any resolver failure is "could not resolve"
        return None


def make_dest(uri: str, flags: int, priority: int, attrs_text: str | None,
              attrs_none: bool = False, sock_of=None) -> Dest | None:
    """pack_dest: None (with the reason logged) for a bad URI or unresolvable host."""
    try:
        u = parse_uri(uri)
    except Exception:  # noqa: BLE001
        u = None
    if u is None or not u.host:
        if len(uri) > 4 and not uri.startswith("sip:") and len(uri) < 500:
            try:
                u = parse_uri("sip:" + uri)
                log.info("uri without sip scheme - fixing it: %s", uri)
                uri = "sip:" + uri
            except Exception:  # noqa: BLE001
                u = None
        if u is None or not u.host:
            log.error("bad uri [%s]", uri)
            return None
    a = parse_attrs(attrs_text, attrs_none)
    sock = None
    if sock_of is not None:
        try:
            sock = sock_of(a)
        except ValueError as e:
            log.error("%s", e)
            return None
    proto = PROTO_IDS.get((u.param("transport") or "").lower(), 0)
    ip = None
    if not flags & NODNSARES:
        ip = _resolve(u.host)
        if ip is None:
            log.error("could not resolve %s (missing no-probing flag?!?)", u.host)
            return None
    d = Dest(uri, flags, priority, a, u.host, u.port or 0, proto, ip)
    d.sock = sock
    return d


def _leading_number(s: str) -> tuple[int, int]:
    """The number s's leading digits make (0 without any) and how many there are."""
    k = 0
    n = 0
    while k < len(s) and s[k].isdigit():
        n = n * 10 + ord(s[k]) - 48
        k += 1
    return n, k


def read_list_file(path: str) -> list[tuple[int, str, int, int, str | None]]:
    """The rows of a dispatcher.list file: (setid, uri, flags, priority, attrs)."""
    rows = []
    ws = " \t\r\n"
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            p = line.lstrip(ws)
            if not p or p[0] == "#":
                continue
            sid, i = _leading_number(p)
            rest = p[i:].lstrip(ws)
            if not rest or rest[0] == "#":
                raise ValueError(f"bad line [{line.rstrip()}]")
            j = 0
            while j < len(rest) and rest[j] not in " \t\r\n#":
                j += 1
            uri, rest = rest[:j], rest[j:].lstrip(ws)
            nums = []
            for _ in range(2):
                if not rest or rest[0] == "#":
                    break
                n, k = _leading_number(rest)
                nums.append(n)
                rest = rest[k:].lstrip(ws)
            attrs = None
            if len(nums) == 2 and rest and rest[0] != "#":
                k = 0
                while k < len(rest) and rest[k] not in " \t\r\n":
                    k += 1
                attrs = rest[:k]
            flags = nums[0] if nums else 0
            prio = nums[1] if len(nums) > 1 else 0
            rows.append((sid, uri, flags, prio, attrs))
    return rows


def shuffle100(arr: list[int], rng=random) -> list[int]:
    for j in range(100):
        k = j + rng.randrange(100 - j)
        arr[j], arr[k] = arr[k], arr[j]
    return arr


def weight_list(s: DsSet) -> list[int]:
    """dp_init_weights: 100 entries, destination i `weight` times, the rest filled by
    the last destination, shuffled; [] when the first destination has no weight."""
    if not s.dests or s.dests[0].attrs.weight == 0:
        return []
    out = []
    for i, d in enumerate(s.dests):
        out.extend([i] * max(0, min(d.attrs.weight, 100 - len(out))))
    if len(out) < 100:
        log.info("extra weight %d for last destination in group %d", 100 - len(out), s.id)
        out.extend([len(s.dests) - 1] * (100 - len(out)))
    return shuffle100(out)


def rweight_list(s: DsSet, flags: list[int]) -> list[int] | None:
    """dp_init_relative_weights with the destinations' current flags: None when the
    set has fewer than two destinations or no active rweight (the old list stays)."""
    if len(s.dests) < 2:
        return None
    total = sum(d.attrs.rweight for d, f in zip(s.dests, flags, strict=True) if not skip(f))
    if total == 0:
        return None
    out = []
    for i, (d, f) in enumerate(zip(s.dests, flags, strict=True)):
        if skip(f):
            continue
        out.extend([i] * (d.attrs.rweight * 100 // total))
    last = out[-1] if out else len(s.dests) - 1
    out.extend([last] * (100 - len(out)))
    return shuffle100(out[:100])


class DsList:
    """The loaded sets: `tree` for lookups and Kamailio's walk order."""

    def __init__(self):
        self.tree = Tree()
        self.dests: list[Dest] = []   # by slot
        self.sets: list[DsSet] = []   # by index

    def find(self, sid: int) -> DsSet | None:
        return self.tree.find(sid)

    @property
    def nr_sets(self) -> int:
        return self.tree.count


def build(rows, attrs_none: bool = False, load_mode: int = 0,
          wlists: dict | None = None, sock_of=None) -> tuple[DsList, int]:
    """The list from rows; (list, number of rows that could not be added). With
    load_mode 1 a bad row raises ValueError. wlists: the weight lists the loader drew
    (so every process uses the same), by set id."""
    lst = DsList()
    errors = 0
    pending: dict[int, list] = {}
    for sid, uri, flags, prio, attrs in rows:
        d = make_dest(uri, int(flags or 0), int(prio or 0), attrs, attrs_none, sock_of)
        if d is None:
            errors += 1
            log.warning("unable to add destination %s to set %d -- skipping", uri, sid)
            if load_mode == 1:
                raise ValueError(f"unable to add destination {uri} to set {sid}")
            continue
        s = lst.tree.insert(int(sid))
        chain = pending.setdefault(s.id, [])
        # ascending priority, a new one after the others of its priority
        pos = len(chain)
        for i, other in enumerate(chain):
            if other.priority > d.priority:
                pos = i
                break
        chain.insert(pos, d)
    for idx, s in enumerate(lst.tree.walk()):
        s.dests = list(reversed(pending.get(s.id, [])))
        s.index = idx
        lst.sets.append(s)
        for d in s.dests:
            d.slot = len(lst.dests)
            lst.dests.append(d)
        if wlists is not None and s.id in wlists:
            s.wlist = list(wlists[s.id])
        else:
            s.wlist = weight_list(s)
    return lst, errors
