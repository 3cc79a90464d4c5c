"""dns.* and dst_blocklist.* RPC commands (Kamailio: dns_cache.c and dst_blocklist.c
RPC handlers, registered in core_cmd.c), with Kamailio's faults when the feature is
off and its field names."""

from __future__ import annotations

import time

from ..module import RpcCommand
from ..rpc.errors import RpcError
from . import blocklist as bl
from . import state

_TYPES = ("A", "AAAA", "SRV", "NAPTR", "CNAME", "PTR", "TXT")


def _cache():
    s = state()
    if not s.settings.use_cache or s.cache is None:
        raise RpcError(500, "dns cache support disabled (see use_dns_cache)")
    return s.cache


def _records(e) -> list:
    out = []
    for i, r in enumerate(e.records):
        rec = {"rr_idx": i}
        if e.rtype in ("A", "AAAA"):
            rec["rr_ip"] = r
        elif e.rtype == "SRV":
            rec.update(rr_name=r[3], rr_port=r[2], rr_priority=r[0], rr_weight=r[1])
        elif e.rtype == "NAPTR":
            rec.update(rr_order=r[0], rr_preference=r[1], rr_flags=r[2], rr_service=r[3],
                       rr_regexp=r[4], rr_replacement=r[5])
        else:
            rec["rr_name"] = r
        rec["rr_expires"] = 0 if e.permanent else e.remaining()
        out.append(rec)
    return out


def _entry(e, now: float) -> dict:
    d = {
        "name": e.name,
        "type": e.rtype,
        "size_bytes": len(str(e.records)) + len(e.name),
        "reference_counter": 0,
        "permanent": "yes" if e.permanent else "no",
        "expires": 0 if e.permanent else e.remaining(now),
        "last_used": 0,
        "negative_entry": "yes" if e.negative else "no",
    }
    if e.negative:
        d["error"] = e.rcode
    if e.records:
        d["records"] = _records(e)
    return d


def dns_view(_rpc, _params):
    cache = _cache()
    now = time.time()
    out = [_entry(e, now) for e in cache.entries()]
    # the hosts file is honoured too: its names, as permanent entries
    hosts = state().hosts
    hosts.check()
    for rtype, table in (("A", hosts.v4), ("AAAA", hosts.v6)):
        for name, ips in sorted(table.items()):
            out.append({"name": name, "type": rtype, "size_bytes": 0, "reference_counter": 0,
                        "permanent": "yes", "expires": 0, "last_used": 0, "negative_entry": "no",
                        "source": "hosts",
                        "records": [{"rr_idx": i, "rr_ip": ip, "rr_expires": 0} for i, ip in enumerate(ips)]})
    return out


def _type(text) -> str:
    t = str(text).upper()
    if t not in _TYPES:
        raise RpcError(400, "Invalid type")
    return t


def dns_lookup(_rpc, params):
    """dns.lookup type name: the cached entry, asking DNS when it is not cached."""
    cache = _cache()
    if len(params) < 2:
        raise RpcError(400, "Invalid Parameters")
    rtype, name = _type(params[0]), str(params[1]).lower().rstrip(".")
    e = cache.get(rtype, name)
    if e is None:
        s = state()
        s.lookups.records(rtype, name, s.lookups.deadline())
        e = cache.get(rtype, name)
    if e is None:
        raise RpcError(400, "Not found")
    return _entry(e, time.time())


def dns_reload_hosts(_rpc, _params):
    """Read the hosts file again, in every process (kamapy: Kamailio has no hosts file
    in its cache)."""
    h = state().hosts
    h.request_reload()
    return {"file": h.path, "names": len(h.v4) + len(h.v6)}


def dns_delete_all(_rpc, _params):
    _cache().delete_all()
    return None


def dns_delete_all_force(_rpc, _params):
    _cache().delete_all(force=True)
    return None


def dns_mem_info(_rpc, _params):
    return _cache().mem_info()


def dns_debug(_rpc, _params):
    """Entries as one-line strings with their seconds left (Kamailio: dns.debug)."""
    cache = _cache()
    now = time.time()
    out = []
    for e in cache.entries():
        out.append(f"{e.name} ({e.rtype}) expires={'permanent' if e.permanent else e.remaining(now)}"
                   f"{' negative ' + e.rcode if e.negative else ''} records={len(e.records)}")
    return out


def dns_debug_all(rpc, params):
    cache = _cache()
    now = time.time()
    return [_entry(e, now) for e in cache.entries(include_expired=True)]


def _add(rtype, params):
    """dns.add_a name ttl ip flags / dns.add_srv name ttl priority weight port target flags."""
    cache = _cache()
    try:
        if rtype in ("A", "AAAA"):
            name, ttl, ip = str(params[0]), int(params[1]), bl.parse_ip(str(params[2]))
            flags = int(params[3]) if len(params) > 3 else 0
            if (":" in ip) != (rtype == "AAAA"):
                raise RpcError(400, "Malformed ip address")
            rec = [ip]
        else:
            name, ttl = str(params[0]), int(params[1])
            rec = [[int(params[2]), int(params[3]), int(params[4]), str(params[5]).lower().rstrip(".")]]
            flags = int(params[6]) if len(params) > 6 else 0
    except (IndexError, ValueError):
        raise RpcError(400, "Invalid Parameters") from None
    name = name.lower().rstrip(".")
    old = cache.get(rtype, name)
    records = rec
    if old is not None and not old.negative:
        records = list(old.records) + [r for r in rec if r not in old.records]
    permanent = bool(flags & 2)  # DNS_FLAG_PERMANENT
    if not cache.put(rtype, name, records, ttl, permanent=permanent):
        raise RpcError(400, "Failed to add the entry to the cache")
    return None


def _delete(rtype):
    def handler(_rpc, params):
        cache = _cache()
        if not params:
            raise RpcError(400, "Invalid Parameters")
        if not cache.delete(rtype, str(params[0])):
            raise RpcError(400, "Not found")
        return None
    return handler


# ------------------------------------------------------------ dst_blocklist.*
def _blst():
    s = state()
    if not s.settings.use_blocklist or s.blocklist is None:
        raise RpcError(500, "dst blocklist support disabled")
    return s.blocklist


def blst_view(_rpc, _params):
    out = []
    for proto, ip, port, left, flags in _blst().entries():
        out.append("{\n    protocol: %s" % bl.PROTO_NAMES.get(proto, str(proto)))
        out.append(f"    ip: {ip}")
        out.append(f"    port: {port}")
        out.append(f"    expires in (s): {left}")
        out.append(f"    flags: {flags}\n}}")
    return out


def blst_add(_rpc, params):
    """dst_blocklist.add ip port proto flags (Kamailio's order)."""
    b = _blst()
    try:
        ip, port, proto, flags = str(params[0]), int(params[1]), int(params[2]), int(params[3])
    except (IndexError, ValueError):
        raise RpcError(400, "Invalid Parameters") from None
    if not 0 <= proto <= 4:
        raise RpcError(400, "Unknown protocol")
    try:
        ip = bl.parse_ip(ip)
    except ValueError:
        raise RpcError(400, "Malformed ip address") from None
    if not b.add(flags, proto, ip, port):
        raise RpcError(400, "Failed to add the entry to the blocklist")
    return None


def blst_delete_all(_rpc, _params):
    _blst().delete_all()
    return None


def blst_mem_info(_rpc, _params):
    b = _blst()
    return {"max": b.max_entries * 80, "used": len(b.table) * 80}


COMMANDS = [
    RpcCommand("dns.mem_info", dns_mem_info, "dns cache memory info."),
    RpcCommand("dns.debug", dns_debug, "dns debug info."),
    RpcCommand("dns.debug_all", dns_debug_all, "complete dns debug dump"),
    RpcCommand("dns.view", dns_view, "dns cache dump in a human-readable format"),
    RpcCommand("dns.lookup", dns_lookup, "perform a dns lookup"),
    RpcCommand("dns.reload_hosts", dns_reload_hosts, "read the hosts file again, in every process"),
    RpcCommand("dns.delete_all", dns_delete_all, "deletes all the non-permanent entries from the DNS cache"),
    RpcCommand("dns.delete_all_force", dns_delete_all_force, "deletes all the entries from the DNS cache"),
    RpcCommand("dns.add_a", lambda r, p: _add("A", p), "adds an A record to the DNS cache"),
    RpcCommand("dns.add_aaaa", lambda r, p: _add("AAAA", p), "adds an AAAA record to the DNS cache"),
    RpcCommand("dns.add_srv", lambda r, p: _add("SRV", p), "adds an SRV record to the DNS cache"),
    RpcCommand("dns.delete_a", _delete("A"), "deletes an A record from the DNS cache"),
    RpcCommand("dns.delete_aaaa", _delete("AAAA"), "deletes an AAAA record from the DNS cache"),
    RpcCommand("dns.delete_srv", _delete("SRV"), "deletes an SRV record from the DNS cache"),
    RpcCommand("dns.delete_naptr", _delete("NAPTR"), "deletes a NAPTR record from the DNS cache"),
    RpcCommand("dns.delete_cname", _delete("CNAME"), "deletes a CNAME record from the DNS cache"),
    RpcCommand("dst_blocklist.mem_info", blst_mem_info, "dst blocklist memory usage info."),
    RpcCommand("dst_blocklist.view", blst_view, "dst blocklist dump in human-readable format."),
    RpcCommand("dst_blocklist.delete_all", blst_delete_all, "Deletes all the entries from the dst blocklist except the permanent ones."),
    RpcCommand("dst_blocklist.add", blst_add, "Adds a new entry to the dst blocklist."),
]
