"""The "last error" a function leaves for sl_reply_error() (Kamailio: error.c, ser_error).

Functions that fail in a way the caller may want to answer set it with set_error();
sl_reply_error() turns it into a status code and phrase like Kamailio's err2reason_phrase.
"""

E_OK = 0
E_UNSPEC = -1
E_OUT_OF_MEM = -2
E_BAD_RE = -3
E_BUG = -5
E_CFG = -6
E_NO_SOCKET = -7
E_BAD_VIA = -8
E_BAD_TUPEL = -9
E_SCRIPT = -10
E_EXEC = -11
E_TOO_MANY_BRANCHES = -12
E_BAD_TO = -13
E_INVALID_PARAMS = -14
E_Q_INV_CHAR = -15
E_Q_EMPTY = -16
E_Q_TOO_BIG = -17
E_Q_DEC_MISSING = -18
E_DROP = -19
E_UNEXPECTED_STATE = -20
E_SEND = -477
E_BAD_ADDRESS = -478
E_BAD_URI = -479
E_BAD_PROTO = -480
E_BAD_REQ = -400
E_CANCELED = -487
E_BAD_SERVER = -500

_PHRASES = {
    E_SEND: (477, "Unfortunately error on sending to next hop occurred"),
    E_BAD_ADDRESS: (478, "Unresolvable destination"),
    E_BAD_REQ: (400, "Bad Request"),
    E_BAD_URI: (479, "Regretfully, we were not able to process the URI"),
    E_BAD_TUPEL: (400, "Transaction tuple incomplete"),
    E_BAD_TO: (400, "Bad To"),
    E_EXEC: (500, "Error in external logic"),
    E_TOO_MANY_BRANCHES: (500, "Forking capacity exceeded"),
    E_Q_INV_CHAR: (400, "Invalid character in q parameter"),
    E_Q_EMPTY: (400, "Empty q parameter"),
    E_Q_TOO_BIG: (400, "Q parameter too big"),
    E_Q_DEC_MISSING: (400, "Decimal part missing in q"),
    E_CANCELED: (487, "Transaction canceled"),
    E_OUT_OF_MEM: (500, "Message processing error"),
    E_UNEXPECTED_STATE: (500, "Internal processing error"),
    E_OK: (500, "No error"),
}

_last = [E_OK]


def set_error(err: int):
    _last[0] = err


def reset():
    """A new message: no function has said anything yet. Kamailio resets ser_error to
    E_UNSPEC before every action, so sl_reply_error() after a function that failed
    without naming an error answers "500 I'm terribly sorry, server error occurred
    (1/SL)"; here it is reset per message (an error set earlier in the same route
    stays until the next one is set)."""
    _last[0] = E_UNSPEC


def last_error() -> int:
    return _last[0]


def err2reason(err: int, signature: str = "SL") -> tuple[int, str]:
    code, text = _PHRASES.get(err, (500, "I'm terribly sorry, server error occurred"))
    return code, f"{text} ({-err}/{signature})"
