"""domain: the local domains of a multi-domain proxy (Kamailio 5.6's domain module).

The `domain` and `domain_attrs` tables (Kamailio's layouts) are read at start-up into a
per-process cache: is_domain_local(domain), is_from_local(), is_uri_host_local() (the
R-URI host; in failure_route the first appended branch's, -1 without one) and lookup_domain(domain[, prefix])
(adds $avp(<prefix>did) and one AVP per domain_attrs row of the domain's did: type 0
integer, 2 string). Host names compare case-insensitively. register_myself=1 makes
`uri==myself` (and is_myself()) true for every domain in the table.

domain.reload re-reads the tables (in the process that runs it; a generation counter in
shm makes every worker re-read them on its next lookup); domain.dump returns the cache
in Kamailio's layout.
"""

from __future__ import annotations

import logging

from kamapy import db
from kamapy.module import (
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    LOCAL_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
    RpcCommand,
)
from kamapy.sip.uri import parse_uri

log = logging.getLogger("kamapy.domain")

_gen = None
_seen = -1
_cache = None   # (domains: {lower host: (domain, did)}, attrs: {did: [(name, type, value)]}, order)


def _p(name):
    return exports.param(name)


def load_tables():
    """Read domain_attrs and domain; raises ValueError / DbError when a row is bad."""
    conn = db.connect(_p("db_url"))
    try:
        arows = conn.query(_p("domain_attrs_table"),
                           [_p("did_col"), _p("name_col"), _p("type_col"), _p("value_col")])
        drows = conn.query(_p("domain_table"), [_p("domain_col"), _p("did_col")])
    finally:
        conn.close()
    attrs: dict[str, list] = {}
    for i, (did, name, typ, value) in enumerate(arows):
        if not did or not isinstance(did, str):
            raise ValueError(f"did at row <{i}> is null or not string")
        if not name or not isinstance(name, str):
            raise ValueError(f"name at row <{i}> is null or not string")
        if typ is None or int(typ) not in (0, 2):
            raise ValueError(f"unknown type <{typ}> at row <{i}>")
        if value is None:
            raise ValueError(f"value at row <{i}> is null or not string")
        typ = int(typ)
        if typ == 0:
            try:
                v = int(str(value).strip())
            except ValueError:
                raise ValueError(f"value at row <{i}> is invalid int") from None
        else:
            v = str(value)
        attrs.setdefault(did, []).insert(0, (name, typ, v))   # newest row first, as Kamailio
    domains: dict[str, tuple] = {}
    order = []
    for i, (dom, did) in enumerate(drows):
        if not dom or not isinstance(dom, str):
            raise ValueError(f"domain at row <{i}> is null or not string")
        if did is None:
            did = dom
        elif not did:
            raise ValueError(f"did at row <{i}> is empty string")
        key = dom.lower()
        if key not in domains:
            order.append(key)
        domains[key] = (dom, did)
    return domains, attrs, order


def _table():
    global _cache, _seen
    g = _gen.get(0) if _gen is not None else 0
    if _cache is None or g != _seen:
        try:
            _cache = load_tables()
            _seen = g
        except Exception as e:
            log.error("domain: reload of the tables failed: %s", e)
    return _cache


def lookup(host: str):
    t = _table()
    if t is None or not host:
        return None
    return t[0].get(host.lower())


def is_domain_local(msg, domain) -> int:
    if not domain:
        log.error("cannot get domain parameter")
        return -1
    return 1 if lookup(domain) else -1


def is_from_local(msg) -> int:
    try:
        host = parse_uri(msg.from_hdr.uri).host
    except Exception:
        log.error("error while parsing From header")
        return -2
    return 1 if lookup(host) else -1


def is_uri_host_local(msg) -> int:
    rtype = msg.ctx.route_type if msg.ctx is not None else REQUEST_ROUTE
    if rtype & FAILURE_ROUTE:
        if not msg.branches:
            log.error("branch is missing, error in script")
            return -1
        uri = msg.branches[0].uri
    else:
        uri = msg.current_uri
    try:
        host = parse_uri(uri).host
    except Exception:
        log.error("error while parsing R-URI")
        return -1
    return 1 if lookup(host) else -1


def lookup_domain(msg, domain, prefix=None) -> int:
    if not domain:
        log.error("cannot get domain parameter")
        return -1
    hit = lookup(domain)
    if hit is None:
        return -1
    from kamapy.pv.avp import add_avp
    pre = prefix or ""
    for name, _typ, value in _table()[1].get(hit[1], []):
        add_avp(msg, pre + name, value)
    add_avp(msg, pre + "did", hit[1])
    return 1


def _myself(host, port, proto) -> bool:
    return lookup(host) is not None


def rpc_reload(_rpc, _params):
    from kamapy.rpc import RpcError
    global _cache, _seen
    try:
        data = load_tables()
    except Exception as e:
        raise RpcError(400, "Reload of domain tables failed") from e
    _cache = data
    if _gen is not None:
        _seen = _gen.add(0, 1)
    return None


def rpc_dump(_rpc, _params):
    from kamapy.rpc import RpcError
    t = _table()
    if t is None or not t[0]:
        raise RpcError(404, "Server Domain Cache Empty")
    domains, attrs, order = t
    out_d = [{"domain": domains[k][0], "did": domains[k][1]} for k in order]
    out_a = [{"did": did, "attrs": [a[0] for a in lst]} for did, lst in attrs.items()]
    return {"domains": out_d, "attributes": out_a}


def mod_init():
    global _gen, _cache, _seen
    from kamapy.mem.counters import CounterArray
    _gen = CounterArray(1)
    if not _p("db_url"):
        log.error("domain: db_url is not set")
        return -1
    try:
        _cache = load_tables()
        _seen = 0
    except Exception as e:
        log.error("domain: error while loading the domain tables (%s): %s", _p("db_url"), e)
        return -1
    if _p("register_myself"):
        from kamapy import runtime
        if _myself not in runtime.MYSELF_CHECKS:
            runtime.MYSELF_CHECKS.append(_myself)
    return 0


exports = ModuleExports(
    name="domain",
    params=[
        Param("db_url", str, "sqlite:///var/lib/kamapy/kamapy.sqlite"),
        Param("domain_table", str, "domain"),
        Param("domain_attrs_table", str, "domain_attrs"),
        Param("did_col", str, "did"),
        Param("domain_col", str, "domain"),
        Param("name_col", str, "name"),
        Param("type_col", str, "type"),
        Param("value_col", str, "value"),
        Param("register_myself", int, 0),
    ],
    functions=[
        Function("is_from_local", is_from_local, (), REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
        Function("is_uri_host_local", is_uri_host_local, (),
                 REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
        Function("is_domain_local", is_domain_local, (Arg("spve"),),
                 REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
        Function("lookup_domain", lookup_domain, (Arg("spve"), Arg("spve", optional=True)),
                 REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | LOCAL_ROUTE),
    ],
    rpc=[
        RpcCommand("domain.reload", rpc_reload, "Reload domain table from database"),
        RpcCommand("domain.dump", rpc_dump, "Return the contents of domain and domain_attrs tables"),
    ],
    mod_init=mod_init,
)
