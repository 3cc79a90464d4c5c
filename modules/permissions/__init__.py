"""permissions: IP-based trust (Kamailio 5.6's permissions, its address and trusted tables).

Built: allow_source_address([group]), allow_source_address_group(), allow_address(group,
ip, port), allow_address_group(ip, port), allow_trusted([src_ip, proto[, uri]]) over the
`address` and `trusted` tables of kamapy.db (Kamailio's layouts, so kamdbctl-made tables
work), peer_tag_avp / peer_tag_mode, db_mode 0 (trusted queried per call) and 1
(cached), load_backends, and the RPCs permissions.addressReload / addressDump /
subnetDump / domainDump / trustedReload / trustedDump in Kamailio's layout (the `table`
field is Kamailio's hash slot; see _one_struct for domainDump / trustedDump).

The address table is cached (as in Kamailio): rows with a full mask (32, 128) are single
addresses, others subnets, non-IP values domain names. A reload (RPC) reads the table in
the process that runs it and bumps a generation counter in shm; each worker re-reads
the table when it sees a new generation, so all workers switch to the new rows.

Not built, refused at start-up by name: allow_routing, allow_register, allow_uri (the
permissions.allow / .deny rule files), address_file, default_allow_file/deny_file.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time

from kamapy import db, hashes
from kamapy.db.per_process import PerProcessConnection
from kamapy.module import (
    ANY_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    RpcCommand,
)

log = logging.getLogger("kamapy.permissions")

LOAD_ADDRESSDB = 1
LOAD_TRUSTEDDB = 2
HASH_SIZE = 128
PROTO_NAMES = {"any": 0, "udp": 1, "tcp": 2, "tls": 3, "sctp": 4, "ws": 5, "wss": 6}

_gen = None            # CounterArray(2): [address generation, trusted generation]
_seen = [-1, -1]
# the cached tables, by the generation index: [0] address (singles, subnets, domains),
# [1] trusted (rows, priority descending; cached mode)
_cache = [None, None]


def _p(name):
    return exports.param(name)


# ------------------------------------------------------------------ DB access
_db = PerProcessConnection(lambda: _p("db_url"))
connection = _db.get
_drop_conn = _db.drop


def core_hash(data: bytes, size: int = HASH_SIZE) -> int:
    """Kamailio's core_hash() slot, for the dumps' `table`."""
    return hashes.core_hash(data, size)


def _ip(text: str):
    t = text.strip()
    if t.startswith("[") and t.endswith("]"):
        t = t[1:-1]
    try:
        return ipaddress.ip_address(t)
    except ValueError:
        return None


# ------------------------------------------------------------------ address table
def load_address() -> tuple:
    """Read the address table: (singles, subnets, domains). Raises on DB errors."""
    cols = [_p("grp_col"), _p("ip_addr_col"), _p("mask_col"), _p("port_col"), _p("tag_col")]
    rows = connection().query(_p("address_table"), cols)
    singles, subnets, domains = [], [], []
    for grp, ip_s, mask, port, tag in rows:
        if ip_s is None or grp is None or mask is None or port is None:
            raise db.DbError("database problem (NULL in a NOT NULL column)")
        grp, mask, port = int(grp), int(mask), int(port)
        ip = _ip(str(ip_s))
        if ip is None:
            domains.append((grp, str(ip_s), port, tag))
            continue
        full = 128 if ip.version == 6 else 32
        if mask < 0 or mask > full:
            log.debug("failure during IP mask check")
            continue
        if mask == 0:
            mask = full
        if mask == full:
            singles.append((grp, ip, port, tag))
        else:
            net = ipaddress.ip_network(f"{ip}/{mask}", strict=False)
            subnets.append((grp, ip, mask, net, port, tag))
    # Kamailio keeps the subnets ordered by group (stable insertion)
    subnets.sort(key=lambda r: r[0])
    return singles, subnets, domains


def _cached(which: int, loader):
    """The cached table `which`, read again when an RPC reload (in any process) bumped
    its generation; a failed read logs and keeps the old one."""
    g = _gen.get(which) if _gen is not None else 0
    if _cache[which] is None or g != _seen[which]:
        try:
            _cache[which] = loader()
            _seen[which] = g
        except Exception as e:
            log.error("failed to reload %s table: %s", ("address", "trusted")[which], e)
            _drop_conn()
    return _cache[which]


def _addr_table():
    if not _p("db_url") or not _p("load_backends") & LOAD_ADDRESSDB:
        return None
    return _cached(0, load_address)


def _tag(msg, tag):
    avp = _tag_avp()
    if avp is not None and tag is not None:
        from kamapy.pv.avp import add_avp
        add_avp(msg, avp, str(tag))


def match_address(msg, group: int, ip, port: int) -> int:
    t = _addr_table()
    if t is None:
        return -1
    singles, subnets, _domains = t
    for grp, a, p, tag in singles:
        if grp == group and (p == 0 or p == port) and a == ip:
            _tag(msg, tag)
            return 1
    for grp, _a, _m, net, p, tag in subnets:
        if grp == group and (p == port or p == 0) and ip.version == net.version and ip in net:
            _tag(msg, tag)
            return 1
    return -1


def find_group(msg, ip, port: int) -> int:
    t = _addr_table()
    if t is None:
        return -1
    singles, subnets, _domains = t
    for grp, a, p, tag in singles:
        if (p == 0 or p == port) and a == ip:
            _tag(msg, tag)
            return grp
    for grp, _a, _m, net, p, tag in subnets:
        if (p == port or p == 0) and ip.version == net.version and ip in net:
            _tag(msg, tag)
            return grp
    return -1


def _src(msg):
    return _ip(msg.rcv.src_ip), int(msg.rcv.src_port)


def allow_source_address(msg, group=1) -> int:
    ip, port = _src(msg)
    if ip is None:
        return -1
    return match_address(msg, 1 if group is None else group, ip, port)


def allow_source_address_group(msg) -> int:
    ip, port = _src(msg)
    if ip is None:
        return -1
    return find_group(msg, ip, port)


def _domain_row(addr: str, port, group):
    """The first (grp, name, port, tag) row of the address table's domain names that
    matches addr:port (port 0 matches any), within `group` unless it is None."""
    t = _addr_table()
    if t is None:
        return None
    low = addr.lower()
    for row in t[2]:
        grp, name, p, _tag_v = row
        if (group is None or grp == group) and (p == 0 or p == port) and name.lower() == low:
            return row
    return None


def allow_address(msg, group, addr, port) -> int:
    if addr is None or port is None or group is None:
        return -1
    ip = _ip(addr)
    if ip is None:
        row = _domain_row(addr, port, group)
        if row is None:
            return -1
        _tag(msg, row[3])
        return 1
    return match_address(msg, group, ip, port)


def allow_address_group(msg, addr, port) -> int:
    if addr is None or port is None:
        return -1
    ip = _ip(addr)
    if ip is None:
        row = _domain_row(addr, port, None)
        return -1 if row is None else row[0]
    return find_group(msg, ip, port)


# ------------------------------------------------------------------ trusted table
def bre(pattern: str) -> re.Pattern | None:
    """A POSIX basic regular expression (regcomp without REG_EXTENDED) as a Python one:
    + ? | ( ) { } are literal unless escaped."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            out.append(n if n in "+?|(){}" else "\\" + n)
            i += 2
            continue
        if c == "[":  # a bracket expression is copied as it is
            j = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("]", "^") else i + 1)
            if j < 0:
                return None
            out.append(pattern[i:j + 1].replace("\\", "\\\\"))
            i = j + 1
            continue
        out.append("\\" + c if c in "+?|(){}" else c)
        i += 1
    try:
        return re.compile("".join(out))
    except re.error:
        return None


def _trusted_rows_db(src_ip: str):
    cols = [_p("proto_col"), _p("from_col"), _p("ruri_col"), _p("tag_col")]
    return connection().query(_p("trusted_table"), cols, {_p("source_col"): src_ip},
                              order_by=_p("priority_col"))


def load_trusted() -> list:
    cols = [_p("source_col"), _p("proto_col"), _p("from_col"), _p("ruri_col"), _p("tag_col"),
            _p("priority_col")]
    out = []
    for src, proto, frm, ruri, tag, prio in connection().query(_p("trusted_table"), cols):
        if src is None or proto is None:
            raise db.DbError("database problem")
        pl = str(proto).lower()
        if pl == "none":
            continue
        if pl not in PROTO_NAMES:
            raise db.DbError("unknown protocol")
        out.append((str(src), PROTO_NAMES[pl], frm, ruri, tag, int(prio or 0)))
    out.sort(key=lambda r: -r[5])
    return out


def _trusted_table():
    return _cached(1, load_trusted) or []


def _proto_ok(name, proto: int) -> bool:
    if proto == 0 or str(name).lower() == "any":
        return True
    return PROTO_NAMES.get(str(name).lower()) == proto


def _patterns_ok(msg, frm, ruri, from_uri) -> bool:
    if frm is not None:
        rx = bre(str(frm))
        if rx is None:
            log.error("invalid regular expression")
            if ruri is None:
                return False
        elif not rx.search(from_uri):
            return False
    if ruri is not None:
        rx = bre(str(ruri))
        if rx is None:
            log.error("invalid regular expression")
            return False
        if not rx.search(msg.ruri or ""):
            return False
    return True


def trusted(msg, src_ip: str, proto: int, from_uri: str) -> int:
    if not _p("db_url") or not _p("load_backends") & LOAD_TRUSTEDDB:
        return -1
    count = 0
    mode = _p("peer_tag_mode")
    if _p("db_mode") == 0:
        try:
            rows = _trusted_rows_db(src_ip)
        except Exception as e:
            log.error("failed to query database: %s", e)
            _drop_conn()
            return -1
        for proto_s, frm, ruri, tag in rows:
            if proto_s is None or not _proto_ok(proto_s, proto):
                continue
            if msg.is_request and not _patterns_ok(msg, frm, ruri, from_uri):
                continue
            _tag(msg, tag)
            if not mode:
                return 1
            count += 1
        return count or -1
    for src, p, frm, ruri, tag, _prio in _trusted_table():
        if src != src_ip or not (p == 0 or proto == 0 or p == proto):
            continue
        if msg.is_request and not _patterns_ok(msg, frm, ruri, from_uri):
            continue
        _tag(msg, tag)
        count += 1
        if not mode:
            return count
    return count or -1


def _from_uri(msg) -> str:
    if not msg.is_request and not msg.is_sip:
        return ""
    try:
        return msg.from_hdr.uri
    except Exception:
        return None


def allow_trusted(msg, src_ip=None, proto=None, uri=None) -> int:
    if src_ip is None and proto is None:
        furi = _from_uri(msg)
        if furi is None:
            return -1
        return trusted(msg, str(msg.rcv.src_ip), _rcv_proto(msg), furi)
    if not src_ip:
        log.error("src_ip param does not exist or has no value")
        return -1
    p = (proto or "").lower()
    if p not in PROTO_NAMES:
        log.error("unknown protocol %s", proto)
        return -1
    if uri is None:
        uri = _from_uri(msg)
        if uri is None:
            return -1
    return trusted(msg, src_ip, PROTO_NAMES[p], uri)


def _rcv_proto(msg) -> int:
    p = msg.rcv.proto
    if isinstance(p, int):
        return p
    return PROTO_NAMES.get(str(p).lower(), 0)


# ------------------------------------------------------------------ RPC
def _check_reload():
    """Kamailio's rpc_check_reload: one reload (of either table) per reload_delta s."""
    from kamapy.rpc import RpcError
    if _gen is None:
        raise RpcError(500, "Not ready for reload")
    now = int(time.time())
    last = _gen.get(2)
    if last != 0 and last > now - _p("reload_delta"):
        log.error("ongoing reload")
        raise RpcError(500, "ongoing reload")
    _gen.set(2, now)


def _reload(which: int):
    from kamapy.rpc import RpcError
    _check_reload()
    if which == 0:
        if not _p("db_url") or not _p("load_backends") & LOAD_ADDRESSDB:
            raise RpcError(500, "Reload failed. No address table")
        loader = load_address
    else:
        if not _p("db_url") or _p("db_mode") != 1 or not _p("load_backends") & LOAD_TRUSTEDDB:
            raise RpcError(500, "Reload failed. Trusted table not cached")
        loader = load_trusted
    try:
        data = loader()
    except Exception as e:
        _drop_conn()
        raise RpcError(500, "Reload failed.") from e
    _cache[which] = data
    if _gen is not None:
        _seen[which] = _gen.add(which, 1)
    return "Reload OK"


def rpc_address_reload(_rpc, _params):
    return _reload(0)


def rpc_trusted_reload(_rpc, _params):
    return _reload(1)


def _packed(ip) -> bytes:
    return ip.packed[:4]


def rpc_address_dump(_rpc, _params):
    t = _addr_table()
    if t is None:
        return []
    buckets: dict[int, list] = {}
    for row in t[0]:
        buckets.setdefault(core_hash(_packed(row[1])), []).insert(0, row)
    out = []
    for i in sorted(buckets):
        for grp, ip, port, tag in buckets[i]:
            out.append({"table": i, "group": grp,
                        "item": {"ip": str(ip), "port": port, "tag": tag if tag else "NULL"}})
    return out


def rpc_subnet_dump(_rpc, _params):
    t = _addr_table()
    if t is None:
        return []
    return [{"id": i, "group": grp, "item": {"ip": str(ip), "mask": mask, "port": port,
                                             "tag": tag if tag is not None else ""}}
            for i, (grp, ip, mask, _net, port, tag) in enumerate(t[1])]


def rpc_domain_dump(_rpc, _params):
    t = _addr_table()
    if t is None:
        return {}
    buckets: dict[int, list] = {}
    for row in t[2]:
        buckets.setdefault(core_hash(row[1].encode()), []).insert(0, row)
    items = []
    for i in sorted(buckets):
        for grp, name, port, tag in buckets[i]:
            items.append({"table": i, "group": grp,
                          "item": {"domain_name": name, "port": port, "tag": tag if tag else "NULL"}})
    return _one_struct(items)


def _one_struct(items: list):
    """Kamailio prints domainDump / trustedDump as ONE struct whose keys repeat per entry
    (JSON with duplicate keys: a parser keeps the last entry). kamapy's RPC layer has no
    repeated keys: one entry is that struct, several are a list of them, in Kamailio's
    order (so the last one is what a JSON parser reads from Kamailio)."""
    if len(items) == 1:
        return items[0]
    return items


def rpc_trusted_dump(_rpc, _params):
    from kamapy.rpc import RpcError
    if _p("db_mode") != 1 or not _p("db_url") or not _p("load_backends") & LOAD_TRUSTEDDB:
        raise RpcError(500, "No trusted table")
    buckets: dict[int, list] = {}
    for row in _trusted_table():
        buckets.setdefault(core_hash(row[0].encode()), []).append(row)
    out = []
    for i in sorted(buckets):
        for src, proto, frm, ruri, tag, prio in buckets[i]:
            out.append({"table": i, "item": {
                "ip": src, "proto": proto, "pattern": frm if frm is not None else "NULL",
                "ruri_pattern": ruri if ruri is not None else "NULL",
                "tag": tag if tag else "NULL", "priority": prio}})
    return _one_struct(out)


# ------------------------------------------------------------------ set-up
_tag_avp_name = None


def _tag_avp():
    return _tag_avp_name


def check():
    errors = []
    if exports.param("load_backends") == 0:
        errors.append(("load_backends", "failure - no backend to be loaded"))
    spec = exports.param("peer_tag_avp")
    if spec:
        m = re.fullmatch(r"\$avp\((.+)\)", spec.strip())
        if not m:
            errors.append(("peer_tag_avp", f"failed to parse peer_tag_avp AVP {spec}"))
    for name in _NOT_BUILT:
        if exports.param(name):
            errors.append((name, f"permissions: {name} (the allow/deny rule and address files) "
                                 "is not built in kamapy"))
    if exports.param("db_mode") not in (0, 1):
        errors.append(("db_mode", "invalid db_mode value"))
    return errors


def mod_init():
    global _gen, _tag_avp_name
    from kamapy.mem.counters import CounterArray
    spec = _p("peer_tag_avp")
    if spec:
        from kamapy.pv.avp import parse_avp_name
        _tag_avp_name = parse_avp_name(re.fullmatch(r"\$avp\((.+)\)", spec.strip()).group(1))
    _gen = CounterArray(3)   # address generation, trusted generation, last RPC reload time
    if _p("reload_delta") < 0:
        exports.values["reload_delta"] = 5
    if not _p("db_url"):
        log.info("db_url parameter of permissions module not set, disabling allow_address "
                 "and allow_trusted")
        return 0
    # as Kamailio: the cached tables are read at start-up, a failure stops it
    try:
        if _p("load_backends") & LOAD_ADDRESSDB:
            _cache[0] = load_address()
            _seen[0] = 0
        if _p("load_backends") & LOAD_TRUSTEDDB and _p("db_mode") == 1:
            _cache[1] = load_trusted()
            _seen[1] = 0
    except Exception as e:
        _drop_conn()
        log.error("permissions: failed to load the tables from %s: %s", _p("db_url"), e)
        return -1
    _drop_conn()
    return 0


def child_init(_rank):
    _drop_conn()
    return 0


_NOT_BUILT = ("default_allow_file", "default_deny_file", "address_file", "allow_suffix",
              "deny_suffix")


def _not_built(name):
    def handler(msg, *args):
        log.error("permissions: %s is not built in kamapy", name)
        return -1
    return handler


def _refuse_fixup(name):
    def fixup(value):
        raise ValueError(f"permissions: {name}() (the permissions.allow/.deny rule files) is "
                         "not built in kamapy")
    return fixup


exports = ModuleExports(
    name="permissions",
    params=[
        Param("db_url", str, ""),
        Param("db_mode", int, 0),
        Param("address_table", str, "address"),
        Param("grp_col", str, "grp"),
        Param("ip_addr_col", str, "ip_addr"),
        Param("mask_col", str, "mask"),
        Param("port_col", str, "port"),
        Param("trusted_table", str, "trusted"),
        Param("source_col", str, "src_ip"),
        Param("proto_col", str, "proto"),
        Param("from_col", str, "from_pattern"),
        Param("ruri_col", str, "ruri_pattern"),
        Param("tag_col", str, "tag"),
        Param("priority_col", str, "priority"),
        Param("peer_tag_avp", str, ""),
        Param("peer_tag_mode", int, 0),
        Param("load_backends", int, 0xFFFF),
        Param("max_subnets", int, 512),
        Param("reload_delta", int, 5),
        Param("trusted_cleanup_interval", int, 60),
        Param("check_all_branches", int, 1),
        Param("default_allow_file", str, ""),
        Param("default_deny_file", str, ""),
        Param("allow_suffix", str, ""),
        Param("deny_suffix", str, ""),
        Param("address_file", str, ""),
    ],
    functions=[
        Function("allow_source_address", allow_source_address,
                 (Arg("igp", optional=True, default=1),), ANY_ROUTE),
        Function("allow_source_address_group", allow_source_address_group, (), ANY_ROUTE),
        Function("allow_address", allow_address, (Arg("igp"), Arg("spve"), Arg("igp")), ANY_ROUTE),
        Function("allow_address_group", allow_address_group, (Arg("spve"), Arg("igp")), ANY_ROUTE),
        Function("allow_trusted", allow_trusted,
                 (Arg("spve", optional=True), Arg("spve", optional=True), Arg("spve", optional=True)),
                 ANY_ROUTE),
        Function("allow_routing", _not_built("allow_routing"),
                 (Arg("raw", fixup=_refuse_fixup("allow_routing"), optional=True),
                  Arg("raw", optional=True)), ANY_ROUTE),
        Function("allow_register", _not_built("allow_register"),
                 (Arg("raw", fixup=_refuse_fixup("allow_register")), Arg("raw", optional=True)),
                 ANY_ROUTE),
        Function("allow_uri", _not_built("allow_uri"),
                 (Arg("raw", fixup=_refuse_fixup("allow_uri")), Arg("raw")), ANY_ROUTE),
    ],
    rpc=[
        RpcCommand("permissions.addressReload", rpc_address_reload, "Reload the address table"),
        RpcCommand("permissions.addressDump", rpc_address_dump, "Print the address entries"),
        RpcCommand("permissions.subnetDump", rpc_subnet_dump, "Print the subnet entries"),
        RpcCommand("permissions.domainDump", rpc_domain_dump, "Print the domain name entries"),
        RpcCommand("permissions.trustedReload", rpc_trusted_reload, "Reload the trusted table"),
        RpcCommand("permissions.trustedDump", rpc_trusted_dump, "Print the trusted entries"),
    ],
    check=check,
    mod_init=mod_init,
    child_init=child_init,
)
