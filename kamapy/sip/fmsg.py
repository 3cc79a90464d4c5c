"""The faked request event routes and timer routes run on when no SIP message is at
hand (Kamailio's core fmsg.c builds the same OPTIONS): dialog's, htable's, dispatcher's,
registrar's and uac's event routes all start from it."""

from __future__ import annotations

from kamapy.sip.msg import RecvInfo, SipMsg

FAKED_MSG = (b"OPTIONS sip:you@kamailio.org SIP/2.0\r\n"
             b"Via: SIP/2.0/UDP 127.0.0.1\r\n"
             b"From: <sip:you@kamailio.org>;tag=notag\r\n"
             b"To: <sip:you@kamailio.org>;tag=notag\r\n"
             b"Call-ID: 1\r\n"
             b"CSeq: 1 OPTIONS\r\n"
             b"Content-Length: 0\r\n\r\n")


def faked_msg(**kw) -> SipMsg:
    """A fresh SipMsg of FAKED_MSG (kw: SipMsg's own, e.g. msg_id)."""
    return SipMsg(FAKED_MSG, RecvInfo(), **kw)


_counter = {"id": 0}


def next_faked_msg() -> SipMsg:
    """faked_msg() with a new msg_id each time (Kamailio's faked_msg_next): what every
    event and timer route runs on (dialog, dispatcher, htable, registrar, uac), so a
    route tells one run from the next by $mi. The id is a C unsigned int there, counted
    per process, wrapping past 0."""
    n = _counter["id"] + 1
    if n > 0xFFFFFFFF:
        n = 1
    _counter["id"] = n
    return faked_msg(msg_id=n)
