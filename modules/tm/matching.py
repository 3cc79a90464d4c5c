"""Which transaction a message belongs to (Kamailio: t_lookup.c).

Server side (a request, RFC 3261 §17.2.3): the top Via's branch (with the magic
cookie), its sent-by and the method -- an ACK matches the INVITE, and a CANCEL looks
for the INVITE it cancels under the INVITE's key. A request without the cookie
(RFC 2543) is keyed on Call-ID, CSeq number, From tag, R-URI and the top Via.

Client side (a reply): our own Via branch is `z9hG4bK<tid>.<branch index>`, so the
transaction id is read straight out of the reply's top Via -- one shm lookup.

The id (tid) is a 64-bit BLAKE2 hash of the server key as 16 hex digits: the record
stores the full key, so a collision is detected rather than mis-matched.
"""

from __future__ import annotations

from hashlib import blake2b

from kamapy.sip.methods import METHOD_ACK, METHOD_CANCEL, METHOD_INVITE

MCOOKIE = "z9hG4bK"
TID_LEN = 16


def server_key(msg, method: str | None = None) -> str:
    """The matching key of a request; `method` overrides the request's own (the key a
    CANCEL or ACK looks its INVITE up with)."""
    via = msg.via1
    if method is None:
        method = "INVITE" if msg.method_id == METHOD_ACK else msg.method
    branch = via.branch
    if branch is not None and branch.startswith(MCOOKIE):
        return f"{branch}|{via.host}:{via.port or ''}|{method}"
    # RFC 2543: no usable branch
    return (f"2543|{msg.callid}|{msg.cseq.number}|{msg.from_hdr.tag or ''}|{msg.ruri}|"
            f"{via.host}:{via.port or ''}|{branch or ''}|{method}")


def tid_of(key: str) -> str:
    return blake2b(key.encode("latin-1"), digest_size=8).hexdigest()


def request_tid(msg) -> tuple[str, str]:
    """(tid, key) of the transaction a request starts or belongs to."""
    key = server_key(msg)
    return tid_of(key), key


def invite_tid(msg) -> tuple[str, str]:
    """(tid, key) of the INVITE transaction an ACK or CANCEL refers to."""
    key = server_key(msg, "INVITE")
    return tid_of(key), key


def our_branch(tid: str, index: int) -> str:
    return f"{MCOOKIE}{tid}.{index}"


def reply_tid(msg) -> tuple[str, int] | None:
    """(tid, branch index) from a reply's top Via when the branch is one of ours."""
    branch = msg.via1_branch  # straight from the scan: no Via object for a reply we relay
    if branch is None or len(branch) < len(MCOOKIE) + TID_LEN + 2 or not branch.startswith(MCOOKIE):
        return None
    tid = branch[len(MCOOKIE):len(MCOOKIE) + TID_LEN]
    if branch[len(MCOOKIE) + TID_LEN] != ".":
        return None
    idx = branch[len(MCOOKIE) + TID_LEN + 1:]
    if not (idx.isascii() and idx.isdigit()):  # "²".isdigit() is true, int("²") fails
        return None
    return tid, int(idx)


def is_cancel(msg) -> bool:
    return msg.method_id == METHOD_CANCEL


def is_ack(msg) -> bool:
    return msg.method_id == METHOD_ACK


def is_invite(msg) -> bool:
    return msg.method_id == METHOD_INVITE
