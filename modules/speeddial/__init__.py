"""speeddial: per-user short dialing (Kamailio 5.6's speeddial).

sd_lookup(table[, owner]): the owner is the From URI (or the URI given); the row of
table whose username (and, with use_domain >= 1, domain) is the owner's and whose
sd_username (and, with use_domain >= 2, sd_domain) is the R-URI's gives new_uri, which
becomes the R-URI ("sip:" put in front when missing). domain_prefix is stripped from
the hosts first. 1 found, -1 not found / error.
"""

from __future__ import annotations

import logging

from kamapy.db.per_process import PerProcessConnection
from kamapy.module import REQUEST_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.sip.uri import parse_uri

log = logging.getLogger("kamapy.speeddial")



def _p(name):
    return exports.param(name)


_db = PerProcessConnection(lambda: _p("db_url"))
connection = _db.get
_drop = _db.drop


def _strip(host: str) -> str:
    pre = _p("domain_prefix")
    if pre and len(pre) < len(host) and host[:len(pre)].lower() == pre.lower():
        return host[len(pre):]
    return host


def sd_lookup(msg, table, owner=None) -> int:
    if not table:
        log.error("invalid table parameter")
        return -1
    try:
        if owner:
            ouri = parse_uri(owner)
        else:
            ouri = parse_uri(msg.from_hdr.uri)
    except Exception:
        log.error("bad owner SIP address!" if owner else "failed to parse FROM header")
        return -1
    try:
        ruri = parse_uri(msg.current_uri)
    except Exception:
        log.error("failed to parsing Request-URI")
        return -1
    where = {_p("user_column"): ouri.user or ""}
    use_domain = _p("use_domain")
    if use_domain >= 1:
        where[_p("domain_column")] = _strip(ouri.host or "")
    where[_p("sd_user_column")] = ruri.user or ""
    if use_domain >= 2:
        where[_p("sd_domain_column")] = _strip(ruri.host or "")
    try:
        rows = connection().query(table, [_p("new_uri_column")], where)
    except Exception as e:
        log.error("failed to query database: %s", e)
        _drop()
        return -1
    if not rows or rows[0][0] is None:
        return -1
    uri = str(rows[0][0])
    if len(uri) < 4 or not uri.startswith("sip:"):
        uri = "sip:" + uri
    msg.set_ruri(uri)
    return 1


def child_init(_rank):
    _drop()
    return 0


exports = ModuleExports(
    name="speeddial",
    params=[
        Param("db_url", str, "sqlite:///var/lib/kamapy/kamapy.sqlite"),
        Param("user_column", str, "username"),
        Param("domain_column", str, "domain"),
        Param("sd_user_column", str, "sd_username"),
        Param("sd_domain_column", str, "sd_domain"),
        Param("new_uri_column", str, "new_uri"),
        Param("use_domain", int, 0),
        Param("domain_prefix", str, ""),
    ],
    functions=[
        Function("sd_lookup", sd_lookup, (Arg("spve"), Arg("spve", optional=True)), REQUEST_ROUTE),
    ],
    child_init=child_init,
)
