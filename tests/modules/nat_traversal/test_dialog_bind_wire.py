"""nat_traversal with the dialog module loaded, through its callbacks: a call's dialog
condition exists only for a call the dialog module tracks (DLGCB_CREATED), and ends
when the dialog goes (DLGCB_DESTROY) -- here by the dialog's own timeout, which tm alone
never sees (without the binding the caller would be kept alive for 12 hours after the
call is gone)."""

from __future__ import annotations

import shutil
import tempfile
import time

import pytest

from tests.support.server import KamapyServer

from .test_keepalive_wire import nt_stats, wait_stats
from .ua import Ua

pytestmark = pytest.mark.wire

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "jsonrpcs.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "dialog.so"
loadmodule "nat_traversal.so"
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("jsonrpcs", "fifo_name", "")
modparam("dialog", "default_timeout", 3)
modparam("nat_traversal", "keepalive_interval", 10)
modparam("nat_traversal", "keepalive_state_file", "")
request_route {
    if (method == "OPTIONS" && uri =~ "^sip:127") { sl_send_reply("200", "OK"); exit; }
    if (method == "REGISTER") {
        nat_keepalive();
        save("location");
        exit;
    }
    if (has_totag()) {
        loose_route();
        t_relay();
        exit;
    }
    if (method == "INVITE") {
        # before the dialog is made: its DLGCB_CREATED reads nat_keepalive()'s mark
        nat_keepalive();
        if ($hdr(X-Track) == "yes") {
            dlg_manage();
        }
        record_route();
        $du = $hdr(X-Callee);
        t_relay();
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""


@pytest.fixture
def rundir():
    d = tempfile.mkdtemp(prefix="kpnd")  # short: unix socket paths are limited
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _call(caller: Ua, callee: Ua, srv, track: bool, tag: str):
    callee_uri = f"sip:127.0.0.1:{callee.addr[1]}"
    caller.callid = f"{tag}-{time.time_ns()}"
    caller.request("INVITE", "sip:bob@example.com",
                   f"X-Callee: {callee_uri}\r\nX-Track: {'yes' if track else 'no'}\r\n")
    inv = callee.wait_request("INVITE", 3, code=None)
    assert inv is not None, srv.log()[-3000:]
    head = [h for h in inv[0].decode().split("\r\n\r\n")[0].split("\r\n")[1:]
            if h.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq", "record-route")]
    head = [h + f";tag={tag}" if h.lower().startswith("to:") else h for h in head]
    ok = "SIP/2.0 200 OK\r\n" + "\r\n".join(head) + f"\r\nContact: <{callee_uri}>\r\nContent-Length: 0\r\n\r\n"
    callee.sock.sendto(ok.encode(), ("127.0.0.1", srv.port))
    rpl = caller.final_reply()
    assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl


def test_dialog_conditions_follow_the_dialog_module(rundir):
    srv = KamapyServer(CFG, children=2, fmt={"dir": rundir}).start()
    try:
        with Ua(("127.0.0.1", srv.port)) as caller, Ua(("127.0.0.1", srv.port)) as callee:
            # not tracked by the dialog module: no dialog condition (Kamailio's
            # DLGCB_CREATED never fires for it)
            _call(caller, callee, srv, track=False, tag="untracked")
            time.sleep(1.2)
            got = nt_stats(rundir)
            assert got["dialog_endpoints"] == 0 and got["keepalive_endpoints"] == 0, got
            # the callee registers through us, so it is kept alive already
            callee.request("REGISTER", f"sip:example.com:{srv.port}", "Expires: 60\r\n",
                           contact=f"<sip:bob@127.0.0.1:{callee.addr[1]}>", callid=callee.callid + "r")
            rpl = callee.final_reply()
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            assert wait_stats(rundir, {"registered_endpoints": 1})["registered_endpoints"] == 1
            # tracked: the caller (DLGCB_CREATED) and the callee that answered
            # (DLGCB_CONFIRMED_NA) are kept alive for the call while the dialog lives ...
            _call(caller, callee, srv, track=True, tag="tracked")
            got = wait_stats(rundir, {"dialog_endpoints": 2}, timeout=1.5)
            assert got["dialog_endpoints"] == 2 and got["keepalive_endpoints"] == 2, got
            # ... and no longer once the dialog module timed the call out (3 s) and let
            # it go (DLGCB_DESTROY); the callee stays for its registration
            got = wait_stats(rundir, {"dialog_endpoints": 0, "keepalive_endpoints": 1}, timeout=8)
            assert got["dialog_endpoints"] == 0 and got["keepalive_endpoints"] == 1, (got, srv.log()[-3000:])
            assert got["registered_endpoints"] == 1, got
    finally:
        srv.stop()
