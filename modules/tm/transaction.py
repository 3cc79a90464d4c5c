"""A transaction as tm keeps it in shared memory (Kamailio: struct cell, h_table.h).

One record per transaction, in the shm table under its id (tid). It holds what any
process needs to carry the transaction on: the received request and where it came
from, what the script had set when it relayed (R-URI, $du, flags, AVPs, the route
names of t_on_failure/t_on_reply/t_on_branch), the replies sent upstream (the UAS
side), and one Branch per outgoing request (the UAC side) with the bytes sent, for
retransmission, CANCEL and ACK.

A record is packed with msgpack as a flat list (positional, no field names): that is
the cheapest form to pack and unpack, and one record is read and written whole per
state change.
"""

from __future__ import annotations

from _thread import get_ident as _get_ident

import msgpack

# transaction flags (Kamailio: T_* in h_table.h, the ones tm here acts on)
T_IS_INVITE = 1 << 0
T_CANCELED = 1 << 1          # a CANCEL for it was received
T_LOCAL_REPLY = 1 << 2       # the final reply upstream was generated here (t_reply)
T_ACKED = 1 << 3             # the ACK to a negative final reply came
T_IN_FAILURE = 1 << 4        # failure_route runs / ran for the current round
T_DISABLE_6XX = 1 << 5
T_NO_AUTO_100 = 1 << 6
T_DISABLE_INTERNAL_REPLY = 1 << 7
T_NOISY_CTIMER = 1 << 8
T_FORCED_WAIT = 1 << 9       # t_release / lifetime ended
T_2543 = 1 << 10             # the request had no RFC 3261 branch
T_NO_E2E_CANCEL_REASON = 1 << 11
T_ON_WAIT = 1 << 12           # counted in the "waiting" statistic
# the request's reply send flags (set_reply_no_connect/close; Kamailio's
# uas.response.dst.send_flags): SND_F_* << T_RPL_SND_SHIFT
T_RPL_SND_SHIFT = 13

# one Packer, reused (msgpack.packb makes one per call; same options, same bytes); a
# Packer keeps a buffer, so another thread than the importing one packs with packb
_pack = msgpack.Packer(use_bin_type=True).pack
_OWNER = _get_ident()

# branch flags (Kamailio: TM_UAC_FLAG_* and the branch's status)
B_REPLIED = 1 << 0           # any reply received on it
B_TIMEOUT = 1 << 1           # its final response timer fired
B_CANCEL_SENT = 1 << 2
B_CANCEL_REPLIED = 1 << 3
B_SEND_FAILED = 1 << 4       # never sent: counts as done, takes no part in picking
B_FINAL = 1 << 5             # a final reply (or a timeout) ended it
B_NO_CANCEL = 1 << 6         # nothing pending downstream to cancel
B_BLIND = 1 << 7             # a branch without a request (t_reply after failure...)
B_CANCEL_PENDING = 1 << 8   # to be CANCELed when its first provisional reply comes
# the branch's send flags (set_forward_no_connect/close; Kamailio's
# uac.request.dst.send_flags): SND_F_* << B_SND_SHIFT
B_SND_SHIFT = 9


def rpl_send_flags(t) -> int:
    return (t.flags >> T_RPL_SND_SHIFT) & 3


def fwd_send_flags(b) -> int:
    return (b.flags >> B_SND_SHIFT) & 3


class Branch:
    """One outgoing request of a transaction (Kamailio: struct ua_client)."""

    __slots__ = ("uri", "dst_uri", "path", "bflags", "proto", "ip", "port", "sock",
                 "buf", "code", "reason", "reply", "flags", "retr_due", "retr_ivl",
                 "fr_due", "cancel", "cancel_due", "cancel_ivl", "onreply", "cancel_end",
                 "instance", "ruid", "on_bf")

    def __init__(self, uri="", dst_uri=None, path=None, bflags=0, proto=1, ip="", port=5060,
                 sock=None, buf=b""):
        self.uri = uri
        self.dst_uri = dst_uri
        self.path = path
        self.bflags = bflags
        self.proto = proto
        self.ip = ip
        self.port = port
        self.sock = sock          # (local ip, local port) the request leaves from, or None
        self.buf = buf            # the request as sent (retransmissions, CANCEL, ACK)
        self.code = 0             # last reply code received (or 408 on timeout)
        self.reason = ""
        self.reply = None         # a final reply, ready to relay upstream
        self.flags = 0
        self.retr_due = 0.0       # next request retransmission (0: none)
        self.retr_ivl = 0.0
        self.fr_due = 0.0         # final response timeout (0: none)
        self.cancel = None        # the CANCEL sent on it (retransmitted until answered)
        self.cancel_due = 0.0
        self.cancel_ivl = 0.0
        self.onreply = ""         # onreply_route set for this branch (t_on_reply in branch_route)
        self.cancel_end = 0.0     # the CANCEL is retransmitted until then (its own fr_timer)
        self.instance = None      # +sip.instance of the contact (t_next_contact_flow)
        self.ruid = None          # usrloc ruid of the contact ($T_reply_ruid)
        self.on_bf = ""           # branch-failure route armed when the branch was made

    @property
    def pending(self) -> bool:
        """Still waiting for a final reply."""
        return not self.flags & (B_FINAL | B_SEND_FAILED)

    def to_list(self):
        return [self.uri, self.dst_uri, self.path, self.bflags, self.proto, self.ip, self.port,
                self.sock, self.buf, self.code, self.reason, self.reply, self.flags, self.retr_due,
                self.retr_ivl, self.fr_due, self.cancel, self.cancel_due, self.cancel_ivl,
                self.onreply, self.cancel_end, self.instance, self.ruid, self.on_bf]

    @classmethod
    def from_list(cls, v):
        b = cls.__new__(cls)
        (b.uri, b.dst_uri, b.path, b.bflags, b.proto, b.ip, b.port, b.sock, b.buf, b.code,
         b.reason, b.reply, b.flags, b.retr_due, b.retr_ivl, b.fr_due, b.cancel, b.cancel_due,
         b.cancel_ivl, b.onreply, b.cancel_end, b.instance, b.ruid, b.on_bf) = v
        return b


# pack()/unpack() map these over the branches: a list comprehension is a function call
# of its own in Python 3.11
_branch_list = Branch.to_list
_branch_of = Branch.from_list


class Transaction:
    """A transaction (Kamailio: struct cell). `tid` is its key in shm and the hex part
    of our Via branch; `skey` the server-matching key it was created from."""

    __slots__ = (
        "tid", "skey", "method", "flags", "created",
        # the request as received and where it came from
        "req", "req_lumped", "rcv", "rpl_dst",
        # script state saved at relay time (restored for failure_route / onreply_route)
        "new_uri", "dst_uri", "mflags", "bflags", "avps", "xavps",
        "on_failure", "on_reply", "on_branch", "on_branch_failure",
        # the UAS side: what was sent upstream
        "uas_code", "uas_buf", "uas_totag", "uas_retr_due", "uas_retr_ivl",
        # timers (seconds) and deadlines
        "fr", "fr_inv", "t1", "t2", "end_of_life", "wait_due", "due_reg",
        "branches", "relayed", "first_branch",
        # the Reason lines of the e2e CANCEL, for branches CANCELed later
        "cancel_reason",
        # callbacks of other modules, [types, name, param] each (callbacks.py)
        "cbs",
    )

    def __init__(self, tid: str, skey: str, method: str, flags: int = 0, created: float = 0.0):
        self.tid = tid
        self.skey = skey
        self.method = method
        self.flags = flags
        self.created = created
        self.req = b""
        self.req_lumped = None
        self.rcv = None           # [src_ip, src_port, dst_ip, dst_port, proto]
        self.rpl_dst = None       # [ip, port]: where replies upstream go
        self.new_uri = None
        self.dst_uri = None
        self.mflags = 0
        self.bflags = 0
        self.avps = None
        self.xavps = None
        self.on_failure = ""
        self.on_reply = ""
        self.on_branch = ""
        self.on_branch_failure = ""
        self.uas_code = 0
        self.uas_buf = None
        self.uas_totag = None
        self.uas_retr_due = 0.0
        self.uas_retr_ivl = 0.0
        self.fr = 0.0
        self.fr_inv = 0.0
        self.t1 = 0.0
        self.t2 = 0.0
        self.end_of_life = 0.0
        self.wait_due = 0.0
        self.due_reg = 0.0
        self.branches: list[Branch] = []
        self.relayed = -1         # branch whose reply was relayed as final, -2 local reply
        self.first_branch = 0     # first branch of the current forking round
        self.cancel_reason = None  # Reason lines of the received CANCEL (None: none came)
        self.cbs = None           # tm callbacks of other modules (callbacks.py)

    @property
    def is_invite(self) -> bool:
        return bool(self.flags & T_IS_INVITE)

    @property
    def completed(self) -> bool:
        """A final reply went upstream."""
        return self.uas_code >= 200

    def pending_branches(self) -> list[int]:
        return [i for i, b in enumerate(self.branches) if b.pending]

    # ------------------------------------------------------------------ timers
    def next_due(self) -> float:
        """The earliest moment the timer process must look at this transaction: the
        smallest of its set (non-zero) deadlines -- the UAS retransmission, the wait
        timer (else the end of life), each branch's retransmission, final-response and
        CANCEL timers -- or 0.0 when none is set. Asked on every save: no list made."""
        m = self.uas_retr_due
        w = self.wait_due
        if w:
            if not m or w < m:
                m = w
        else:
            w = self.end_of_life
            if w and (not m or w < m):
                m = w
        for b in self.branches:
            d = b.retr_due
            if d and (not m or d < m):
                m = d
            d = b.fr_due
            if d and (not m or d < m):
                m = d
            d = b.cancel_due
            if d and (not m or d < m):
                m = d
        return m or 0.0

    # ------------------------------------------------------------------ packing
    def pack(self) -> bytes:
        rec = [
            self.tid, self.skey, self.method, self.flags, self.created,
            self.req, self.req_lumped, self.rcv, self.rpl_dst,
            self.new_uri, self.dst_uri, self.mflags, self.bflags, self.avps, self.xavps,
            self.on_failure, self.on_reply, self.on_branch, self.on_branch_failure,
            self.uas_code, self.uas_buf, self.uas_totag, self.uas_retr_due, self.uas_retr_ivl,
            self.fr, self.fr_inv, self.t1, self.t2, self.end_of_life, self.wait_due, self.due_reg,
            list(map(_branch_list, self.branches)), self.relayed, self.first_branch,
            self.cancel_reason, self.cbs,
        ]
        if _get_ident() == _OWNER:
            return _pack(rec)
        return msgpack.packb(rec, use_bin_type=True)

    @classmethod
    def unpack(cls, data: bytes) -> Transaction:
        v = msgpack.unpackb(data, raw=False, strict_map_key=False)
        t = cls.__new__(cls)
        (t.tid, t.skey, t.method, t.flags, t.created,
         t.req, t.req_lumped, t.rcv, t.rpl_dst,
         t.new_uri, t.dst_uri, t.mflags, t.bflags, t.avps, t.xavps,
         t.on_failure, t.on_reply, t.on_branch, t.on_branch_failure,
         t.uas_code, t.uas_buf, t.uas_totag, t.uas_retr_due, t.uas_retr_ivl,
         t.fr, t.fr_inv, t.t1, t.t2, t.end_of_life, t.wait_due, t.due_reg,
         branches, t.relayed, t.first_branch, t.cancel_reason, t.cbs) = v
        t.branches = list(map(_branch_of, branches))
        return t

    def __repr__(self):
        return (f"<Transaction {self.tid} {self.method} uas={self.uas_code} "
                f"branches={[b.code for b in self.branches]}>")
