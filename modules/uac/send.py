"""uac_req_send() and $uac_req(key) (Kamailio 5.6 uac_send.c).

$uac_req is per process, as Kamailio's static _uac_req: method, ruri, turi, furi,
hdrs, body, ouri (outbound proxy), sock, auser, apasswd, callid, evparam (strings),
flags, evroute, evcode, evtype (numbers); `$uac_req(all) = $null` clears them.
uac_req_send() sends method to ruri on a tm local transaction (To and From default to
the R-URI). With auser/apasswd, a 401/407 is answered once (same Call-ID and From tag,
CSeq + 1, MD5 as uac_auth). With evroute, event_route[uac:reply] runs on the final
reply, $uac_req(evcode) holding its code, evtype 1 (a real reply) or 2 (a timeout, on a
faked request); evroute 2 only for the first final reply.
"""

from __future__ import annotations

import logging

from kamapy_modules.tm.api import TMCB_LOCAL_COMPLETED, LocalDialog

from kamapy.pv.base import Pv
from kamapy.pv.errors import PvError
from kamapy.pv.registry import PvDef

from . import auth as A
from .bound import tmb
from .reg import new_call_id

log = logging.getLogger("kamapy.uac")

STR_KEYS = ("method", "ruri", "turi", "furi", "hdrs", "body", "ouri", "sock", "auser", "apasswd",
            "callid", "evparam")
INT_KEYS = ("flags", "evroute", "evcode", "evtype")
UAC_SEND_FL_HA1 = 1
CB_SEND = "uac.req_send_reply"
CB_RESEND = "uac.req_resend_reply"
EVENT = "uac:reply"

_req: dict = {}


def _clear():
    _req.clear()
    for k in STR_KEYS:
        _req[k] = ""
    for k in INT_KEYS:
        _req[k] = 0


_clear()


class UacReqPv(Pv):
    __slots__ = ("key",)
    writable = True

    def __init__(self, spec):
        super().__init__(spec)
        key = (spec.inner or "").strip()
        if key not in STR_KEYS + INT_KEYS + ("all",):
            raise PvError(f"unknown uac_req name {key}", 0)
        self.key = key

    def get(self, msg):
        if self.key == "all":
            return None
        v = _req[self.key]
        if self.key in INT_KEYS:
            return v
        return v if v else None

    def set(self, msg, value):
        if self.key == "all":
            if value is None:
                _clear()
                return None
            log.error("$uac_req(all) can only be reset with $null")
            return -1
        if value is None:
            _req[self.key] = 0 if self.key in INT_KEYS else ""
            return None
        if self.key in INT_KEYS:
            try:
                _req[self.key] = int(value)
            except (TypeError, ValueError):
                log.error("invalid value for $uac_req(%s): %r", self.key, value)
                return -1
        else:
            _req[self.key] = str(value)
        return None


PVS = [PvDef("uac_req", UacReqPv, inner="required")]


def _dialog(d: dict, call_id="", loc_tag="", loc_seq=None):
    return LocalDialog(rem_target=d["ruri"], rem_uri=d["turi"] or d["ruri"], loc_uri=d["furi"] or d["ruri"],
                       call_id=call_id or d["callid"] or new_call_id(), loc_tag=loc_tag,
                       loc_seq=loc_seq if loc_seq is not None else 10, dst_uri=d["ouri"],
                       send_sock=d["sock"])


def _headers(h: str) -> str:
    if h and not h.endswith("\n"):
        h += "\r\n"
    return h


def uac_req_send(msg=None) -> int:
    from kamapy import loader
    if not _req["ruri"] or not _req["method"] or not loader.loaded("tm"):
        return -1
    d = dict(_req)
    if not d["sock"]:
        from kamapy_modules import uac
        d["sock"] = uac.exports.param("default_socket") or ""
    cb = None
    types = TMCB_LOCAL_COMPLETED
    if (d["auser"] and d["apasswd"]) or d["evroute"]:
        # evroute 2: the event route for a negative final reply only (TMCB_ON_FAILURE)
        cb = CB_RESEND if d["evroute"] == 2 else CB_SEND
    dlg = _dialog(d)
    lid = tmb().t_uac(d["method"], _headers(d["hdrs"]), d["body"].encode("latin-1"), dlg=dlg, cb=cb, cbp=d,
                cb_types=types)
    return 1 if lid else -1


def _run_event(reply, d: dict, code: int):
    from kamapy.cfg.run_context import run_route
    from kamapy.module import REQUEST_ROUTE
    from kamapy.runtime import rt
    routes = rt.routes
    route = getattr(routes, "event", {}).get(EVENT) if routes is not None else None
    if route is None:
        return
    saved = dict(_req)
    _req.update(d)
    _req["evcode"] = code
    if reply is None:
        from kamapy.sip.fmsg import next_faked_msg
        _req["evtype"] = 2
        m = next_faked_msg()
    else:
        _req["evtype"] = 1
        m = reply
    try:
        run_route(route, m, REQUEST_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", EVENT)
    finally:
        # this process's $uac_req is the script's again (Kamailio copies it in and leaves
        # the copy; restoring is kinder to a route that was building the next request)
        _req.clear()
        _req.update(saved)


def on_reply(_lt, _type, reply, code, d):
    """TMCB_LOCAL_COMPLETED of uac_req_send: event route, then one authenticated retry."""
    if d is None:
        return
    if d.get("evroute") and code > 0:
        _run_event(reply, d, code)
    if code not in (401, 407) or not d.get("apasswd") or reply is None:
        return
    auth = A.challenge(reply, code)
    if auth is None:
        return
    crd = A.Credential(d["auser"], auth["realm"], d["apasswd"])
    resp, cnonce = A.response(d["method"], d["ruri"], crd, auth, bool(d.get("flags", 0) & UAC_SEND_FL_HA1))
    hdr = A.header(code, d["ruri"], crd, auth, resp, cnonce)
    try:
        cseq = int(reply.cseq.number)
        call_id = reply.callid.strip()
        loc_tag = reply.from_hdr.tag or ""
        loc_uri = reply.from_hdr.uri
        rem_uri = reply.to_hdr.uri
    except Exception as e:
        log.error("failed to build tm dialog: %s", e)
        return
    dlg = LocalDialog(rem_target=d["ruri"], rem_uri=rem_uri, loc_uri=loc_uri, call_id=call_id,
                      loc_tag=loc_tag, loc_seq=cseq + 1, dst_uri=d["ouri"], send_sock=d["sock"])
    again = dict(d, apasswd="", retry=1)  # answered once: a second challenge goes to the event route only
    cb = CB_RESEND if d.get("evroute") else None
    if not tmb().t_uac(d["method"], _headers(d["hdrs"]) + hdr, d["body"].encode("latin-1"), dlg=dlg,
                       cb=cb, cbp=again):
        log.error("failed to send request with authentication")


def on_resend_reply(_lt, _type, reply, code, d):
    if not d or not d.get("evroute") or code <= 0:
        return
    if d.get("evroute") == 2 and not d.get("retry") and code < 300:
        return
    _run_event(reply, d, code)
