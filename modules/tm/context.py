"""The transaction the current script run works on (Kamailio's global T and the
per-message "user" settings t_on_failure/t_set_fr leave for a transaction not
created yet).

A process handles one message at a time, so this is a process global. It is tied
to the message object it was set for: a function called for another message sees
no transaction (that replaces Kamailio's reset of T before each message).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Pending:
    """What the script set before a transaction existed (Kamailio: user_* / goto_on_*)."""

    on_failure: str = ""
    on_reply: str = ""
    on_branch: str = ""
    on_branch_failure: str = ""
    fr: float = 0.0
    fr_inv: float = 0.0
    t1: float = 0.0
    t2: float = 0.0
    inv_lifetime: float = 0.0
    noninv_lifetime: float = 0.0
    flags_set: int = 0
    flags_reset: int = 0


NOT_HELD = -1   # Current.lock: the transaction is in shm and this process holds no lock
OWNED = -2      # Current.lock: the transaction is new, in this process only (not stored yet)


class Current:
    __slots__ = ("msg", "txn", "lock", "pending", "route", "branch", "reply", "reply_code",
                 "precheck_key", "searched", "delayed_error")

    def __init__(self):
        self.msg = None
        self.txn = None        # the Transaction, or None
        self.lock = NOT_HELD   # index of its REPLY_LOCK while this process holds it, or OWNED
        self.pending = None
        self.route = 0         # route type tm runs the script in (failure, onreply, branch)
        self.branch = -1       # branch index of the reply/branch being handled ($T_branch_idx)
        self.reply = None      # the reply being handled (onreply) or chosen (failure)
        self.reply_code = 0
        self.precheck_key = None
        self.searched = False  # a lookup ran for msg and found nothing (T_UNDEFINED vs NULL)
        self.delayed_error = 0  # a failed t_relay's error, replied at the end of the script

    def reset(self, msg):
        self.msg = msg
        self.txn = None
        self.lock = NOT_HELD
        self.pending = None
        self.route = 0
        self.branch = -1
        self.reply = None
        self.reply_code = 0
        self.precheck_key = None
        self.searched = False
        self.delayed_error = 0


cur = Current()


def for_msg(msg) -> Current:
    """The context for msg, reset when msg is a new message."""
    c = cur
    if c.msg is not msg:
        c.reset(msg)
    return c


def txn_of(msg):
    """The transaction set for msg, or None."""
    c = cur
    return c.txn if c.msg is msg else None


def pending_of(msg) -> Pending:
    c = for_msg(msg)
    if c.pending is None:
        c.pending = Pending()
    return c.pending


def t_gett(msg):
    """Kamailio's t_gett() for a module: the transaction the script works on for msg --
    the request's, or in onreply_route the one the reply belongs to; None if none."""
    c = cur
    return c.txn if c.msg is msg or (c.reply is msg and msg is not None) else None


def t_picked(msg) -> tuple[int, object]:
    """(branch index, reply) failure_route / onreply_route handles for msg (Kamailio's
    t_get_picked_branch and that branch's reply: a SipMsg, its text, or None);
    (-1, None) when msg is not the message of this run."""
    c = cur
    if c.msg is not msg:
        return -1, None
    return c.branch, c.reply
