"""etc/kamapy.cfg with WITH_DIALOG on the wire, SIPp as both UAs: alice calls bob (a
SIPp UAS registered as bob) three times at once; the stock route[DIALOG] lets two
through and refuses the third with its 403, the "caller" profile counts two while
they last and none once their BYEs are through (issue 14's acceptance). Also with the
same logic as a KEMI script (etc/kamapy.py, -A WITH_KEMI)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.default_config import ENGINES, engine_args
from tests.support.ports import free_udp_port
from tests.support.rpc import rpc_call
from tests.support.server import REPO, KamapyServer
from tests.support.sipclient import SipClient, status_of
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

SCEN = Path(__file__).parent / "scenarios"
HOLD_MS = 3000  # stock_uac.xml holds each call 3 s


def stock_cfg(rundir: str) -> str:
    text = (REPO / "etc" / "kamapy.cfg").read_text()
    text = text.replace("listen=udp:127.0.0.1:5060", "listen=udp:127.0.0.1:{port}")
    # management over a datagram socket of the test's own (the stock one is off or a FIFO)
    rpc = (f'modparam("jsonrpcs", "transport", 4)\n'
           f'modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")')
    assert 'modparam("jsonrpcs", "transport", 0)' in text
    return text.replace('modparam("jsonrpcs", "transport", 0)', rpc)


def register(port: int, user: str, contact_port: int):
    with SipClient(("127.0.0.1", port)) as c:
        n = time.time_ns()
        reg = (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-{n};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag=r{n}\r\n"
               f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: reg{n}@127.0.0.1\r\nCSeq: 1 REGISTER\r\n"
               f"Contact: <sip:{user}@127.0.0.1:{contact_port}>\r\nExpires: 120\r\n"
               f"Content-Length: 0\r\n\r\n").encode()
        return status_of(c.request(reg))


@pytest.mark.parametrize("engine", ENGINES)
def test_stock_dialog_limit_refuses_the_third_concurrent_call(engine):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    rundir = tempfile.mkdtemp(prefix="kpstock")
    sock = os.path.join(rundir, "rpc.sock")
    with KamapyServer(stock_cfg(rundir), children=2, args=["-A", "WITH_DIALOG", *engine_args(engine)]) as srv:
        def rpc(*a):
            return rpc_call(sock, *a)

        def stat(name):
            return int(rpc("stats.fetchn", f"dialog:{name}")[f"dialog.{name}"])

        uas_port = free_udp_port()
        assert register(srv.port, "bob", uas_port) == 200, srv.log()[-3000:]
        uas = SippRun(str(SCEN / "dlg_uas.xml"), f"127.0.0.1:{srv.port}", "-m", "2",
                      local_port=uas_port).start()
        uac = SippRun(str(SCEN / "stock_uac.xml"), f"127.0.0.1:{srv.port}", "-s", "bob",
                      "-m", "3", "-l", "3", "-r", "20",
                      "-timeout", "30", "-timeout_error").start()
        try:
            # while the two calls are held
            deadline = time.monotonic() + HOLD_MS / 1000 - 0.5
            while time.monotonic() < deadline and not Path(uac.dir, "refused.txt").exists():
                time.sleep(0.05)
            time.sleep(0.3)
            held = rpc("dlg.profile_get_size", "caller", "alice@127.0.0.1")
            listed = rpc("dlg.list")
            active = stat("active_dialogs")
            uac.wait(30)
            uas.wait(10)
        finally:
            uac.kill()
            uas.kill()
        st = uac.stats()
        err = Path(uac.dir, "err.log")
        why = err.read_text(errors="replace")[-1500:] if err.exists() else ""
        assert int(st["SuccessfulCall(C)"]) == 3 and int(st["FailedCall(C)"]) == 0, (st, why, srv.log()[-4000:])
        refused = Path(uac.dir, "refused.txt").read_text().split("\n")
        # one 403, with the stock config's reason
        assert [r for r in refused if r] == ["SIP/2.0 403 Simultaneous calls limit reached"], refused
        assert held == 2 and active == 2, (held, active, listed)
        assert {d["state"] for d in listed} == {4} and len(listed) == 2, listed
        deadline = time.monotonic() + 10
        while rpc("dlg.list") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert rpc("dlg.list") == []
        assert rpc("dlg.profile_get_size", "caller", "alice@127.0.0.1") == 0
        assert rpc("dlg.profile_get_size", "caller") == 0
        assert stat("active_dialogs") == 0
        assert stat("processed_dialogs") == 2  # the refused call made no dialog


def test_baresip_call_is_tracked_and_ends_with_its_bye(tmp_path):
    """Two real softphones through etc/kamapy.cfg -A WITH_DIALOG: while alice's call to
    bob is up, dlg.list shows one confirmed dialog with Kamailio's fields (From/To URIs and
    a caller and a callee leg with tag, contact and CSeq, the profiles) and the caller profile
    counts 1; alice's BYE ends it and the profile is back to 0."""
    from tests.support.baresip import baresip_path, hang_up, register_and_call, ua_pair
    if baresip_path() is None:
        pytest.skip("baresip (baresip-core) is not installed")
    rundir = tempfile.mkdtemp(prefix="kpstock")
    sock = os.path.join(rundir, "rpc.sock")
    with KamapyServer(stock_cfg(rundir), children=2, args=["-A", "WITH_DIALOG"]) as srv:
        def rpc(*a):
            return rpc_call(sock, *a)
        alice, bob = ua_pair(tmp_path, srv.port)
        try:
            register_and_call(alice, bob, srv.port, srv.log)
            (d,) = rpc("dlg.list")
            assert d["state"] == 4, d
            for field in ("h_entry", "h_id", "call-id", "from_uri", "to_uri", "start_ts",
                          "timeout", "lifetime", "caller", "callee", "profiles", "variables"):
                assert field in d, (field, d)
            assert d["from_uri"].startswith("sip:alice@") and d["to_uri"].startswith("sip:bob@"), d
            for leg in ("caller", "callee"):
                assert d[leg]["tag"] and d[leg]["contact"] and d[leg]["cseq"], d
            assert "caller" in str(d["profiles"]), d
            assert rpc("dlg.profile_get_size", "caller", "alice@127.0.0.1") == 1
            hang_up(alice, bob, srv.log)
            deadline = time.monotonic() + 5
            while rpc("dlg.list") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert rpc("dlg.list") == []
            assert rpc("dlg.profile_get_size", "caller", "alice@127.0.0.1") == 0
        finally:
            alice.stop()
            bob.stop()
