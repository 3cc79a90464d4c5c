"""modules/stun/binding.py without sockets: each case's answer read back field by field
(the wire test compares the same cases with Kamailio 5.6.3)."""

from __future__ import annotations

import random
import struct

import pytest
from kamapy_modules.stun.binding import answer

from .messages import CASES, TID, attr, request
from .stun_reply import attrs, error_code, header, mapped

SOFT = b"Server: kamapy"


def test_binding_rfc5389_xor_mapped_address_and_software():
    out = answer(request(), "192.0.2.7", 40000, SOFT)
    t, n, cookie, tid = header(out)
    assert (t, cookie, tid) == (0x0101, b"\x21\x12\xa4\x42", TID)
    assert n == len(out) - 20
    got = attrs(out[20:])
    assert [a for a, _ in got] == [0x0020, 0x8022]
    assert mapped(got[0][1], tid, xor=True) == ("192.0.2.7", 40000)
    assert got[0][1] != bytes.fromhex("0001") + struct.pack("!H", 40000) + bytes([192, 0, 2, 7])
    assert got[1][1] == SOFT


def test_binding_rfc3489_plain_mapped_address_no_software():
    out = answer(request(cookie=False), "192.0.2.7", 40000, SOFT)
    assert out == (bytes.fromhex("0101000c") + b"WXYZ" + TID
                   + bytes.fromhex("00010008" "0001") + struct.pack("!H", 40000) + bytes([192, 0, 2, 7]))


def test_ipv6_xor_uses_cookie_and_transaction_id():
    out = answer(request(), "2001:db8::1", 5062, SOFT)
    (t, v), _ = attrs(out[20:])
    assert t == 0x0020 and len(v) == 20 and v[1] == 2
    assert mapped(v, TID, xor=True) == ("2001:db8::1", 5062)
    out = answer(request(cookie=False), "2001:db8::1", 5062, SOFT)
    (t, v), = attrs(out[20:])
    assert t == 0x0001 and mapped(v, TID, xor=False) == ("2001:db8::1", 5062)


@pytest.mark.parametrize("name", [n for n, (_, want) in CASES.items() if isinstance(want, int)])
def test_error_answers(name):
    data, want = CASES[name]
    out = answer(data, "127.0.0.1", 5000, SOFT)
    t, n, _, _ = header(out)
    assert t == 0x0111 and n == len(out) - 20 and n % 4 == 0
    got = dict(attrs(out[20:]))
    assert error_code(got[0x0009])[0] == want
    assert (0x8022 in got) == (data[4:8] == b"\x21\x12\xa4\x42")


def test_unknown_attributes_listed_and_padded_to_a_word():
    out = answer(request(attrs=attr(0x0033, b"") + attr(0x0044, b"") + attr(0x0055, b"")),
                 "127.0.0.1", 5000, SOFT)
    got = dict(attrs(out[20:]))
    assert error_code(got[0x0009]) == (420, b"Unknown Attribute")
    assert got[0x000A] == bytes.fromhex("0033004400550033")  # the odd one out repeated
    one = dict(attrs(answer(request(attrs=attr(0x0033, b"x")), "127.0.0.1", 5000, SOFT)[20:]))
    assert one[0x000A] == bytes.fromhex("00330033")


@pytest.mark.parametrize("name", [n for n, (_, want) in CASES.items() if want is None])
def test_no_answer_to_short_messages(name):
    data, _ = CASES[name]
    if data[:1] == b"\x00" or not data:
        assert answer(data, "127.0.0.1", 5000, SOFT) is None


def test_random_bytes_never_raise():
    rnd = random.Random(5626)
    for _ in range(5000):
        n = rnd.randrange(0, 120)
        data = b"\x00" + bytes(rnd.randrange(256) for _ in range(n))
        if rnd.random() < 0.5 and len(data) >= 4:
            data = data[:2] + struct.pack("!H", max(0, len(data) - 20)) + data[4:]
        out = answer(data, "127.0.0.1", 5000, SOFT)
        if out is not None:
            assert len(out) >= 20 and struct.unpack_from("!H", out, 2)[0] == len(out) - 20
