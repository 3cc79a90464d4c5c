"""Dialogs that outlive the server (db_mode): calls up, every kamapy process
SIGKILLed, a restart on the same port -- each confirmed dialog is back with its
h_entry/h_id, vars, profiles, flags and timeout, and the caller's BYE (Route with the
did param of the old run) is matched and ends it. db_mode 1 writes at once, db_mode 2
once db_update_period has passed; SQLite and PostgreSQL (when installed)."""

from __future__ import annotations

import time

import pytest

from kamapy.db import connect, schema

from .server import DialogServer
from .ua import Callee, Caller

pytestmark = pytest.mark.wire


def _params(url: str, mode: int) -> str:
    return (f'modparam("dialog", "db_url", "{url}")\n'
            f'modparam("dialog", "db_mode", {mode})\n'
            'modparam("dialog", "db_update_period", 1)\n'
            'modparam("dialog", "default_timeout", 3600)\n')


def _calls(n: int, db_url: str, mode: int):
    schema.create_tables(db_url, ["dialog", "dialog_vars"])
    callee = Callee()
    callee.start()
    callers = []
    try:
        srv = DialogServer(_params(db_url, mode))
        with srv:
            for i in range(n):
                c = Caller(srv.port, callee.port, f"u{i % 7}x")
                # the profile limit of the test config is 2 calls per user
                c.user = f"user{i}"
                assert c.invite() == 200, i
                callers.append(c)
            time.sleep(0.3 if mode == 1 else 2.5)  # mode 2: one db_update_period passed
            before = {d["call-id"]: d for d in srv.rpc("dlg.list")}
            assert len(before) == n
            srv.kill_all()
        with connect(db_url) as conn:
            assert conn.count("dialog") == n
            assert conn.count("dialog_vars") == n
        with DialogServer(_params(db_url, mode), port=srv.port) as again:
            after = {d["call-id"]: d for d in again.rpc("dlg.list")}
            assert set(after) == set(before)
            for cid, d in after.items():
                b = before[cid]
                for k in ("h_entry", "h_id", "state", "from_uri", "to_uri", "start_ts", "timeout",
                          "sflags", "caller", "callee", "variables"):
                    assert d[k] == b[k], (k, d[k], b[k])
                assert sorted(map(str, d["profiles"])) == sorted(map(str, b["profiles"]))
            st = again.stats()
            assert st["active_dialogs"] == n
            assert again.rpc("dlg.profile_get_size", "all") == n
            assert again.rpc("dlg.profile_get_size", "caller", "user1") == 1
            for c in callers:
                assert c.bye() == 200
            assert again.wait_gone(10)
            assert again.rpc("dlg.profile_get_size", "all") == 0
            assert again.stats()["active_dialogs"] == 0
            # new dialogs do not take the ids of the restored ones
            c = Caller(again.port, callee.port, "fresh")
            assert c.invite() == 200
            (d,) = again.rpc("dlg.list")
            assert (d["h_entry"], d["h_id"]) not in {(b["h_entry"], b["h_id"]) for b in before.values()}
            assert c.bye() == 200
            c.close()
            assert again.wait_gone(10)
        with connect(db_url) as conn:
            assert conn.count("dialog") == 0 and conn.count("dialog_vars") == 0
    finally:
        for c in callers:
            c.close()
        callee.stop()


@pytest.mark.parametrize("mode", [1, 2])
def test_dialogs_survive_sigkill(db_url, mode):
    # the quick run: realtime on SQLite, delayed on PostgreSQL (each ~8 s); the slow
    # test below runs all four with 1,000 dialogs
    if db_url.startswith("sqlite") != (mode == 1):
        pytest.skip("this driver/db_mode pair runs in the slow test")
    _calls(10, db_url, mode)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [1, 2])
def test_thousand_dialogs_survive_sigkill(db_url, mode):
    _calls(1000, db_url, mode)


def test_missing_table_is_a_start_up_error(tmp_path):
    url = f"sqlite://{tmp_path}/empty.db"
    connect(url).close()
    with pytest.raises(RuntimeError, match="kamapyctl db create"):
        with DialogServer(_params(url, 1)):
            pass


def test_shutdown_mode_writes_at_stop(tmp_path):
    """db_mode 3: nothing in the table while running, every dialog after a clean stop,
    and back after the restart."""
    url = f"sqlite://{tmp_path}/dlg.db"
    schema.create_tables(url, ["dialog", "dialog_vars"])
    callee = Callee()
    callee.start()
    try:
        srv = DialogServer(_params(url, 3))
        with srv:
            c = Caller(srv.port, callee.port, "sam")
            assert c.invite() == 200
            time.sleep(1.5)
            with connect(url) as conn:
                assert conn.count("dialog") == 0
        with connect(url) as conn:
            assert conn.count("dialog") == 1 and conn.count("dialog_vars") == 1
        with DialogServer(_params(url, 3), port=srv.port) as again:
            (d,) = again.rpc("dlg.list")
            assert d["call-id"] == c.callid and d["variables"] == [{"x": "y-sam"}]
            assert c.bye() == 200
            assert again.wait_gone(10)
        with connect(url) as conn:
            assert conn.count("dialog") == 0
        c.close()
    finally:
        callee.stop()


def test_filter_mode_leaves_other_nodes_dialogs_alone(tmp_path):
    """dlg_filter_mode 1: a dialog loaded from the table whose socket is not ours
    (another node's) is not timed out here; our own past-due one is."""
    from kamapy_modules.dialog.store import DialogStore
    url = f"sqlite://{tmp_path}/dlg.db"
    schema.create_tables(url, ["dialog", "dialog_vars"])
    entry_of = DialogStore(shared=False).entry_of  # hash_size 4096, as the server's
    now = int(time.time())
    with connect(url) as conn:
        for cid, sock in (("foreign-1", "udp:10.9.9.9:5060"), ("ours-1", None)):
            conn.insert("dialog", {
                "hash_entry": entry_of(cid), "hash_id": 7, "callid": cid, "from_uri": "sip:a@x",
                "from_tag": "ft", "to_uri": "sip:b@y", "to_tag": "tt", "caller_cseq": "1",
                "callee_cseq": "0", "caller_contact": "sip:a@10.9.9.1", "callee_contact": "sip:b@10.9.9.2",
                "caller_sock": sock or "SOCK", "callee_sock": sock or "SOCK", "state": 4,
                "start_time": now - 100, "timeout": now - 1, "sflags": 0, "iflags": 0, "req_uri": "sip:b@y"})
    srv = DialogServer(_params(url, 1) + 'modparam("dialog", "dlg_filter_mode", 1)\n')
    with connect(url) as conn:  # our socket is known only now (the port)
        conn.update("dialog", {"callid": "ours-1"},
                    {"caller_sock": f"udp:127.0.0.1:{srv.port}", "callee_sock": f"udp:127.0.0.1:{srv.port}"})
    with srv:
        time.sleep(2.5)
        left = [d["call-id"] for d in srv.rpc("dlg.list")]
        assert left == ["foreign-1"], left


def test_db_load_callid_at_run_time(tmp_path):
    """dlg_db_load_callid(): a row written by another node after start-up comes into
    memory when the script asks for its Call-ID."""
    from kamapy_modules.dialog.store import DialogStore
    url = f"sqlite://{tmp_path}/dlg.db"
    schema.create_tables(url, ["dialog", "dialog_vars"])
    callee = Callee()
    callee.start()
    try:
        with DialogServer(_params(url, 1), invite_extra='if ($hdr(X-Load) != $null) '
                          '{ dlg_db_load_callid("$hdr(X-Load)"); }') as srv:
            now = int(time.time())
            with connect(url) as conn:
                conn.insert("dialog", {
                    "hash_entry": DialogStore(shared=False).entry_of("elsewhere-1"), "hash_id": 9,
                    "callid": "elsewhere-1", "from_uri": "sip:a@x", "from_tag": "ft", "to_uri": "sip:b@y",
                    "to_tag": "tt", "caller_cseq": "1", "callee_cseq": "0", "caller_contact": "sip:a@h",
                    "callee_contact": "sip:b@h", "caller_sock": "", "callee_sock": "", "state": 4,
                    "start_time": now, "timeout": now + 600, "sflags": 0, "iflags": 0, "req_uri": "sip:b@y"})
                conn.insert("dialog_vars", {"hash_entry": DialogStore(shared=False).entry_of("elsewhere-1"),
                                            "hash_id": 9, "dialog_key": "k", "dialog_value": "v"})
            assert srv.rpc("dlg.dlg_list", "elsewhere-1") == []
            c = Caller(srv.port, callee.port, "lou")
            c.extra = "X-Load: elsewhere-1\r\n"
            assert c.invite() == 200
            (d,) = srv.rpc("dlg.dlg_list", "elsewhere-1")
            assert d["h_id"] == 9 and d["state"] == 4 and d["variables"] == [{"k": "v"}]
            assert c.bye() == 200
            c.close()
    finally:
        callee.stop()
