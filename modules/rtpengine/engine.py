"""One ng request for a message: build it from the message and the flags, pick a node
(the call's node if known, else by weight among the enabled ones), send, and fail over
to the next node when one does not answer (Kamailio rtpp_function_call,
select_rtpp_node*, rtpp_test).
"""

from __future__ import annotations

import logging
import zlib

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg import REPLY

from . import bencode, body, client
from .bencode import Pairs
from .bound import tm
from .flags import OP_ANSWER, OP_DELETE, OP_OFFER, FlagError, describe, parse_flags
from .nodes import Node, NodeSet, registry

log = logging.getLogger("kamapy.rtpengine")

OP_QUERY = "query"
OP_PING = "ping"
# the commands whose from-tag is sent only when the flags say "directional"/from-tag=
DIRECTIONAL_OPS = ("block DTMF", "block media", "unblock DTMF", "unblock media",
                   "start forwarding", "stop forwarding", "silence media", "unsilence media")

SESS_LIMIT = b"Parallel session limit reached"
OUT_OF_PORTS = b"Ran out of ports"


class Config:
    disable_tout = 60
    aggressive_redetection = 1
    queried_nodes_limit = 30
    allow_op = 0
    hash_table_tout = 3600
    hash_algo = 0           # 0: sum of the Call-ID's bytes & 0xff, 2: CRC32 of the Call-ID
    extra_id_pv = None      # compiled format, or None
    rtp_inst_pvar = None    # Pv
    read_sdp_pv = None
    write_sdp_pv = None
    setid_avp = None
    media_duration_pv = None


cfg = Config()


class Selection:
    """set_rtpengine_set() for the message being handled (Kamailio keeps it in process
    globals tied to msg->id; here it is tied to the message object)."""

    __slots__ = ("msg", "set1", "set2", "active")

    def __init__(self):
        self.msg = None
        self.set1 = None
        self.set2 = None
        self.active = None


sel = Selection()


def default_set() -> NodeSet | None:
    return registry.find_set(registry.default_id)


def active_set(msg) -> NodeSet | None:
    if sel.msg is not msg or sel.active is None:
        return default_set()
    return sel.active


# ------------------------------------------------------------------ node health
def ping(node: Node) -> bool:
    reply = client.send_command(node, Pairs([("command", "ping")]))
    if reply is None:
        return False
    try:
        d = bencode.decode(reply)
    except bencode.BencodeError:
        return False
    return isinstance(d, dict) and d.get("result") == b"pong"


def test_node(node: Node, isdisabled: bool, force: bool) -> bool:
    """Kamailio rtpp_test: True when the node is (still) disabled."""
    verdict = registry.test_verdict(node, isdisabled, force)
    if verdict is not None:
        return verdict
    reply = client.send_command(node, Pairs([("command", "ping")]))
    if reply is None:
        registry.disable_for(node, cfg.disable_tout)
        log.error("proxy did not respond to ping")
        return True
    try:
        d = bencode.decode(reply)
    except bencode.BencodeError:
        d = None
    if not isinstance(d, dict) or d.get("result") != b"pong":
        log.error("proxy responded with invalid response")
        return True
    log.info("rtpengine instance <%s> found, support for it %senabled", node.url,
             "re-" if not force else "")
    return False


def _retest(node: Node, isdisabled: bool, force: bool):
    disabled = test_node(node, isdisabled, force)
    registry.set_state(node, disabled, registry.recheck(node))


def select_new(rset: NodeSet, callid: str, queried: list[Node]) -> Node | None:
    # Kamailio's "quick-and-dirty" hash: the sum of the Call-ID's bytes, low 8 bits
    raw = callid.encode("latin-1", "replace")
    total = zlib.crc32(raw) if cfg.hash_algo == 2 else sum(raw) & 0xFF
    # Kamailio re-tests the chosen node after; for an enabled one that is a no-op
    return registry.pick(rset.nodes, total, _retest, queried, bool(cfg.aggressive_redetection))


def select_node(msg, rset: NodeSet, callid: str, viabranch: str, queried: list[Node],
                op: str) -> Node | None:
    node = registry.lookup(callid, viabranch)
    if node is None and viabranch == "" and op == OP_DELETE:
        node = registry.lookup(callid, "")
    if node is None or node not in rset.nodes:
        node = select_new(rset, callid, queried)
        if node is None:
            log.error("rtpengine failed to select new for calllen=%d callid=%s",
                      len(callid), callid)
            return None
    if not registry.disabled(node):
        return node
    if cfg.allow_op:
        if registry.permanent(node) or cfg.allow_op == 1:
            return node
    return None


# ------------------------------------------------------------------ the request
class CallError(Exception):
    pass


def _tags(msg):
    try:
        callid = msg.callid.strip(" \t\r\n")
    except SipParseError:
        log.error("can't get Call-Id field")
        raise CallError from None
    if not callid:
        log.error("can't get Call-Id field")
        raise CallError
    try:
        to_tag = msg.to_hdr.tag or ""
    except SipParseError:
        log.error("To header field missing")
        raise CallError from None
    try:
        from_tag = msg.from_hdr.tag or ""
    except SipParseError:
        log.error("failed to parse From header")
        raise CallError from None
    if not from_tag:
        log.error("can't get From tag")
        raise CallError
    return callid, to_tag, from_tag


def _via_branch(msg, which: int, reply: bool):
    if which == 3:
        which = 2 if reply else 1
    elif which == -3:
        which = 1 if reply else -2
    elif which == -4:
        which = 1 if reply else -1
    try:
        if which in (1, 2):
            v = msg.via1 if which == 1 else msg.via2
            return (v.branch or "") if v is not None else ""
        if which == -1:
            return cfg.extra_id_pv(msg) if cfg.extra_id_pv is not None else ""
        if which == -2:
            api = tm()
            t = api.t_gett(msg) if api is not None else None
            return api.t_branch_id(t.tid, len(t.branches)) if t is not None else ""
    except (SipParseError, ImportError, AttributeError):
        return ""
    return ""


class Result:
    __slots__ = ("reply", "node", "span", "op")

    def __init__(self, reply, node, span, op):
        self.reply = reply
        self.node = node
        self.span = span     # (start, end) of the SDP sent, for offer/answer
        self.op = op


# the reply entries any caller reads (the rest, e.g. a delete's statistics, is skipped)
REPLY_KEYS = frozenset(("result", "error-reason", "message", "sdp", "totals", "duration"))


def call(msg, op: str, flags_str: str | None, rset: NodeSet | None = None,
         sdp_override: str | None = None, full: bool = False) -> Result | None:
    """Send one command for msg; the decoded reply whose result is "ok", or None.
    full: every entry of the reply (rtpengine_query_v), not only REPLY_KEYS."""
    try:
        callid, to_tag, from_tag = _tags(msg)
    except CallError:
        return None
    req = Pairs([("supports", ["load limit"])])
    span = None
    kind = 0
    if op in (OP_OFFER, OP_ANSWER):
        if cfg.read_sdp_pv is not None:
            value = cfg.read_sdp_pv.get(msg)
            sdp = "" if value is None else str(value)
        else:
            found = body.extract(msg)
            if found is None:
                log.error("can't extract body from the message")
                return None
            start, end, kind = found
            span = (start, end)
            sdp = msg.text[start:end]
        req.append(("sdp", sdp_override if sdp_override is not None else sdp))
    try:
        ng = parse_flags(flags_str, op)
    except FlagError as e:
        log.error("%s", describe(e))
        return None
    op = ng.op
    if ng.call_id is not None:
        callid = ng.call_id
    if ng.from_tag is not None:
        from_tag = ng.from_tag
    if ng.to_tag is not None:
        to_tag = ng.to_tag
    req.extend(ng.dict)
    if kind == body.CT_TRICKLE:
        ng.flags.append("fragment")
    if ng.direction:
        req.append(("direction", ng.direction))
    if ng.flags:
        req.append(("flags", ng.flags))
    if ng.replace:
        req.append(("replace", ng.replace))
    if ng.codec:
        req.append(("codec", Pairs(ng.codec)))
    if ng.transport_protocol:
        req.append(("transport-protocol", ng.transport_protocol))
    if ng.rtcp_mux:
        req.append(("rtcp-mux", ng.rtcp_mux))
    if ng.sdes:
        req.append(("SDES", ng.sdes))
    if ng.t38:
        req.append(("T.38", ng.t38))
    req.append(("call-id", callid))
    viabranch = ""
    is_reply = msg.type == REPLY
    if ng.via:
        viabranch = _via_branch(msg, ng.via, is_reply)
        if not viabranch:
            log.error("can't get Via branch/extra ID")
            return None
        req.append(("via-branch", viabranch))
    src = msg.rcv.src_ip
    req.append(("received-from", ["IP6" if ":" in src else "IP4", src]))
    wire_op = COMMANDS.get(op, op)
    if wire_op in DIRECTIONAL_OPS:
        if ng.directional:
            req.append(("from-tag", from_tag))
    elif (not is_reply and op != OP_ANSWER) or (is_reply and op in (OP_DELETE, OP_ANSWER)) \
            or ng.directional:
        req.append(("from-tag", from_tag))
        if ng.to and to_tag:
            req.append(("to-tag", to_tag))
    else:
        if not to_tag:
            log.error("No to-tag present")
            return None
        req.append(("from-tag", to_tag))
        req.append(("to-tag", from_tag))
    req.append(("command", wire_op))

    if rset is None:
        rset = active_set(msg)
    if rset is None:
        log.error("script error - no valid set selected")
        return None
    queried: list[Node] = []
    while True:
        reply = None
        node = None
        while reply is None:
            if len(queried) >= cfg.queried_nodes_limit:
                log.error("queried nodes limit reached")
                return None
            node = select_node(msg, rset, callid, viabranch, queried, op)
            if node is None:
                log.error("no available proxies")
                return None
            reply = client.send_command(node, req)
            if reply is None and not registry.permanent(node):
                registry.disable_for(node, cfg.disable_tout)
            queried.append(node)
        set_rtp_inst(msg, node)
        try:
            resp = bencode.decode(reply) if full else bencode.decode_keys(reply, REPLY_KEYS)
        except bencode.BencodeError:
            resp = None
        if not isinstance(resp, dict):
            log.error("failed to decode bencoded reply from proxy: %s",
                      reply[:200].decode("latin-1"))
            return None
        result = resp.get("result")
        if not isinstance(result, bytes):
            log.error("No 'result' dictionary entry in response from proxy %s", node.url)
            return None
        if result == b"load limit":
            m = resp.get("message")
            if isinstance(m, bytes):
                log.info("proxy %s has reached its load limit (%s) - trying next one",
                         node.url, m.decode("latin-1"))
            else:
                log.info("proxy %s has reached its load limit - trying next one", node.url)
            continue
        if result == b"error":
            reason = resp.get("error-reason")
            if not isinstance(reason, bytes):
                log.error("proxy return error but didn't give an error reason: %s",
                          reply[:200].decode("latin-1"))
                return None
            if reason in (SESS_LIMIT, OUT_OF_PORTS):
                log.warning("proxy %s: %s", node.url, reason.decode("latin-1"))
                continue
            log.error("proxy replied with error: %s", reason.decode("latin-1"))
            return None
        break
    registry.remember(callid, viabranch, node, cfg.hash_table_tout)
    if op == OP_DELETE:
        registry.forget(callid, viabranch)
    if result != b"ok":
        log.error('proxy didn\'t return "ok" result')
        return None
    return Result(resp, node, span, op)


def set_rtp_inst(msg, node: Node):
    pv = cfg.rtp_inst_pvar
    if pv is None:
        return
    try:
        pv.set(msg, node.url)
    except Exception:  # noqa: BLE001 -- a PV error must not fail the relay call
        log.error("Failed to add RTP Engine URI to pvar")


COMMANDS = {
    "offer": "offer", "answer": "answer", "delete": "delete", "query": "query",
    "ping": "ping", "start_recording": "start recording", "stop_recording": "stop recording",
    "block_dtmf": "block DTMF", "unblock_dtmf": "unblock DTMF",
    "block_media": "block media", "unblock_media": "unblock media",
    "silence_media": "silence media", "unsilence_media": "unsilence media",
    "start_forwarding": "start forwarding", "stop_forwarding": "stop forwarding",
    "play_media": "play media", "stop_media": "stop media", "play_dtmf": "play DTMF",
}
