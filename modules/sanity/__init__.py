"""sanity: RFC sanity checks on incoming requests (Kamailio: modules/sanity).

sanity_check([msg_checks[, uri_checks]]) runs the checks whose bits are set (default
modparam default_checks = 3047) and stops at the first failure, which is answered
with Kamailio's precise reply (400 Bad Request URI, 420 Bad Proxy Require Extension
with Unsupported:, 505 ...) unless noreply=1 (then sanity_reply() sends it later).
Returns 1 when all pass; on failure 0 (stop the script) with autodrop=1, else -1.
"""

from __future__ import annotations

import logging

from kamapy.loader import BoundApi
from kamapy.module import ONREPLY_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.sip.methods import METHOD_ACK
from kamapy.sip.msg import REPLY, REQUEST
from kamapy.sip.msg_flags import FL_MSG_NOREPLY

from . import checks as c
from .sizes import check_sizes

log = logging.getLogger("kamapy.sanity")

PENDING_KEY = "sanity.reply"  # (code, reason) kept for sanity_reply() when noreply=1

SIZE_PARAMS = {
    "size_message": 16384, "size_headers": 8192, "size_body": 8192, "size_header": 2048,
    "size_method": 32, "size_ruri": 256, "size_from_uri": 256, "size_to_uri": 256,
    "size_contact_uri": 256, "size_route_uri": 256, "size_path_uri": 256, "size_pai_uri": 256,
}


class Config:
    default_checks = c.DEFAULT_CHECKS
    uri_checks = c.DEFAULT_URI_CHECKS
    proxy_require: frozenset = frozenset()
    autodrop = 1
    noreply = 0
    size_checks = 0
    sizes = dict(SIZE_PARAMS)


cfg = Config()


_slb = BoundApi("sl")  # sl_load_api


def _send(msg, code: int, reason: str) -> int:
    return _slb().sreply(msg, code, reason)


def reject(msg, code: int, reason: str):
    """Answer a failed check now, or keep the answer for sanity_reply()."""
    if msg.type == REPLY or msg.method_id == METHOD_ACK:
        return
    if cfg.noreply:
        msg.module_data[PENDING_KEY] = (code, reason)
    elif not msg.xflags & FL_MSG_NOREPLY:
        if _send(msg, code, reason) < 0:
            log.warning("failed to send %d via sl reply", code)


# the order Kamailio runs them in; request-line checks are skipped for replies
_REQUEST_ONLY = c.RURI_SIP_VERSION | c.RURI_SCHEME | c.PROXY_REQUIRE


def sanity_check(msg, msg_checks: int, uri_checks: int) -> int:
    if cfg.noreply:
        msg.module_data.pop(PENDING_KEY, None)
    if msg.type != REQUEST:
        msg_checks &= ~_REQUEST_ONLY
    if (msg_checks & c.CHECK_SIZES or cfg.size_checks) and check_sizes(msg, cfg.sizes) != c.PASSED:
        return c.FAILED
    steps = (
        (c.RURI_SIP_VERSION, c.ruri_sip_version),
        (c.RURI_SCHEME, c.ruri_scheme),
        (c.REQUIRED_HEADERS, c.required_headers),
        (c.VIA1_HEADER, c.via1_header),
        (c.RFC3261_COMPLIANCE, c.rfc3261_compliance),
        (c.CSEQ_METHOD, c.cseq_method),
        (c.CSEQ_VALUE, c.cseq_value),
        (c.CONTENT_LENGTH, c.content_length),
        (c.EXPIRES_VALUE, c.expires_value),
    )
    for bit, check in steps:
        if msg_checks & bit and check(msg, reject) != c.PASSED:
            return c.FAILED
    if msg_checks & c.PROXY_REQUIRE and c.proxy_require(msg, reject, cfg.proxy_require) != c.PASSED:
        return c.FAILED
    if msg_checks & c.PARSE_URIS and c.parse_uris(msg, reject, uri_checks) != c.PASSED:
        return c.FAILED
    if msg_checks & c.CHECK_DIGEST and c.digest(msg, reject) != c.PASSED:
        return c.FAILED
    if msg_checks & c.CHECK_AUTHORIZATION and c.authorization(msg, reject) != c.PASSED:
        return c.FAILED
    if msg_checks & c.CHECK_DUPTAGS and c.duptags(msg, reject) != c.PASSED:
        return c.FAILED
    return c.PASSED


def w_sanity_check(msg, msg_checks=None, uri_checks=None) -> int:
    msg_checks = cfg.default_checks if msg_checks is None else int(msg_checks)
    uri_checks = cfg.uri_checks if uri_checks is None else int(uri_checks)
    if not 1 <= msg_checks < c.MAX_CHECKS:
        log.error("input parameter (%d) outside of valid range <1-%d)", msg_checks, c.MAX_CHECKS)
        return -1
    if not 1 <= uri_checks < c.URI_MAX_CHECKS:
        log.error("second input parameter (%d) outside of valid range <1-%d", uri_checks, c.URI_MAX_CHECKS)
        return -1
    rc = sanity_check(msg, msg_checks, uri_checks)
    if cfg.autodrop:
        return rc
    return -1 if rc == c.FAILED else rc


def w_sanity_reply(msg) -> int:
    if msg.type == REPLY or msg.method_id == METHOD_ACK or not cfg.noreply:
        return 1
    if msg.xflags & FL_MSG_NOREPLY:
        return 1
    code, reason = msg.module_data.get(PENDING_KEY) or (500, "Server Sanity Failure")
    return 1 if _send(msg, code, reason) >= 0 else -1


def mod_init():
    if _slb.bind() is None:
        log.error("cannot bind to SL API: load the sl module")
        return -1
    values = exports.values
    cfg.default_checks = values["default_checks"]
    cfg.uri_checks = values["uri_checks"]
    cfg.proxy_require = frozenset(t.strip() for t in values["proxy_require"].split(",") if t.strip())
    cfg.autodrop = values["autodrop"]
    cfg.noreply = values["noreply"]
    cfg.size_checks = values["size_checks"]
    cfg.sizes = {name: values[name] for name in SIZE_PARAMS}
    return 0


_ROUTES = REQUEST_ROUTE | ONREPLY_ROUTE

exports = ModuleExports(
    name="sanity",
    params=[
        Param("default_checks", int, c.DEFAULT_CHECKS),
        Param("uri_checks", int, c.DEFAULT_URI_CHECKS),
        Param("proxy_require", str, ""),
        Param("autodrop", int, 1),
        Param("noreply", int, 0),
        Param("size_checks", int, 0),
        *(Param(name, int, default) for name, default in SIZE_PARAMS.items()),
    ],
    functions=[
        Function("sanity_check", w_sanity_check,
                 (Arg("igp", optional=True), Arg("igp", optional=True)), _ROUTES),
        Function("sanity_reply", w_sanity_reply, (), _ROUTES),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
