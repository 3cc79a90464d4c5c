"""nathelper's NAT pinging (Kamailio 5.6: nathelper's natping_* parameters, nh_timer,
the "TIMER NH" processes and the nathelper.enable_ping RPC).

With natping_interval > 0, natping_processes processes of their own ping the contacts
in usrloc (all of them, or only those saved with usrloc's nat_bflag when
ping_nated_only is set) once per interval: a 4-byte zero-filled UDP datagram, or, for
contacts with sipping_bflag (every contact when ping_nated_only is 0 and sipping_bflag
is set), a stateless SIP request (sipping.py). Pings go to the received address when
the contact has one (else the Contact URI), from the contact's socket (or
force_socket), so the NAT binding the UA opened toward that socket is the one
refreshed. Only UDP contacts are pinged.

Contacts are split between the processes by AOR hash (usrloc's part_idx/part_max).
Each process takes its contacts once per interval and sends them spread over the
interval in 100 ms steps (a contact's step from a hash of its ruid), so 10,000
contacts at interval 10 go out as ~100 pings every 100 ms rather than in a burst
(Kamailio sends a 1/interval slice each second).

A reply to a SIP ping is consumed (never forwarded) by a reply hook; with
keepalive_timeout it refreshes the contact's keepalive time in usrloc, which drops a
UDP contact that stays silent for keepalive_timeout seconds.
"""

from __future__ import annotations

import logging
import os
import time
import zlib

from kamapy.loader import BoundApi
from kamapy.module import PROC_TIMER, Param, Process, RpcCommand
from kamapy.net.udp_batch import pack_sockaddr, send_many
from kamapy.rpc.errors import RpcError
from kamapy.runtime import rt

from . import rawping
from .sipping import Pinger

log = logging.getLogger("kamapy.nathelper")

UDP_PING = b"\x00\x00\x00\x00"  # Kamailio's sbuf: 4 zero bytes
STEP = 0.1                      # seconds between two batches of pings

PARAMS = [
    Param("natping_interval", int, 0),
    Param("ping_nated_only", int, 0),
    Param("natping_processes", int, 1),
    Param("natping_socket", str, ""),
    Param("udpping_from_path", int, 0),
    Param("force_socket", str, ""),
    Param("sipping_bflag", int, -1),
    Param("sipping_from", str, ""),
    Param("sipping_method", str, "OPTIONS"),
    Param("natping_disable_bflag", int, -1),
    Param("keepalive_timeout", int, 0),
    Param("filter_server_id", int, 0),
]


class _Cfg:
    interval = 0
    nated_only = 0
    processes = 1
    sipping_flag = 0     # masks (0 = not set)
    disable_flag = 0
    nat_flag = 0
    keepalive_timeout = 0
    filter_server_id = 0
    force_socket = None
    state = None         # CounterArray(1): 1 = pinging on (nathelper.enable_ping)
    pinger: Pinger | None = None
    raw = None           # rawping.RawPinger: natping_socket / udpping_from_path


cfg = _Cfg()


def _exports():
    from kamapy import loader
    return loader.get("nathelper")


_ul = BoundApi("usrloc")  # load_ul_api: the contacts to ping, their keepalive times


def _usrloc_nat_flag() -> int | None:
    """usrloc's nat_bflag as a mask (0: none set); None when usrloc is not loaded."""
    api = _ul.bind()
    return None if api is None else api.nat_flag()


def check():
    ex = _exports()
    if ex is None:
        return []
    p = ex.param
    problems = []
    if p("natping_socket") and not p("udpping_from_path") and not rawping.valid(p("natping_socket")):
        problems.append(("natping_socket", f"invalid natping_socket parameter <{p('natping_socket')}> "
                                           "(an IPv4 [udp:]host[:port])"))
    if p("udpping_from_path") < 0:
        problems.append(("udpping_from_path", "udpping_from_path is 0 (off) or the Path depth (1 = the last hop)"))
    if p("natping_interval") <= 0:
        return problems
    nat = _usrloc_nat_flag()
    if nat is None:
        problems.append(("natping_interval", "NAT pinging needs the usrloc module loaded"))
    elif p("ping_nated_only") and not nat:
        problems.append(("ping_nated_only",
                         "bad config - ping_nated_only enabled, but no nat bflag set in usrloc module"))
    if p("natping_processes") < 0:
        problems.append(("natping_processes", "bad config - natping_processes must be >= 0"))
    for name in ("sipping_bflag", "natping_disable_bflag"):
        if not -1 <= p(name) <= 31:
            problems.append((name, f"{name} is a branch flag index (0..31) or -1"))
    if p("sipping_bflag") >= 0:
        if not p("sipping_from"):
            problems.append(("sipping_from", "SIP ping enabled, but SIP ping FROM is empty!"))
        if not p("sipping_method"):
            problems.append(("sipping_method", "SIP ping enabled, but SIP ping method is empty!"))
        elif any(ch in p("sipping_method") for ch in " \t\r\n;:"):
            problems.append(("sipping_method", f"invalid SIP ping method [{p('sipping_method')}]!"))
    return problems


def _find_socket(text: str):
    """force_socket: "[proto:]host[:port]" among the listen sockets (None if not ours)."""
    t = text.strip()
    proto = "udp"
    if t[:4].lower() in ("udp:", "tcp:", "tls:") or t[:5].lower() == "sctp:":
        proto, t = t.split(":", 1)
    host, port = t, 5060
    if t.startswith("["):
        host, _, rest = t[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif t.count(":") == 1:
        host, ps = t.split(":")
        port = int(ps)
    from kamapy.net.send import resolve
    try:
        ip = resolve(host)[0]
    except OSError:
        return None
    for si in rt.sockets:
        if si.proto_name == proto.lower() and si.address == ip and si.port == port:
            return si
    return None


def mod_init():
    ex = _exports()
    p = ex.param
    cfg.interval = p("natping_interval")
    if p("force_socket"):
        try:
            cfg.force_socket = _find_socket(p("force_socket"))
        except ValueError:
            cfg.force_socket = None
        if cfg.force_socket is None:
            log.error("nathelper: non-local force_socket <%s>", p("force_socket"))
    # made before the interval is looked at, as Kamailio does: a server that cannot
    # have its raw socket does not start
    raw = rawping.setup(p("natping_socket"), p("udpping_from_path"))
    if raw is False:
        return -1
    cfg.raw = raw
    if cfg.interval <= 0:
        PROCS.clear()
        return 0
    problems = check()
    if problems:
        for _name, text in problems:
            log.error("nathelper: %s", text)
        return -1
    from kamapy.mem.counters import CounterArray
    cfg.nated_only = p("ping_nated_only")
    cfg.processes = p("natping_processes")
    cfg.nat_flag = _usrloc_nat_flag() or 0
    sb, db = p("sipping_bflag"), p("natping_disable_bflag")
    cfg.sipping_flag = 0 if sb < 0 else 1 << sb
    cfg.disable_flag = 0 if db < 0 else 1 << db
    cfg.keepalive_timeout = p("keepalive_timeout")
    cfg.filter_server_id = p("filter_server_id")
    cfg.state = CounterArray(1)
    cfg.state.set(0, 1)
    from . import exports
    exports.response = None
    if cfg.sipping_flag:
        cfg.pinger = Pinger(p("sipping_method"), p("sipping_from"))
        if cfg.keepalive_timeout > 0:
            _ul().set_keepalive_timeout(cfg.keepalive_timeout)
        # Kamailio's response_f, set in mod_init only when SIP pings are on (as
        # nathelper.c does): the reply of a ping stops here. The loader installs it.
        exports.response = reply_hook
    PROCS[0].count = cfg.processes
    if cfg.processes == 0:
        PROCS.clear()
    return 0


child_init = None


# ---------------------------------------------------------------------- replies
def reply_hook(msg) -> bool:
    pinger = cfg.pinger
    if pinger is None or not pinger.is_ping_reply(msg):
        return False
    if cfg.keepalive_timeout > 0:
        ka = pinger.keepalive_of(msg)
        if ka is not None:
            _ul.api.refresh_keepalive(ka[1], ka[0])
    return True


# ---------------------------------------------------------------------- sending
class Target:
    """One ping to send: where, from which socket, and the SIP request if any."""

    __slots__ = ("ip", "port", "sock", "data", "src", "addr")

    def __init__(self, ip, port, sock, data, src=None, addr=None):
        self.ip, self.port, self.sock, self.data = ip, port, sock, data
        self.src = src  # (ip, port) a raw-socket ping claims to come from
        self.addr = addr  # ip:port as a packed sockaddr (udp_batch), for the batched send


def _socket_of(text: str, af: int):
    si = cfg.force_socket
    if si is not None:
        return si
    if text:
        t = text.lower()
        for s in rt.sockets:
            if str(s).lower() == t:
                return s
    from kamapy.sip.msg import PROTO_UDP
    return rt.first_socket(PROTO_UDP, af)


def _first_path_uri(path: str) -> str | None:
    """The first URI of a stored Path set ("<sip:a;lr>,<sip:b;lr>"), where a SIP ping
    to a contact behind a Path goes (Kamailio: get_path_dst_uri)."""
    p = path.strip()
    if p.startswith("<"):
        end = p.find(">")
        return p[1:end] if end > 1 else None
    first = p.split(",", 1)[0].strip()
    return first or None


_routes: dict = {}  # (dst, socket, path, sip?) -> (ip, port, socket, sockaddr) or None: per process


def plan(contact, aor: str, aorhash: int):
    """The Target of one contact, or None when it gets no ping (Kamailio's nh_timer
    loop body)."""
    flags = contact.cflags
    if flags & cfg.disable_flag:
        return None
    sip_ping = bool(flags & cfg.sipping_flag) or (not cfg.nated_only and cfg.sipping_flag != 0)
    path = contact.path or ""
    key = (contact.received or contact.contact, contact.socket, path if flags & cfg.sipping_flag else "")
    route = _routes.get(key, _routes)
    if route is _routes:
        route = _route(*key)
        if len(_routes) > 200000:  # contacts come and go: never grow without bound
            _routes.clear()
        _routes[key] = route
    if route is None:
        return None
    ip, port, sock, addr = route
    if sip_ping and cfg.pinger is not None:
        return Target(ip, port, sock, cfg.pinger.build(contact.contact, sock, path, contact.ruid, aorhash))
    src = None
    if cfg.raw is not None and ":" not in ip:  # the raw socket is IPv4 only
        src = _raw_sources.get(path)
        if src is None and path not in _raw_sources:
            src = cfg.raw.source(path)
            if len(_raw_sources) > 10000:
                _raw_sources.clear()
            _raw_sources[path] = src
        if src is False:
            return None
    return Target(ip, port, sock, UDP_PING, src, addr)


_raw_sources: dict = {}  # Path -> its raw ping source (or None / False): per process


def _route(dst: str, socket_text: str, path: str):
    """(ip, port, socket, packed sockaddr) a ping to `dst` (or, with a Path for SIP
    pings, to the Path's first hop) goes to and from; None when it gets none."""
    from kamapy.net.send import resolve
    from kamapy.sip.errors import SipParseError
    from kamapy.sip.uri import parse_uri
    if path:
        dst = _first_path_uri(path)
        if dst is None:
            log.error("nathelper: failed to get dst_uri for Path")
            return None
    try:
        u = parse_uri(dst)
    except (SipParseError, ValueError):
        log.error("nathelper: can't parse contact/received uri %s", dst)
        return None
    transport = (u.transport or "").lower()
    if transport not in ("", "udp"):
        return None
    try:
        ip, af = resolve(u.host)
    except (OSError, ValueError):
        log.error("nathelper: can't resolve_host %s", u.host)
        return None
    port = int(u.port_str) if u.port_str else 5060
    sock = _socket_of(socket_text, af)
    if sock is None or sock.sock is None:
        log.error("nathelper: can't get sending socket")
        return None
    return ip, port, sock, pack_sockaddr(ip, port)


def send(t: Target) -> bool:
    if t.src is not None:
        return cfg.raw.send(t.data, (t.ip, t.port), t.src)
    try:
        t.sock.sock.sendto(t.data, (t.ip, t.port))
        return True
    except OSError as e:
        log.error("nathelper: %s udp_send to %s:%d failed: %s",
                  "sip" if len(t.data) > 4 else "", t.ip, t.port, e)
        return False


def send_step(targets) -> int:
    """Send one step's pings: the plain UDP ones batched per socket (udp_batch: a few
    sendmmsg calls for all of them), SIP and raw-socket pings one by one. Returns how
    many went out."""
    sent = 0
    batches: dict = {}
    for t in targets:
        if t.src is None and t.data is UDP_PING and t.addr is not None:
            b = batches.get(t.sock)
            if b is None:
                b = batches[t.sock] = []
            b.append(t.addr)
        elif send(t):
            sent += 1
    for si, addrs in batches.items():
        by_size: dict = {}
        for a in addrs:  # one address family per call
            by_size.setdefault(len(a), []).append(a)
        for group in by_size.values():
            n, failed, err = send_many(si.sock, UDP_PING, group)
            sent += n
            if failed:
                log.error("nathelper: udp_send of %d of %d pings from %s failed: %s",
                          failed, len(group), si, os.strerror(err))
    return sent


def contacts_of(idx: int):
    """(aor, contact) pairs this ping process is for."""
    srv = rt.core.server_id if (cfg.filter_server_id and rt.core is not None) else None
    flags = cfg.nat_flag if cfg.nated_only else 0
    for _table, aor, c in _ul().get_all_ucontacts(flags=flags, part_idx=idx,
                                                  part_max=max(1, cfg.processes), server_id=srv):
        yield aor, c


def enabled() -> bool:
    return cfg.state is not None and cfg.state.get(0) != 0


def read_slots(idx: int, steps: int) -> list[list]:
    """This process's contacts, each in the step of the interval it is pinged in: a
    hash of its ruid, so it keeps its phase from one interval to the next (one ping
    every natping_interval) and the contacts spread evenly whatever their number."""
    slots: list[list] = [[] for _ in range(steps)]
    if enabled():
        for aor, c in contacts_of(idx):
            slots[zlib.crc32(c.ruid.encode("utf-8", "surrogatepass")) % steps].append((aor, c))
    return slots


def ping_round(idx: int, slots: list[list] | None = None, start: float | None = None,
               clock=time.monotonic, sleep=time.sleep, stop=lambda: rt.stopping):
    """One interval of process idx from `start`: the pings of step k go out at
    start + k * interval / steps. The contacts of the next round are read during the
    last step, so the time that takes (~100 ms for 10,000 contacts) does not delay
    the next round's first steps into a burst. Returns (pings sent, next slots)."""
    aor_hash = _ul().get_aorhash
    steps = max(1, int(round(cfg.interval / STEP)))
    start = clock() if start is None else start
    if slots is None:
        slots = read_slots(idx, steps)
    sent = 0
    nxt = None
    for k in range(steps):
        if stop():
            break
        if slots[k] and enabled():
            targets = [t for t in (plan(c, aor, aor_hash(aor)) for aor, c in slots[k]) if t is not None]
            sent += send_step(targets)
        if k == steps - 1:
            nxt = read_slots(idx, steps)
        delay = start + (k + 1) * cfg.interval / steps - clock()
        if delay > 0:
            sleep(delay)
    return sent, nxt


def run(idx: int):
    log.info("nathelper: NAT ping process %d of %d, every %ds", idx, cfg.processes, cfg.interval)
    start = time.monotonic()
    slots = None
    while not rt.stopping:
        try:
            _sent, slots = ping_round(idx, slots, start)
        except Exception:
            log.exception("nathelper: NAT ping round failed")
            slots = None
            time.sleep(1)
        start += cfg.interval
        now = time.monotonic()
        if now - start > cfg.interval:  # fell far behind (suspended): start afresh
            start = now


PROCS: list = [Process("TIMER NH", run, count=1, rank=PROC_TIMER)]


# ---------------------------------------------------------------------- RPC
def rpc_enable_ping(_rpc, params):
    if cfg.state is None:
        raise RpcError(500, "NATping disabled")
    if not params:
        raise RpcError(500, "No parameter")
    try:
        value = int(params[0])
    except (TypeError, ValueError):
        raise RpcError(500, "No parameter") from None
    cfg.state.set(0, 1 if value else 0)
    return None


RPC = [RpcCommand("nathelper.enable_ping", rpc_enable_ping, "Set (enable/disable) nat ping")]
STATS: list = []
