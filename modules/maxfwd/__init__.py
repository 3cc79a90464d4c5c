"""maxfwd: the Max-Forwards header (Kamailio: modules/maxfwd, RFC 3261 §16.6 step 3).

mf_process_maxfwd_header(max): no header -> add `Max-Forwards: max`, return 2;
value 0 -> return -1 (the config answers 483); otherwise decrement (a value above
max_limit is first lowered to it) and return 1; -2 on a malformed header.
Kamailio rewrites the value in the received buffer, so later reads see the new
value; here the value this message now carries is kept beside it (is_maxfwd_lt reads
it) and the header text is changed through a lump.
"""

from __future__ import annotations

import logging

from kamapy.module import BRANCH_ROUTE, FAILURE_ROUTE, REQUEST_ROUTE, Arg, Function, ModuleExports, Param
from kamapy.sip.lumps import ADD, DEL, Lump, insert_header, replace_range

log = logging.getLogger("kamapy.maxfwd")

VALUE_KEY = "maxfwd.value"   # the value after our change (int)
LUMP_KEY = "maxfwd.lump"     # the lump holding the new value text

_limits = {"max_limit": 70}

def _read(msg):
    """(value, raw value span): the Max-Forwards value -1 absent, -2 malformed
    (Kamailio's is_maxfwd_present); the span is None when the value is ours already.
    process_maxfwd() has this inlined (its hot path); is_maxfwd_lt and the tests use it."""
    data = msg.module_data
    if VALUE_KEY in data:
        return data[VALUE_KEY], None
    span = msg.hdr_value_span("max-forwards")  # one call, from the scan: no HeaderField made
    if span is None:
        return -1, None
    return _value(msg.text, span)


def _value(text, span):
    # the raw value stripped: the header's value wherever that can be digits (a fold
    # inside the digits leaves a blank in both)
    v = text[span[0]:span[1]].strip()
    if not v.isdigit() or not v.isascii() or len(v) > 5:
        log.error("unable to parse the max forwards number")
        return -2, None
    return int(v), span


def process_maxfwd(msg, limit: int) -> int:
    if limit < 0 or limit > 255:
        log.error("invalid param value: %d", limit)
        return -1
    data = msg.module_data
    if VALUE_KEY in data:  # _read(), inlined
        value, span = data[VALUE_KEY], None
    else:
        got = msg.maxfwd_digits()  # plain digits, as the scan found them: every relayed request
        if got:
            value, span = got
        elif got is None:
            value, span = -1, None
        else:
            span = msg.hdr_value_span("max-forwards")
            if span is None:
                value = -1
            else:  # _value(), inlined
                v = msg.text[span[0]:span[1]].strip()
                if not v.isdigit() or not v.isascii() or len(v) > 5:
                    log.error("unable to parse the max forwards number")
                    return -2
                value = int(v)
    if value == -1:
        # the added header is a lump, not part of the received message: a second call
        # finds the header still absent and adds another (Kamailio returns 2 again)
        insert_header(msg, f"Max-Forwards: {limit}", "max-forwards")
        return 2
    if value == 0:
        return -1
    max_limit = _limits["max_limit"]
    if max_limit and value > max_limit:
        log.debug("value %d decreased to %d", value, max_limit)
        value = max_limit + 1
    value -= 1
    data[VALUE_KEY] = value
    lump = data.get(LUMP_KEY)
    if lump is not None:  # called again: change the text we already put there
        lump.text = str(value).rjust(len(lump.text))
        return 1
    s, e = span if span is not None else msg.hdr_value_span("max-forwards")
    # Kamailio writes the new digits over the old ones, right-aligned, padded with
    # spaces: "300" lowered to 70 reads " 70", 10 decremented reads " 9"
    text = str(value).rjust(e - s)
    if msg.lumps is None:  # replace_range() on a message with no lump yet (the usual case)
        anchor = Lump(DEL, s, e - s, "", "max-forwards")
        data[LUMP_KEY] = anchor.after = Lump(ADD, s, 0, text, "max-forwards")
        msg.lumps = [anchor]
    else:
        data[LUMP_KEY] = replace_range(msg, s, e, text, "max-forwards")
    return 1


def is_maxfwd_lt(msg, limit: int) -> int:
    if limit < 0 or limit > 255:
        log.error("invalid param value: %d", limit)
        return -1
    value = _read(msg)[0]
    if value < 0:
        return value - 1   # -2 absent, -3 error
    return 1 if value < limit else -1


def w_process_maxfwd(msg, limit) -> int:
    # the config calls process_maxfwd itself: an igp argument is an int already
    return process_maxfwd(msg, int(limit))


def w_is_maxfwd_lt(msg, limit) -> int:
    return is_maxfwd_lt(msg, int(limit))


def _check_limit(value):
    if not 0 <= int(value) <= 255:
        raise ValueError("max_limit is 0..255")


def mod_init():
    _limits["max_limit"] = exports.param("max_limit")
    return 0


_LT_ROUTES = REQUEST_ROUTE | FAILURE_ROUTE | BRANCH_ROUTE

exports = ModuleExports(
    name="maxfwd",
    params=[Param("max_limit", int, 70, validate=_check_limit)],
    functions=[
        Function("mf_process_maxfwd_header", process_maxfwd, (Arg("igp"),), REQUEST_ROUTE),
        Function("maxfwd_process", process_maxfwd, (Arg("igp"),), REQUEST_ROUTE),
        Function("process_maxfwd", process_maxfwd, (Arg("igp"),), REQUEST_ROUTE),
        Function("is_maxfwd_lt", w_is_maxfwd_lt, (Arg("igp"),), _LT_ROUTES),
        Function("maxfwd_at_least", w_is_maxfwd_lt, (Arg("igp"),), _LT_ROUTES),
        Function("mf_lowlimit", w_is_maxfwd_lt, (Arg("igp"),), _LT_ROUTES),
    ],
    mod_init=mod_init,
    doc=__doc__,
)
