"""dialog over the wire: calls through kamapy between raw-UDP UAs (ua.py)."""

from __future__ import annotations

import time

import pytest

from .server import DialogServer
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
        assert sorted(map(str, d["profiles"])) == sorted(["{'caller': 'alice'}", "all"])
        assert d["variables"] == [{"x": "y-alice"}]
        assert d["lifetime"] == 43200 and d["timeout"] == d["start_ts"] + 43200
        # the did param went into our Record-Route
        rr = caller.routes[0]
        assert ";did=" in rr
        assert srv.stats() == {"active_dialogs": 1, "early_dialogs": 0, "processed_dialogs": 1,
                               "expired_dialogs": 0, "failed_dialogs": 0}
        assert srv.rpc("dlg.profile_get_size", "caller", "alice") == 1
        assert srv.rpc("dlg.profile_get_size", "all") == 1
        assert len(srv.rpc("dlg.profile_list", "caller", "alice")) == 1
        assert srv.wait_log(f"DLGSTART {caller.callid} state=3 totag=callee")

        assert caller.bye() == 200
        assert srv.wait_log(f"DLGEND {caller.callid} var=y-alice")
        assert "INDLG BYE status=5" in srv.log() or "INDLG BYE status=" in srv.log()
        assert srv.rpc("dlg.list") == []
        st = srv.stats()
        assert st["active_dialogs"] == 0 and st["processed_dialogs"] == 1
        assert srv.rpc("dlg.profile_get_size", "caller", "alice") == 0
        assert srv.rpc("dlg.profile_get_size", "all") == 0
        caller.close()
