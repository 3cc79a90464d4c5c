"""The stream framer (kamapy.net.tcp_framing): Content-Length framing, CRLF ping and
pong, the size bound -- cut at every byte boundary and at random ones."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamapy.net.tcp_framing import MSG, PING, Framer, FramingError


def sip(n: int, body: bytes = b"", cl_name: str = "Content-Length") -> bytes:
    return (b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK%d\r\nCSeq: %d OPTIONS\r\n"
            b"%s: %d\r\n\r\n" % (n, n, cl_name.encode(), len(body))) + body


STREAM = [(b"\r\n\r\n", (PING, b"")), (sip(1), (MSG, sip(1))), (b"\r\n", None),
          (sip(2, b"v=0\r\n\r\n", "l"), (MSG, sip(2, b"v=0\r\n\r\n", "l"))),
          (b"\r\n\r\n", (PING, b"")), (sip(3, b"x" * 50), (MSG, sip(3, b"x" * 50)))]
DATA = b"".join(d for d, _ in STREAM)
EXPECTED = [e for _, e in STREAM if e is not None]


def feed_chunks(chunks, max_size=4096):
    f = Framer(max_size)
    out = []
    for c in chunks:
        out += f.feed(c)
    return out, f


def test_whole_stream_at_once():
    out, f = feed_chunks([DATA])
    assert out == EXPECTED and f.pending == 0


@pytest.mark.parametrize("cut", range(1, len(DATA)))
def test_every_two_piece_cut(cut):
    assert feed_chunks([DATA[:cut], DATA[cut:]])[0] == EXPECTED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(DATA)), min_size=1, max_size=30))
def test_random_cuts(cuts):
    chunks, pos = [], 0
    for c in sorted(set(cuts)):
        chunks.append(DATA[pos:c])
        pos = c
    chunks.append(DATA[pos:])
    assert feed_chunks(chunks)[0] == EXPECTED


def test_one_byte_at_a_time():
    assert feed_chunks([DATA[i:i + 1] for i in range(len(DATA))])[0] == EXPECTED


def test_errors():
    with pytest.raises(FramingError, match="no Content-Length"):
        Framer().feed(b"OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n")
    assert Framer(accept_no_cl=True).feed(b"OPTIONS sip:x SIP/2.0\r\n\r\n") == [
        (MSG, b"OPTIONS sip:x SIP/2.0\r\n\r\n")]
    with pytest.raises(FramingError, match="bad Content-Length"):
        Framer().feed(b"OPTIONS sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n")
    with pytest.raises(FramingError, match="no end of headers within 1000"):
        Framer(1000).feed(b"X" * 1000)
    with pytest.raises(FramingError, match="larger than the read buffer"):
        Framer(1000).feed(b"A\r\nContent-Length: 5000\r\n\r\n")
    f = Framer(1000)
    assert f.feed(b"A\r\nContent-Length: 5\r\n\r\nab") == [] and f.in_body
