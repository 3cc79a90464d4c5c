"""acc: transaction accounting to the log and to a database (Kamailio: modules/acc).

The script marks a request with flags before t_relay(); tm tells acc (a TMCB_REQUEST_IN
callback registers the transaction's own callbacks) and acc reports it when it completes:

  log_flag / db_flag            a 2xx final reply sent upstream: "ACC: transaction
                                answered: ..." in the log / a row in db_table_acc
  failed_transaction_flag       also negative final replies (minus failed_filter codes)
  log_missed_flag / db_missed_flag   an INVITE that failed: "ACC: call missed: ..." / a
                                row in db_table_missed_calls, on the first failed attempt
                                (the flag is reset then; failure_route may set it again)
  report_ack, report_cancels, early_media    as in Kamailio

The record: method, from_tag, to_tag, call_id/callid, code/sip_code, reason/sip_reason,
the time (time_mode 0-4), then log_extra / db_extra ("name=$pv;...", values read from
the request as it was relayed, with the R-URI of the winning branch). Locally generated
replies are accounted with the standard reason phrase of their code, as Kamailio does.
acc_log_request(comment), acc_db_request(comment, table), acc_request(comment, table)
account the current request at once ("200 text": code and reason; else reason only).

With cdr_enable and the dialog module: a CDR per dialog when it ends (BYE, or expiry
with cdr_expired_dlg_enable): "start_time=...;end_time=...;duration=...;" plus cdr_extra
in the log (cdr_log_enable) and a row in cdrs_table.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time

from kamapy_modules.tm.api import (
    T_LOCAL_REPLY,
    TMCB_E2EACK_IN,
    TMCB_ON_FAILURE,
    TMCB_REQUEST_IN,
    TMCB_RESPONSE_OUT,
)

from kamapy.module import (
    ANY_ROUTE,
    BRANCH_ROUTE,
    FAILURE_ROUTE,
    ONREPLY_ROUTE,
    REQUEST_ROUTE,
    Arg,
    Function,
    ModuleExports,
    Param,
)

log = logging.getLogger("kamapy.acc")

_tmb = None  # tm's API (load_tm_api), bound in mod_init

ACC_REQUEST = "ACC: request accounted: "
ACC_MISSED = "ACC: call missed: "
ACC_ANSWERED = "ACC: transaction answered: "
ACC_ACKED = "ACC: request acknowledged: "

_REASONS = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 300: "Multiple Choices", 301: "Moved Permanently",
    302: "Moved Temporarily", 305: "Use Proxy", 380: "Alternative Service", 400: "Bad Request",
    401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 407: "Proxy Authentication Required",
    408: "Request Timeout", 410: "Gone", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    417: "Bad Extension", 421: "Extension Required", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
    483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-Out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
_CLASS_REASONS = {6: "Global Failure", 5: "Server Failure", 4: "Request Failure", 3: "Redirection",
                  2: "Successful", 1: "Provisional"}


def error_text(code: int) -> str:
    """Kamailio's default reason phrase of a code (core/error.c)."""
    return _REASONS.get(code) or _CLASS_REASONS.get(code // 100, "Unspecified")


# ------------------------------------------------------------------ settings
class _Cfg:
    log_flag = db_flag = failed_flag = log_mc = db_mc = -1
    early_media = report_ack = report_cancels = 0
    failed_filter: tuple[int, ...] = ()
    log_level = logging.INFO
    facility = None
    log_extra: list = []
    db_extra: list = []
    db_url = ""
    table_acc = "acc"
    table_mc = "missed_calls"
    columns: tuple[str, ...] = ()
    time_mode = 0
    time_attr = "time_attr"
    time_exten = "time_exten"
    time_format = "%Y-%m-%d %H:%M:%S"
    extra_nullable = 0
    reason_from_hf = 0
    cdr_enable = 0
    cdr_log = 1
    cdr_extra: list = []
    cdr_facility = None
    cdrs_table = ""
    cdr_ids = ("start_time", "end_time", "duration")
    cdr_skip = ""
    cdr_expired = 0
    cdr_on_failed = 1
    cdr_extra_nullable = 0


cfg = _Cfg()
_db = {"conn": None, "pid": 0}


def _parse_extra(param: str, text: str) -> list:
    """"name=$pv;name2=$pv2" -> [(name, Pv)]; ValueError names the bad part."""
    from kamapy.pv import parse_pv
    out = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        name, eq, spec = part.partition("=")
        if not eq or not name.strip() or not spec.strip():
            raise ValueError(f"{param}: bad definition {part!r} (expected name=$pv)")
        try:
            out.append((name.strip(), parse_pv(spec.strip())))
        except Exception as e:
            raise ValueError(f"{param}: {spec.strip()!r} is not a pseudo-variable: {e}") from None
    return out


def _flag_ok(v):
    if v != -1 and not 0 <= v <= 31:
        raise ValueError("a flag is 0..31 (or -1: none)")


def _extra_ok(name):
    def check(v):
        _parse_extra(name, v)
    return check


def _level_ok(v):
    if not -5 <= v <= 3:
        raise ValueError("a log level is -5..3")


def _facility(text):
    from kamapy.log import SYSLOG_FACILITIES
    name = str(text).strip().upper()
    if name not in SYSLOG_FACILITIES:
        raise ValueError(f"unknown syslog facility {text!r}")
    return SYSLOG_FACILITIES[name]


def _time_mode_ok(v):
    if v not in (0, 1, 2, 3, 4):
        raise ValueError("time_mode is 0..4")


# ------------------------------------------------------------------ records
class _Env:
    """What one report is about (Kamailio's acc_env)."""
    __slots__ = ("text", "code", "code_s", "reason", "to_tag", "ts", "tv")

    def __init__(self, text, code, reason, to_tag=None):
        self.text = text
        self.code = code
        self.code_s = str(code) if code else ""
        self.reason = reason
        self.to_tag = to_tag
        now = time.time()
        self.ts = int(now)
        self.tv = now


def _tag(hdr_fn):
    try:
        return hdr_fn().tag or ""
    except Exception:
        return ""


def _core(req, env: _Env) -> list[str]:
    """method, from_tag, to_tag, callid, code, reason."""
    try:
        method = req.cseq.method
    except Exception:
        method = ""
    ftag = _tag(lambda: req.from_hdr)
    ttag = env.to_tag if env.to_tag is not None else _tag(lambda: req.to_hdr)
    try:
        callid = req.callid
    except Exception:
        callid = ""
    return [method, ftag, ttag or "", callid, env.code_s, env.reason or ""]


def _extra_values(extra, msg) -> list:
    out = []
    for _name, pv in extra:
        try:
            v = pv.get(msg)
        except Exception:
            v = None
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        out.append(None if v is None else str(v))
    return out


_LOG_ATTRS = ("method", "from_tag", "to_tag", "call_id", "code", "reason")


def log_request(req, env: _Env, facility=None) -> int:
    core = _core(req, env)
    parts = [f";{k}={v}" for k, v in zip(_LOG_ATTRS, core, strict=True)]
    for (name, _), v in zip(cfg.log_extra, _extra_values(cfg.log_extra, req), strict=True):
        parts.append(f";{name}={'' if v is None else v}")
    body = "".join(parts)
    if cfg.time_mode == 1:
        stamp = f"timestamp={env.ts};{cfg.time_exten}={int((env.tv % 1) * 1e6)}"
    elif cfg.time_mode == 2:
        stamp = f"timestamp={env.ts};{cfg.time_attr}={env.tv:.3f}"
    elif cfg.time_mode in (3, 4):
        t = time.localtime(env.ts) if cfg.time_mode == 3 else time.gmtime(env.ts)
        stamp = f"timestamp={env.ts};{cfg.time_attr}={time.strftime(cfg.time_format, t)}"
    else:
        stamp = f"timestamp={env.ts}"
    extra = {}
    fac = facility if facility is not None else cfg.facility
    if fac is not None:
        extra["syslog_facility"] = fac
    log.log(cfg.log_level, "%s%s%s", env.text, stamp, body, extra=extra)
    return 1


def _conn():
    from kamapy import db
    if _db["conn"] is None or _db["pid"] != os.getpid():
        _db["conn"] = db.connect(cfg.db_url)
        _db["pid"] = os.getpid()
    return _db["conn"]


def db_request(req, env: _Env, table: str) -> int:
    if not cfg.db_url:
        log.error("acc: no db_url set, cannot account to the database")
        return -1
    core = _core(req, env)
    row = dict(zip(cfg.columns[:6], core, strict=True))
    row[cfg.columns[6]] = _dt.datetime.fromtimestamp(env.ts)
    if cfg.time_mode == 1:
        row[cfg.time_attr] = int(env.tv)
        row[cfg.time_exten] = int((env.tv % 1) * 1e6)
    elif cfg.time_mode == 2:
        row[cfg.time_attr] = round(env.tv, 6)
    elif cfg.time_mode in (3, 4):
        t = time.localtime(env.ts) if cfg.time_mode == 3 else time.gmtime(env.ts)
        row[cfg.time_attr] = time.strftime(cfg.time_format, t)
    for (name, _), v in zip(cfg.db_extra, _extra_values(cfg.db_extra, req), strict=True):
        row[name] = v if (v is not None or cfg.extra_nullable) else ""
    try:
        _conn().insert(table, row)
    except Exception as e:
        log.error("acc: failed to insert into database (%s): %s", table, e)
        _db["conn"] = None
        return -1
    return 1


# ------------------------------------------------------------------ tm callbacks
def _flag(msg_flags: int, f: int) -> bool:
    return f != -1 and bool(msg_flags & (1 << f))


def _acc_on(flags):
    return _flag(flags, cfg.log_flag) or _flag(flags, cfg.db_flag)


def _mc_on(flags):
    return _flag(flags, cfg.log_mc) or _flag(flags, cfg.db_mc)


def _on_request_in(t, _type, msg, _code, _param):
    if msg is None:
        return
    if msg.method == "CANCEL" and not cfg.report_cancels:
        return
    flags = msg.flags
    if not (_acc_on(flags) or _mc_on(flags)):
        return
    types = TMCB_RESPONSE_OUT
    if cfg.report_ack and _acc_on(flags):
        types |= TMCB_E2EACK_IN
    if msg.method == "INVITE" and _mc_on(flags):
        types |= TMCB_ON_FAILURE
    _tmb.register_tmcb(t, types, "acc", None)


def _request_of(t, branch: int):
    """The request as relayed, flags as now, R-URI of branch (Kamailio sets new_uri)."""
    req = _tmb.t_uas_request(t)
    if 0 <= branch < len(t.branches) and t.branches[branch].uri:
        try:
            req.set_ruri(t.branches[branch].uri)
        except Exception:
            pass
    return req


def _winning_branch(t, code: int) -> int:
    if getattr(t, "relayed", -1) is not None and t.relayed >= 0:
        return t.relayed
    if code >= 300:
        for i, b in enumerate(t.branches or ()):
            if b.code == code:
                return i
    return -1


def _reply_reason(reply, code: int, local: bool) -> str:
    if local or reply is None:
        return error_text(code)
    if cfg.reason_from_hf:
        try:
            r = reply.hdr_value("reason") if hasattr(reply, "hdr_value") else None
            if r:
                return r
        except Exception:
            pass
    return reply.reason or ""


def _missed(t, req, reply, code: int, local: bool):
    to_tag = None
    if reply is not None:
        to_tag = _tag(lambda: reply.to_hdr)
    env = _Env(ACC_MISSED, code, _reply_reason(reply, code, local), to_tag)
    reset = 0
    if _flag(req.flags, cfg.log_mc):
        log_request(req, env)
        reset |= 1 << cfg.log_mc
    if _flag(req.flags, cfg.db_mc):
        db_request(req, env, cfg.table_mc)
        reset |= 1 << cfg.db_mc
    # reported on the first failed attempt only: the flags go
    t.mflags &= ~reset


def _should_acc_reply(flags, reply, code) -> bool:
    if code >= 300:
        return _flag(flags, cfg.failed_flag) and code not in cfg.failed_filter
    if not _acc_on(flags):
        return False
    if code < 200:
        if not cfg.early_media or reply is None:
            return False
        try:
            return bool(reply.content_length)
        except Exception:
            return False
    return True


def _tmcb(t, cb_type, msg, code, _param):
    if cb_type & TMCB_RESPONSE_OUT:
        if code < 200 and not cfg.early_media:
            return
        local = code >= 200 and bool(t.flags & T_LOCAL_REPLY)
        reply = msg
        br = _winning_branch(t, code)
        if t.is_invite and code >= 300 and _mc_on(t.mflags):
            _missed(t, _request_of(t, br), reply, code, local)
        flags = t.mflags
        if not _should_acc_reply(flags, reply, code):
            return
        req = _request_of(t, br)
        to_tag = None if local or reply is None else _tag(lambda: reply.to_hdr)
        env = _Env(ACC_ANSWERED, code, _reply_reason(reply, code, local), to_tag)
        if local:
            env.to_tag = _tag(lambda: req.to_hdr)
        if _flag(flags, cfg.log_flag):
            log_request(req, env)
        if _flag(flags, cfg.db_flag):
            db_request(req, env, cfg.table_acc)
    elif cb_type & TMCB_ON_FAILURE:
        if not _mc_on(t.mflags):
            return
        br = _winning_branch(t, code)
        reply = None
        if br >= 0 and t.branches[br].reply:
            from kamapy.sip.msg import SipMsg
            try:
                reply = SipMsg(t.branches[br].reply)
            except Exception:
                reply = None
        _missed(t, _request_of(t, br), reply, code, reply is None)
    elif cb_type & TMCB_E2EACK_IN:
        ack = msg
        if ack is None:
            return
        env = _Env(ACC_ACKED, t.uas_code, error_text(t.uas_code))
        flags = t.mflags
        if _flag(flags, cfg.log_flag):
            log_request(ack, env)
        if _flag(flags, cfg.db_flag):
            db_request(ack, env, cfg.table_acc)


# ------------------------------------------------------------------ functions
def _comment(text: str) -> tuple[int, str]:
    text = text or ""
    if len(text) >= 3 and text[:3].isdigit():
        return int(text[:3]), text[3:].lstrip()
    return 0, text


def _env_for(msg, text, comment):
    code, reason = _comment(comment)
    env = _Env(text, code, reason)
    env.code_s = comment[:3] if code else ""
    return env


def _arg(v, msg):
    return v(msg) if callable(v) else v


def w_acc_log_request(msg, comment) -> int:
    return log_request(msg, _env_for(msg, ACC_REQUEST, _arg(comment, msg)))


def w_acc_db_request(msg, comment, table) -> int:
    return db_request(msg, _env_for(msg, ACC_REQUEST, _arg(comment, msg)), _arg(table, msg))


def w_acc_request(msg, comment, table) -> int:
    env = _env_for(msg, ACC_REQUEST, _arg(comment, msg))
    rc = log_request(msg, env)
    if cfg.db_url:
        rc = db_request(msg, env, _arg(table, msg))
    return rc


# ------------------------------------------------------------------ CDRs
def _cdr_write(d, msg, start: float, end: float):
    """One CDR: the log line (Kamailio's "name=value; ..." layout, times as Unix time
    with milliseconds) and the cdrs_table row; cdr_extra is read from msg."""
    if cfg.cdr_skip and cfg.cdr_skip in (d.vars or {}):
        return
    duration = max(0.0, end - start)
    extras = _extra_values(cfg.cdr_extra, msg) if msg is not None else [None] * len(cfg.cdr_extra)
    sid, eid, did = cfg.cdr_ids
    dur_text = f"{duration:.3f}" if duration else "0"
    if cfg.cdr_log:
        parts = [f"{sid}={start:.3f}", f"{eid}={end:.3f}", f"{did}={dur_text}"]
        for (name, _), v in zip(cfg.cdr_extra, extras, strict=True):
            parts.append(f"{name}={'' if v is None else v}")
        extra = {"syslog_facility": cfg.cdr_facility} if cfg.cdr_facility is not None else {}
        log.log(cfg.log_level, "%s", "; ".join(parts), extra=extra)
    if cfg.cdrs_table and cfg.db_url:
        row = {sid: _dt.datetime.fromtimestamp(int(start)), eid: _dt.datetime.fromtimestamp(int(end)),
               did: round(duration, 3)}
        for (name, _), v in zip(cfg.cdr_extra, extras, strict=True):
            row[name] = v if (v is not None or cfg.cdr_extra_nullable) else ""
        try:
            _conn().insert(cfg.cdrs_table, row)
        except Exception as e:
            log.error("acc: failed to insert the CDR into %s: %s", cfg.cdrs_table, e)
            _db["conn"] = None


def _is_local_reply(rpl) -> bool:
    """A reply tm made here (its To-tag has tm's prefix)."""
    from kamapy.sip import reply as _r
    from kamapy.sip.reply import init_tm_tags
    try:
        tag = rpl.to_hdr.tag or ""
    except Exception:
        return False
    prefix = _r._TmTagPrefix.value or init_tm_tags()
    return bool(tag) and tag.startswith(prefix)


def _request_of_reply(rpl):
    """The request of the transaction a reply upstream answers (its Via, Call-ID, CSeq
    are the request's), as the transaction keeps it."""
    try:
        t = _tmb.t_lookup_key(rpl, rpl.cseq.method)
        return _tmb.t_uas_request(t) if t is not None else None
    except Exception:
        return None


def _cdr_created(d, _type, _req, _rpl, _direction, _param):
    from kamapy_modules.dialog import callbacks as dcb
    types = dcb.DLGCB_TERMINATED
    if cfg.cdr_on_failed:
        types |= dcb.DLGCB_FAILED
    if cfg.cdr_expired:
        types |= dcb.DLGCB_EXPIRED
    # the start time travels as the callback's parameter (the dialog's creation)
    dcb.register(d, types, "acc.cdr", time.time())


def _cdr_event(d, cb_type, req, rpl, _direction, start):
    from kamapy_modules.dialog import callbacks as dcb
    now = time.time()
    if cb_type & dcb.DLGCB_FAILED:
        # Kamailio reads the extras from the reply that failed it; a reply made here
        # (FAKED_REPLY there) gives way to the request
        msg = rpl if rpl is not None else req
        if rpl is not None and _is_local_reply(rpl):
            msg = _request_of_reply(rpl) or msg
        _cdr_write(d, msg, now, now)
        return
    _cdr_write(d, req, float(start or now), now)


# ------------------------------------------------------------------ init
def check():
    out = []
    if exports.values.get("cdr_enable") and not _loaded("dialog"):
        out.append(("cdr_enable", "cdr_enable needs the dialog module loaded"))
    dbf = [p for p in ("db_flag", "db_missed_flag") if exports.values.get(p, -1) != -1]
    if dbf and not exports.values.get("db_url"):
        out.append((dbf[0], f"{dbf[0]} is set but db_url is not"))
    return out


def _loaded(name):
    from kamapy import loader
    return loader.loaded(name)


def mod_init():
    from kamapy.log import python_level
    v = exports.values
    cfg.log_flag, cfg.db_flag = v["log_flag"], v["db_flag"]
    cfg.failed_flag = v["failed_transaction_flag"]
    cfg.log_mc, cfg.db_mc = v["log_missed_flag"], v["db_missed_flag"]
    cfg.early_media, cfg.report_ack, cfg.report_cancels = v["early_media"], v["report_ack"], v["report_cancels"]
    cfg.failed_filter = tuple(int(x) for x in (v["failed_filter"] or "").split(",") if x.strip())
    cfg.log_level = python_level(v["log_level"])
    cfg.facility = _facility(v["log_facility"]) if v["log_facility"] else None
    cfg.log_extra = _parse_extra("log_extra", v["log_extra"])
    cfg.db_extra = _parse_extra("db_extra", v["db_extra"])
    cfg.cdr_extra = _parse_extra("cdr_extra", v["cdr_extra"])
    cfg.db_url = v["db_url"] or ""
    cfg.table_acc, cfg.table_mc = v["db_table_acc"], v["db_table_missed_calls"]
    cfg.columns = tuple(v[f"acc_{c}_column"] for c in
                        ("method", "from_tag", "to_tag", "callid", "sip_code", "sip_reason", "time"))
    cfg.time_mode, cfg.time_attr, cfg.time_exten = v["time_mode"], v["time_attr"], v["time_exten"]
    cfg.time_format = v["time_format"]
    cfg.extra_nullable = v["acc_extra_nullable"]
    cfg.reason_from_hf = v["reason_from_hf"]
    cfg.cdr_enable, cfg.cdr_log = v["cdr_enable"], v["cdr_log_enable"]
    cfg.cdr_facility = _facility(v["cdr_facility"]) if v["cdr_facility"] else None
    cfg.cdrs_table = v["cdrs_table"]
    cfg.cdr_ids = (v["cdr_start_id"], v["cdr_end_id"], v["cdr_duration_id"])
    cfg.cdr_skip = v["cdr_skip"]
    cfg.cdr_expired = v["cdr_expired_dlg_enable"]
    cfg.cdr_on_failed = v["cdr_on_failed"]
    cfg.cdr_extra_nullable = v["cdr_extra_nullable"]
    if cfg.db_url:
        from kamapy.db import parse_db_url
        parse_db_url(cfg.db_url)
    global _tmb
    from kamapy.loader import bind_api
    _tmb = bind_api("tm") if _loaded("tm") else None
    if _tmb is None:
        log.error("acc: the tm module is needed")
        return -1
    _tmb.define("acc", _tmcb)
    _tmb.register_global(TMCB_REQUEST_IN, _on_request_in)
    if cfg.cdr_enable:
        from kamapy_modules.dialog import callbacks as dcb
        dcb.define("acc.cdr", _cdr_event)
        dcb.register_global(dcb.DLGCB_CREATED, _cdr_created)
    return 0


def child_init(_rank):
    _db["conn"] = None  # opened on first use, in this process
    return 0


def destroy():
    c = _db.get("conn")
    if c is not None and _db.get("pid") == os.getpid():
        c.close()


_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE | ONREPLY_ROUTE

exports = ModuleExports(
    name="acc",
    params=[
        Param("early_media", int, 0),
        Param("failed_transaction_flag", int, -1, validate=_flag_ok),
        Param("failed_filter", str, ""),
        Param("report_ack", int, 0),
        Param("report_cancels", int, 0),
        Param("detect_direction", int, 0, unsupported="detect_direction (rr direction) is not built"),
        Param("acc_prepare_flag", int, -1, unsupported="acc_prepare_flag is not built"),
        Param("acc_prepare_always", int, 0, unsupported="acc_prepare_always is not built"),
        Param("acc_extra_nullable", int, 0),
        Param("multi_leg_info", str, "", unsupported="multi-leg accounting is not built"),
        Param("log_flag", int, -1, validate=_flag_ok),
        Param("log_missed_flag", int, -1, validate=_flag_ok),
        Param("log_level", int, 1, validate=_level_ok),
        Param("log_facility", str, "LOG_DAEMON", validate=_facility),
        Param("log_extra", str, "", validate=_extra_ok("log_extra")),
        Param("db_flag", int, -1, validate=_flag_ok),
        Param("db_missed_flag", int, -1, validate=_flag_ok),
        Param("db_table_acc", str, "acc"),
        Param("db_table_missed_calls", str, "missed_calls"),
        Param("db_url", str, ""),
        Param("acc_method_column", str, "method"),
        Param("acc_from_tag_column", str, "from_tag"),
        Param("acc_to_tag_column", str, "to_tag"),
        Param("acc_callid_column", str, "callid"),
        Param("acc_sip_code_column", str, "sip_code"),
        Param("acc_sip_reason_column", str, "sip_reason"),
        Param("acc_time_column", str, "time"),
        Param("db_extra", str, "", validate=_extra_ok("db_extra")),
        Param("db_insert_mode", int, 0),
        Param("cdr_enable", int, 0),
        Param("cdr_skip", str, ""),
        Param("cdr_expired_dlg_enable", int, 0),
        Param("cdr_start_on_confirmed", int, 0,
              unsupported="a CDR starts when its dialog is created (cdr_start_on_confirmed 0)"),
        Param("cdr_facility", str, "LOG_DAEMON", validate=_facility),
        Param("cdr_extra", str, "", validate=_extra_ok("cdr_extra")),
        Param("cdr_extra_nullable", int, 0),
        Param("cdr_start_id", str, "start_time"),
        Param("cdr_end_id", str, "end_time"),
        Param("cdr_duration_id", str, "duration"),
        Param("cdr_log_enable", int, 1),
        Param("cdrs_table", str, ""),
        Param("time_mode", int, 0, validate=_time_mode_ok),
        Param("time_attr", str, "time_attr"),
        Param("time_exten", str, "time_exten"),
        Param("time_format", str, "%Y-%m-%d %H:%M:%S"),
        Param("reason_from_hf", int, 0),
        Param("clone_msg", int, 1),
        Param("cdr_on_failed", int, 1),
        Param("acc_extra_size", int, 64),
        Param("cdr_extra_size", int, 64),
    ],
    functions=[
        Function("acc_log_request", w_acc_log_request, (Arg("spve"),), ANY_ROUTE),
        Function("acc_db_request", w_acc_db_request, (Arg("spve"), Arg("spve")), _ROUTES),
        Function("acc_request", w_acc_request, (Arg("spve"), Arg("spve")), _ROUTES),
    ],
    mod_init=mod_init,
    child_init=child_init,
    destroy=destroy,
    check=check,
)
