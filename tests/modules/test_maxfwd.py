"""maxfwd: add, decrement, cap, 0 -> -1, is_maxfwd_lt."""

from __future__ import annotations

import pytest
from kamapy_modules import maxfwd
from module_test_messages import header_lines, request, sent


@pytest.fixture(autouse=True)
def default_limit():
    maxfwd._limits["max_limit"] = 70
    yield


def mf_request(value):
    msg = request()
    text = msg.text.replace("Max-Forwards: 70\r\n", "" if value is None else f"Max-Forwards: {value}\r\n")
    return type(msg)(text.encode("latin-1"), msg.rcv)


def test_decrements():
    msg = mf_request(10)
    assert maxfwd.w_process_maxfwd(msg, 10) == 1
    assert header_lines(sent(msg), "Max-Forwards") == ["Max-Forwards:  9"]  # in place, as Kamailio
    assert maxfwd.w_is_maxfwd_lt(msg, 10) == 1
    assert maxfwd.w_is_maxfwd_lt(msg, 9) == -1


def test_adds_when_absent():
    msg = mf_request(None)
    assert maxfwd.w_process_maxfwd(msg, 10) == 2
    assert header_lines(sent(msg), "Max-Forwards") == ["Max-Forwards: 10"]
    assert sent(msg).split("\r\n")[1] == "Max-Forwards: 10"


def test_absent_twice_adds_twice_as_kamailio():
    # Kamailio 5.6.3 answers r=2/2 to two calls on a request without Max-Forwards
    msg = mf_request(None)
    assert maxfwd.w_process_maxfwd(msg, 10) == 2
    assert maxfwd.w_process_maxfwd(msg, 10) == 2
    assert maxfwd.w_is_maxfwd_lt(msg, 5) == -2  # the received message still has none


def test_zero_is_false():
    assert maxfwd.w_process_maxfwd(mf_request(0), 10) == -1


def test_capped_to_max_limit():
    msg = mf_request(200)
    assert maxfwd.w_process_maxfwd(msg, 10) == 1
    assert header_lines(sent(msg), "Max-Forwards") == ["Max-Forwards:  70"]  # " 70" over "200"


def test_twice_decrements_twice():
    msg = mf_request(5)
    maxfwd.w_process_maxfwd(msg, 10)
    maxfwd.w_process_maxfwd(msg, 10)
    assert header_lines(sent(msg), "Max-Forwards") == ["Max-Forwards: 3"]


def test_malformed_and_bad_param():
    assert maxfwd.w_process_maxfwd(mf_request("abc"), 10) == -2
    assert maxfwd.w_process_maxfwd(mf_request(5), 300) == -1
    assert maxfwd.w_is_maxfwd_lt(mf_request(None), 5) == -2
    assert maxfwd.w_is_maxfwd_lt(mf_request("x"), 5) == -3
