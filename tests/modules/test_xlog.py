"""xlog: levels (names, numbers, $pv), formats with PVs, the debug= filter."""

from __future__ import annotations

import logging

import pytest
from kamapy_modules import xlog
from kamapy_modules.xlog.levels import parse_level
from module_test_messages import request

from kamapy.log import NOTICE
from kamapy.pv import compile_format, parse_pv


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG, logger="kamapy_modules.xlog")
    return caplog


def arg(text):
    return xlog.XlogArg(text)


def test_default_level_is_error_and_format_is_printed(logs):
    assert xlog.xlog(request(), arg("method $rm from $fu\n")) == 1
    rec = logs.records[-1]
    assert rec.levelno == logging.ERROR
    assert rec.getMessage() == "<script>: method INVITE from sip:alice@example.org"


def test_named_and_pv_levels(logs):
    msg = request()
    xlog.xlog(msg, arg("L_INFO"), arg("info line"))
    assert logs.records[-1].levelno == logging.INFO
    parse_pv("$var(lvl)").set(msg, 1)
    xlog.xlog(msg, arg("$var(lvl)"), arg("notice line"))
    assert logs.records[-1].levelno == NOTICE
    xlog.xlog(msg, arg("LOG_LOCAL3"), arg("L_WARN"), arg("with facility"))
    assert logs.records[-1].levelno == logging.WARNING
    assert logs.records[-1].syslog_facility is not None


def test_fixed_level_functions(logs):
    handler = xlog.exports.function("xdbg").handler
    handler(request(), compile_format("dbg $ci"))
    assert logs.records[-1].levelno == logging.DEBUG
    assert logs.records[-1].getMessage().endswith("3848276298220188511@198.51.100.7")


def test_filtered_by_debug_level(caplog):
    caplog.set_level(logging.WARNING, logger="kamapy_modules.xlog")
    xlog.exports.function("xinfo").handler(request(), "hidden")
    assert not [r for r in caplog.records if "hidden" in r.getMessage()]


def test_bad_level():
    with pytest.raises(ValueError):
        parse_level("LOUD")
    assert xlog.xlog(request(), arg("LOUD"), arg("x")) == -1


def test_xlogm_skips_filtered_methods(logs):
    xlog.cfg.methods_filter = 1  # INVITE
    try:
        xlog.xlogm(request(), parse_level("L_ERR"), "skipped")
        xlog.xlogm(request("BYE"), parse_level("L_ERR"), "kept")
    finally:
        xlog.cfg.methods_filter = -1
    texts = [r.getMessage() for r in logs.records]
    assert any("kept" in t for t in texts) and not any("skipped" in t for t in texts)
