"""cfg_rpc: a change made over ctl reaches every worker (shared memory): the
registrar's default_expires in REGISTER replies, core.debug in the log, a config's
own variable through $sel(cfg_get.pstn.gw_ip); delayed changes and commit."""

from __future__ import annotations

import re
import time

import pytest

from tests.modules.ctl.servers import KAMCMD, out, start
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.skipif(KAMCMD is None, reason="kamcmd is not installed")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start("kamapy", tmp_path_factory.mktemp("cfgrpc"), children=3)
    yield s
    s.stop()
    s.tmp.cleanup()


def register_expires(srv, n: int, user: str) -> set[str]:
    """The expires= of the contacts in n REGISTER replies without an Expires asked for
    (each from a new source port, so the kernel hands them to various workers)."""
    seen = set()
    for i in range(n):
        with SipClient(("127.0.0.1", srv.port)) as c:
            msg = (f"REGISTER sip:127.0.0.1:{srv.port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bK-cfg-{i}-{time.time_ns()}\r\n"
                   f"Max-Forwards: 70\r\nFrom: <sip:{user}{i}@127.0.0.1>;tag=c{i}\r\nTo: <sip:{user}{i}@127.0.0.1>\r\n"
                   f"Call-ID: cfg-{i}-{time.time_ns()}@test\r\nCSeq: 1 REGISTER\r\n"
                   f"Contact: <sip:{user}{i}@127.0.0.1:{5000 + i}>\r\nContent-Length: 0\r\n\r\n").encode()
            reply = c.request(msg)
        assert status_of(reply) == 200, reply
        seen.update(re.findall(rb"expires=(\d+)", reply))
    return {s.decode() for s in seen}


def worker_pids_logging(srv, pattern: str) -> set[str]:
    return set(re.findall(r"\d+\((\d+)\) [A-Z]+: .*" + pattern, srv.log()))


def test_default_expires_change_reaches_every_worker(srv):
    assert register_expires(srv, 3, "before") == {"3600"}
    assert out(srv.unix, "cfg.seti", "registrar", "default_expires", 321) == ""
    assert register_expires(srv, 9, "after") == {"321"}
    _options(srv, 4)
    assert re.findall(r"de=(\d+)", srv.log())[-4:] == ["321"] * 4
    assert out(srv.unix, "cfg.reset", "registrar") == ""
    assert out(srv.tcp, "cfg.get", "registrar", "default_expires") == "3600\n"


def test_script_variable_through_sel(srv):
    assert out(srv.tcp, "cfg.get", "pstn", "gw_ip") == "10.0.0.1\n"
    assert out(srv.tcp, "cfg.help", "pstn", "gw_ip") == "My PSTN GW Address\n(parameter type is string)\n"
    assert out(srv.unix, "cfg.sets", "pstn", "gw_ip", "192.0.2.7") == ""
    for _ in range(6):
        with SipClient(("127.0.0.1", srv.port)) as c:
            assert status_of(c.request(c.options())) == 404
    lines = re.findall(r"gw=(\S+)", srv.log())
    assert lines[-6:] == ["192.0.2.7"] * 6


def _options(srv, n):
    for _ in range(n):
        with SipClient(("127.0.0.1", srv.port)) as c:
            assert status_of(c.request(c.options())) == 404


def test_core_debug_changes_the_log_level_everywhere(srv):
    """debug=1 (notice) hides the script's L_INFO lines in every worker; 2 shows them."""
    assert out(srv.unix, "cfg.set_now_int", "core", "debug", 1) == ""
    assert out(srv.unix, "cfg.get", "core", "debug") == "1\n"
    before = srv.log().count("gw=")
    _options(srv, 6)
    assert srv.log().count("gw=") == before
    assert out(srv.unix, "cfg.set", "core", "debug", 2) == ""
    _options(srv, 6)
    assert srv.log().count("gw=") == before + 6


def test_delayed_changes_diff_commit_rollback(srv):
    assert out(srv.unix, "cfg.set_delayed_int", "tm", "fr_timer", 4000) == ""
    assert out(srv.unix, "cfg.diff") == ("{\n\tgroup name: tm\n\tvariable name: fr_timer\n"
                                         "\told value: 30000\n\tnew value: 4000\n}\n")
    assert out(srv.unix, "cfg.rollback") == ""
    assert out(srv.unix, "cfg.diff") == ""
    out(srv.unix, "cfg.set_delayed", "registrar", "max_contacts", 5)
    assert out(srv.unix, "cfg.commit") == ""
    assert out(srv.unix, "cfg.get", "registrar", "max_contacts") == "5\n"


def test_refusals(srv):
    assert out(srv.unix, "cfg.set_now_string", "core", "debug", "s:abc") == "error: 400 - Failed to set the variable\n"
    assert out(srv.unix, "cfg.set_now_int", "nosuch", "x", 1) == "error: 400 - Failed to set the variable\n"
    assert out(srv.unix, "cfg.get", "tm", "fr_timer") == (
        "error: 400 - Variable exists, but it is not readable via RPC interface\n")
    assert out(srv.unix, "cfg.add_group_inst", "pstn[2]") == "error: 400 - Failed to add the group instance\n"
    assert "registrar: default_expires" in out(srv.unix, "cfg.list").splitlines()
