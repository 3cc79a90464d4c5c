"""uac_replace_from / uac_replace_to and their restoring (Kamailio 5.6 uac replace.c).

Replacing rewrites the display name and/or URI of From or To with lumps. With
restore_mode manual or auto, the initial request's Record-Route gets `;vsf=` (From) or
`;vst=` (To): old and new URI XORed (over the length of the longer), optionally XORed
with restore_passwd, then base64 with '-' for padding. Every reply to it gets the
original header back (a tm TMCB_RESPONSE_IN callback), so the caller never sees the
new URI. In auto mode an rr callback does the same for in-dialog requests that loose_route
handles: the URI found in the header is XORed with the parameter, which gives the other
one (caller -> callee: old -> new; callee -> caller: new -> old); replies to those are
restored too. uac_restore_from/to() do that step by hand (manual mode).
"""

from __future__ import annotations

import logging

from kamapy_modules.tm.api import TMCB_RESPONSE_IN

from kamapy.module import REQUEST_ROUTE
from kamapy.sip.lumps import anchor_lump, del_lump, insert_after

from .bound import tmb

log = logging.getLogger("kamapy.uac")

NO_RESTORE, MANUAL_RESTORE, AUTO_RESTORE = 0, 1, 2
FL_FROM, FL_TO = "from", "to"
CB_NAME = "uac.restore_reply"
PARAM_KEY = "uac.restore"      # module_data: the tm callback's param (a dict)
FLAGS_KEY = "uac.flags"        # module_data: which headers uac changed in this message

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DEC = {c: i for i, c in enumerate(_B64)}
MAX_URI_SIZE = 1024


class Settings:
    mode = AUTO_RESTORE
    restore_dlg = False
    passwd = b""
    rr_from = "vsf"
    rr_to = "vst"
    from_avp = None   # AVP name or None
    to_avp = None


S = Settings()


def _replace_display(msg, sp, display: str):
    """Lumps that put `display` ('' removes it) where the header's display name is; an
    addr-spec gets brackets around its URI, which a display name needs."""
    anchor = None
    if sp.disp_s is not None:
        anchor = del_lump(msg, sp.disp_s, sp.disp_e - sp.disp_s)
    if display:
        if anchor is not None:
            insert_after(anchor, display)
        elif sp.bracket is not None:
            insert_after(anchor_lump(msg, sp.bracket), display + " ")
        else:
            insert_after(anchor_lump(msg, sp.uri_e), ">")
            insert_after(anchor_lump(msg, sp.uri_s), display + " <")


def encode(raw: bytes) -> str:
    out = []
    for i in range(0, len(raw), 3):
        chunk = raw[i:i + 3]
        block = 0
        for j, b in enumerate(chunk):
            block |= b << (16 - 8 * j)
        out.append(_B64[(block >> 18) & 63])
        out.append(_B64[(block >> 12) & 63])
        out.append(_B64[(block >> 6) & 63] if len(chunk) > 1 else "-")
        out.append(_B64[block & 63] if len(chunk) > 2 else "-")
    return "".join(out)


def decode(text: str) -> bytes | None:
    n = len(text) - len(text.rstrip("-"))
    size = (len(text) * 6 >> 3) - n
    if not text or size > MAX_URI_SIZE:
        return None
    end = len(text) - n
    out = bytearray()
    i = 0
    while i < end:
        block = 0
        for j in range(4):
            if i >= end:
                break
            c = _DEC.get(text[i])
            i += 1
            if c is None:
                log.error("invalid base64 string %r", text)
                return None
            block += c << (18 - 6 * j)
        for j in range(3):
            if len(out) < size:
                out.append((block >> (16 - 8 * j)) & 0xFF)
    return bytes(out[:size])


# ------------------------------------------------------------------ header spans


class Spans:
    """Offsets (into msg.text) of a From/To header's body, display and URI."""

    __slots__ = ("body_s", "disp_s", "disp_e", "uri_s", "uri_e", "bracket", "gt_end")


def spans(msg, which: str) -> Spans | None:
    hf = msg.get_header(which)
    if hf is None:
        return None
    na = msg.from_hdr if which == "from" else msg.to_hdr
    text = msg.text
    colon = text.index(":", hf.start)
    s = colon + 1
    while text[s] in " \t":
        s += 1
    body = text[s:hf.end]
    sp = Spans()
    sp.body_s = s
    disp = na.display or ""
    if disp and body.startswith(disp):
        sp.disp_s, sp.disp_e = s, s + len(disp)
    else:
        sp.disp_s = sp.disp_e = None
    if na.bracketed:
        lt = body.index("<", len(disp) if sp.disp_s is not None else 0)
        sp.uri_s = s + lt + 1
        sp.bracket = s + lt
    else:
        sp.uri_s = s + body.index(na.uri)
        sp.bracket = None
    sp.uri_e = sp.uri_s + len(na.uri)
    # the body up to the URI's end, blanks and a '>' included (what a reply gets back)
    p = sp.uri_e
    while p < len(text) and text[p].isspace() and text[p] not in "\r\n":
        p += 1
    sp.gt_end = p + 1 if p < len(text) and text[p] == ">" else sp.uri_e
    return sp


def _spans_logged(msg, which: str, failure: str) -> Spans | None:
    """spans(), with a header that does not parse logged (as `failure`) and taken as absent."""
    try:
        return spans(msg, which)
    except Exception as e:
        log.error("%s %s hdr: %s", failure, which.upper(), e)
        return None


def _restore_on_reply(msg, flags, which: str, original: str) -> int:
    """The replacement is done: keep the header as received for the replies; 1, or -1
    when the transaction's parameter cannot be had."""
    try:
        _reply_param(msg)[which] = original
    except RuntimeError as e:
        log.error("%s", e)
        return -1
    flags.add(which)
    return 1


def _body_upto_gt(msg, which: str) -> str | None:
    sp = spans(msg, which)
    return None if sp is None else msg.text[sp.body_s:sp.gt_end]


# ------------------------------------------------------------------ replacing


def _flags(msg) -> set:
    f = msg.module_data.get(FLAGS_KEY)
    if f is None:
        f = msg.module_data[FLAGS_KEY] = set()
    return f


def _reply_param(msg) -> dict:
    """The param of the tm callback that restores replies (registered once)."""
    p = msg.module_data.get(PARAM_KEY)
    if p is None:
        p = msg.module_data[PARAM_KEY] = {}
        t = _transaction(msg)
        if tmb.api.register_tmcb(t if t is not None else msg, TMCB_RESPONSE_IN, CB_NAME, p) != 1:
            raise RuntimeError("failed to install TM callback")
    return p


def _transaction(msg):
    return tmb.api.t_gett(msg)


def _store_avp(msg, which: str, value: str):
    name = S.from_avp if which == FL_FROM else S.to_avp
    if name is not None:
        from kamapy.pv.avp import add_avp
        add_avp(msg, name, value)


def replace_uri(msg, display: str | None, uri: str | None, which: str, route_type: int) -> int:
    flags = _flags(msg)
    if route_type == REQUEST_ROUTE and which in flags:
        log.error("called uac_replace_%s() multiple times on the message", which)
        return -1
    try:
        if S.mode == AUTO_RESTORE and uri:
            if msg.to_hdr.tag:
                log.error("decline %s replacing in sequential request in auto mode (has TO tag)",
                          which.upper())
                return -1
        sp = spans(msg, which)
    except Exception as e:
        log.error("failed to parse %s hdr: %s", which.upper(), e)
        return -1
    if sp is None:
        log.error("failed to find %s hdr", which.upper())
        return -1
    text = msg.text
    original = text[sp.body_s:sp.gt_end]
    _store_avp(msg, which, original)
    if display is not None:
        _replace_display(msg, sp, display)
    if not uri:
        return 1
    old_uri = text[sp.uri_s:sp.uri_e]
    insert_after(del_lump(msg, sp.uri_s, sp.uri_e - sp.uri_s), uri)
    if S.mode == NO_RESTORE:
        return 1
    if S.restore_dlg and S.mode == AUTO_RESTORE:  # Kamailio binds the dialog API in auto mode only
        stored = dlg_store(msg, which, old_uri, text[sp.disp_s:sp.disp_e] if sp.disp_s is not None else "",
                           uri, display)
        if stored is False:
            return -1
        if stored:
            return _restore_on_reply(msg, flags, which, original)
    from kamapy_modules.rr import api as rr_api
    if not rr_api.settings.append_fromtag:
        log.error("'append_fromtag' RR param is not enabled! - required by AUTO restore mode")
        return -1
    a, b = old_uri.encode("latin-1"), uri.encode("latin-1")
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    if len(longer) > MAX_URI_SIZE:
        log.error("%s uri too long", which)
        return -1
    buf = bytearray(longer)
    for i, ch in enumerate(shorter):
        buf[i] ^= ch
    if S.passwd:
        for i in range(len(buf)):
            buf[i] ^= S.passwd[i % len(S.passwd)]
    name = S.rr_from if which == FL_FROM else S.rr_to
    if rr_api.add_rr_param(msg, f";{name}={encode(bytes(buf))}") != 0:
        log.error("add_RR_param failed")
        return -1
    return _restore_on_reply(msg, flags, which, original)


def restore_uri(msg, which: str) -> int:
    """0 restored, -1 nothing to restore (or an error): Kamailio's restore_uri."""
    from kamapy_modules.rr import api as rr_api
    name = S.rr_from if which == FL_FROM else S.rr_to
    value = rr_api.get_route_param(msg, name)
    if value is None:
        return -1
    raw = decode(value) if value else None
    if raw is None:
        log.error("failed to decode uri")
        return -1
    if rr_api.add_rr_param(msg, f";{name}={value}") != 0:
        return -1
    new = bytearray(raw)
    if S.passwd:
        for i in range(len(new)):
            new[i] ^= S.passwd[i % len(S.passwd)]
    # a From change shows in To for requests flowing upstream, and the other way round
    upstream = rr_api.is_direction(msg, rr_api.RR_FLOW_UPSTREAM)
    target = FL_TO if (which == FL_FROM) == upstream else FL_FROM
    sp = _spans_logged(msg, target, "failed to parse")
    if sp is None:
        return -1
    text = msg.text
    _store_avp(msg, target, text[sp.body_s:sp.gt_end])
    old = text[sp.uri_s:sp.uri_e].encode("latin-1")
    if len(new) < len(old):
        log.error("new URI shorter than old URI [%s]", old.decode("latin-1"))
        return -1
    length = len(new)
    for i, ch in enumerate(old):
        new[i] ^= ch
        if new[i] == 0:
            length = i
            break
    out = bytes(new[:length])
    if not out:
        log.error("new URI got 0 len")
        return -1
    if any(c < 0x20 or c > 0x7E for c in out):
        log.warning("invalid char found in the new uri [%r] - skipping the update", out)
        return -1
    insert_after(del_lump(msg, sp.uri_s, sp.uri_e - sp.uri_s), out.decode("latin-1"))
    _flags(msg).add(target)
    return 0


def rr_checker(msg, _params, _param):
    """rr callback (auto mode): restore in an in-dialog request, then in its replies."""
    done = (restore_uri(msg, FL_FROM) + restore_uri(msg, FL_TO)) != -2
    if done:
        try:
            p = _reply_param(msg)
        except RuntimeError as e:
            log.error("%s", e)
            return
        for which in _flags(msg):
            p[which] = _body_upto_gt(msg, which)


def restore_reply(t, _type, reply, _code, param):
    """TMCB_RESPONSE_IN: the reply gets the request's From/To back as received."""
    if reply is None or not param:
        return
    for which in (FL_FROM, FL_TO):
        value = param.get(which)
        if not value:
            continue
        sp = _spans_logged(reply, which, "failed to find/parse")
        if sp is None:
            continue
        if reply.text[sp.body_s:sp.gt_end] == value:
            continue  # already right (a retransmission handled twice, or no change)
        insert_after(del_lump(reply, sp.body_s, sp.gt_end - sp.body_s), value)


# ------------------------------------------------------------------ restore_dlg = 1

DLG_CB = "uac.dlg_replace"
_DLGVARS = {FL_FROM: ("_uac_fu", "_uac_funew", "_uac_fdp", "_uac_fdpnew"),
            FL_TO: ("_uac_to", "_uac_tonew", "_uac_tdp", "_uac_tdpnew")}


def _dlg_update(d, changes: dict) -> dict | None:
    """Write dialog variables (None deletes) under the dialog's lock; the fresh vars."""
    from kamapy_modules.dialog.store import store

    def write(fresh):
        for k, v in changes.items():
            if v is None:
                fresh.vars.pop(k, None)
            else:
                fresh.vars[k] = v
        return fresh.vars
    return store().change(d.h_entry, d.h_id, write)


def dlg_store(msg, which: str, old_uri: str, old_display: str, uri: str, display: str | None) -> bool | None:
    """Kamailio's dialog branch of replace_uri: True stored, False error, None no dialog."""
    from kamapy_modules.dialog import callbacks as dcb
    from kamapy_modules.dialog.handlers import current
    d = current(msg)
    if d is None:
        return None
    names = _DLGVARS[which]
    if names[0] in (d.vars or {}):
        log.info("Already called uac_replace for this dialog")
        if _dlg_update(d, {names[1]: None}) is None:
            return False
    else:
        if _dlg_update(d, {names[0]: old_uri}) is None:
            return False
        types = dcb.DLGCB_REQ_WITHIN | dcb.DLGCB_CONFIRMED | dcb.DLGCB_TERMINATED
        if dcb.register(d, types, DLG_CB, which) != 1:
            log.error("cannot register callback")
            return False
    return _dlg_update(d, {names[1]: uri, names[2]: old_display or "", names[3]: display or ""}) is not None


def on_dlg_loaded(d, _type, _req, _rpl, _direction, _param):
    """A dialog read back from the database: watch both headers (which ones were
    replaced is not known any more; the callback finds no variables for the other)."""
    from kamapy_modules.dialog import callbacks as dcb
    types = dcb.DLGCB_REQ_WITHIN | dcb.DLGCB_CONFIRMED | dcb.DLGCB_TERMINATED
    for which in (FL_FROM, FL_TO):
        dcb.register(d, types, DLG_CB, which)


def dlg_replace(d, _type, msg, _rpl, direction, which):
    """In-dialog request: downstream gets the new URI/display, upstream the original."""
    if msg is None or direction not in (1, 2):
        return
    flags = _flags(msg)
    if which in flags:
        return
    names = _DLGVARS[which]
    target = FL_TO if (which == FL_TO) == (direction == 1) else FL_FROM
    idx, dp = (1, 3) if direction == 1 else (0, 2)
    vars_ = d.vars or {}
    new_uri, new_display = vars_.get(names[idx]), vars_.get(names[dp])
    if new_uri is None or new_display is None:
        return
    sp = _spans_logged(msg, target, "failed to parse")
    if sp is None:
        return
    _replace_display(msg, sp, new_display)
    insert_after(del_lump(msg, sp.uri_s, sp.uri_e - sp.uri_s), new_uri)
    try:
        # the reply gets the request's header of that flag back (Kamailio keys it by the
        # flag, whichever header was rewritten)
        _reply_param(msg)[which] = _body_upto_gt(msg, which)
    except RuntimeError as e:
        log.error("%s", e)
        return
    flags.add(which)
