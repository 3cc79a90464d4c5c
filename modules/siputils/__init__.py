"""siputils: SIP helpers (Kamailio: modules/siputils) -- has_totag, uri_param,
add_uri_param, options_reply, is_e164, cmp_uri, is_first_hop, is_gruu, tel2sip ..."""

from __future__ import annotations

import logging

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)

from . import checks, options, uri_ops

log = logging.getLogger("kamapy.siputils")

RURI_ROUTES = REQUEST_ROUTE | BRANCH_ROUTE | FAILURE_ROUTE
S = Arg("spve")


def mod_init():
    values = exports.values
    options.OPTIONS.update(accept=values["options_accept"],
                           accept_encoding=values["options_accept_encoding"],
                           accept_language=values["options_accept_language"],
                           support=values["options_support"])
    checks.E164_MAX_LEN["value"] = values["e164_max_len"]
    if options.slb.bind() is None:  # Kamailio's siputils refuses to start without sl too
        log.error("cannot bind to SL API: load the sl module")
        return -1
    return 0


exports = ModuleExports(
    name="siputils",
    params=[
        Param("options_accept", str, "*/*"),
        Param("options_accept_encoding", str, ""),
        Param("options_accept_language", str, "en"),
        Param("options_support", str, ""),
        Param("contact_flds_separator", str, "*"),
        Param("rpid_prefix", str, ""),
        Param("rpid_suffix", str, ";party=calling;id-type=subscriber;screen=yes"),
        Param("rpid_avp", str, "$avp(s:rpid)"),
        Param("e164_max_len", int, 16),
    ],
    functions=[
        Function("has_totag", checks.has_totag, (), ANY_ROUTE),
        Function("is_request", checks.is_request, (), ANY_ROUTE),
        Function("is_reply", checks.is_reply, (), ANY_ROUTE),
        Function("is_first_hop", checks.is_first_hop, (Arg("igp", optional=True, default=0),), ANY_ROUTE),
        Function("is_supported", checks.is_supported, (Arg("str", fixup=checks.supported_option),), ANY_ROUTE),
        Function("is_user", checks.is_user, (S,), REQUEST_ROUTE),
        Function("is_e164", checks.is_e164, (S,), ANY_ROUTE),
        Function("is_uri_user_e164", checks.is_uri_user_e164, (S,), ANY_ROUTE),
        Function("is_numeric", checks.is_numeric, (S,), ANY_ROUTE),
        Function("is_alphanum", checks.is_alphanum, (S,), ANY_ROUTE),
        Function("is_tel_number", checks.is_tel_number, (S,), ANY_ROUTE),
        Function("uri_param", uri_ops.uri_param, (S, Arg("spve", optional=True)), RURI_ROUTES),
        Function("get_uri_param", uri_ops.get_uri_param, (S, Arg("pvar")), RURI_ROUTES),
        Function("add_uri_param", uri_ops.add_uri_param, (S,), RURI_ROUTES),
        Function("tel2sip", uri_ops.tel2sip, (S, S, Arg("pvar")), ANY_ROUTE),
        Function("is_gruu", uri_ops.is_gruu, (Arg("spve", optional=True),), ANY_ROUTE),
        Function("cmp_uri", uri_ops.cmp_uri, (S, S), ANY_ROUTE),
        Function("cmp_aor", uri_ops.cmp_aor, (S, S), ANY_ROUTE),
        Function("is_uri", uri_ops.is_uri, (S,), ANY_ROUTE),
        Function("options_reply", options.options_reply, (), REQUEST_ROUTE),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
