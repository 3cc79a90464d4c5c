"""process_maxfwd reads a plain Max-Forwards from the scan (SipMsg.maxfwd_digits,
kp_sipscan.h KP_SS_MF_S); the general reading (hdr_value_span, strip, digits) must give
the same return code, log and message on every spelling of the header."""

from __future__ import annotations

import itertools

import pytest
from kamapy_modules import maxfwd
from module_test_messages import request, sent

from kamapy.sip.msg import SipMsg

VALUES = ["70", "070", "0", "1", "10", "99999", "100000", "300", " 70", "70 ", "\t70", "7 0", "", "abc",
          "\xb2", "-1", "+5", "00000", "000000", "1e3"]
SPELLINGS = ["Max-Forwards: {v}\r\n", "Max-Forwards:{v}\r\n", "max-forwards:  {v}\r\n", "Max-Forwards: {v}\n",
             "MAX-FORWARDS : {v}\r\n", "Max-Forwards: {v}\r\n Max-Forwards: 3\r\n",
             "Max-Forwards: {v}\r\nMax-Forwards: 5\r\n", ""]


def _msg(line: str) -> SipMsg:
    base = request()
    text = base.text.replace("Max-Forwards: 70\r\n", line)
    return SipMsg(text.encode("latin-1"), base.rcv)


def _run(line, limit, general, monkeypatch, caplog):
    if general:
        monkeypatch.setattr(SipMsg, "maxfwd_digits", lambda self: False)
    else:
        monkeypatch.undo()
    caplog.clear()
    msg = _msg(line)
    try:
        rc = maxfwd.process_maxfwd(msg, limit)
        out = sent(msg)
    except Exception as e:  # noqa: BLE001 -- the same failure both ways
        rc, out = type(e).__name__, str(e)
    return rc, out, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("v,spelling", list(itertools.product(VALUES, SPELLINGS)))
@pytest.mark.parametrize("max_limit", [0, 16])
def test_fast_reading_is_the_general_one(v, spelling, max_limit, monkeypatch, caplog):
    maxfwd._limits["max_limit"] = max_limit
    line = spelling.format(v=v)
    general = _run(line, 10, True, monkeypatch, caplog)
    fast = _run(line, 10, False, monkeypatch, caplog)
    maxfwd._limits["max_limit"] = 70
    assert fast == general


def test_the_plain_case_is_read_from_the_scan():
    assert _msg("Max-Forwards: 70\r\n").maxfwd_digits()[0] == 70
    assert _msg("").maxfwd_digits() is None
    assert _msg("Max-Forwards: 7 0\r\n").maxfwd_digits() is False
