"""The dialog state machine as a table (Kamailio: dlg_hash.c next_state_dlg).

States and events carry Kamailio's numbers ($DLG_status, dlg.list "state"). A
(state, event) pair missing from TRANSITIONS is a bogus event: the state stays and it
is logged, as Kamailio does.
"""

from __future__ import annotations

UNCONFIRMED = 1
EARLY = 2
CONFIRMED_NA = 3      # 2xx relayed, no ACK yet
CONFIRMED = 4
DELETED = 5

EV_TDEL = 1           # the INVITE transaction ended without a 2xx
EV_RPL1XX = 2
EV_RPL2XX = 3
EV_RPL3XX = 4         # any negative final reply
EV_REQPRACK = 5
EV_REQACK = 6
EV_REQBYE = 7
EV_REQ = 8            # any other in-dialog request
EV_TIMEOUT = 9        # kamapy's name for the timer's end of a dialog (Kamailio feeds REQBYE)

_ALIVE = (UNCONFIRMED, EARLY, CONFIRMED_NA, CONFIRMED)

TRANSITIONS: dict[tuple[int, int], int] = {
    (UNCONFIRMED, EV_TDEL): DELETED,
    (EARLY, EV_TDEL): DELETED,
    (CONFIRMED_NA, EV_TDEL): CONFIRMED_NA,
    (CONFIRMED, EV_TDEL): CONFIRMED,
    (UNCONFIRMED, EV_RPL1XX): EARLY,
    (EARLY, EV_RPL1XX): EARLY,
    (UNCONFIRMED, EV_RPL3XX): DELETED,
    (EARLY, EV_RPL3XX): DELETED,
    (UNCONFIRMED, EV_RPL2XX): CONFIRMED_NA,
    (EARLY, EV_RPL2XX): CONFIRMED_NA,
    (CONFIRMED_NA, EV_RPL2XX): CONFIRMED_NA,   # a retransmitted 2xx, another branch's 2xx
    (CONFIRMED, EV_RPL2XX): CONFIRMED,
    (CONFIRMED_NA, EV_REQACK): CONFIRMED,
    (CONFIRMED, EV_REQACK): CONFIRMED,
    (EARLY, EV_REQPRACK): EARLY,
    (CONFIRMED_NA, EV_REQPRACK): CONFIRMED_NA,
    (CONFIRMED, EV_REQPRACK): CONFIRMED,
    (CONFIRMED_NA, EV_REQBYE): DELETED,
    (CONFIRMED, EV_REQBYE): DELETED,
    (EARLY, EV_REQ): EARLY,
    (CONFIRMED_NA, EV_REQ): CONFIRMED_NA,
    (CONFIRMED, EV_REQ): CONFIRMED,
    **{(s, EV_TIMEOUT): DELETED for s in _ALIVE},
}


def next_state(state: int, event: int) -> int | None:
    """The state after event, or None when the event makes no sense in this state."""
    return TRANSITIONS.get((state, event))


def reply_event(code: int) -> int:
    if code < 200:
        return EV_RPL1XX
    if code < 300:
        return EV_RPL2XX
    return EV_RPL3XX


def request_event(method: str) -> int:
    return {"ACK": EV_REQACK, "BYE": EV_REQBYE, "PRACK": EV_REQPRACK}.get(method, EV_REQ)
