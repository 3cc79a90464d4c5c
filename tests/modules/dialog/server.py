"""A kamapy with tm + rr + dialog + jsonrpcs for the dialog wire tests."""

from __future__ import annotations

import os
import tempfile
import time

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

# what every dialog test server loads: tm + rr + dialog, xlog, jsonrpcs on {rundir}/rpc.sock
PREAMBLE = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl"
loadmodule "tm"
loadmodule "rr"
loadmodule "siputils"
loadmodule "textops"
loadmodule "xlog"
loadmodule "pv"
loadmodule "jsonrpcs"
loadmodule "dialog"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{rundir}/rpc.sock")
modparam("tm", "wt_timer", 1000)
"""

CFG = PREAMBLE + r"""modparam("dialog", "profiles_with_value", "caller")
modparam("dialog", "profiles_no_value", "all")
{modparams}
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (has_totag()) {
        if (loose_route()) {
            xlog("L_INFO", "INDLG $rm status=$DLG_status var=$dlg_var(x) flag3=$var(f)\n");
            {indlg_extra}
            t_relay();
            exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) { t_relay(); }  # the ACK of a negative reply: tm takes it
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        dlg_manage();
        get_profile_size("caller", "$fU", "$var(n)");
        if ($var(n) >= 2) {
            sl_send_reply("486", "Too Many Calls");
            exit;
        }
        set_dlg_profile("caller", "$fU");
        set_dlg_profile("all");
        $dlg_var(x) = "y-" + $fU;
        dlg_setflag(3);
        {invite_extra}
        record_route();
    }
    t_relay();
}
event_route[dialog:start] { xlog("L_INFO", "DLGSTART $dlg(callid) state=$dlg(state) totag=$dlg(to_tag)\n"); }
event_route[dialog:end] { xlog("L_INFO", "DLGEND $dlg(callid) var=$dlg_var(x)\n"); }
event_route[dialog:failed] { xlog("L_INFO", "DLGFAILED $dlg(callid)\n"); }
"""


class DialogServer(KamapyServer):
    def __init__(self, modparams: str = "", invite_extra: str = "", children: int = 2,
                 port: int | None = None, indlg_extra: str = ""):
        self.rundir = tempfile.mkdtemp(prefix="kpdlg")
        super().__init__(CFG, port=port, children=children, args=["-m", "64"],
                         fmt={"rundir": self.rundir, "modparams": modparams,
                              "invite_extra": invite_extra,
                              "indlg_extra": indlg_extra})

    def rpc(self, method: str, *params):
        return rpc_call(os.path.join(self.rundir, "rpc.sock"), method, *params)

    def stat(self, name: str) -> int:
        return int(self.rpc("stats.fetchn", f"dialog:{name}")[f"dialog.{name}"])

    def stats(self) -> dict[str, int]:
        return {n: self.stat(n) for n in ("active_dialogs", "early_dialogs", "processed_dialogs",
                                          "expired_dialogs", "failed_dialogs")}

    def wait_gone(self, timeout: float = 5.0) -> bool:
        """dlg.list empty: an ended dialog stays (state 5) until the transaction that
        ended it is destroyed (wt_timer after its final reply)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rpc("dlg.list") == []:
                return True
            time.sleep(0.1)
        return False

    def wait_log(self, text: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def kill_all(self):
        """SIGKILL the master and every worker at once: a crash, no clean shutdown."""
        import os
        import signal

        from tests.support.server import alive, descendants
        pids = [self.pid] + descendants(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
