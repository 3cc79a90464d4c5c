"""nat_traversal in a running kamapy: keepalives arrive at the UA's source address every
keepalive_interval while its registration / subscription / call lives, stop when it
ends, show in the statistics, and survive a restart through keepalive_state_file."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time

import pytest

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer

from .ua import Ua, header

pytestmark = pytest.mark.wire

INTERVAL = 10  # Kamailio's (and kamapy's) minimum keepalive_interval

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "textops.so"
loadmodule "rr.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "jsonrpcs.so"
loadmodule "nat_traversal.so"
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("jsonrpcs", "fifo_name", "")
modparam("nat_traversal", "keepalive_interval", 10)
modparam("nat_traversal", "keepalive_state_file", "{dir}/keepalive_state")
{extra}
request_route {
    if (method == "OPTIONS" && uri =~ "^sip:127") { sl_send_reply("200", "OK"); exit; }
    if ((method == "REGISTER" || method == "SUBSCRIBE" || (method == "INVITE" && !has_totag()))
            && client_nat_test("3")) {
        nat_keepalive();
    }
    if (method == "REGISTER") {
        fix_contact();
        save("location");
        exit;
    }
    if (method == "SUBSCRIBE") {
        # a stand-in notifier: accepts through tm with the Expires asked for
        t_newtran();
        append_to_reply("Expires: $hdr(Expires)\r\n");
        t_reply("202", "Accepted");
        exit;
    }
    if (has_totag()) {
        loose_route();
        t_relay();
        exit;
    }
    if (method == "INVITE") {
        record_route();
        $du = $hdr(X-Callee);
        t_relay();
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""


def start(rundir, extra=""):
    return KamapyServer(CFG, children=2, fmt={"dir": rundir, "extra": extra}).start()


def rpc(rundir, method, *params):
    return rpc_call(os.path.join(rundir, "rpc.sock"), method, *params)


def nt_stats(rundir) -> dict[str, int]:
    res = rpc(rundir, "stats.get_statistics", "nat_traversal:")
    out = {}
    for line in res:
        name, _, value = line.partition(" = ")
        out[name.split(":", 1)[1]] = int(value)
    return out


def wait_stats(rundir, want: dict, timeout=4.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got = nt_stats(rundir)
        if all(got.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


@pytest.fixture
def rundir():
    d = tempfile.mkdtemp(prefix="kpnt")  # short: unix socket paths are limited
    yield d
    shutil.rmtree(d, ignore_errors=True)


def register(ua, srv, expires=60):
    ua.request("REGISTER", f"sip:example.com:{srv.port}", f"Expires: {expires}\r\n",
               contact="<sip:alice@10.0.0.5:5060>", callid=ua.callid + "r")
    return ua.final_reply()


@pytest.mark.slow  # 31 s
def test_register_keepalives_then_unregister_stops_them(rundir):
    srv = start(rundir)
    try:
        with Ua(("127.0.0.1", srv.port)) as ua:
            rpl = register(ua, srv)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            got = wait_stats(rundir, {"keepalive_endpoints": 1, "registered_endpoints": 1})
            assert got["keepalive_endpoints"] == 1 and got["registered_endpoints"] == 1, got
            first = ua.wait_request("NOTIFY", INTERVAL + 2)
            assert first is not None, srv.log()
            ka, t1 = first
            # sent to the source address the REGISTER came from, as Kamailio builds it
            assert ka.startswith(f"NOTIFY sip:127.0.0.1:{ua.addr[1]} SIP/2.0".encode())
            assert header(ka, "Event") == "keep-alive"
            assert header(ka, "To") == f"sip:127.0.0.1:{ua.addr[1]}"
            assert header(ka, "From").startswith("sip:keepalive@127.0.0.1;tag=")
            assert header(ka, "CSeq") == "1 NOTIFY"
            second = ua.wait_request("NOTIFY", INTERVAL + 2)
            assert second is not None
            assert INTERVAL - 1.5 <= second[1] - t1 <= INTERVAL + 1.5, second[1] - t1
            assert header(second[0], "Call-ID") != header(ka, "Call-ID")
            # the timer saved the state file meanwhile, with the server still running
            saved = open(os.path.join(rundir, "keepalive_state")).read()
            assert f"sip:127.0.0.1:{ua.addr[1]} udp:127.0.0.1:{srv.port} " in saved
            # unregister: the condition ends, nothing keeps the endpoint alive
            rpl = register(ua, srv, expires=0)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            got = wait_stats(rundir, {"keepalive_endpoints": 0, "registered_endpoints": 0})
            assert got["keepalive_endpoints"] == 0 and got["registered_endpoints"] == 0, got
            assert ua.wait_request("NOTIFY", INTERVAL + 1) is None
        # the UA's 200s to the keepalives were taken by the module, not relayed or logged as errors
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()


@pytest.mark.slow  # 16 s
def test_subscribe_through_tm_is_kept_alive_for_its_expires(rundir):
    srv = start(rundir, 'modparam("nat_traversal", "keepalive_method", "OPTIONS")\n'
                        'modparam("nat_traversal", "keepalive_from", "sip:ka@example.net")\n'
                        'modparam("nat_traversal", "keepalive_extra_headers", "X-KA: 1\\r\\n")\n')
    try:
        with Ua(("127.0.0.1", srv.port)) as ua:
            ua.request("SUBSCRIBE", f"sip:bob@127.0.0.1:{srv.port}", "Event: presence\r\nExpires: 14\r\n")
            rpl = ua.final_reply()
            assert rpl is not None and rpl.startswith(b"SIP/2.0 202"), rpl
            got = wait_stats(rundir, {"subscribed_endpoints": 1, "keepalive_endpoints": 1})
            assert got["subscribed_endpoints"] == 1 and got["registered_endpoints"] == 0, got
            ka = ua.wait_request("OPTIONS", INTERVAL + 2)
            assert ka is not None, srv.log()
            assert ka[0].startswith(f"OPTIONS sip:127.0.0.1:{ua.addr[1]} SIP/2.0".encode())
            assert header(ka[0], "From").startswith("sip:ka@example.net;tag=")
            assert header(ka[0], "X-KA") == "1" and header(ka[0], "Event") is None
            # 14 s after the 202 the subscription is over
            got = wait_stats(rundir, {"subscribed_endpoints": 0, "keepalive_endpoints": 0}, timeout=18)
            assert got["subscribed_endpoints"] == 0 and got["keepalive_endpoints"] == 0, got
    finally:
        srv.stop()


def test_state_file_keeps_keepalives_across_a_restart(rundir):
    srv = start(rundir)
    with Ua(("127.0.0.1", srv.port)) as ua:
        try:
            rpl = register(ua, srv, expires=120)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            assert wait_stats(rundir, {"registered_endpoints": 1})["registered_endpoints"] == 1
        finally:
            srv.stop()
        state = open(os.path.join(rundir, "keepalive_state")).read()
        assert f"sip:127.0.0.1:{ua.addr[1]} udp:127.0.0.1:{srv.port} " in state
        # same port again: a new server, no new REGISTER
        srv2 = KamapyServer(CFG, port=srv.port, children=2, fmt={"dir": rundir, "extra": ""}).start()
        try:
            got = wait_stats(rundir, {"registered_endpoints": 1, "keepalive_endpoints": 1})
            assert got["registered_endpoints"] == 1, got
            ka = ua.wait_request("NOTIFY", INTERVAL + 2)
            assert ka is not None, srv2.log()
            assert ka[0].startswith(f"NOTIFY sip:127.0.0.1:{ua.addr[1]} ".encode())
        finally:
            srv2.stop()


@pytest.mark.slow  # 13 s
def test_outgoing_invite_dialog_lives_until_bye(rundir):
    srv = start(rundir)
    try:
        with Ua(("127.0.0.1", srv.port)) as caller, Ua(("127.0.0.1", srv.port)) as callee:
            callee_uri = f"sip:127.0.0.1:{callee.addr[1]}"
            # the callee is kept alive for its registration already: the call adds a
            # dialog condition to it too
            rpl = register(callee, srv)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            assert wait_stats(rundir, {"registered_endpoints": 1})["registered_endpoints"] == 1
            caller.request("INVITE", "sip:bob@example.com", f"X-Callee: {callee_uri}\r\n")
            inv = callee.wait_request("INVITE", 3, code=None)
            assert inv is not None, srv.log()
            # the callee answers 200 with a To-tag; it goes back through kamapy
            text = inv[0].decode()
            head = [h for h in text.split("\r\n\r\n")[0].split("\r\n")[1:]
                    if h.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq", "record-route")]
            head = [h + ";tag=callee1" if h.lower().startswith("to:") else h for h in head]
            ok = ("SIP/2.0 200 OK\r\n" + "\r\n".join(head) +
                  f"\r\nContact: <{callee_uri}>\r\nContent-Length: 0\r\n\r\n")
            callee.sock.sendto(ok.encode(), ("127.0.0.1", srv.port))
            rpl = caller.final_reply()
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            got = wait_stats(rundir, {"dialog_endpoints": 2, "keepalive_endpoints": 2})
            assert got["dialog_endpoints"] == 2 and got["keepalive_endpoints"] == 2, got
            ka = caller.wait_request("NOTIFY", INTERVAL + 2)
            assert ka is not None
            # BYE from the caller, routed by the Record-Route to the callee
            rr = header(rpl, "Record-Route")
            caller.request("BYE", callee_uri, f"Route: {rr}\r\n", totag="callee1")
            bye = callee.wait_request("BYE", 3)  # answered 200 by the callee
            assert bye is not None, srv.log()
            rpl = caller.final_reply()
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            got = wait_stats(rundir, {"dialog_endpoints": 0, "keepalive_endpoints": 1})
            # the caller is gone from the table; the callee stays for its registration
            assert got["dialog_endpoints"] == 0 and got["keepalive_endpoints"] == 1, got
            assert got["registered_endpoints"] == 1, got
    finally:
        srv.stop()


def test_failed_invite_adds_no_dialog(rundir):
    srv = start(rundir)
    try:
        with Ua(("127.0.0.1", srv.port)) as caller, Ua(("127.0.0.1", srv.port)) as callee:
            caller.request("INVITE", "sip:bob@example.com",
                           f"X-Callee: sip:127.0.0.1:{callee.addr[1]}\r\n")
            inv = callee.wait_request("INVITE", 3, code=486)
            assert inv is not None
            rpl = caller.final_reply()
            assert rpl is not None and rpl.startswith(b"SIP/2.0 486"), rpl
            time.sleep(1.5)
            got = nt_stats(rundir)
            assert got["dialog_endpoints"] == 0 and got["keepalive_endpoints"] == 0, got
    finally:
        srv.stop()


def test_endpoints_survive_a_worker_killed(rundir):
    srv = start(rundir)
    try:
        with Ua(("127.0.0.1", srv.port)) as ua:
            rpl = register(ua, srv)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            assert wait_stats(rundir, {"registered_endpoints": 1})["registered_endpoints"] == 1
            for pid in srv.udp_workers():  # every SIP worker, SIGKILLed: no clean-up runs
                os.kill(pid, signal.SIGKILL)
            ka = ua.wait_request("NOTIFY", INTERVAL + 2)
            assert ka is not None, srv.log()
            got = wait_stats(rundir, {"registered_endpoints": 1, "keepalive_endpoints": 1})
            assert got["registered_endpoints"] == 1 and got["keepalive_endpoints"] == 1, got
            # the re-forked workers see the same table: an unregister still ends it
            rpl = register(ua, srv, expires=0)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), rpl
            got = wait_stats(rundir, {"keepalive_endpoints": 0})
            assert got["keepalive_endpoints"] == 0, got
    finally:
        srv.stop()


def test_bad_params_are_config_errors(tmp_path):
    import subprocess
    import sys

    from tests.support.server import REPO
    for param, value, hint in (("keepalive_method", "NOT IFY", "SIP method"),
                               ("keepalive_extra_headers", "X-A: 1", "must end with")):
        cfg = tmp_path / "bad.cfg"
        cfg.write_text('loadmodule "sl.so"\nloadmodule "tm.so"\nloadmodule "nat_traversal.so"\n'
                       f'modparam("nat_traversal", "{param}", "{value}")\n'
                       'request_route { sl_send_reply("200", "OK"); }\n')
        out = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(cfg)],
                             capture_output=True, text=True, timeout=60, cwd=str(REPO))
        assert out.returncode != 0
        assert f"{cfg}:4:" in out.stderr and hint in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
