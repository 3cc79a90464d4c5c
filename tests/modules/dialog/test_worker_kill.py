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
        assert srv.wait_gone(10), [(d["state"], d["call-id"]) for d in srv.rpc("dlg.list")]
        assert srv.rpc("dlg.profile_get_size", "load") == 0
        s = srv.stats()
        # the caller profile of the test config saw each SIPp user once
        assert s["active_dialogs"] == 0 and s["early_dialogs"] == 0, s
        assert s["processed_dialogs"] == N and s["failed_dialogs"] == 0, s
        assert len(srv.udp_workers()) == 4  # the arbiter replaced the dead one


# python_exec("die", "<method>") SIGKILLs the worker running it, once (a marker file
# says it happened): the kill lands at a chosen point of the script, between the
# dialog's change and the transaction that was to carry its tm callback
DIE_SCRIPT = '''
import os, signal
import KSR
MARK = {mark!r}
def mod_init():
    return Die()
class Die:
    def die(self, msg, method):
        if KSR.pv.get("$rm") == method and not os.path.exists(MARK):
            open(MARK, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return 1
'''


@pytest.mark.parametrize("method", ["INVITE", "BYE"])
def test_worker_killed_before_the_transaction_loses_no_dialog(tmp_path, method):
    """The INVITE's worker dies after dlg_manage() made the dialog, or the BYE's after
    loose_route() ended it, and before t_relay() made the transaction that would carry
    the dialog's tm callback. The retransmission, in another worker, finds the dialog
    and hands it to its own transaction: the call ends, the dialog goes, its profiles
    are freed -- nothing waits for end_timeout/early_timeout (300 s)."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    script = tmp_path / "die.py"
    script.write_text(DIE_SCRIPT.format(mark=str(tmp_path / "died")))
    # the call outlasts its INVITE's transaction (wt_timer 1 s), whose end would
    # free a dialog the BYE ended
    uac_xml = tmp_path / "uac.xml"
    uac_xml.write_text((SCEN / "dlg_uac.xml").read_text().replace(
        '<pause milliseconds="1000"/>', '<pause milliseconds="3000"/>'))
    hook = f'python_exec("die", "{method}");'
    mods = (f'loadmodule "app_python3"\nmodparam("app_python3", "load", "{script}")\n'
            'modparam("dialog", "profiles_no_value", "load")')
    uas_port = free_udp_port()
    with DialogServer(modparams=mods, invite_extra='set_dlg_profile("load");' + hook,
                      indlg_extra=hook if method == "BYE" else "", children=2) as srv:
        uas = SippRun(str(SCEN / "dlg_uas.xml"), f"127.0.0.1:{srv.port}", "-m", "1",
                      local_port=uas_port).start()
        uac = SippRun(str(uac_xml), f"127.0.0.1:{uas_port}", "-rsa",
                      f"127.0.0.1:{srv.port}", "-s", "svc", "-m", "1",
                      "-timeout", "20", "-timeout_error").start()
        try:
            uac.wait(25)
            uas.wait(10)
        finally:
            uac.kill()
            uas.kill()
        assert (tmp_path / "died").exists()  # the kill happened
        st = uac.stats()
        assert int(st["SuccessfulCall(C)"]) == 1 and int(st["FailedCall(C)"]) == 0, st
        assert srv.wait_gone(10), [(d["state"], d["call-id"]) for d in srv.rpc("dlg.list")]
        assert srv.rpc("dlg.profile_get_size", "load") == 0
        assert srv.rpc("dlg.profile_get_size", "all") == 0
        s = srv.stats()
        assert s["active_dialogs"] == 0 and s["early_dialogs"] == 0, s
        assert s["processed_dialogs"] == 1 and s["failed_dialogs"] == 0, s
