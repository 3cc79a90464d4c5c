"""dialog over the wire: calls through kamapy between raw-UDP UAs (ua.py)."""

from __future__ import annotations

import time

import pytest

from .server import PREAMBLE, DialogServer
from .ua import Callee, Caller


@pytest.fixture
def callee():
    c = Callee()
    c.start()
    yield c
    c.stop()


def test_call_listed_then_ended_by_bye(callee):
    with DialogServer() as srv:
        caller = Caller(srv.port, callee.port, "alice")
        assert caller.invite() == 200
        time.sleep(0.3)  # the ACK confirms the dialog
        dlgs = srv.rpc("dlg.list")
        assert len(dlgs) == 1
        d = dlgs[0]
        assert set(d) >= {"h_entry", "h_id", "ref", "call-id", "from_uri", "to_uri", "state",
                          "start_ts", "init_ts", "end_ts", "duration", "timeout", "lifetime",
                          "dflags", "sflags", "iflags", "caller", "callee", "profiles",
                          "variables"}
        assert d["call-id"] == caller.callid
        assert d["state"] == 4
        assert d["from_uri"] == "sip:alice@example.com"
        assert d["caller"]["tag"] == caller.ftag
        assert d["callee"]["tag"].startswith("callee")
        assert d["callee"]["contact"] == f"sip:callee@127.0.0.1:{callee.port}"
        assert d["caller"]["socket"] == f"udp:127.0.0.1:{srv.port}"
        assert d["sflags"] == 8
        assert d["profiles"] == ["all", {"caller": "alice"}]  # newest first, as Kamailio lists them
        assert d["variables"] == [{"x": "y-alice"}]
        assert d["lifetime"] == 43200 and abs(d["timeout"] - (d["start_ts"] + 43200)) <= 1
        # the did param went into our Record-Route
        rr = caller.routes[0]
        assert ";did=" in rr
        assert srv.stats() == {"active_dialogs": 1, "early_dialogs": 0, "processed_dialogs": 1,
                               "expired_dialogs": 0, "failed_dialogs": 0}
        assert srv.rpc("dlg.profile_get_size", "caller", "alice") == 1
        assert srv.rpc("dlg.profile_get_size", "all") == 1
        assert len(srv.rpc("dlg.profile_list", "caller", "alice")) == 1
        # as in Kamailio, dialog:start runs before the callee leg is filled in
        assert srv.wait_log(f"DLGSTART {caller.callid} state=3 totag=<null>")
        assert d["callee"]["route_set"] == ""  # only entries above our own Record-Route

        assert caller.bye() == 200
        assert srv.wait_log(f"DLGEND {caller.callid} var=y-alice")
        assert "INDLG BYE status=5 var=y-alice" in srv.log()
        ended = srv.rpc("dlg.list")
        # held in state 5 while the BYE's transaction lives, without profiles or vars
        assert len(ended) == 1 and ended[0]["state"] == 5
        assert ended[0]["profiles"] == [] and ended[0]["variables"] == []
        assert ended[0]["end_ts"] >= ended[0]["start_ts"] and ended[0]["timeout"] == 0
        assert srv.wait_gone()
        st = srv.stats()
        assert st["active_dialogs"] == 0 and st["processed_dialogs"] == 1
        assert srv.rpc("dlg.profile_get_size", "caller", "alice") == 0
        assert srv.rpc("dlg.profile_get_size", "all") == 0
        caller.close()


def test_refused_call_counts_failed():
    busy = Callee(code=486)
    busy.start()
    try:
        with DialogServer() as srv:
            caller = Caller(srv.port, busy.port, "carol")
            assert caller.invite() == 486
            assert srv.wait_log(f"DLGFAILED {caller.callid}")
            st = srv.stats()
            assert st == {"active_dialogs": 0, "early_dialogs": 0, "processed_dialogs": 1,
                          "expired_dialogs": 0, "failed_dialogs": 1}
            assert srv.wait_gone()
            assert srv.rpc("dlg.profile_get_size", "caller", "carol") == 0
            caller.close()
    finally:
        busy.stop()


def test_early_dialog_counted_while_ringing():
    # a callee that only rings (180, then 183): the dialog stays early
    ringer = Callee(code=183)
    ringer.start()
    try:
        with DialogServer() as srv:
            caller = Caller(srv.port, ringer.port, "erin")
            assert caller.invite(timeout=1.0) is None  # no final reply comes
            time.sleep(0.3)
            d = srv.rpc("dlg.list")
            assert len(d) == 1 and d[0]["state"] == 2
            assert srv.stat("early_dialogs") == 1
            assert srv.stat("active_dialogs") == 0
            caller.close()
    finally:
        ringer.stop()


def test_third_concurrent_call_refused_by_profile_limit(callee):
    with DialogServer() as srv:
        calls = [Caller(srv.port, callee.port, "dave") for _ in range(3)]
        assert calls[0].invite() == 200
        assert calls[1].invite() == 200
        assert calls[2].invite() == 486  # the script's reply: two calls of dave are up
        other = Caller(srv.port, callee.port, "frank")
        assert other.invite() == 200  # another caller is not limited
        time.sleep(0.2)
        assert srv.rpc("dlg.profile_get_size", "caller", "dave") == 2
        assert srv.rpc("dlg.profile_get_size", "caller") == 3
        assert srv.rpc("dlg.profile_get_size", "all") == 3
        assert len(srv.rpc("dlg.list")) == 3  # the refused call left no dialog behind
        assert srv.stat("active_dialogs") == 3
        for c in (calls[0], calls[1], other):
            assert c.bye() == 200
        time.sleep(0.3)
        assert srv.rpc("dlg.profile_get_size", "caller", "dave") == 0
        assert srv.rpc("dlg.profile_get_size", "caller") == 0
        assert srv.rpc("dlg.profile_get_size", "all") == 0
        assert srv.stats()["active_dialogs"] == 0
        # a fourth call gets through again
        again = Caller(srv.port, callee.port, "dave")
        assert again.invite() == 200
        for c in (*calls, other, again):
            c.close()


def test_default_timeout_expires_dialog(callee):
    with DialogServer(modparams='modparam("dialog", "default_timeout", 2)') as srv:
        caller = Caller(srv.port, callee.port, "gina")
        assert caller.invite() == 200
        time.sleep(0.3)
        d = srv.rpc("dlg.list")[0]
        assert d["lifetime"] == 2
        assert srv.wait_log(f"DLGEND {caller.callid} var=y-gina", timeout=6)
        assert "dlg timeout - callid" in srv.log()
        st = srv.stats()
        assert st["expired_dialogs"] == 1 and st["active_dialogs"] == 0
        assert srv.rpc("dlg.list") == []
        assert srv.rpc("dlg.profile_get_size", "all") == 0
        caller.close()


def test_dlg_set_timeout_overrides_default(callee):
    with DialogServer(invite_extra='dlg_set_timeout("1");') as srv:
        caller = Caller(srv.port, callee.port, "hank")
        assert caller.invite() == 200
        assert srv.wait_log(f"DLGEND {caller.callid}", timeout=5)
        assert srv.stat("expired_dialogs") == 1
        caller.close()


def test_unsupported_param_warns():
    with DialogServer(modparams='modparam("dialog", "enable_dmq", 1)') as srv:
        assert "enable_dmq" in srv.log()


DLG_FLAG_CFG = PREAMBLE + r"""
modparam("dialog", "dlg_flag", 4)
modparam("dialog", "detect_spirals", 1)
request_route {
    if (is_method("OPTIONS") && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if (has_totag()) {
        if (loose_route()) { t_relay(); exit; }
        if (is_method("ACK") && t_check_trans()) { t_relay(); }
        exit;
    }
    record_route();
    if ($rU == "spiral") {
        # first pass: back to ourselves with another user (a spiral)
        $rU = "bob";
        setflag(4);
        t_relay();
        exit;
    }
    if ($hdr(X-Track) == "yes") { setflag(4); }
    $rp = $hdr(X-Callee-Port);
    t_relay();
}
"""


class FlagServer(DialogServer):
    def __init__(self):
        import tempfile

        from tests.support.server import KamapyServer
        self.rundir = tempfile.mkdtemp(prefix="kpdlg")
        KamapyServer.__init__(self, DLG_FLAG_CFG, children=2, args=["-m", "64"],
                              fmt={"rundir": self.rundir})


def test_dlg_flag_starts_tracking_and_spiral_is_one_dialog(callee):
    with FlagServer() as srv:
        # flag not set: no dialog
        plain = Caller(srv.port, callee.port, "ivan")
        plain.invite_uri = f"sip:bob@127.0.0.1:{srv.port}"
        plain.extra = f"X-Callee-Port: {callee.port}\r\n"
        assert plain.invite() == 200
        time.sleep(0.2)
        assert srv.rpc("dlg.list") == []
        # the flag set in request_route: tm's TMCB_REQUEST_IN makes the dialog
        flagged = Caller(srv.port, callee.port, "judy")
        flagged.invite_uri = f"sip:bob@127.0.0.1:{srv.port}"
        flagged.extra = f"X-Callee-Port: {callee.port}\r\nX-Track: yes\r\n"
        assert flagged.invite() == 200
        time.sleep(0.3)
        dl = srv.rpc("dlg.list")
        assert len(dl) == 1 and dl[0]["call-id"] == flagged.callid and dl[0]["state"] == 4
        # the did is in the Record-Route the caller got, and the BYE ends the dialog
        assert any(";did=" in r for r in flagged.routes)
        assert flagged.bye() == 200
        assert srv.wait_gone()
        # a spiral: the INVITE passes through us twice, flagged both times: one dialog
        spiral = Caller(srv.port, callee.port, "kate")
        spiral.invite_uri = f"sip:spiral@127.0.0.1:{srv.port}"
        spiral.extra = f"X-Callee-Port: {callee.port}\r\n"
        assert spiral.invite() == 200
        time.sleep(0.3)
        dl = srv.rpc("dlg.list")
        assert len(dl) == 1 and dl[0]["call-id"] == spiral.callid and dl[0]["state"] == 4
        assert srv.stat("processed_dialogs") == 2 and srv.stat("active_dialogs") == 1
        assert spiral.bye() == 200
        assert srv.wait_gone()
        assert srv.stat("active_dialogs") == 0
        for c in (plain, flagged, spiral):
            c.close()
