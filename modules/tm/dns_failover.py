"""DNS failover and the destination blocklist for tm's branches (Kamailio: t_fwd.c
add_uac_dns_fallback and t_send_branch's blocklist checks, timer.c's and t_reply.c's
calls of them).

A branch's next hop is located with kamapy.dns (RFC 3263: NAPTR, SRV, A/AAAA); the
first address that is not blocklisted gets the request. With use_dns_failover, the
addresses after it are kept in shm beside the transaction (one record per branch,
every worker and the timer process see it), and when the branch fails
  - the send fails,
  - its fr_timer fires with no reply at all (and max lifetime is not over), or
  - it answers 503 (or a code of tm's failover_reply_codes),
the next address becomes a new branch of the same round: the request as sent on the
failed branch, with its own Via branch, sent at once. Nothing is tried twice; the
walk ends at the last address or at max_branches. t_set_disable_failover(1) turns it
off for a transaction.

Blocklist (use_dst_blocklist): a send failure, or a timeout with no reply, of a
method in tm's blst_methods_add (INVITE by default) blocklists the address; a 503
does with tm's blst_503 (for its Retry-After, within blst_503_min/max_timeout, else
blst_503_def_timeout). Addresses are looked up for methods in blst_methods_lookup.

Kamailio builds the failover branch from its own copy of the request and, with
reparse_on_dns_failover, re-prints it; kamapy sends the failed branch's bytes with the
new Via branch, which is what both give for the same request. An address of another
transport or address family than the failed branch (which needs another Via) is
skipped with a log line.
"""

from __future__ import annotations

import logging
import time

import msgpack

from kamapy import dns
from kamapy.dns import blocklist as blst
from kamapy.sip.msg import PROTO_IDS, PROTO_NAMES, PROTO_UDP
from kamapy.sip.uri import parse_uri

from .matching import our_branch
from .transaction import B_SEND_FAILED, Branch

log = logging.getLogger("kamapy.tm")

T_DISABLE_FAILOVER = 1 << 20   # t_set_disable_failover (Kamailio: T_DISABLE_FAILOVER)

_KEEP = 240.0                  # alternates outlive any transaction (max_inv_lifetime 180 s)


def _param(name: str):
    """A tm modparam (blst_*, failover_reply_codes: read where they act)."""
    from . import exports
    from .config import PARAMS
    v = exports.values.get(name)
    if v is None:
        v = next((p.default for p in PARAMS if p.name == name), 0)
    return v


def _settings():
    return dns.state().settings


def _alternates():
    return dns.state().alternates


def _key(t, idx: int) -> bytes:
    return f"{t.tid}.{idx}".encode("latin-1")


def _method_bit(t) -> int:
    from kamapy.sip.methods import method_id
    try:
        return method_id(t.method)
    except Exception:
        return 0


def _check_blocklist(t) -> bool:
    return bool(_settings().use_blocklist and _method_bit(t) & int(_param("blst_methods_lookup")))


# next-hop URI text -> its (proto id, ip, port, af) when the host is an IP address:
# what locate gives then depends on the URI alone (one address, no DNS, nothing for
# failover), so the usual relay (to a contact's or the R-URI's address) skips it
_ip_hops: dict[str, tuple] = {}


def resolve_branch(t, idx: int, msg, uri: str, dst_uri: str | None, proxy):
    """(proto id, ip, port, af) for branch idx; the other addresses are kept for
    failover. Raises uac.RelayError when nothing resolves (E_BAD_ADDRESS) or every
    address is blocklisted (E_SEND)."""
    if proxy is None:
        hop = _ip_hops.get(dst_uri or uri)
        if hop is not None and not _settings().use_blocklist:
            return hop
    if proxy is not None:
        pid, host, port = proxy
        res = dns.locate(PROTO_NAMES.get(pid) if pid else None, host, port or None)
    else:
        same = dst_uri is None and uri == msg.current_uri
        u = msg.parsed_ruri if same else parse_uri(dst_uri or uri)
        host = u.maddr or u.host
        res = dns.locate_uri(u)
    if _check_blocklist(t):
        target, rest, blocked = dns.pick(res)
    else:
        target, rest, blocked = (res.targets[0], res.targets[1:], 0) if res.targets else (None, [], 0)
    if target is None:
        from kamapy import ser_error

        from .uac import RelayError  # uac imports this module: only here, on the error path
        if blocked:
            log.error("t_relay: every address of %s is blocklisted", host)
            raise RelayError(ser_error.E_SEND)
        log.error("t_relay: cannot resolve %s (%s)", host, res.rcode)
        raise RelayError(ser_error.E_BAD_ADDRESS)
    if rest and _settings().use_failover and not t.flags & T_DISABLE_FAILOVER:
        table = _alternates()
        if table is not None:
            packed = msgpack.packb([[x.proto, x.ip, x.port] for x in rest])
            table.put(_key(t, idx), packed, time.time() + _KEEP)
    hop = PROTO_IDS.get(target.proto, PROTO_UDP), target.ip, target.port, target.af
    if proxy is None and res.how == "ip":
        if len(_ip_hops) > 4096:  # a flood of distinct next hops must not grow it forever
            _ip_hops.clear()
        _ip_hops[dst_uri or uri] = hop
    return hop


def forget(t, idx: int):
    table = _alternates()
    if table is not None:
        table.delete(_key(t, idx))


def _reply_codes() -> tuple[set, set]:
    """tm's failover_reply_codes ("code=403;class=6"): (codes, classes)."""
    codes, classes = set(), set()
    for part in str(_param("failover_reply_codes") or "").split(";"):
        k, _, v = part.strip().partition("=")
        try:
            if k == "code":
                codes.add(int(v))
            elif k == "class":
                classes.add(int(v))
        except ValueError:
            continue
    return codes, classes


def fails_over(code: int) -> bool:
    if code == 503:
        return True
    codes, classes = _reply_codes()
    return code in codes or code // 100 in classes


def blocklist(t, b, flags: int, expire: float | None = None):
    if _settings().use_blocklist and _method_bit(t) & int(_param("blst_methods_add")):
        dns.state().blocklist.add(flags, b.proto, b.ip, b.port, expire)


def on_send_failed(t, idx: int) -> int:
    """send_branches could not send branch idx: blocklist it, try the next address.
    Returns how many branches went out instead (0 or 1)."""
    b = t.branches[idx]
    blocklist(t, b, blst.BLST_ERR_SEND)
    return _next(t, idx, time.time(), "the send failed")


def on_timeout(t, idx: int, now: float) -> int:
    """The fr_timer of branch idx fired with no reply at all."""
    b = t.branches[idx]
    blocklist(t, b, blst.BLST_ERR_TIMEOUT)
    if t.end_of_life and t.end_of_life <= now:
        forget(t, idx)
        return 0
    return _next(t, idx, now, "no reply")


def on_reply(t, idx: int, code: int, reply_msg, now: float) -> int:
    """A negative final reply on branch idx: 503 (blst_503) and failover codes."""
    b = t.branches[idx]
    if code == 503 and int(_param("blst_503")):
        timeout = int(_param("blst_503_def_timeout"))
        ra = _retry_after(reply_msg)
        if ra is not None:
            timeout = max(int(_param("blst_503_min_timeout")), min(int(_param("blst_503_max_timeout")), ra))
        if timeout > 0:
            blocklist(t, b, blst.BLST_503, timeout)
    if not fails_over(code):
        forget(t, idx)
        return 0
    return _next(t, idx, now, f"{code} reply")


def _retry_after(msg) -> int | None:
    if msg is None:
        return None
    try:
        v = msg.header_value("retry-after")
    except Exception:
        return None
    if not v:
        return None
    head = v.split(";", 1)[0].split("(", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _next(t, idx: int, now: float, why: str) -> int:
    from .cancel import send_branch
    from .uac import MAX_BRANCHES

    table = _alternates()
    if table is None or not _settings().use_failover or t.completed:
        return 0
    raw = table.pop(_key(t, idx))
    if raw is None:
        return 0
    if t.flags & T_DISABLE_FAILOVER:
        return 0
    rest = [tuple(x) for x in msgpack.unpackb(raw, raw=False)]
    old = t.branches[idx]
    check = _check_blocklist(t)
    while rest:
        if len(t.branches) >= MAX_BRANCHES:
            log.error("DNS failover: maximum number of branches exceeded")
            return 0
        proto, ip, port = rest.pop(0)
        pid = PROTO_IDS.get(proto, PROTO_UDP)
        if check and dns.state().blocklist.is_blocked(pid, ip, port):
            log.info("DNS failover: %s:%s:%d is blocklisted: skipped", proto, ip, port)
            continue
        if pid != old.proto or (":" in ip) != (":" in old.ip):
            log.warning("DNS failover: %s:%s:%d needs another transport or address family than"
                        " branch %d: skipped", proto, ip, port, idx)
            continue
        nidx = len(t.branches)
        b = _clone(t, old, idx, nidx, ip, port, now)
        t.branches.append(b)
        log.info("DNS failover: branch %d to %s:%d ended (%s); branch %d to %s:%d",
                 idx, old.ip, old.port, why, nidx, ip, port)
        if rest:
            table.put(_key(t, nidx), msgpack.packb([list(x) for x in rest]), now + _KEEP)
        if send_branch(b, b.buf):
            return 1
        b.flags |= B_SEND_FAILED
        b.retr_due = b.fr_due = 0.0
        blocklist(t, b, blst.BLST_ERR_SEND)
        table.delete(_key(t, nidx))
        old, idx = b, nidx
    return 0


def _clone(t, old: Branch, idx: int, nidx: int, ip: str, port: int, now: float) -> Branch:
    before = (";branch=" + our_branch(t.tid, idx)).encode("latin-1")
    after = (";branch=" + our_branch(t.tid, nidx)).encode("latin-1")
    buf = old.buf.replace(before, after, 1)
    b = Branch(old.uri, old.dst_uri, old.path, old.bflags, old.proto, ip, port, old.sock, buf)
    b.onreply = old.onreply
    b.instance, b.ruid, b.on_bf = old.instance, old.ruid, old.on_bf
    b.retr_ivl = t.t1
    b.retr_due = now + t.t1 if old.proto == PROTO_UDP else 0.0
    b.fr_due = now + t.fr
    return b
