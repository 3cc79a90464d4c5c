"""RPC app_python.reload under traffic: each worker loads the new script before its
next message; a script that fails to import is refused with its traceback in the RPC
reply and the old one keeps routing; no request goes unanswered meanwhile."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = """
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "jsonrpcs"
loadmodule "app_python3"
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("app_python3", "load", "{dir}/route.py")
cfgengine "python"
"""

SCRIPT = """
import KSR
VERSION = "{version}"
def mod_init():
    return Router()
class Router:
    def ksr_request_route(self, msg):
        KSR.sl.sl_send_reply(200, "version " + VERSION)
"""

BROKEN = "import KSR\ndef mod_init(:\n"


def reason(reply: bytes) -> str:
    return reply.split(b"\r\n", 1)[0].decode().split(" ", 2)[2]


@pytest.fixture(scope="module")
def server():
    rundir = tempfile.mkdtemp(prefix="kpkemi")  # short: unix socket paths are limited
    try:
        Path(rundir, "route.py").write_text(SCRIPT.format(version="0"))
        srv = KamapyServer(CFG, fmt={"dir": rundir})
        srv.rundir = rundir
        with srv:
            yield srv
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def test_reload_under_traffic(server):
    sock = f"{server.rundir}/rpc.sock"
    script = Path(server.rundir, "route.py")
    stop = threading.Event()
    sent, failed = [0], []

    def traffic():
        with SipClient(("127.0.0.1", server.port)) as c:
            while not stop.is_set():
                r = c.request(c.options(), timeout=2.0)
                sent[0] += 1
                if status_of(r) != 200:
                    failed.append(r)

    t = threading.Thread(target=traffic, daemon=True)
    t.start()
    try:
        with SipClient(("127.0.0.1", server.port)) as probe:
            assert reason(probe.request(probe.options())) == "version 0"
            for v in range(1, 9):
                if v == 5:  # the broken one: refused, with its traceback, the old one stays
                    script.write_text(BROKEN)
                    with pytest.raises(RuntimeError) as e:
                        rpc_call(sock, "app_python.reload")
                    assert "SyntaxError" in str(e.value) and "route.py" in str(e.value), e.value
                    for _ in range(4):
                        assert reason(probe.request(probe.options())) == "version 4"
                    continue
                script.write_text(SCRIPT.format(version=v))
                res = rpc_call(sock, "app_python.reload")
                assert res["new"] == res["old"] + 1
                for _ in range(4):  # whichever worker takes it runs the new script
                    assert reason(probe.request(probe.options())) == f"version {v}", server.log()[-2000:]
                time.sleep(0.05)
    finally:
        stop.set()
        t.join(5)
    assert sent[0] > 50 and failed == [], (sent[0], failed[:2])
    assert "python script reload failed" not in server.log()


REG_CFG = """
debug=1
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "tm"
loadmodule "usrloc"
loadmodule "registrar"
loadmodule "jsonrpcs"
loadmodule "app_python3"
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("app_python3", "load", "{dir}/route.py")
cfgengine "python"
"""

REG_SCRIPT = """
import KSR
VERSION = "{version}"
def mod_init():
    return Router()
class Router:
    def ksr_request_route(self, msg):
        if KSR.is_REGISTER():
            if KSR.registrar.save("location", 0) < 0:
                KSR.sl.sl_reply_error()
            return 1
        KSR.sl.sl_send_reply(200, "version " + VERSION)
"""


@pytest.mark.slow
def test_reload_ten_times_under_a_sipp_register_flood():
    """The acceptance run: SIPp REGISTERs at 5,000/s while the script is reloaded 10
    times, one of them broken: no failed REGISTER, each good version seen at once."""
    from tests.support.sipp import SippRun, sipp_path
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    rundir = tempfile.mkdtemp(prefix="kpkemi")
    try:
        script = Path(rundir, "route.py")
        script.write_text(REG_SCRIPT.format(version="0"))
        with KamapyServer(REG_CFG, fmt={"dir": rundir}) as srv:
            n = 40000
            flood = SippRun("register_load.xml", f"127.0.0.1:{srv.port}", "-m", str(n), "-r", "5000",
                            "-l", "2000", "-timeout", "60s").start()
            try:
                time.sleep(0.5)
                with SipClient(("127.0.0.1", srv.port)) as probe:
                    for v in range(1, 11):
                        if v == 6:
                            script.write_text(BROKEN)
                            with pytest.raises(RuntimeError) as e:
                                rpc_call(f"{rundir}/rpc.sock", "app_python.reload")
                            assert "SyntaxError" in str(e.value)
                            assert reason(probe.request(probe.options(), timeout=3)) == "version 5"
                            continue
                        script.write_text(REG_SCRIPT.format(version=v))
                        rpc_call(f"{rundir}/rpc.sock", "app_python.reload")
                        assert reason(probe.request(probe.options(), timeout=3)) == f"version {v}"
                        time.sleep(0.4)
                flood.wait(90)
            finally:
                flood.kill()
            st = flood.stats()
            assert int(st["FailedCall(C)"]) == 0, st
            assert int(st["SuccessfulCall(C)"]) == n, st
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
