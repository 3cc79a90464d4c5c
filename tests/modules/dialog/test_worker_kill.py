"""A UDP worker SIGKILLed in the middle of SIPp call load (INVITE, ACK, 1 s, BYE,
through the proxy): every call completes (SIPp retransmits what the dead worker
swallowed; the arbiter forks a replacement), and afterwards no dialog is left, no
profile slot held, and the statistics add up -- a worker that died holding a
dialog's lock lost nothing (robust mutexes, records written whole)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.ports import free_udp_port
from tests.support.sipp import SippRun, sipp_path

from .server import DialogServer

pytestmark = pytest.mark.wire

SCEN = Path(__file__).parent / "scenarios"
N = 150


def test_worker_killed_under_load_loses_no_dialog():
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    uas_port = free_udp_port()
    with DialogServer(modparams='modparam("dialog", "profiles_no_value", "load")',
                      invite_extra='set_dlg_profile("load");', children=4) as srv:
        uas = SippRun(str(SCEN / "dlg_uas.xml"), f"127.0.0.1:{srv.port}", "-m", str(N),
                      local_port=uas_port).start()
        uac = SippRun(str(SCEN / "dlg_uac.xml"), f"127.0.0.1:{uas_port}", "-rsa",
                      f"127.0.0.1:{srv.port}", "-s", "svc", "-m", str(N), "-r", "40", "-l", "60",
                      "-timeout", "60", "-timeout_error").start()
        try:
            time.sleep(1.5)
            workers = srv.udp_workers()
            assert len(workers) == 4
            os.kill(workers[1], signal.SIGKILL)
            uac.wait(60)
            uas.wait(20)
        finally:
            uac.kill()
            uas.kill()
        st = uac.stats()
        err = Path(uac.dir, "err.log")
        why = err.read_text(errors="replace")[-1500:] if err.exists() else ""
        assert int(st["SuccessfulCall(C)"]) == N and int(st["FailedCall(C)"]) == 0, (st, why)
        assert srv.wait_gone(10), srv.rpc("dlg.list")
        assert srv.rpc("dlg.profile_get_size", "load") == 0
        s = srv.stats()
        # the caller profile of the test config saw each SIPp user once
        assert s["active_dialogs"] == 0 and s["early_dialogs"] == 0, s
        assert s["processed_dialogs"] == N and s["failed_dialogs"] == 0, s
        assert len(srv.udp_workers()) == 4  # the arbiter replaced the dead one
