"""kp_fastcall.c's entry points against the same C functions called through cffi: the
scan gives the same int32s (or the same error code) for every message, however many
header lines it has, and the arguments are checked rather than trusted."""

import random

import pytest
from kamapy._native._kamapy_native import ffi, lib

from kamapy._native import fastcall


def cffi_scan(data: bytes):
    cap = lib.KP_SS_HDR + lib.KP_SS_HREC * (len(data) // 2 + 2)
    out = ffi.new("int32_t[]", cap)
    n = lib.kp_sip_scan(data, len(data), out, cap)
    return n if n < 0 else ffi.buffer(out, 4 * n)[:]


BASE = (b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h:5060;branch=z9hG4bK1;rport\r\n"
        b"From: <sip:x@y>;tag=1\r\nTo: \"B\" <sip:a@b>\r\nCall-ID: c1@h\r\nCSeq: 7 INVITE\r\n"
        b"Max-Forwards: 70\r\nContact: <sip:x@h>\r\nContent-Length: 4\r\n\r\nbody")


def variants():
    yield BASE
    yield BASE.replace(b"\r\n", b"\n")
    yield b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2, SIP/2.0/UDP g\r\nTo: <sip:a@b>;tag=t\r\n\r\n"
    yield b"NOT SIP AT ALL"                       # no end of first line
    yield b"SIP/2.0 abc Bad\r\n\r\n"              # bad status line
    yield b"INVITE\r\n\r\n"                       # bad request line
    yield b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n folded\r\n\r\n"
    # more header lines than a fixed buffer would hold (the cffi callers used to rescan)
    yield b"OPTIONS sip:a SIP/2.0\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(3000)) + b"\r\n"
    yield b"OPTIONS sip:a SIP/2.0\r\n" + b"a:\n" * 20000 + b"\n"  # the most lines 64 KB holds
    rnd = random.Random(7)
    for _ in range(300):
        b = bytearray(BASE)
        for _ in range(rnd.randrange(1, 6)):
            i = rnd.randrange(len(b))
            op = rnd.randrange(3)
            if op == 0:
                b[i] = rnd.choice(b" \t\r\n:;,<>\"=\x00\x80abc5")
            elif op == 1:
                del b[i]
            else:
                b[i:i] = bytes([rnd.randrange(256)])
        yield bytes(b)


@pytest.mark.parametrize("data", list(variants()))
def test_scan_same_as_through_cffi(data):
    got = fastcall.scan(data)
    assert got == cffi_scan(data)
    assert got.__class__ is (int if isinstance(cffi_scan(data), int) else bytes)


def test_arguments_are_checked():
    with pytest.raises(TypeError):
        fastcall.scan("text, not bytes")
    with pytest.raises(TypeError):
        fastcall.scan()
    with pytest.raises(TypeError):
        fastcall.scan(BASE, BASE)
    with pytest.raises(TypeError):
        fastcall.sl_reply_send(1, 4, BASE)
    sc = fastcall.scan(BASE)
    with pytest.raises(OverflowError):  # an int past int32 is refused, not truncated
        fastcall.sl_reply_send(-1, 4, BASE, sc, 1 << 40, b"OK", b"p.", b"127.0.0.1", 5060, 0, b"", b"", b"")
    with pytest.raises(TypeError):  # the prefix, server and body are bytes only
        fastcall.sl_reply_send(-1, 4, BASE, sc, 200, "OK", "p.", b"127.0.0.1", 5060, 0, b"", b"", b"")
    with pytest.raises(TypeError):  # reason, ip and extra: str or bytes, nothing else
        fastcall.sl_reply_send(-1, 4, BASE, sc, 200, 7, b"p.", b"127.0.0.1", 5060, 0, b"", b"", b"")


@pytest.mark.parametrize("reason,ip,extra", [
    ("Não", "127.0.0.1", ""), ("OK", "127.0.0.1", "X-A: ü\r\n"), ("OK\udcff", "127.0.0.1", ""),
])
def test_text_that_is_not_ascii_is_handed_back(reason, ip, extra):
    """A str the reply would copy as latin-1 goes in as is only when it is ASCII (its
    UTF-8 bytes are then the latin-1 ones); any other text -- latin-1 beyond ASCII, a
    lone surrogate -- comes back as KP_SR_FALLBACK before anything is sent (fd -1
    would fail the sendto), for Python to encode."""
    sc = fastcall.scan(BASE)
    assert fastcall.sl_reply_send(-1, 4, BASE, sc, 200, reason, b"p.", ip, 5060, 0, extra, b"", b"") \
        == lib.KP_SR_FALLBACK


def test_ascii_str_and_bytes_are_the_same_arguments():
    import errno
    sc = fastcall.scan(BASE)
    for args in (("OK", "127.0.0.1", "X-A: 1\r\n"), (b"OK", b"127.0.0.1", b"X-A: 1\r\n")):
        r, ip, extra = args
        assert fastcall.sl_reply_send(-1, 4, BASE, sc, 200, r, b"p.", ip, 5060, 0, extra, b"", b"") \
            == lib.KP_SR_ESEND - errno.EBADF


def test_a_failed_sendto_comes_back_as_its_errno():
    """fd -1: sendto fails with EBADF, returned as KP_SR_ESEND - errno (nothing raised)."""
    import errno
    sc = fastcall.scan(BASE)
    n = fastcall.sl_reply_send(-1, 4, BASE, sc, 200, b"OK", b"p.", b"127.0.0.1", 5060, 0, b"", b"", b"")
    assert n == lib.KP_SR_ESEND - errno.EBADF


def test_reg_refresh_refuses_short_number_blocks():
    """kp_reg_refresh reads its two number blocks whole: a short one is refused before
    the call (the C side would read past its end); the pointers are never touched."""
    with pytest.raises(ValueError):
        fastcall.reg_refresh(1, 1, b"k", b"\0" * 8, BASE, b"", b"", b"\0" * 8 * lib.KP_RN_NARGS, 1, 1, 1)
    with pytest.raises(ValueError):
        fastcall.reg_refresh(1, 1, b"k", b"\0" * 8 * lib.KP_UN_NARGS, BASE, b"", b"", b"\0" * 8, 1, 1, 1)
    with pytest.raises(TypeError):
        fastcall.reg_refresh(1, 1, b"k")
