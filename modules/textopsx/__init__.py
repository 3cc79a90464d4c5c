"""textopsx: more text operations (Kamailio 5.6's textopsx).

Built: msg_apply_changes() (the lumps applied to the message buffer, which is parsed
again: request_route or a reply; refused after record_route(), as Kamailio),
change_reply_status(code, reason), change_reply_status_code(code), remove_body(),
keep_hf([regexp]) (removes every header but the routing ones and those whose name
matches; returns -1 as Kamailio 5.6 does), fnmatch(value, expr[, flags]) (shell
patterns, case-sensitive even with "i", as Debian's 5.6 build).

Not built, refused at load time by name: msg_set_buffer, the *_hf_value functions
(append/insert/remove/assign/include/exclude/hf_value_exists), the hf_iterator_* and
bl_iterator_* functions, and the @hf_value selects.
"""

from __future__ import annotations

import fnmatch as _fn
import logging

from kamapy.module import ANY_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports
from kamapy.sip.lumps import del_lump, find_lumps, insert_after
from kamapy.sip.msg import REPLY, SipMsg

log = logging.getLogger("kamapy.textopsx")

KEEP = frozenset(("from", "to", "call-id", "cseq", "via", "contact", "content-length",
                  "content-type", "route", "record-route", "max-forwards"))

# what a re-parse replaces; routing state (flags, dst_uri, path, AVPs, branches) stays
_PARSE_SLOTS = ("data", "text", "type", "method", "method_id", "ruri", "version", "status",
                "reason", "first_line_end", "_headers", "_index", "body_start", "_keys", "_nl",
                "_hf", "_sc", "_via1", "_fold_failed", "_parsed_at", "_starts", "_bad", "_eoh",
                "_csc")


# msg.module_data entries that hold a parse of the message text
_PARSE_KEYS = ("contacts", "sdp", "vias", "parsed_ruri", "parsed_orig_ruri", "rr.route_entries",
               "auth.creds")


def _route_type(msg) -> int:
    return msg.ctx.route_type if msg.ctx is not None else REQUEST_ROUTE


def msg_apply_changes(msg) -> int:
    if msg.type != REPLY and not _route_type(msg) & REQUEST_ROUTE:
        log.error("invalid usage - not in request route or a reply")
        return -1
    from kamapy.sip import outgoing
    try:
        if msg.type == REPLY:
            data = outgoing._assemble(msg, outgoing._Work(msg), [], 0, "udp")
        else:
            if find_lumps(msg, "record-route"):
                log.error("cannot apply msg changes after adding record-route header - "
                          "it breaks conditional 2nd header")
                return -1
            data = outgoing.build_request(msg, via=None, proto="udp", rcv_params=False, path=False)
    except Exception as e:
        log.error("couldn't update msg buffer content: %s", e)
        return -1
    if isinstance(data, str):
        data = data.encode("latin-1")
    try:
        new = SipMsg(data, msg.rcv, msg.id)
        for key in ("from", "to", "call-id", "cseq"):
            new.get_header(key)
    except Exception as e:
        log.error("parsing new sip message failed: %s", e)
        return 0
    for slot in _PARSE_SLOTS:
        try:
            setattr(msg, slot, getattr(new, slot))
        except AttributeError:
            try:
                delattr(msg, slot)
            except AttributeError:
                pass
    msg.lumps = None
    msg.reply_lumps = None
    msg.new_uri = None
    # what was parsed from the old text goes; module state (tm's, dialog's, ... which
    # Kamailio keeps outside sip_msg_t) stays
    md = msg.module_data
    for key in _PARSE_KEYS:
        md.pop(key, None)
    return 1


def change_reply_status(msg, code, reason=None, *, code_only=False) -> int:
    if msg.type != REPLY:
        return -1
    if not code_only and not reason:
        log.error("invalid reason parameter")
        return -1
    if code is None or code < 100 or code > 699:
        log.error("wrong status code: %s", code)
        return -1
    if (code < 300 or msg.status < 300) and code // 100 != msg.status // 100:
        log.error("the class of provisional or positive final replies cannot be changed")
        return -1
    # the code is rewritten in the buffer itself (same length), as Kamailio does
    start = len(msg.version) + 1
    while msg.text[start] == " ":
        start += 1
    digits = f"{code:03d}"
    msg.text = msg.text[:start] + digits + msg.text[start + 3:]
    msg.data = msg.data[:start] + digits.encode() + msg.data[start + 3:]
    msg.status = code
    if code_only:
        return 1
    rs = msg.text.find(msg.reason, start + 3) if msg.reason else -1
    if rs < 0 or rs > msg.first_line_end:
        rs = start + 4 if msg.text[start + 3] == " " else start + 3
    lump = del_lump(msg, rs, len(msg.reason or ""), "textopsx")
    insert_after(lump, reason, "textopsx")
    return 1


def change_reply_status_code(msg, code) -> int:
    return change_reply_status(msg, code, None, code_only=True)


def remove_body(msg) -> int:
    _ = msg.eoh
    start = msg.body_start
    if start < 0 or start >= len(msg.text):
        return 1
    del_lump(msg, start, len(msg.text) - start, "body")
    return 1


def keep_hf(msg, rx=None) -> int:
    try:
        headers = msg.headers
    except Exception:
        log.error("Error while parsing message")
        return -1
    for hf in headers:
        if hf.key in KEEP:
            continue
        if rx is None or not rx.search(hf.name):
            del_lump(msg, hf.start, hf.end - hf.start, "textopsx")
    return -1


def fnmatch(msg, value, expr, flags=None) -> int:
    if value is None or expr is None:
        log.error("invalid parameters")
        return -1
    # the "i" flag asks for FNM_CASEFOLD, which Debian's Kamailio 5.6 build does not
    # have (the module tests #ifdef FNM_CASEFOLD): the match stays case-sensitive there,
    # and so here -- the differential corpus shows it
    return 1 if _fn.fnmatchcase(value, expr) else -1


def _refused(name):
    def fixup(_value):
        raise ValueError(f"textopsx: {name}() is not built in kamapy")

    def handler(msg, *args):
        log.error("textopsx: %s is not built in kamapy", name)
        return -1
    return Function(name, handler, (Arg("raw", fixup=fixup), Arg("raw", optional=True)), ANY_ROUTE)


_NOT_BUILT = ("msg_set_buffer", "append_hf_value", "insert_hf_value", "remove_hf_value",
              "assign_hf_value", "remove_hf_value2", "assign_hf_value2", "include_hf_value",
              "exclude_hf_value", "hf_value_exists", "hf_iterator_start", "hf_iterator_next",
              "hf_iterator_prev", "hf_iterator_end", "hf_iterator_rm", "hf_iterator_append",
              "hf_iterator_insert", "bl_iterator_start", "bl_iterator_next", "bl_iterator_end",
              "bl_iterator_rm", "bl_iterator_append", "bl_iterator_insert")

_REPLY_ROUTES = 0x4 | 0x80   # onreply_route (tm and core), as Kamailio

exports = ModuleExports(
    name="textopsx",
    functions=[
        Function("msg_apply_changes", msg_apply_changes, (), REQUEST_ROUTE | 0x4 | 0x80),
        Function("change_reply_status", change_reply_status, (Arg("igp"), Arg("spve")), _REPLY_ROUTES),
        Function("change_reply_status_code", change_reply_status_code, (Arg("igp"),), _REPLY_ROUTES),
        Function("remove_body", remove_body, (), ANY_ROUTE),
        Function("keep_hf", keep_hf, (Arg("regex", optional=True),), ANY_ROUTE),
        Function("fnmatch", fnmatch, (Arg("spve"), Arg("spve"), Arg("spve", optional=True)), ANY_ROUTE),
    ] + [_refused(n) for n in _NOT_BUILT],
)
