"""options_reply(): answer an OPTIONS addressed to the server itself (no user part in
the R-URI) with 200 and the Accept / Accept-Encoding / Accept-Language / Supported
headers from the modparams (Kamailio siputils options.c)."""

from __future__ import annotations

import logging

from kamapy.loader import BoundApi
from kamapy.sip.errors import SipParseError
from kamapy.sip.methods import METHOD_OPTIONS

log = logging.getLogger("kamapy.siputils")

OPTIONS = {"accept": "*/*", "accept_encoding": "", "accept_language": "en", "support": ""}


slb = BoundApi("sl")  # sl_load_api (siputils' mod_init binds it)


def _reply(msg, code, reason) -> int:
    return slb().freply(msg, code, reason)  # stateful when tm has a transaction


def options_reply(msg) -> int:
    if msg.method_id != METHOD_OPTIONS:
        log.error("called for non-OPTIONS request")
        return -1
    try:
        uri = msg.parsed_ruri
    except SipParseError:
        log.error("ERROR while parsing the R-URI")
        return -1
    if uri.user:
        log.error("ruri contains username")
        return -1
    if msg.reply_lumps is None:
        msg.reply_lumps = []
    msg.reply_lumps.append(
        f"Accept: {OPTIONS['accept']}\r\n"
        f"Accept-Encoding: {OPTIONS['accept_encoding']}\r\n"
        f"Accept-Language: {OPTIONS['accept_language']}\r\n"
        f"Supported: {OPTIONS['support']}\r\n")
    if _reply(msg, 200, "OK") < 0:
        log.error("failed to send 200 via send_reply")
        return -1
    return 1
