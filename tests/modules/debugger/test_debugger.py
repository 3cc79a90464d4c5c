"""debugger: per-module log levels set over kamcmd reach every worker; the trace
switches in dbg.ls; breakpoints refused."""

from __future__ import annotations

import re

import pytest

from tests.modules.ctl.servers import KAMCMD, out, start
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.skipif(KAMCMD is None, reason="kamcmd is not installed")

EXTRA = 'loadmodule "debugger.so"'
PARAMS = """modparam("debugger", "cfgtrace", 1)
modparam("debugger", "log_level_name", "exec")
modparam("debugger", "mod_hash_size", 4)
modparam("debugger", "mod_level_mode", 1)
modparam("debugger", "mod_level", "registrar=2")"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start("kamapy", tmp_path_factory.mktemp("dbg"), extra_modules=EXTRA, extra_params=PARAMS, children=2)
    yield s
    s.stop()
    s.tmp.cleanup()


def _options(srv, n):
    for _ in range(n):
        with SipClient(("127.0.0.1", srv.port)) as c:
            assert status_of(c.request(c.options())) == 404


def test_cfgtrace_logs_each_action_until_turned_off(srv):
    _options(srv, 2)
    lines = re.findall(r"ERROR: \*\*\* cfgtrace:dbg_cfg_trace\(\): (.*)", srv.log())
    cfg = str(srv.cfg_path)
    text = srv.cfg_path.read_text().splitlines()
    l_if = next(i for i, t in enumerate(text, 1) if t.strip().startswith("if ($rm"))
    assert f"request_route=[DEFAULT_ROUTE] c=[{cfg}] l={l_if} a=16 n=if" in lines
    assert f"request_route=[DEFAULT_ROUTE] c=[{cfg}] l={l_if + 2} a=26 n=sl_send_reply" in lines
    assert out(srv.unix, "dbg.trace", "off") == "200 ok\n"
    before = srv.log().count("cfgtrace:")
    _options(srv, 4)
    assert srv.log().count("cfgtrace:") == before


def test_mod_level_for_xlog_hides_and_shows_its_lines(srv):
    assert out(srv.unix, "dbg.get_mod_level", "registrar") == "2\n"
    assert out(srv.unix, "dbg.get_mod_level", "tm") == "2\n"          # the core's debug
    before = srv.log().count("gw=")
    assert out(srv.unix, "dbg.set_mod_level", "xlog", 1) == "200 ok\n"
    _options(srv, 6)
    assert srv.log().count("gw=") == before
    assert out(srv.tcp, "cfg.set_now_int", "dbg", "mod_level_mode", 0) == ""
    _options(srv, 6)
    assert srv.log().count("gw=") == before + 6


def test_trace_switches_and_ls(srv):
    rows = out(srv.unix, "dbg.ls")
    assert "\tset: 0\n" in rows and "\tentry: 0\n" in rows
    assert out(srv.unix, "dbg.trace", "on") == "200 ok\n"
    assert "\tset: 0\n" not in out(srv.unix, "dbg.ls")
    assert out(srv.unix, "dbg.trace", "off") == "200 ok\n"
    assert out(srv.unix, "dbg.trace", "bogus") == "error: 500 - Unknown trace command\n"
    assert out(srv.unix, "dbg.ls", 1) == "error: 500 - No such pid\n"


def test_breakpoints_are_refused(srv):
    assert out(srv.unix, "dbg.bp", "on").startswith("error: 500 - breakpoints are not supported")
