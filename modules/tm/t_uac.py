"""Local transactions: requests kamapy itself originates (Kamailio: tm uac.c t_uac,
t_request_within, t_request; t_msgbuilder.c build_uac_req).

The dialog module's BYE, keepalive OPTIONS and REFER, and later the uac and auth
work, send their requests through here: one client transaction each, kept in shm so
that whichever worker receives the reply finds it, retransmitted by the timer process
(timer E for non-INVITE, A for INVITE: T1 doubling, capped at T2 for non-INVITE),
ended by the final reply or by fr_timer (a 408 then, as Kamailio reports it).

    lid = t_uac("BYE", headers="Max-Forwards: 70\\r\\n", body=b"", dlg=LocalDialog(...),
                cb="dialog.bye_reply", cbp=[h_entry, h_id])

`cb` is a callback name bound in every process with callbacks.define() (before the
fork, as tm callbacks are), called as fn(lt, TMCB_LOCAL_COMPLETED, reply, code, cbp)
once, on the final reply (reply is the SipMsg) or the timeout (reply None, code 408);
with TMCB_LOCAL_RESPONSE_IN in cb_types it also hears the provisional replies.

The request is laid out as build_uac_req lays it out: request line, Via, To, From,
CSeq, Call-ID, Route, Max-Forwards (unless the headers carry one), Content-Length,
User-Agent (server_signature), the caller's headers, body. Our Via branch is
`z9hG4bKlc<14 hex>`, shorter than tm's `z9hG4bK<tid>.<n>`, so tm's reply matching
never takes it for one of its own.

A local INVITE is ACKed by us for a negative final reply (hop-by-hop, same branch)
and, unless TMCB_DONT_ACK is in cb_types, for a 2xx too (a new branch, to the
Contact of the 2xx) -- Kamailio's local_ack behaviour.
"""

from __future__ import annotations

import logging
import os
import time

import msgpack

from kamapy.net.socket_info import socket_of_spec as _find_socket
from kamapy.runtime import rt
from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import PROTO_UDP

from . import callbacks as tmcb
from .config import cfg

log = logging.getLogger("kamapy.tm")

BRANCH_PREFIX = "z9hG4bKlc"
LID_LEN = 14
LOCKS = 64
MAXFWD = "Max-Forwards: 70\r\n"
DEFAULT_CSEQ = 10  # Kamailio's uac.h DEFAULT_CSEQ, for a request outside a dialog


class LocalDialog:
    """What a request within a dialog is built from (Kamailio: dlg_t). route_set is a
    list of name-addr strings ("<sip:p1;lr>"), nearest hop first."""

    __slots__ = ("rem_target", "rem_uri", "loc_uri", "call_id", "rem_tag", "loc_tag",
                 "loc_seq", "route_set", "dst_uri", "send_sock")

    def __init__(self, rem_target="", rem_uri="", loc_uri="", call_id="", rem_tag="",
                 loc_tag="", loc_seq=0, route_set=(), dst_uri="", send_sock=""):
        self.rem_target = rem_target
        self.rem_uri = rem_uri
        self.loc_uri = loc_uri
        self.call_id = call_id
        self.rem_tag = rem_tag
        self.loc_tag = loc_tag
        self.loc_seq = loc_seq
        self.route_set = list(route_set)
        self.dst_uri = dst_uri
        self.send_sock = send_sock  # "udp:ip:port", a SocketInfo, or "" (any)


class LocalTxn:
    """One local client transaction as kept in shm."""

    FIELDS = ("lid", "method", "buf", "ip", "port", "sock", "retr_ivl", "retr_due",
              "fr_due", "wait_due", "code", "cbs", "ack", "created", "ruri", "reason", "reply")
    __slots__ = FIELDS

    def __init__(self, lid="", method=""):
        self.lid = lid
        self.method = method
        self.buf = b""
        self.ip = ""
        self.port = 5060
        self.sock = None         # [local ip, local port] it leaves from
        self.retr_ivl = 0.0
        self.retr_due = 0.0
        self.fr_due = 0.0
        self.wait_due = 0.0
        self.code = 0            # last reply code (408 on timeout)
        self.cbs = None          # [[types, name, param]] as tm callbacks keep them
        self.ack = None          # the ACK we sent for a final reply to our INVITE
        self.created = 0.0
        self.ruri = ""
        self.reason = ""
        self.reply = None        # the final reply's text, kept only when asked (t_uac_wait)

    @property
    def completed(self) -> bool:
        return self.code >= 200

    def next_due(self) -> float:
        due = [d for d in (self.retr_due, self.fr_due, self.wait_due) if d]
        return min(due) if due else 0.0

    def pack(self) -> bytes:
        return msgpack.packb([getattr(self, f) for f in self.FIELDS], use_bin_type=True)

    @classmethod
    def unpack(cls, data: bytes) -> LocalTxn:
        t = cls.__new__(cls)
        for f, v in zip(cls.FIELDS, msgpack.unpackb(data, raw=False), strict=True):
            setattr(t, f, v)
        return t


# ---------------------------------------------------------------------- the shm part
class _Store:
    def __init__(self, shared=True, pool=None):
        made = _shared(pool) if shared else None
        if made is None:
            from .store import _LocalLocks, _LocalTable
            self.cells, self.due, self.locks = _LocalTable(), _LocalTable(), _LocalLocks(LOCKS)
        else:
            self.cells, self.due, self.locks = made

    def lock(self, lid: str) -> int:
        i = int(lid[-4:], 16) % LOCKS
        self.locks.get(i)
        return i

    def unlock(self, i: int):
        self.locks.release(i)

    def load(self, lid: str) -> LocalTxn | None:
        raw = self.cells.get(lid.encode())
        return LocalTxn.unpack(raw) if raw is not None else None

    def save(self, t: LocalTxn):
        key = t.lid.encode()
        due = t.next_due()
        if due:
            self.due.put(key, b"", due)
        else:
            self.due.delete(key)
        self.cells.put(key, t.pack())

    def remove(self, t: LocalTxn):
        key = t.lid.encode()
        self.cells.delete(key)
        self.due.delete(key)

    def pop_due(self, now: float) -> list[str]:
        return [k.decode() if isinstance(k, bytes) else k for k, _v in self.due.expire(now)]

    def count(self) -> int:
        return len(self.cells)


def _shared(pool=None):
    if pool is None:
        try:
            from kamapy.mem import shm
            pool = shm.pool()
        except (ImportError, RuntimeError):
            return None
    from kamapy.mem.htable import SharedHashTable
    from kamapy.mem.lockset import LockSet
    return (SharedHashTable(10, pool=pool, name="tm local transactions"),
            SharedHashTable(8, pool=pool, name="tm local timers"),
            LockSet(LOCKS, pool=pool, name="tm local locks"))


_store: _Store | None = None


def store() -> _Store:
    global _store
    if _store is None:
        _store = _Store(shared=False)
    return _store


def init():
    """tm's mod_init: the shm table (before the fork), the timer (reply_hook is called
    by tm's declared response function, before the transaction lookup)."""
    global _store
    from kamapy.timer import register_timer
    _store = _Store()
    register_timer("tm-local", 0.05, run_timer)


# ---------------------------------------------------------------------- building
def _new_id(n: int = LID_LEN) -> str:
    return os.urandom((n + 1) // 2).hex()[:n]


def _uri_of(nameaddr: str) -> str:
    s = nameaddr.strip()
    if "<" in s and ">" in s:
        return s[s.index("<") + 1:s.index(">")]
    return s.split(";")[0] if s.startswith("<") else s


def _bracket(uri: str) -> bool:
    """build_uac_req puts <> around a To/From URI unless it is a name-addr already."""
    p = uri.rfind(">")
    if p < 0:
        return True
    return not (p == len(uri) - 1 or uri[p + 1:p + 2] == ";")


def _hooks(d: LocalDialog) -> tuple[str, str, list[str]]:
    """(request URI, next hop URI, Route entries) as tm's calculate_hooks picks them:
    a loose router first sends to it with the remote target as R-URI; a strict one
    becomes the R-URI, and the remote target goes last in the Route set."""
    target = d.rem_target or d.rem_uri
    if d.route_set:
        first = _uri_of(d.route_set[0])
        if ";lr" in first.lower():
            return target, first, list(d.route_set)
        routes = list(d.route_set[1:])
        if d.rem_target:
            routes.append(f"<{d.rem_target}>")
        return first, first, routes
    return target, d.dst_uri or target, []


def _next_hop(uri: str):
    from kamapy.net.send import resolve
    from kamapy.sip.next_hop import uri_hop
    from kamapy.sip.uri import parse_uri
    proto, host, port = uri_hop(parse_uri(uri))
    if proto != "udp":
        raise SipParseError(f"local requests over {proto} are not supported yet", None)
    ip, af = resolve(host)
    return ip, af, port


def build(method: str, headers: str, body: bytes, d: LocalDialog, branch: str, sock,
          cseq: int) -> tuple[bytes, str]:
    """(the request bytes, its R-URI)."""
    ruri, _nh, routes = _hooks(d)
    from kamapy.sip.local_request import via_for_socket
    lines = [f"{method} {ruri} SIP/2.0", "Via: " + via_for_socket(sock, branch)]
    to = f"<{d.rem_uri}>" if _bracket(d.rem_uri) else d.rem_uri
    lines.append(f"To: {to};tag={d.rem_tag}" if d.rem_tag else f"To: {to}")
    frm = f"<{d.loc_uri}>" if _bracket(d.loc_uri) else d.loc_uri
    lines.append(f"From: {frm};tag={d.loc_tag}" if d.loc_tag else f"From: {frm}")
    lines.append(f"CSeq: {cseq} {method}")
    lines.append(f"Call-ID: {d.call_id}")
    if routes:
        lines.append("Route: " + ", ".join(routes))
    if not headers or len(headers) < 15 or "Max-Forwards:" not in headers:
        lines.append(MAXFWD[:-2])
    lines.append(f"Content-Length: {len(body)}")
    if rt.user_agent_header:
        lines.append(rt.user_agent_header)
    head = "\r\n".join(lines) + "\r\n"
    if headers and len(headers) > 2:
        head += headers if headers.endswith("\n") else headers + "\r\n"
    return (head + "\r\n").encode("utf-8", "surrogateescape") + body, ruri


# ---------------------------------------------------------------------- the API
def t_uac(method: str, headers: str = "", body: bytes = b"", dlg: LocalDialog | None = None,
          cb: str | None = None, cbp=None, cb_types: int = tmcb.TMCB_LOCAL_COMPLETED,
          cseq: int | None = None, keep_reply: bool = False) -> str | None:
    """Send a request on its own client transaction; returns its id, or None when it
    could not be built or sent (nothing is kept then, no callback runs)."""
    if dlg is None:
        return None
    if cb is not None and cb not in tmcb._named:
        log.error("t_uac: callback %r was never defined", cb)
        return None
    if not dlg.loc_tag:
        dlg.loc_tag = _new_id(16)  # RFC 3261 wants a From tag: made up, as tm does
    try:
        _r, nh, _routes = _hooks(dlg)
        ip, af, port = _next_hop(nh)
    except (SipParseError, OSError, ValueError) as e:
        log.error("t_uac: no next hop for %s %s: %s", method, dlg.rem_target or dlg.rem_uri,
                  getattr(e, "reason", e))
        return None
    from kamapy.net.send import choose_socket
    si = choose_socket(PROTO_UDP, af, _find_socket(dlg.send_sock))
    if si is None:
        log.error("t_uac: no socket to send %s to %s:%d", method, ip, port)
        return None
    lid = _new_id()
    t = LocalTxn(lid, method)
    t.buf, t.ruri = build(method, headers, body, dlg, BRANCH_PREFIX + lid, si,
                          dlg.loc_seq if cseq is None else cseq)
    buf = local_request_route(t.buf, nh, si)
    if buf is None:
        return None  # dropped by event_route[tm:local-request]
    t.buf = buf
    t.ip, t.port, t.sock = ip, port, [si.address, si.port]
    now = time.time()
    t.created = now
    t.retr_ivl = cfg.t1
    t.retr_due = now + cfg.t1
    t.fr_due = now + (cfg.fr or 30.0)
    if cb is not None:
        t.cbs = [[cb_types, cb, cbp]]
    if keep_reply:
        t.reply = ""  # the final reply's text goes here (tm.t_uac_wait)
    s = store()
    lk = s.lock(lid)
    try:
        s.save(t)
    finally:
        s.unlock(lk)
    if not _send(t, t.buf):
        lk = s.lock(lid)
        try:
            s.remove(t)
        finally:
            s.unlock(lk)
        return None
    _count()
    return lid


LOCAL_REQUEST = "tm:local-request"


def local_request_route(buf: bytes, next_hop: str, si) -> bytes | None:
    """event_route[tm:local-request] on the request about to go out (Kamailio runs it
    for every local request, as LOCAL_ROUTE): what it changes (headers, body, R-URI)
    goes out; drop() keeps it from going out at all (None)."""
    routes = rt.routes
    route = getattr(routes, "event", {}).get(LOCAL_REQUEST) if routes is not None else None
    if route is None:
        return buf
    from kamapy.cfg.run_context import run_route
    from kamapy.module import LOCAL_ROUTE
    from kamapy.sip.msg import RecvInfo, SipMsg
    from kamapy.sip.outgoing import build_message
    msg = SipMsg(buf, RecvInfo())
    msg.dst_uri = next_hop
    try:
        run_route(route, msg, LOCAL_ROUTE)
    except Exception:
        log.exception("event_route[%s] failed", LOCAL_REQUEST)
        return buf
    if msg.ctx is not None and msg.ctx.dropped:
        log.debug("tm:local-request dropped msg. to %s", next_hop)
        return None
    if msg.lumps or (msg.new_uri is not None and msg.new_uri != msg.ruri):
        return build_message(msg)
    return buf


def t_request_within(method: str, headers: str, body: bytes, dlg: LocalDialog, **kw) -> str | None:
    """A request in an existing dialog: its CSeq is the dialog's local one plus one
    (Kamailio's t_request_within bumps dlg->loc_seq)."""
    dlg.loc_seq = (dlg.loc_seq + 1) & 0xFFFFFFFF
    return t_uac(method, headers, body, dlg, **kw)


def t_request(method: str, ruri: str, to: str, from_: str, headers: str = "", body: bytes = b"",
              next_hop: str = "", send_sock="", **kw) -> str | None:
    """A request outside any dialog (Kamailio's t_request): a new Call-ID, From tag
    and CSeq 10; send_sock as LocalDialog's (uac_req_t's ssock)."""
    d = LocalDialog(rem_target=ruri, rem_uri=to, loc_uri=from_,
                    call_id=f"{_new_id(16)}@kamapy", loc_seq=DEFAULT_CSEQ, dst_uri=next_hop,
                    send_sock=send_sock)
    return t_uac(method, headers, body, d, **kw)


def _count():
    from . import stats
    stats.inc(stats.CLIENT_TRANSACTIONS)  # Kamailio's total_local


def _send(t: LocalTxn, data: bytes) -> bool:
    from kamapy.net.send import send_to
    return send_to(PROTO_UDP, data, t.ip, t.port, _find_socket(f"{t.sock[0]}:{t.sock[1]}")
                   if t.sock else None)


def lookup(lid: str) -> LocalTxn | None:
    """The transaction as it is now (tests, t_uac_wait)."""
    return store().load(lid)


# ---------------------------------------------------------------------- replies
def reply_hook(msg) -> bool:
    """Part of tm's response function: a reply to one of our local requests is ours,
    whatever happens."""
    branch = msg.via1_branch
    if branch is None or not branch.startswith(BRANCH_PREFIX) or len(branch) != len(BRANCH_PREFIX) + LID_LEN:
        return False
    lid = branch[len(BRANCH_PREFIX):]
    s = store()
    lk = s.lock(lid)
    run_cb = None
    try:
        t = s.load(lid)
        if t is None:
            return True  # late: the transaction is gone; never relay it
        try:
            code = msg.status
            method = msg.cseq.method
        except SipParseError:
            return True
        if method != t.method:
            return True
        from . import stats
        stats.inc(stats.RPL_RECEIVED)
        now = time.time()
        if t.completed:
            # a retransmitted final reply: ACK it again (INVITE), nothing else
            if t.method == "INVITE" and code >= 200:
                _ack(t, msg)
            return True
        if code < 200:
            if t.method == "INVITE":
                t.retr_due = 0.0
                t.fr_due = now + (cfg.fr_inv or 120.0)
            elif t.retr_due:
                t.retr_ivl = cfg.t2
                t.retr_due = now + cfg.t2
            t.code = code
            if t.cbs and tmcb.has(t, tmcb.TMCB_LOCAL_RESPONSE_IN):
                run_cb = (tmcb.TMCB_LOCAL_RESPONSE_IN, code)
        else:
            t.code = code
            t.reason = msg.reason
            if t.reply is not None:
                t.reply = msg.text
            t.retr_due = t.fr_due = 0.0
            t.wait_due = now + (cfg.wt or 5.0)
            stats.inc(stats.RPL_SENT)  # handed to the local "UAS", as Kamailio counts it
            stats.inc(stats.COMPLETED[min(code // 100, 6) - 2])
            if t.method == "INVITE":
                _ack(t, msg)
            if t.cbs:
                run_cb = (tmcb.TMCB_LOCAL_COMPLETED | tmcb.TMCB_LOCAL_RESPONSE_IN, code)
        s.save(t)
    finally:
        s.unlock(lk)
    if run_cb is not None:
        # outside the lock: a callback may start another local request (dialog BYE)
        tmcb.run(t, run_cb[0], msg, run_cb[1])
    return True


def _ack(t: LocalTxn, reply):
    if 200 <= reply.status < 300:
        if t.cbs and tmcb.has(t, tmcb.TMCB_DONT_ACK):
            return
        ack = _ack_2xx(t, reply)
    else:
        from .cancel import build_ack
        ack = build_ack(t.buf, reply)
    if ack:
        t.ack = ack
        _send(t, ack)


def _ack_2xx(t: LocalTxn, reply) -> bytes | None:
    """The end-to-end ACK to a 2xx of our INVITE (RFC 3261 13.2.2.4): its own branch,
    to the Contact of the 2xx, with the route set the 2xx's Record-Route gave."""
    text = t.buf.decode("utf-8", "surrogateescape")
    head = text.split("\r\n\r\n", 1)[0].split("\r\n")
    keep = {}
    for line in head[1:]:
        name = line.partition(":")[0].strip().lower()
        if name in ("from", "call-id", "cseq", "via"):
            keep[name] = line
    try:
        to = reply.header_value("to")
        contact = reply.header_value("contact") or ""
    except SipParseError:
        return None
    target = _uri_of(contact) if contact else t.ruri
    rr = [v.strip() for hf in reply.get_headers("record-route") for v in hf.value.split(",")]
    rr.reverse()
    num = keep.get("cseq", "CSeq: 1").split(":", 1)[1].split()[0]
    via = keep["via"].rsplit("branch=", 1)[0] + "branch=" + BRANCH_PREFIX + _new_id()
    # build_dlg_ack's order: Via, From, Call-ID, To, CSeq, Route, User-Agent; no Max-Forwards
    lines = [f"ACK {target} SIP/2.0", via, keep["from"], keep["call-id"], f"To: {to}",
             f"CSeq: {num} ACK"]
    if rr:
        lines.append("Route: " + ", ".join(rr))
    if rt.user_agent_header:
        lines.append(rt.user_agent_header)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------- timers
def run_timer(now: float | None = None):
    """Retransmissions, final response timeouts and the end of the wait."""
    if now is None:
        now = time.time()
    s = store()
    for lid in s.pop_due(now):
        lk = s.lock(lid)
        timed_out = None
        try:
            t = s.load(lid)
            if t is None:
                continue
            if t.wait_due and t.wait_due <= now:
                s.remove(t)
                continue
            if t.fr_due and t.fr_due <= now and not t.completed:
                # no final reply in time: a 408, as tm reports a local timeout
                t.code, t.reason = 408, "Request Timeout"
                t.retr_due = t.fr_due = 0.0
                t.wait_due = now + (cfg.wt or 5.0)
                timed_out = t
            elif t.retr_due and t.retr_due <= now:
                _send(t, t.buf)
                t.retr_ivl = t.retr_ivl * 2 if t.method == "INVITE" else min(t.retr_ivl * 2, cfg.t2)
                t.retr_due = now + t.retr_ivl
            s.save(t)
        except Exception:
            log.exception("tm local timer failed for %s", lid)
        finally:
            s.unlock(lk)
        if timed_out is not None and timed_out.cbs:
            tmcb.run(timed_out, tmcb.TMCB_LOCAL_COMPLETED | tmcb.TMCB_LOCAL_RESPONSE_IN, None, 408)


# ---------------------------------------------------------------------- RPC / t_uac_send
class UacError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def uac_from_parts(method: str, ruri: str, nexthop: str, sock: str, headers: str,
                   body: str = "", keep_reply: bool = False) -> str:
    """The request of tm.t_uac_* / t_uac_send (Kamailio rpc_uac.c): the headers must
    hold From and To; Call-ID, CSeq and a From tag are made up when missing; "." (or
    "") stands for no next hop / any socket. Returns the transaction id."""
    from kamapy.sip.uri import parse_uri
    if not method:
        raise UacError(400, "Empty method")
    try:
        parse_uri(ruri)
    except Exception:
        raise UacError(400, f'Invalid request uri "{ruri}"') from None
    if nexthop not in (".", ""):
        try:
            parse_uri(nexthop)
        except Exception:
            raise UacError(400, f'Invalid next-hop uri "{nexthop}"') from None
    si = None
    if sock not in (".", ""):
        si = _find_socket(sock)
        if si is None:
            raise UacError(400, f'No local socket for "{sock}"')
    found: dict[str, str] = {}
    extra = []
    for line in headers.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise UacError(400, "Invalid headers")
        key = {"f": "from", "t": "to", "i": "call-id"}.get(name.strip().lower(), name.strip().lower())
        if key in ("from", "to", "call-id", "cseq"):
            found[key] = value.strip()
        else:
            extra.append(line.strip() + "\r\n")
    if body and not any(x.lower().startswith(("content-type", "c:")) for x in extra):
        raise UacError(400, "Content-Type missing")
    if "to" not in found:
        raise UacError(400, "To missing")
    if "from" not in found:
        raise UacError(400, "From missing")
    frm, _, ftag = found["from"].partition(";tag=")
    to, _, ttag = found["to"].partition(";tag=")
    cseq = DEFAULT_CSEQ
    if "cseq" in found:
        num, *meth = found["cseq"].split()
        if not num.isdigit():
            raise UacError(400, "Non-numerical CSeq")
        if meth and meth[0] != method:
            raise UacError(400, "CSeq method mismatch")
        cseq = int(num)
    d = LocalDialog(rem_target=ruri, rem_uri=to.strip(), loc_uri=frm.strip(),
                    call_id=found.get("call-id") or f"{_new_id(16)}@kamapy",
                    rem_tag=ttag.split(";")[0], loc_tag=ftag.split(";")[0], loc_seq=cseq,
                    dst_uri="" if nexthop in (".", "") else nexthop, send_sock=si or "")
    lid = t_uac(method, "".join(extra), body.encode("utf-8", "surrogateescape") if body else b"",
                d, keep_reply=keep_reply)
    if lid is None:
        raise UacError(500, "RPC/UAC error")
    return lid


def _rpc_parts(params):
    from kamapy.rpc.errors import RpcError
    params = list(params or [])
    if len(params) < 5:
        raise RpcError(400, f"too few parameters ({len(params)}/5)")
    return [str(p) for p in params[:5]] + [str(params[5]) if len(params) > 5 else ""]


def _rpc_start(params, keep_reply=False) -> str:
    from kamapy.rpc.errors import RpcError
    try:
        return uac_from_parts(*_rpc_parts(params), keep_reply=keep_reply)
    except UacError as e:
        raise RpcError(e.code, e.message) from None


def _wait(lid: str, limit: float = 80.0) -> LocalTxn | None:
    """Poll the shm record until the final reply (or the timeout's 408) is in; the
    reply arrives in whichever worker gets it. Kamailio's wait_block polls 100 ms x 800."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        t = lookup(lid)
        if t is not None and t.completed:
            return t
        time.sleep(0.05)
    return None


def rpc_t_uac_start(_rpc, params):
    """tm.t_uac_start method ruri nexthop socket headers [body]: nothing returned."""
    _rpc_start(params)
    return None


def rpc_t_uac_wait_block(_rpc, params):
    """tm.t_uac_wait_block ...: {code, text} of the final reply."""
    from kamapy.rpc.errors import RpcError
    t = _wait(_rpc_start(params))
    if t is None:
        raise RpcError(500, "No response")
    return {"code": t.code, "text": t.reason}


def rpc_t_uac_wait(_rpc, params):
    """tm.t_uac_wait ...: [code, reason, request URI, next hop, routes, the reply from
    its first header] as Kamailio's rpc_uac_callback adds them (the URIs and routes of
    the dialog a 2xx would make; empty otherwise)."""
    from kamapy.rpc.errors import RpcError
    t = _wait(_rpc_start(params, keep_reply=True))
    if t is None:
        raise RpcError(500, "No response")
    if not t.reply:
        return [t.code, t.reason, "", "", "", ""]
    out = [t.code, t.reason]
    if 200 <= t.code < 300:
        out += list(_uris_of(t.reply))
    out.append(t.reply.split("\r\n", 1)[1] if "\r\n" in t.reply else "")
    return out


def _uris_of(reply_text: str) -> tuple[str, str, str]:
    """(request URI, next hop, Route line) of the dialog a 2xx sets up (dlg_response_uac)."""
    from kamapy.sip.msg import RecvInfo, SipMsg
    m = SipMsg(reply_text.encode("utf-8", "surrogateescape"), RecvInfo())
    contact = m.header_value("contact") or ""
    rr = [x.strip() for hf in m.get_headers("record-route") for x in hf.value.split(",")]
    rr.reverse()
    ld = LocalDialog(rem_target=_uri_of(contact) if contact else "", route_set=rr)
    ruri, nh, routes = _hooks(ld)
    return ruri, nh, ("Route: " + ", ".join(routes)) if routes else ""


def w_t_uac_send(msg, method, ruri, nexthop, sock, headers, body):
    """t_uac_send(method, ruri, nexthop, socket, headers, body) from the config."""
    try:
        uac_from_parts(method, ruri, nexthop, sock, headers, body)
    except UacError as e:
        log.error("t_uac_send: %s", e.message)
        return -1
    return 1
