"""textops: text operations on the message (Kamailio: modules/textops).

search / replace / subst on the whole message, the headers or the body; add, insert
and remove headers; headers and a body for the local reply; string tests. Changes go
through lumps: every function sees the message as received, as in Kamailio.
"""

from __future__ import annotations

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    ERROR_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
)

from . import body, headers, search, strings, subst
from .regex import compile_regex

EDIT = REQUEST_ROUTE | ONREPLY_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE
REPLY_LUMPS = REQUEST_ROUTE | BRANCH_ROUTE | FAILURE_ROUTE | ERROR_ROUTE

RE = Arg("raw", fixup=compile_regex)
SUBST = Arg("raw", fixup=subst.parse_subst)
TEXT = Arg("spve")
OPT_TEXT = Arg("spve", optional=True)


def _f(name, handler, args=(), routes=ANY_ROUTE):
    return Function(name, handler, tuple(args), routes)


exports = ModuleExports(
    name="textops",
    functions=[
        _f("search", search.search, [RE]),
        _f("search_body", search.search_body, [RE]),
        _f("search_append", search.search_append, [RE, TEXT], EDIT),
        _f("search_append_body", search.search_append_body, [RE, TEXT], EDIT),
        _f("replace", search.replace, [RE, TEXT], EDIT),
        _f("replace_all", search.replace_all, [RE, TEXT], EDIT),
        _f("replace_body", search.replace_body, [RE, TEXT], EDIT),
        _f("replace_body_all", search.replace_body_all, [RE, TEXT], EDIT),
        _f("subst", subst.subst, [SUBST], EDIT),
        _f("subst_body", subst.subst_body, [SUBST], EDIT),
        _f("subst_uri", subst.subst_uri, [SUBST], REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE),
        _f("subst_user", subst.subst_user, [SUBST], REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE),
        _f("append_hf", headers.append_hf, [TEXT, OPT_TEXT], EDIT),
        _f("insert_hf", headers.insert_hf, [TEXT, OPT_TEXT], EDIT),
        _f("append_urihf", headers.append_urihf, [TEXT, TEXT], REQUEST_ROUTE | FAILURE_ROUTE),
        _f("remove_hf", headers.remove_hf, [TEXT], EDIT),
        _f("remove_hf_re", headers.remove_hf_re, [RE], EDIT),
        _f("is_present_hf", headers.is_present_hf, [TEXT]),
        _f("is_present_hf_re", headers.is_present_hf_re, [RE]),
        _f("append_to_reply", headers.append_to_reply, [TEXT], REPLY_LUMPS),
        _f("append_time", headers.append_time, [], REQUEST_ROUTE),
        _f("append_time_to_request", headers.append_time_to_request, []),
        _f("has_body", body.has_body, [OPT_TEXT]),
        _f("set_body", body.set_body, [TEXT, TEXT], EDIT),
        _f("set_reply_body", body.set_reply_body, [TEXT, TEXT], REQUEST_ROUTE),
        _f("is_audio_on_hold", body.is_audio_on_hold, []),
        _f("is_method", strings.is_method, [Arg("raw", fixup=strings.MethodSet)]),
        _f("cmp_str", strings.cmp_str, [TEXT, TEXT]),
        _f("cmp_istr", strings.cmp_istr, [TEXT, TEXT]),
        _f("starts_with", strings.starts_with, [TEXT, TEXT]),
        _f("ends_with", strings.ends_with, [TEXT, TEXT]),
        _f("str_find", strings.str_find, [TEXT, TEXT]),
        _f("str_ifind", strings.str_ifind, [TEXT, TEXT]),
        _f("in_list", strings.in_list, [TEXT, TEXT, Arg("str")]),
        _f("in_list_prefix", strings.in_list_prefix, [TEXT, TEXT, Arg("str")]),
        _f("is_privacy", strings.is_privacy, [Arg("str", fixup=strings.privacy_value)]),
    ],
    doc=__doc__,
)
