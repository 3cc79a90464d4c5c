"""kex and corex: debug level, pv_printf, is_myhost, xflags, file_read/write."""

from __future__ import annotations

import logging

import pytest
from kamapy_modules import corex, kex
from module_test_messages import PROXY_IP, request, use_sockets

from kamapy.pv import parse_pv
from kamapy.runtime import rt


def test_setdebug_and_reset():
    root = logging.getLogger("kamapy")
    before = root.level
    try:
        kex.setdebug(request(), 3)
        assert root.level == logging.DEBUG
        kex.resetdebug(request())
        assert root.level != logging.DEBUG or before == logging.DEBUG
    finally:
        root.setLevel(before)
        logging.getLogger("kamapy_modules").setLevel(before)


def test_pv_printf_and_is_myhost():
    msg = request()
    target = parse_pv("$var(out)")
    assert kex.pv_printf(msg, target, "x-INVITE") == 1
    assert target.get(msg) == "x-INVITE"
    old = rt.sockets
    use_sockets(("udp", PROXY_IP, 5060))
    try:
        assert kex.is_myhost(msg, f"sip:{PROXY_IP}:9999") == 1
        assert kex.is_myhost(msg, "sip:other.example.net") == -1
    finally:
        rt.sockets = old


def test_xflags():
    msg = request()
    assert corex.isxflagset(msg, 40) == -1
    corex.setxflag(msg, 40)
    assert corex.isxflagset(msg, 40) == 1
    corex.resetxflag(msg, 40)
    assert corex.isxflagset(msg, 40) == -1
    with pytest.raises(ValueError):
        corex._flag(64)


def test_file_read_write(tmp_path):
    msg = request()
    path = str(tmp_path / "f.txt")
    assert corex.file_write(msg, path, "hello") == 1
    out = parse_pv("$var(f)")
    assert corex.file_read(msg, path, out) == 1
    assert out.get(msg) == "hello"
    assert corex.file_read(msg, str(tmp_path / "none"), out) == -1
