"""Our Via on a forwarded request and its branch, as Kamailio's forward_request
(core/forward.c) and the FORWARD_T action (core/action.c) build them (where the
request goes: kamapy.sip.next_hop).

- The branch is computed from the transaction key, so a retransmission of a request
  maps to the same branch (RFC 3261 §16.11): "z9hG4bK" + reverse-hex of a hash of
  Call-ID and CSeq number + "." + MD5 over From tag, To tag (empty for INVITE, ACK,
  CANCEL), Call-ID, R-URI as received, CSeq number and the top Via's host, port and
  branch (Kamailio's char_msg_val) + "." + reverse-hex of the branch index.
  Kamailio's hash of Call-ID/CSeq is tm's table hash; here it is CRC-32 masked to 16
  bits -- only the MD5 part has to be stable, and it is the same as Kamailio's.
- Max-Forwards is not touched by the core's forward() (the maxfwd module does it);
  process_maxfwd() gives that module's behaviour through lumps.
"""

from __future__ import annotations

import hashlib
import zlib

from .lumps import insert_header, replace_range
from .methods import METHOD_ACK, METHOD_CANCEL, METHOD_INVITE
from .msg import SipMsg
from .reply import reverse_hex

MCOOKIE = "z9hG4bK"


def transaction_md5(msg: SipMsg) -> str:
    """Kamailio's char_msg_val: MD5 hex over the transaction key of a request."""
    cseq = msg.cseq
    if msg.method_id & (METHOD_INVITE | METHOD_ACK | METHOD_CANCEL):
        to_tag = ""
    else:
        to_tag = msg.to_tag or ""
    via1 = msg.via1
    branch = via1.branch
    # one digest of the parts, each stripped, joined: what an update() per part gives
    key = ((msg.from_tag or "").strip(_WS) + to_tag.strip(_WS) + msg.callid.strip(_WS) + msg.ruri.strip(_WS)
           + cseq.number.strip(_WS) + via1.host.strip(_WS) + via1.port_str.strip(_WS)
           + (branch.strip(_WS) if branch is not None else ""))
    return hashlib.md5(key.encode("latin-1")).hexdigest()


_WS = " \t\r\n"


def transaction_hash(msg: SipMsg) -> int:
    """A 16-bit hash of Call-ID and CSeq number (the hash_index in the branch)."""
    return zlib.crc32((msg.callid + msg.cseq.number).encode("latin-1")) & 0xFFFF


def stateless_branch(msg: SipMsg, index: int = 0) -> str:
    """The branch parameter for a statelessly forwarded request (stable per transaction)."""
    key = ("sl_branch", index)
    b = msg.module_data.get(key)
    if b is None:
        b = msg.module_data[key] = (MCOOKIE + reverse_hex(transaction_hash(msg)) + "."
                               + transaction_md5(msg) + "." + reverse_hex(index))
    return b


def via_value(host: str, port: int | None, proto: str = "udp", branch: str = "",
              params: str = "") -> str:
    """'SIP/2.0/UDP host[:port];branch=...' -- the port is left out when it is 5060,
    as Kamailio's via_builder does; IPv6 addresses get brackets."""
    if ":" in host and host[:1] != "[":
        host = f"[{host}]"
    out = ["SIP/2.0/", proto.upper(), " ", host]
    if port and port != 5060:
        out.append(f":{port}")
    if branch:
        out.append(";branch=")
        out.append(branch)
    if params:
        out.append(params if params[0] == ";" else ";" + params)
    return "".join(out)


def process_maxfwd(msg: SipMsg, limit: int = 70, max_limit: int = 0) -> int:
    """The maxfwd module's mf_process_maxfwd_header through lumps.

    No header: add 'Max-Forwards: limit' on top, return 2. Value 0: return -1 (answer
    483). Otherwise decrement (after capping to max_limit when set) and return 1.
    """
    hf = msg.get_header("max-forwards")
    if hf is None:
        insert_header(msg, f"Max-Forwards: {limit}", "max-forwards")
        return 2
    value = msg.max_forwards
    if value == 0:
        return -1
    if max_limit and value > max_limit:
        value = max_limit
    s, e = msg.raw_value_span(hf)
    lump = replace_range(msg, s, e, str(value - 1), "max-forwards")
    return 1 if lump is not None else -2


__all__ = ["stateless_branch", "via_value", "process_maxfwd", "transaction_md5", "transaction_hash"]
