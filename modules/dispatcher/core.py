"""dispatcher's shared state and its config functions (Kamailio 5.6: dispatch.c).

Shared memory, made in mod_init before the fork:
  - the rows of the current list (and the weight lists drawn for it), msgpack in a
    small shm hash table, with a generation counter; each process rebuilds the sets
    from those rows when the generation moves (after a reload in any process);
  - per destination (by slot): its state flags, the failure/success counter that the
    thresholds read, its call load;
  - per set: the round-robin index and the weight/relative-weight list positions;
    the relative-weight lists themselves (rebuilt when a destination goes up/down);
  - the ping switch (dispatcher.ping_active) and the last reload time.
State changes and round robin take one lock; the selection reads flags without it.
"""

from __future__ import annotations

import logging
import random
import time

import msgpack

from kamapy.pv.dset import ruri_mark_new
from kamapy.runtime import rt

from . import dslist as L

log = logging.getLogger("kamapy.dispatcher")

MAX_DESTS = 4096
MAX_SETS = 1024

# algorithms
ALG_HASHCALLID, ALG_HASHFROM, ALG_HASHTO, ALG_HASHRURI, ALG_RR, ALG_HASHAUTH, ALG_RANDOM, \
    ALG_HASHPV, ALG_SERIAL, ALG_WEIGHT, ALG_CALLLOAD, ALG_RELWEIGHT, ALG_PARALLEL, \
    ALG_LATENCY = range(14)

SETOP_DSTURI, SETOP_RURI, SETOP_XAVP = 0, 1, 2
MATCH_NOPORT, MATCH_NOPROTO, MATCH_ACTIVE = 1, 2, 4
PROBE_NONE, PROBE_ALL, PROBE_INACTIVE, PROBE_ONLYFLAGGED = 0, 1, 2, 3
FAILOVER_ON = 2
HASH_USER_ONLY = 1


class Cfg:
    """The module parameters, as mod_init read them."""
    flags = 0
    use_default = 0
    force_dst = 1
    xavp_dst = "_dsdst_"
    xavp_dst_mode = 0
    xavp_ctx = "_dsctx_"
    xavp_ctx_mode = 0
    hash_pvar = None          # compiled format
    setid_pv = None
    attrs_pv = None
    probing_threshold = 1
    inactive_threshold = 1
    probing_mode = 0
    ping_method = "OPTIONS"
    ping_from = "sip:dispatcher@localhost"
    ping_interval = 0
    ping_reply_codes: list = []   # [("code", n) | ("class", n)]
    ping_latency_stats = 0
    latency_alpha = 0.9
    outbound_proxy = ""
    default_socket = None     # "udp:ip:port" string
    attrs_none = 0
    load_mode = 0
    reload_delta = 5
    list_file = "/etc/kamailio/dispatcher.list"
    db_url = None
    table = "dispatcher"
    cols = ("setid", "destination", "flags", "priority", "attrs")
    db_extra_attrs: list = []
    hash_size = 0
    hash_expire = 7200
    hash_initexpire = 7200
    event_callback = ""


cfg = Cfg()


class Shared:
    def __init__(self):
        from kamapy.mem.counters import Counter, CounterArray
        from kamapy.mem.htable import SharedHashTable
        from kamapy.mem.lockset import Lock
        self.tbl = SharedHashTable(6, name="dispatcher")
        self.gen = Counter()
        self.flags = CounterArray(MAX_DESTS)
        self.counts = CounterArray(MAX_DESTS)
        self.dload = CounterArray(MAX_DESTS)
        self.setc = CounterArray(MAX_SETS * 3)
        self.misc = CounterArray(4)      # 0 ping active, 1 reload time
        self.misc.set(0, 1)
        self.lock = Lock(name="dispatcher state")
        self.load = SharedHashTable(max(1, min(cfg.hash_size or 1, 16)), name="dispatcher load") \
            if cfg.hash_size > 0 else None


_sh: Shared | None = None
_cache: tuple[int, L.DsList] | None = None


def shared() -> Shared:
    return _sh


def init_shared():
    global _sh
    _sh = Shared()


# ------------------------------------------------------------------ loading
def read_rows() -> list:
    if cfg.db_url:
        return read_db_rows()
    try:
        return L.read_list_file(cfg.list_file)
    except OSError:
        raise ValueError(f"can't open list file [{cfg.list_file}]") from None


def read_db_rows() -> list:
    from kamapy.db.api import connect
    from kamapy.db.schema import table_version
    conn = connect(cfg.db_url)
    try:
        ver = table_version(conn, cfg.table)
        ncols = {1: 2, 2: 3, 3: 4, 4: 5}.get(ver or 4)
        if ncols is None:
            raise ValueError(f"invalid table version (found {ver}, required 1, 2, 3 or 4)")
        cols = list(cfg.cols[:ncols])
        extra = cfg.db_extra_attrs if ncols == 5 else []
        cols += [c for _a, c in extra]
        out = []
        for r in conn.query(cfg.table, cols):
            attrs = r[4] if ncols >= 5 else None
            if extra:
                parts = attrs or ""
                if parts and not parts.endswith(";"):
                    parts += ";"
                for (aname, _c), v in zip(extra, r[5:], strict=True):
                    if v:
                        parts += f"{aname}={v};"
                attrs = parts
            out.append((int(r[0]), str(r[1]), int(r[2] or 0) if ncols >= 3 else 0,
                        int(r[3] or 0) if ncols >= 4 else 0, attrs))
        if not out:
            log.warning("no dispatching data in the db -- empty destination set")
        return out
    finally:
        conn.close()


def sock_of(a: L.Attrs):
    """The send socket of a destination: sockname=, socket=, or the default one."""
    from kamapy.net.socket_info import socket_of_spec
    if a.sockname:
        si = next((s for s in rt.sockets if getattr(s, "name", None) == a.sockname), None)
        if si is None:
            raise ValueError(f"non-local socket name <{a.sockname}>")
        return si
    if a.socket:
        si = socket_of_spec(a.socket)
        if si is None:
            raise ValueError(f"non-local socket <{a.socket}>")
        return si
    spec = cfg.default_socket
    if spec is None:
        return None
    return spec if not isinstance(spec, str) else socket_of_spec(spec)


def load(rows=None) -> int:
    """Load the list (from rows, or from the file / table) and make it the current one
    for every process: 0, or -1 when it could not be read (the old list stays)."""
    sh = _sh
    try:
        if rows is None:
            rows = read_rows()
        lst, _errs = L.build(rows, bool(cfg.attrs_none), cfg.load_mode, sock_of=sock_of)
    except (OSError, ValueError) as e:
        log.error("dispatcher: cannot load the destinations: %s", e)
        return -1
    if len(lst.dests) > MAX_DESTS or len(lst.sets) > MAX_SETS:
        log.error("dispatcher: at most %d destinations in %d sets", MAX_DESTS, MAX_SETS)
        return -1
    blob = msgpack.packb({"rows": [list(r) for r in rows],
                          "w": {s.id: s.wlist for s in lst.sets}}, use_bin_type=True)
    sh.lock.get()
    try:
        sh.tbl.put(b"rows", blob)
        for d in lst.dests:
            sh.flags.set(d.slot, d.flags)
            sh.counts.set(d.slot, 0)
            sh.dload.set(d.slot, 0)
            if d.attrs.latency is not None:
                _lat_init(d.slot, d.attrs.latency)
            else:
                sh.tbl.delete(b"lat:%d" % d.slot)
        for s in lst.sets:
            for k in range(3):
                sh.setc.set(s.index * 3 + k, 0)
            _store_rweights(s, [d.flags for d in s.dests])
        gen = sh.gen.add(1)
    finally:
        sh.lock.release()
    global _cache
    _cache = (gen, lst)
    log.debug("dispatcher: %d sets loaded", lst.nr_sets)
    return 0


def current() -> L.DsList | None:
    global _cache
    sh = _sh
    if sh is None:
        return None
    g = sh.gen.get()
    c = _cache
    if c is not None and c[0] == g:
        return c[1]
    raw = sh.tbl.get(b"rows")
    if raw is None:
        return None
    doc = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    try:
        lst, _e = L.build([tuple(r) for r in doc["rows"]], bool(cfg.attrs_none), 0,
                          {int(k): v for k, v in doc["w"].items()}, sock_of=sock_of)
    except ValueError as e:
        log.error("dispatcher: cannot rebuild the list: %s", e)
        return None
    _cache = (g, lst)
    return lst


def reload_allowed() -> bool:
    """reload_delta: at most one reload in that many seconds."""
    sh = _sh
    now = int(time.time())
    last = sh.misc.get(1)
    if last and cfg.reload_delta and last > now - cfg.reload_delta:
        return False
    sh.misc.set(1, now)
    return True


# ------------------------------------------------------------------ state
def _store_rweights(s: L.DsSet, flags: list[int]):
    if not any(d.attrs.rweight for d in s.dests):
        return
    rw = L.rweight_list(s, flags)
    if rw is not None:
        _sh.tbl.put(b"rw:%d" % s.index, bytes(min(i, 255) for i in rw))


def flags_of(d: L.Dest) -> int:
    return _sh.flags.get(d.slot)


def run_event(name: str, uri: str, msg, rctx: dict):
    """event_route[dispatcher:dst-down|up] on the message, or a faked request whose
    R-URI is the destination; $dsv(...) reads rctx there."""
    routes = rt.routes
    route = getattr(routes, "event", {}).get(name) if routes is not None else None
    if route is None and not cfg.event_callback:
        return
    from kamapy.cfg.run_context import run_route
    from kamapy.module import REQUEST_ROUTE
    from kamapy.sip.fmsg import next_faked_msg
    fmsg = msg
    if fmsg is None:
        fmsg = next_faked_msg()
        fmsg.set_ruri(uri)
    saved = fmsg.module_data.get("ds.rctx")
    saved_ctx = getattr(fmsg, "ctx", None)
    fmsg.module_data["ds.rctx"] = rctx
    try:
        if route is not None:
            run_route(route, fmsg, REQUEST_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", name)
    finally:
        fmsg.module_data["ds.rctx"] = saved
        fmsg.ctx = saved_ctx


def update_state(msg, group: int, address: str, state: int, rctx: dict) -> int:
    """ds_update_state: thresholds, events. 0, or -1 when not found."""
    lst = current()
    if lst is None:
        return -1
    s = lst.find(group)
    if s is None:
        log.error("destination set [%d] not found", group)
        return -1
    sh = _sh
    low = address.lower()
    for d in s.dests:
        if len(d.uri) != len(address) or d.uri.lower() != low:
            continue
        event = None
        sh.lock.get()
        try:
            old = sh.flags.get(d.slot)
            new = old & ~L.STATES_ALL
            init_state = state
            st = state
            if st & L.TRYING and old & L.INACTIVE:
                st = (st & ~L.TRYING) | L.INACTIVE
            new |= L.DISABLED if st & L.DISABLED else st
            cnt = sh.counts.get(d.slot)
            if st & L.TRYING:
                cnt += 1
                if cnt >= cfg.probing_threshold:
                    new = (new & ~L.TRYING) | L.INACTIVE
                    cnt = 0
            elif not init_state & L.TRYING and old & L.INACTIVE:
                cnt += 1
                if cnt < cfg.inactive_threshold:
                    new |= L.INACTIVE
                    if old & L.PROBING:
                        new |= L.PROBING
                else:
                    cnt = 0
            else:
                cnt = 0
            sh.flags.set(d.slot, new)
            sh.counts.set(d.slot, cnt)
            if L.skip(old) != L.skip(new):
                event = "dispatcher:dst-down" if L.skip(new) else "dispatcher:dst-up"
                if d.attrs.rweight > 0:
                    _store_rweights(s, [sh.flags.get(x.slot) for x in s.dests])
        finally:
            sh.lock.release()
        if event:
            log.info("dispatcher: %s %s (group %d)", event.split(":")[1], d.uri, group)
            run_event(event, address, msg, rctx)
        return 0
    return -1


def reinit_state(group: int, address: str | None, state: int, duid: str | None = None) -> int:
    """The RPC's set_state: the state bits replaced, no thresholds, no events."""
    lst = current()
    s = lst.find(group) if lst is not None else None
    if s is None:
        return -1
    sh = _sh
    hit = False
    sh.lock.get()
    try:
        for d in s.dests:
            if address is None and duid is None:
                pass
            elif duid is not None:
                if (d.attrs.duid or "").lower() != duid.lower():
                    continue
            elif d.uri.lower() != address.lower():
                continue
            old = sh.flags.get(d.slot)
            sh.flags.set(d.slot, (old & ~L.STATES_ALL) | state)
            hit = True
            if address is not None or duid is not None:
                break
        if hit:
            _store_rweights(s, [sh.flags.get(x.slot) for x in s.dests])
    finally:
        sh.lock.release()
    return 0 if hit else -1


def get_state(group: int, uri: str) -> int:
    lst = current()
    s = lst.find(group) if lst is not None else None
    if s is None:
        return -1
    for d in s.dests:
        if d.uri.lower() == uri.lower():
            return _sh.flags.get(d.slot)
    return 0


# ------------------------------------------------------------------ latency
def _lat_get(slot):
    raw = _sh.tbl.get(b"lat:%d" % slot)
    if raw is None:
        return None
    return msgpack.unpackb(raw)


def _lat_put(slot, v):
    _sh.tbl.put(b"lat:%d" % slot, msgpack.packb(v))


def _lat_init(slot, latency, count=10000):
    # [avg, stdev, estimate, max, min, timeout, count, m2]
    _lat_put(slot, [float(latency), 0.0, float(latency), latency, latency, 0, count, 0.0])


def lat_stats(slot):
    v = _lat_get(slot)
    return v if v is not None else [0.0, 0.0, 0.0, 0, 0, 0, 0, 0.0]


def update_latency(group: int, uri: str, code: int, ms: int):
    lst = current()
    s = lst.find(group) if lst is not None else None
    if s is None:
        return
    for d in s.dests:
        if d.uri.lower() != uri.lower():
            continue
        v = lat_stats(d.slot)
        avg, std, est, mx, mn, tmo, cnt, m2 = v
        if code == 408:
            tmo += 1
        else:
            if cnt < 1 or ms > mx:
                mx = ms
            if cnt < 1 or ms < mn:
                mn = ms
            cnt += 1
            if cnt == 1:
                avg = est = float(ms)
                m2 = 0.0
            else:
                delta = ms - avg
                avg += delta / cnt
                m2 += delta * (ms - avg)
                std = (m2 / (cnt - 1)) ** 0.5
                est = cfg.latency_alpha * est + (1 - cfg.latency_alpha) * ms
        _lat_put(d.slot, [avg, std, est, mx, mn, tmo, cnt, m2])
        return


# ------------------------------------------------------------------ hashing
def _hash_uri(text: str) -> int:
    k1, k2 = L.uri_hash_keys(text, bool(cfg.flags & HASH_USER_ONLY))
    if not k1:
        log.warning("empty username in: %s", text)
    return L.ds_hash(k1 or "", k2)


def _auth_username(msg) -> str | None:
    for name in ("proxy-authorization", "authorization"):
        hf = msg.get_header(name)
        if hf is None:
            continue
        from kamapy_modules.auth.creds import parse_credentials
        c = parse_credentials(hf.value)
        if isinstance(c, str) or not getattr(c, "username", None):
            continue
        user = c.user if getattr(c, "user", None) else c.username
        return user.strip()
    return None


def _rr_next(s: L.DsSet, n: int) -> tuple[int, int]:
    sh = _sh
    sh.lock.get()
    try:
        i = s.index * 3
        h = sh.setc.get(i)
        v = (h + 1) % n
        sh.setc.set(i, v)
    finally:
        sh.lock.release()
    return h, v


def _list_next(s: L.DsSet, k: int, lst: list[int]) -> int:
    i = s.index * 3 + k
    pos = (_sh.setc.add(i, 1) - 1) % 100
    if pos == 99:
        _sh.setc.add(i, -100)
    return lst[pos]


class SelectState:
    __slots__ = ("setid", "alg", "umode", "limit", "cnt", "records", "emode")

    def __init__(self, setid, alg, umode, limit):
        self.setid = setid
        self.alg = alg
        self.umode = umode
        self.limit = limit if limit > 0 else 0xFFFFFFFF
        self.cnt = 0
        self.records = []
        self.emode = 0


def _record(s: L.DsSet, d: L.Dest, st: SelectState) -> dict:
    rec = {}
    if st.alg == ALG_CALLLOAD:
        if not d.attrs.duid:
            raise ValueError(f"no uid for destination: {st.setid} {d.uri}")
        rec["dstid"] = [d.attrs.duid]
    if d.sock is not None:
        if cfg.xavp_dst_mode & 4 and d.attrs.sockname:
            rec["sockname"] = [d.attrs.sockname]
        if cfg.xavp_dst_mode & 2 and d.attrs.socket:
            rec["socket"] = [d.attrs.socket]
        rec["sock"] = [_sock_str(d.sock)]
    if not cfg.xavp_dst_mode & 1 and d.attrs.body:
        rec["attrs"] = [d.attrs.body]
    rec["grp"] = [st.setid]
    rec["uri"] = [d.uri]
    return rec


def _sock_str(si) -> str:
    proto = getattr(si, "proto_name", None) or "udp"
    return f"{proto}:{si.address}:{si.port}"


def push_dst(msg, uri: str, sock, mode: int) -> int:
    if mode == SETOP_RURI:
        from kamapy.pv.ruri_rewrite import SET_HOSTALL, rewrite_ruri
        low = uri[:5].lower()
        host = uri[5:] if low == "sips:" else uri[4:] if low.startswith("sip:") else uri
        if rewrite_ruri(msg, SET_HOSTALL, host) < 0:
            log.error("error while setting r-uri domain with: %s", uri)
            return -1
    elif mode == SETOP_XAVP:
        return 0
    else:
        msg.dst_uri = uri
        ruri_mark_new(msg)
    if sock is not None:
        if isinstance(sock, str):
            from kamapy.net.socket_info import socket_of_spec
            sock = socket_of_spec(sock)
        if sock is not None:
            msg.force_send_socket = sock
    return 0


def manage_routes(msg, st: SelectState) -> int:
    lst = current()
    if lst is None or lst.nr_sets <= 0:
        log.error("no destination sets")
        return -1
    if st.umode == SETOP_DSTURI and not cfg.force_dst and msg.dst_uri:
        log.error("destination already set [%s]", msg.dst_uri)
        return -1
    s = lst.find(st.setid)
    if s is None or not s.dests:
        log.error("destination set [%d] not found", st.setid)
        return -1
    n = len(s.dests)
    flags = [_sh.flags.get(d.slot) for d in s.dests]
    ulast = False
    vlast = 0
    filled = False
    alg = st.alg
    try:
        if alg == ALG_HASHCALLID:
            h = L.ds_hash(msg.callid.strip())
        elif alg == ALG_HASHFROM:
            h = _hash_uri(msg.from_hdr.uri)
        elif alg == ALG_HASHTO:
            h = _hash_uri(msg.to_hdr.uri)
        elif alg == ALG_HASHRURI:
            h = _hash_uri(msg.current_uri)
        elif alg == ALG_RR:
            h, vlast = _rr_next(s, n)
            ulast = True
        elif alg == ALG_HASHAUTH:
            user = _auth_username(msg)
            if user is None:
                h, vlast = _rr_next(s, n)
                ulast = True
            else:
                h = L.ds_hash(user)
        elif alg == ALG_RANDOM:
            h = random.getrandbits(31)
        elif alg == ALG_HASHPV:
            if cfg.hash_pvar is None:
                log.error("can't get PV hash")
                return -1
            text = cfg.hash_pvar if isinstance(cfg.hash_pvar, str) else cfg.hash_pvar(msg)
            text = text.strip()
            if not text:
                log.error("String is empty!")
                return -1
            h = L.ds_hash(text)
        elif alg in (ALG_SERIAL, ALG_PARALLEL):
            h = 0
        elif alg == ALG_WEIGHT:
            h = _list_next(s, 1, s.wlist) if s.wlist else 0
        elif alg == ALG_CALLLOAD:
            if msg.method != "INVITE" or not cfg.xavp_dst:
                h = 0
                st.alg = 0
            else:
                from . import callload
                i = callload.least_loaded(s, flags)
                if i < 0:
                    return -1
                h = i
                if callload.add(msg, s, st.setid, i) < 0:
                    log.error("unable to update destination load - classic dispatching")
                    st.alg = 0
        elif alg == ALG_RELWEIGHT:
            raw = _sh.tbl.get(b"rw:%d" % s.index)
            h = _list_next(s, 2, list(raw)) if raw else 0
        elif alg == ALG_LATENCY:
            h = _algo13(s, flags, st)
            filled = True
        else:
            log.warning("algo %d not implemented - using first entry...", alg)
            h = 0
    except Exception as e:  # noqa: BLE001 - a header that does not parse
        log.error("can't get the hash for algorithm %d: %s", alg, e)
        return -1
    mod = n - 1 if cfg.use_default and n != 1 else n
    h %= mod
    i = h
    while not filled and L.skip(flags[i]):
        i = (i + 1) % mod
        if i == h:
            if cfg.use_default:
                i = n - 1
                if L.skip(flags[i]):
                    return -1
                break
            return -1
    h = i
    d = s.dests[h]
    if st.umode != SETOP_XAVP:
        if push_dst(msg, d.uri, d.sock, st.umode) != 0:
            return -1
        st.emode = 1
    if ulast:
        sh = _sh
        sh.lock.get()
        try:
            if sh.setc.get(s.index * 3) == vlast:
                sh.setc.set(s.index * 3, (h + 1) % n)
        finally:
            sh.lock.release()
    if st.alg == ALG_PARALLEL:
        return _add_branches(msg, s, h, st.umode)
    if not cfg.flags & FAILOVER_ON or not cfg.xavp_dst:
        return 1
    try:
        if not filled:
            st.records.append(_record(s, d, st))
            st.cnt += 1
            order = list(range(h + 1, n)) + list(range(0, h))
            for j in order:
                if st.cnt >= st.limit:
                    break
                if L.skip(flags[j]) or (cfg.use_default and j == n - 1):
                    continue
                dj = s.dests[j]
                if st.alg == ALG_CALLLOAD and dj.attrs.maxload and \
                        _sh.dload.get(dj.slot) >= dj.attrs.maxload:
                    continue
                st.records.append(_record(s, dj, st))
                st.cnt += 1
        if cfg.use_default and h != n - 1 and st.cnt < st.limit:
            st.records.append(_record(s, s.dests[n - 1], st))
            st.cnt += 1
    except ValueError as e:
        log.error("%s", e)
        return -1
    return 1


def _algo13(s: L.DsSet, flags: list[int], st: SelectState) -> int:
    sh = _sh
    n = len(s.dests)
    sh.lock.get()
    try:
        z = sh.setc.get(s.index * 3)
        start = z
        ranked = []
        for _y in range(n):
            d = s.dests[z]
            prio = d.priority
            lat = lat_stats(d.slot)
            est = int(lat[2])
            if d.attrs.cc:
                est = int(lat[2] - lat[0])
            if not L.skip(flags[z]):
                handicap = est // prio if est > prio and prio > 0 else 0
                rp = prio - handicap
                if rp < 1 and prio > 0:
                    rp = 1
                ranked.append([z, rp, flags[z]])
            else:
                ranked.append([-1, -1, flags[z]])
            z = (z + 1) % (n - 1 if cfg.use_default and n != 1 else n)
        # Kamailio's bubble sort, highest adjusted priority first (stable)
        for _i in range(n):
            for ii in range(1, n):
                if ranked[ii - 1][1] < ranked[ii][1]:
                    ranked[ii - 1], ranked[ii] = ranked[ii], ranked[ii - 1]
        h = ranked[0][0] if ranked else start
        if cfg.flags & FAILOVER_ON:
            for idx, _p, f in ranked:
                if st.cnt >= st.limit:
                    break
                if idx < 0 or L.skip(f) or (cfg.use_default and idx == n - 1):
                    continue
                st.records.append(_record(s, s.dests[idx], st))
                st.cnt += 1
        sh.setc.set(s.index * 3, (h + 1) % n)
    finally:
        sh.lock.release()
    return h


def _add_branches(msg, s: L.DsSet, h: int, mode: int) -> int:
    from kamapy.pv.dset import append_branch
    n = len(s.dests)
    start = h if mode == SETOP_XAVP else h + 1
    if mode != SETOP_XAVP and h + 1 >= n:
        return 1
    user = None
    if mode == SETOP_RURI:
        user = msg.parsed_ruri.user
    for i in range(start, n):
        d = s.dests[i]
        if mode == SETOP_RURI:
            if not user:
                uri = d.uri
            elif d.uri.startswith("sips:"):
                uri = f"sips:{user}@{d.uri[5:]}"
            elif d.uri.startswith("sip:"):
                uri = f"sip:{user}@{d.uri[4:]}"
            else:
                log.warning("unsupported protocol schema - ignoring")
                continue
            rc = append_branch(msg, uri, None, socket=d.sock)
        else:
            rc = append_branch(msg, msg.current_uri, d.uri, socket=d.sock)
        if rc < 0:
            log.error("failed to add additional branches")
            return 2
    return 1


def select(msg, setid: int, alg: int, limit: int, mode: int) -> int:
    st = SelectState(setid, alg, mode, limit)
    rc = manage_routes(msg, st)
    if rc < 0:
        return rc
    _store(msg, st)
    return rc


def select_routes(msg, rules: str, mode: str, limit: int) -> int:
    """ds_select_routes("grp=alg;...", mode[, limit]): each rule in turn, the first
    selected address where mode says, the others only in the XAVPs."""
    st = SelectState(0, 0, SETOP_XAVP, limit)
    vret = gret = -1
    i, n = 0, len(rules)
    while i < n:
        vals = []
        for stop in "=;":
            v = 0
            while i < n:
                c = rules[i]
                if not c.isdigit():
                    if c == stop:
                        i += 1
                        break
                    log.error("invalid character in [%s] at [%d]", rules, i)
                    return -1
                v = v * 10 + ord(c) - 48
                i += 1
            vals.append(v)
        st.setid, st.alg = vals
        st.umode = SETOP_XAVP
        if not st.emode:
            c0 = mode[:1]
            if c0 in ("0", "d", "D"):
                st.umode = SETOP_DSTURI
            elif c0 in ("1", "r", "R"):
                st.umode = SETOP_RURI
            elif c0 not in ("2", "x", "X"):
                log.error("invalid routing mode parameter: %s", mode)
                return -1
        vret = manage_routes(msg, st)
        if vret > 0:
            gret = vret
    if gret < 0:
        return vret
    _store(msg, st)
    return gret


def _store(msg, st: SelectState):
    if st.records:
        xavps = msg.xavps
        if xavps is None:
            xavps = msg.xavps = {}
        xavps[cfg.xavp_dst] = st.records + (xavps.get(cfg.xavp_dst) or [])
    if not cfg.xavp_ctx_mode & 1 and cfg.xavp_ctx:
        xavps = msg.xavps
        if xavps is None:
            xavps = msg.xavps = {}
        xavps[cfg.xavp_ctx] = [{"cnt": [st.cnt]}] + (xavps.get(cfg.xavp_ctx) or [])


def update_dst(msg, use_next: bool, mode: int) -> int:
    if use_next and (not cfg.flags & FAILOVER_ON or not cfg.xavp_dst):
        log.warning("failover support disabled")
        return -1
    while True:
        items = (msg.xavps or {}).get(cfg.xavp_dst)
        if not items or not isinstance(items[0], dict):
            return -1
        if use_next:
            items.pop(0)
            if not items or not isinstance(items[0], dict):
                return -1
        rec = items[0]
        sock = (rec.get("sock") or [None])[0]
        uri = (rec.get("uri") or [None])[0]
        if not isinstance(uri, str):
            log.warning("no xavp uri field in next destination record")
            return -1
        if push_dst(msg, uri, sock, mode) != 0:
            return -1
        dstid = (rec.get("dstid") or [None])[0]
        if dstid is None or not use_next:
            return 1
        from . import callload
        rc = callload.replace(msg, dstid)
        if rc == 0:
            return 1
        if rc == -2:
            log.error("cannot update load with %s, skipping dst.", dstid)
            continue
        return -1


def mark_dst(msg, state: int) -> int:
    if not cfg.flags & FAILOVER_ON:
        log.warning("failover support disabled")
        return -1
    if not cfg.xavp_dst:
        return -1
    items = (msg.xavps or {}).get(cfg.xavp_dst)
    if not items or not isinstance(items[0], dict):
        return -1
    grp = (items[0].get("grp") or [None])[0]
    uri = (items[0].get("uri") or [None])[0]
    if not isinstance(grp, int) or not isinstance(uri, str):
        return -1
    rctx = {"flags": 0, "code": 820, "reason": None}
    if msg is not None and not msg.is_request:
        rctx = {"flags": 1, "code": msg.status, "reason": msg.reason}
    elif getattr(msg, "faked", False):
        rctx["code"] = 810
    return 1 if update_state(msg, grp, uri, state, rctx) == 0 else -1


def is_from_list(msg, group: int, uri: str | None, mode: int) -> int:
    lst = current()
    if lst is None:
        return -1
    if not uri:
        ip, port, proto = msg.rcv.src_ip, msg.rcv.src_port, msg.rcv.proto
    else:
        from kamapy.sip.uri import parse_uri
        try:
            u = parse_uri(uri)
        except Exception:  # noqa: BLE001
            log.error("bad uri [%s]", uri)
            return -1
        port = u.port or 0
        proto = L.PROTO_IDS.get((u.param("transport") or "").lower(), 0)
        ip = L._resolve(u.host)
        if ip is None:
            log.error("could not resolve %s", u.host)
            return -1
    import ipaddress
    try:
        want = ipaddress.ip_address(ip)
    except ValueError:
        return -1
    sets = lst.tree.walk() if group == -1 else [s for s in [lst.find(group)] if s]
    for s in sets:
        for d in s.dests:
            if d.ip is None:
                continue
            try:
                if ipaddress.ip_address(d.ip) != want:
                    continue
            except ValueError:
                continue
            if not (mode & MATCH_NOPORT or d.port == 0 or port == d.port):
                continue
            if not (mode & MATCH_NOPROTO or proto == d.proto):
                continue
            if mode & MATCH_ACTIVE and L.skip(_sh.flags.get(d.slot)):
                continue
            if group == -1 and cfg.setid_pv is not None:
                cfg.setid_pv.set(msg, s.id)
            if cfg.attrs_pv is not None and d.attrs.body:
                cfg.attrs_pv.set(msg, d.attrs.body)
            return 1
    return -1


def is_active(group: int, uri: str | None) -> int:
    lst = current()
    s = lst.find(group) if lst is not None else None
    if s is None:
        return -1
    for d in s.dests:
        if not L.skip(_sh.flags.get(d.slot)):
            if not uri or d.uri == uri:
                return 1
    return -1


def list_exists(group: int) -> int:
    lst = current()
    if lst is None:
        return -1
    return 1 if lst.find(group) is not None else -1
