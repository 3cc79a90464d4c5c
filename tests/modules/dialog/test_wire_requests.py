"""dialog requests kamapy sends itself, over the wire (one server for the module):
dlg.terminate_dlg / dlg.end_dlg / dlg_get + dlg_bye end a live call on both sides,
timeout_avp, early_timeout and noack_timeout, dlg_set_timeout_by_profile,
dlg_set_ruri and dlg.dlg_list. The BYE's exact bytes are checked against Kamailio
by the differential cases (cases/dialog/dlg_*bye*)."""

from __future__ import annotations

import tempfile
import time

import pytest

from tests.support.server import KamapyServer

from .server import PREAMBLE, DialogServer
from .ua import Callee, Caller, hdr, reply_to, status

CFG = PREAMBLE + r"""
modparam("tm", "fr_timer", 1000)
modparam("dialog", "profiles_with_value", "caller")
modparam("dialog", "early_timeout", 2)
modparam("dialog", "noack_timeout", 1)
modparam("dialog", "timeout_avp", "$avp(dlgt)")
modparam("dialog", "dlg_extra_hdrs", "X-Why: test\r\n")
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (is_method("MESSAGE")) {
        # dlg_get + dlg_bye from outside the call, a profile-wide timeout, a remote item
        if ($hdr(X-Remote-Cmd) != $null) {
            if (dlg_remote_profile("$hdr(X-Remote-Cmd)", "caller", "$hdr(X-Remote-Val)",
                    "$hdr(X-Remote-Uid)", "$hdr(X-Remote-Exp)")) {
                sl_send_reply("200", "Remote Done");
            } else {
                sl_send_reply("404", "Remote Failed");
            }
            exit;
        }
        if ($hdr(X-Profile-Timeout) != $null) {
            dlg_set_timeout_by_profile("caller", "$hdr(X-Profile)", "$hdr(X-Profile-Timeout)");
            sl_send_reply("200", "Timeout Set");
            exit;
        }
        if (dlg_get("$hdr(X-Callid)", "$hdr(X-Ftag)", "$hdr(X-Ttag)")) {
            xlog("L_INFO", "GOT $dlg(callid) state=$dlg(state)\n");
            dlg_bye("all");
            sl_send_reply("200", "Bye Sent");
        } else {
            sl_send_reply("404", "No Such Dialog");
        }
        exit;
    }
    if (has_totag()) {
        if (loose_route()) {
            if (is_method("INFO")) {
                if (dlg_set_ruri()) { xlog("L_INFO", "RURI $ru\n"); }
            }
            t_relay();
            exit;
        }
        if (is_method("ACK")) {
            if (t_check_trans()) { t_relay(); }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (is_method("INVITE")) {
        if ($hdr(X-T) != $null) { $avp(dlgt) = $(hdr(X-T){s.int}); }
        if ($hdr(X-Tr) != $null) { $dlg_ctx(timeout_route) = "DLGTO"; $dlg_ctx(timeout_bye) = 1; }
        dlg_manage();
        set_dlg_profile("caller", "$fU");
        record_route();
    }
    t_relay();
}
route[DLGTO] { xlog("L_INFO", "TIMEOUTROUTE $dlg(callid) var=$dlg_var(v)\n"); }
event_route[dialog:end] { xlog("L_INFO", "DLGEND $dlg(callid)\n"); }
event_route[dialog:failed] { xlog("L_INFO", "DLGFAILED $dlg(callid)\n"); }
"""


class ReqServer(DialogServer):
    def __init__(self):
        self.rundir = tempfile.mkdtemp(prefix="kpdlgr")
        KamapyServer.__init__(self, CFG, children=2, args=["-m", "64"], fmt={"rundir": self.rundir})


@pytest.fixture(scope="module")
def srv():
    with ReqServer() as s:
        yield s


@pytest.fixture
def callee():
    c = Callee()
    c.start()
    yield c
    c.stop()


def _wait_bye(caller: Caller, timeout: float = 3.0) -> bytes | None:
    """The BYE the server sends to the caller; answered 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = caller.recv(deadline - time.monotonic())
        if m and m.startswith(b"BYE "):
            caller.sock.sendto(reply_to(m, 200, "OK"), caller.proxy)
            return m
    return None


def _wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def _mine(srv, callid):
    return [d for d in srv.rpc("dlg.list") if d["call-id"] == callid]


def test_terminate_dlg_ends_a_live_call_on_both_sides(srv, callee):
    caller = Caller(srv.port, callee.port, "tina")
    assert caller.invite() == 200
    time.sleep(0.3)
    before = srv.stats()
    (d,) = srv.rpc("dlg.dlg_list", caller.callid, caller.ftag)
    assert d["state"] == 4 and srv.rpc("dlg.dlg_list", caller.callid, "other") == []
    assert srv.rpc("dlg.is_alive", caller.callid, caller.ftag, d["callee"]["tag"]) == "Alive"
    active = srv.rpc("dlg.stats_active")
    assert active["ongoing"] >= 1 and active["all"] == sum(
        active[k] for k in ("starting", "connecting", "answering", "ongoing"))
    assert not srv.rpc("dlg.terminate_dlg", caller.callid, caller.ftag, d["callee"]["tag"])  # no output
    bye = _wait_bye(caller)
    assert bye is not None
    # to the caller we speak as the callee: its URI and tag in From, ours in To
    assert hdr(bye, "To") == f"<sip:tina@example.com>;tag={caller.ftag}"
    assert hdr(bye, "From") == f"<{caller.to.split(';')[0].strip('<>')}>;tag={d['callee']['tag']}"
    assert hdr(bye, "X-Why") == "test" and hdr(bye, "CSeq") == "1 BYE"
    assert bye.startswith(f"BYE sip:tina@127.0.0.1:{caller.port} SIP/2.0".encode())
    assert _wait(lambda: callee.requests("BYE"))
    cb = callee.requests("BYE")[-1]
    assert hdr(cb, "CSeq") == "2 BYE"                        # the caller's INVITE CSeq 1, + 1
    assert hdr(cb, "From") == f"<sip:tina@example.com>;tag={caller.ftag}"
    assert _wait(lambda: not _mine(srv, caller.callid))
    after = srv.stats()
    assert after["active_dialogs"] == before["active_dialogs"] - 1
    assert after["expired_dialogs"] == before["expired_dialogs"]
    assert srv.wait_log(f"DLGEND {caller.callid}")
    assert srv.rpc("dlg.profile_get_size", "caller", "tina") == 0
    with pytest.raises(RuntimeError, match="Couldnt find callid"):
        srv.rpc("dlg.terminate_dlg", caller.callid, caller.ftag, d["callee"]["tag"])
    caller.close()


def test_end_dlg_with_extra_headers(srv, callee):
    caller = Caller(srv.port, callee.port, "uma")
    assert caller.invite() == 200
    time.sleep(0.3)
    (d,) = _mine(srv, caller.callid)
    with pytest.raises(RuntimeError, match="Dialog not found"):
        srv.rpc("dlg.end_dlg", d["h_entry"], d["h_id"] + 1)
    srv.rpc("dlg.end_dlg", d["h_entry"], d["h_id"], "X-Extra: 1\r\n")
    bye = _wait_bye(caller)
    assert bye is not None and hdr(bye, "X-Extra") == "1" and hdr(bye, "X-Why") == "test"
    assert _wait(lambda: not _mine(srv, caller.callid))
    caller.close()


def test_dlg_get_then_dlg_bye_all_from_another_request(srv, callee):
    caller = Caller(srv.port, callee.port, "vera")
    assert caller.invite() == 200
    time.sleep(0.3)
    (d,) = _mine(srv, caller.callid)
    probe = Caller(srv.port, callee.port, "probe")

    def message(ttag):
        probe._send((
            f"MESSAGE sip:srv@127.0.0.1:{srv.port} SIP/2.0\r\n{probe._via()}"
            f"From: <sip:probe@x>;tag=p1\r\nTo: <sip:srv@x>\r\nCall-ID: m{time.time_ns()}\r\n"
            f"CSeq: 1 MESSAGE\r\nX-Callid: {caller.callid}\r\nX-Ftag: {caller.ftag}\r\n"
            f"X-Ttag: {ttag}\r\nContent-Length: 0\r\n\r\n").encode())
        return status(probe.recv())
    assert message("wrong") == 404
    assert message(d["callee"]["tag"]) == 200
    assert srv.wait_log(f"GOT {caller.callid} state=4")
    assert _wait_bye(caller) is not None
    assert _wait(lambda: callee.requests("BYE"))
    assert _wait(lambda: not _mine(srv, caller.callid))
    probe.close()
    caller.close()


def test_timeout_avp_sets_the_dialog_timeout(srv, callee):
    caller = Caller(srv.port, callee.port, "wes")
    caller.extra = "X-T: 1\r\n"
    before = srv.stat("expired_dialogs")
    assert caller.invite() == 200
    (d,) = _mine(srv, caller.callid)
    assert d["lifetime"] == 1
    assert _wait(lambda: not _mine(srv, caller.callid), 4)
    assert srv.stat("expired_dialogs") == before + 1
    caller.close()


def test_timeout_route_then_bye_with_ctx_timeout_bye(srv, callee):
    caller = Caller(srv.port, callee.port, "tom")
    caller.extra = "X-T: 1\r\nX-Tr: 1\r\n"
    before = srv.stat("expired_dialogs")
    assert caller.invite() == 200
    assert _wait_bye(caller, 4) is not None
    assert srv.wait_log(f"TIMEOUTROUTE {caller.callid}")
    assert _wait(lambda: not _mine(srv, caller.callid), 4)
    assert srv.stat("expired_dialogs") == before + 1
    # the timer process logs dialog:end after the dialog is gone from the listing
    assert srv.wait_log(f"DLGEND {caller.callid}")
    log = srv.log()
    assert log.index(f"TIMEOUTROUTE {caller.callid}") < log.index(f"DLGEND {caller.callid}")
    caller.close()


def test_early_timeout_drops_a_ringing_dialog(srv):
    ringing = Callee(code=180)  # 180 and never a final reply
    ringing.start()
    try:
        caller = Caller(srv.port, ringing.port, "xena")
        before = srv.stat("failed_dialogs")
        caller.invite(timeout=0.5)
        (d,) = _mine(srv, caller.callid)
        assert d["state"] == 2
        assert _wait(lambda: not _mine(srv, caller.callid), 5)
        assert srv.stat("failed_dialogs") == before + 1
        assert srv.wait_log(f"DLGFAILED {caller.callid}")
        caller.close()
    finally:
        ringing.stop()


def test_noack_timeout_gives_the_dialog_ten_seconds(srv, callee):
    caller = Caller(srv.port, callee.port, "yuri")
    caller._in_dialog = lambda *a: None  # the ACK never comes
    assert caller.invite() == 200
    (d,) = _mine(srv, caller.callid)
    assert d["state"] == 3 and d["lifetime"] == 43200
    assert _wait(lambda: _mine(srv, caller.callid)[0]["lifetime"] == 10, 4)
    (d,) = _mine(srv, caller.callid)
    assert abs(d["timeout"] - (time.time() + 10)) < 3
    srv.rpc("dlg.end_dlg", d["h_entry"], d["h_id"])  # no BYE to a 2xx without ACK? (state 3 is confirmed)
    caller.close()


def test_set_timeout_by_profile_and_set_ruri(srv, callee):
    a = Caller(srv.port, callee.port, "zed")
    b = Caller(srv.port, callee.port, "zed")
    assert a.invite() == 200 and b.invite() == 200
    time.sleep(0.3)
    probe = Caller(srv.port, callee.port, "probe")
    probe._send((
        f"MESSAGE sip:srv@127.0.0.1:{srv.port} SIP/2.0\r\n{probe._via()}"
        f"From: <sip:probe@x>;tag=p2\r\nTo: <sip:srv@x>\r\nCall-ID: t{time.time_ns()}\r\n"
        f"CSeq: 1 MESSAGE\r\nX-Profile: zed\r\nX-Profile-Timeout: 77\r\nContent-Length: 0\r\n\r\n").encode())
    assert status(probe.recv()) == 200
    assert {d["lifetime"] for d in _mine(srv, a.callid) + _mine(srv, b.callid)} == {77}
    # dlg_set_ruri on the caller's INFO: the R-URI becomes the callee's contact
    assert a.request("INFO") == 200
    assert srv.wait_log(f"RURI sip:callee@127.0.0.1:{callee.port}")
    assert a.bye() == 200 and b.bye() == 200
    probe.close()
    a.close()
    b.close()


class SilentCallee(Callee):
    """Answers the call, then never answers anything in it (a UA that died)."""

    def run(self):
        import socket
        while not self.stopping:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            if data.startswith(b"INVITE "):
                tag = "callee" + (hdr(data, "Call-ID") or "")[:8]
                contact = f"Contact: <sip:callee@127.0.0.1:{self.port}>\r\n"
                self.sock.sendto(reply_to(data, 200, "OK", tag, contact), addr)


@pytest.mark.slow  # ka_interval cannot go below 30 s (as in Kamailio), then 10 s to the end
def test_keepalive_unanswered_ends_the_dialog_with_bye_to_the_other_side():
    cfg = CFG.replace('modparam("dialog", "early_timeout", 2)',
                      'modparam("dialog", "ka_timer", 1)\nmodparam("dialog", "ka_interval", 30)\n'
                      'modparam("dialog", "send_bye", 1)')
    cfg = cfg.replace("        dlg_manage();", '        dlg_set_property("ka-dst");\n        dlg_manage();')
    rundir = tempfile.mkdtemp(prefix="kpdlgka")
    dead = SilentCallee()
    dead.start()
    srv = DialogServer.__new__(DialogServer)
    srv.rundir = rundir
    KamapyServer.__init__(srv, cfg, children=2, args=["-m", "64"], fmt={"rundir": rundir})
    try:
        with srv:
            caller = Caller(srv.port, dead.port, "kurt")
            assert caller.invite() == 200
            assert _wait(lambda: dead.requests("OPTIONS"), 33)
            ka = dead.requests("OPTIONS")[0]
            # the caller's CSeq minus one, but 1 stays 1 (Kamailio takes 1 off below 2)
            assert hdr(ka, "CSeq") == "1 OPTIONS"
            (d,) = _mine(srv, caller.callid)
            assert d["state"] == 4
            # 408 after fr_timer (1 s): ka_failed_limit 1 reached, 10 s left
            assert _wait(lambda: _mine(srv, caller.callid)[0]["lifetime"] == 10, 3)
            bye = _wait_bye(caller, 12)
            assert bye is not None and hdr(bye, "X-Why") == "test"
            assert _wait(lambda: dead.requests("BYE"), 2)
            assert _wait(lambda: not _mine(srv, caller.callid), 3)
            assert srv.stat("expired_dialogs") == 1
            caller.close()
    finally:
        dead.stop()


def _ctl(srv, *args):
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "kamapy.ctl", "--socket",
                           os.path.join(srv.rundir, "rpc.sock"), *args],
                          capture_output=True, text=True, timeout=30)


def test_kamapyctl_dlg_list_show_profile_terminate(srv, callee):
    import json
    caller = Caller(srv.port, callee.port, "carl")
    assert caller.invite() == 200
    time.sleep(0.3)
    res = _ctl(srv, "-F", "json", "dlg", "list")
    assert res.returncode == 0, res.stderr
    assert caller.callid in [d["call-id"] for d in json.loads(res.stdout)]
    res = _ctl(srv, "-F", "json", "dlg", "show", caller.callid)
    (d,) = json.loads(res.stdout)
    assert d["caller"]["tag"] == caller.ftag
    res = _ctl(srv, "-F", "json", "dlg", "profile", "caller", "carl")
    assert res.returncode == 0 and json.loads(res.stdout) == 1
    res = _ctl(srv, "dlg", "terminate", caller.callid, caller.ftag, d["callee"]["tag"])
    assert res.returncode == 0, res.stderr
    assert _wait_bye(caller) is not None
    assert _wait(lambda: not _mine(srv, caller.callid))
    res = _ctl(srv, "dlg", "terminate", caller.callid, caller.ftag, d["callee"]["tag"])
    assert res.returncode != 0 and "Couldnt find callid" in (res.stderr + res.stdout)
    caller.close()


def test_dialog_callbacks_for_other_modules(callee):
    """modules/dialog/callbacks.py through a probe module: CREATED, then the call's
    events in order, each in whichever process saw it, with its message."""
    import os

    from tests.support.server import REPO
    cfg = CFG.replace('loadmodule "dialog"', 'loadmodule "dialog"\nloadmodule "dlgcb_probe"')
    rundir = tempfile.mkdtemp(prefix="kpdlgcb")
    srv = DialogServer.__new__(DialogServer)
    srv.rundir = rundir
    # one worker: the 180 and the 200 (sent back to back) are handled in that order
    KamapyServer.__init__(srv, cfg, children=1, fmt={"rundir": rundir},
                          args=["-m", "64", "-L", os.path.join(REPO, "tests", "modules", "dialog", "modules")])
    with srv:
        caller = Caller(srv.port, callee.port, "cbx")
        assert caller.invite() == 200
        time.sleep(0.3)
        assert caller.bye() == 200
        assert _wait(lambda: f"DLGCB DESTROY {caller.callid}" in srv.log(), 5)
        got = [ln.split("DLGCB ", 1)[1] for ln in srv.log().splitlines()
               if "DLGCB " in ln and caller.callid in ln]
        kinds = [g.split()[0] for g in got]
        assert kinds[0] == "CREATED" and "req=INVITE" in got[0]
        assert kinds[1:] == ["RESPONSE_FWDED", "EARLY", "RESPONSE_FWDED", "CONFIRMED_NA", "CONFIRMED",
                             "TERMINATED", "DESTROY"], kinds
        assert f"CONFIRMED_NA {caller.callid} 2 req=None rpl=200 param=p1" in got[4]
        assert f"TERMINATED {caller.callid} 1 req=BYE" in got[6]
        caller.close()


def test_remote_profile_items_count_and_expire(srv):
    probe = Caller(srv.port, 9, "probe")

    def remote(cmd, val, uid, exp=""):
        probe._send((
            f"MESSAGE sip:srv@127.0.0.1:{srv.port} SIP/2.0\r\n{probe._via()}"
            f"From: <sip:probe@x>;tag=p3\r\nTo: <sip:srv@x>\r\nCall-ID: r{time.time_ns()}\r\n"
            f"CSeq: 1 MESSAGE\r\nX-Remote-Cmd: {cmd}\r\nX-Remote-Val: {val}\r\n"
            f"X-Remote-Uid: {uid}\r\nX-Remote-Exp: {exp}\r\nContent-Length: 0\r\n\r\n").encode())
        return status(probe.recv())
    base = srv.rpc("dlg.profile_get_size", "caller", "remo")
    far = int(time.time()) + 3600
    assert remote("add", "remo", "uid-1", far) == 200
    assert remote("add", "remo", "uid-1", far) == 200            # the same item once
    assert remote("add", "remo", "uid-2", int(time.time()) + 1) == 200
    assert srv.rpc("dlg.profile_get_size", "caller", "remo") == base + 2
    assert remote("rm", "remo", "uid-1") == 200
    assert remote("rm", "remo", "uid-1") == 404
    # uid-2 goes by itself at its expires
    assert _wait(lambda: srv.rpc("dlg.profile_get_size", "caller", "remo") == base, 4)
    probe.close()
