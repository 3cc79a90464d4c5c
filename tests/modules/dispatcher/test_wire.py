"""dispatcher through a real kamapy: the selection each algorithm makes, the failover
XAVPs, the RPCs, and (with SIPp) probing taking a stopped destination out and back."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest
from kamapy_modules.dispatcher import dslist as L

from tests.support.ports import free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipp import SippRun, sipp_path

pytestmark = pytest.mark.wire

SCEN = Path(__file__).resolve().parents[2] / "scenarios"

CFG = """
listen=udp:127.0.0.1:{port}
disable_tcp=yes
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "jsonrpcs.so"
loadmodule "dispatcher.so"
modparam("jsonrpcs", "transport", 4)
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("tm", "fr_timer", 1000)
modparam("tm", "fr_inv_timer", 4000)
modparam("dispatcher", "list_file", "{dir}/dispatcher.list")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", {threshold})
modparam("dispatcher", "reload_delta", 0)
modparam("dispatcher", "setid_pvname", "$var(setid)")
modparam("dispatcher", "attrs_pvname", "$var(attrs)")

request_route {
    if (is_method("OPTIONS") && $hdr(X-Alg) != $null) {
        $var(a) = $(hdr(X-Alg){s.int});
        $var(s) = $(hdr(X-Set){s.int});
        if (!ds_select_dst("$var(s)", "$var(a)")) {
            sl_send_reply("404", "No destination");
            exit;
        }
        $var(n) = $xavp(_dsctx_=>cnt);
        $var(i) = 1;
        $var(rest) = "";
        while ($var(i) < $var(n)) {
            $var(rest) = $var(rest) + " " + $xavp(_dsdst_[$var(i)]=>uri);
            $var(i) = $var(i) + 1;
        }
        append_to_reply("X-Du: $du\\r\\nX-Rest:$var(rest)\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("OPTIONS") && $hdr(X-From) != $null) {
        if (ds_is_from_list("-1", "2", "$hdr(X-From)")) {
            append_to_reply("X-Match: yes\\r\\n");
        }
        if (ds_is_from_list()) {
            append_to_reply("X-Src: $var(setid)\\r\\n");
        }
        sl_send_reply("200", "OK");
        exit;
    }
    if (is_method("OPTIONS")) {
        sl_send_reply("200", "OK");
        exit;
    }
    if (has_totag()) {
        # in-dialog (no Record-Route here): to the R-URI, the UAS's Contact
        t_relay();
        exit;
    }
    if (!ds_select_dst("1", "4")) {
        sl_send_reply("503", "No destination");
        exit;
    }
    t_on_failure("RTF_DISPATCH");
    if (!t_relay()) {
        sl_reply_error();
    }
    exit;
}

failure_route[RTF_DISPATCH] {
    if (t_is_canceled()) {
        exit;
    }
    if (t_check_status("500") || (t_branch_timeout() && !t_branch_replied())) {
        ds_mark_dst("ip");
        if (ds_next_dst()) {
            t_on_failure("RTF_DISPATCH");
            t_relay();
            exit;
        }
    }
}

event_route[dispatcher:dst-down] {
    xlog("L_ERR", "DS-DOWN $ru code=$dsv(code)\\n");
}

event_route[dispatcher:dst-up] {
    xlog("L_ERR", "DS-UP $ru code=$dsv(code)\\n");
}
"""


class DsServer(KamapyServer):
    def __init__(self, dests: list[str], threshold: int = 1, children: int = 2):
        super().__init__(CFG, children=children)
        (self.dir / "dispatcher.list").write_text("\n".join(dests) + "\n")
        text = self.cfg_path.read_text().replace("{dir}", str(self.dir))
        self.cfg_path.write_text(text.replace("{threshold}", str(threshold)))

    def rpc(self, method, *params):
        return rpc_call(str(self.dir / "rpc.sock"), method, *params)


def _options(port, headers: str, cid: str, frm="sip:alice@example.com", to="sip:bob@example.com",
             ruri="sip:carol@example.net", auth=""):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    try:
        s.bind(("127.0.0.1", 0))
        lp = s.getsockname()[1]
        msg = (f"OPTIONS {ruri} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK-{cid};rport\r\n"
               f"From: <{frm}>;tag=f1\r\nTo: <{to}>\r\nCall-ID: {cid}\r\nCSeq: 1 OPTIONS\r\n"
               f"Max-Forwards: 70\r\n{auth}{headers}Content-Length: 0\r\n\r\n")
        s.sendto(msg.encode(), ("127.0.0.1", port))
        return s.recv(4000).decode()
    finally:
        s.close()


def _hdr(reply: str, name: str) -> str | None:
    m = re.search(rf"^{name}: ?(.*)\r$", reply, re.M)
    return m.group(1) if m else None


SET = ["1 sip:127.0.0.1:15061 0 0", "1 sip:127.0.0.1:15062 0 0", "1 sip:127.0.0.1:15063 0 0",
       "2 sip:127.0.0.1:15071 0 10 weight=50", "2 sip:127.0.0.1:15072 0 5 weight=50",
       "3 sip:127.0.0.1:15081;transport=udp 4 0 duid=x;foo=bar"]


@pytest.fixture(scope="module")
def srv():
    s = DsServer(SET)
    s.start()
    yield s
    s.stop()
    s.tmp.cleanup()


def test_round_robin_cycles_the_set(srv):
    # set 1 is loaded as [15063, 15062, 15061]: equal priorities, reverse file order
    seen = [_hdr(_options(srv.port, "X-Alg: 4\r\nX-Set: 1\r\n", f"rr{i}"), "X-Du") for i in range(9)]
    assert seen == ["sip:127.0.0.1:15063", "sip:127.0.0.1:15062", "sip:127.0.0.1:15061"] * 3
    r = _options(srv.port, "X-Alg: 4\r\nX-Set: 1\r\n", "rr-x")
    # the rest of the set follows the selected one, wrapping round, for ds_next_dst()
    assert _hdr(r, "X-Rest") == "sip:127.0.0.1:15062 sip:127.0.0.1:15061"


@pytest.mark.parametrize("alg", [0, 1, 2, 3])
def test_hash_algorithms_pick_what_the_hash_says(srv, alg):
    order = ["sip:127.0.0.1:15063", "sip:127.0.0.1:15062", "sip:127.0.0.1:15061"]
    counts = {u: 0 for u in order}
    for i in range(30):
        cid, frm = f"call-{alg}-{i}@host", f"sip:user{i}@example.com"
        to, ruri = f"sip:to{i}@example.org:5080", f"sip:r{i}@example.net"
        got = _hdr(_options(srv.port, f"X-Alg: {alg}\r\nX-Set: 1\r\n", cid, frm, to, ruri), "X-Du")
        key = {0: (cid, None), 1: ("user%d" % i, "example.com"),
               2: ("to%d" % i, "example.org:5080"), 3: ("r%d" % i, "example.net")}[alg]
        assert got == order[L.ds_hash(*key) % 3], (alg, i)
        counts[got] += 1
        # the same key always goes to the same place
        assert _hdr(_options(srv.port, f"X-Alg: {alg}\r\nX-Set: 1\r\n", cid, frm, to, ruri),
                    "X-Du") == got
    assert all(c > 0 for c in counts.values()), counts


def test_auth_username_hash_and_weights(srv):
    auth = 'Authorization: Digest username="alice", realm="x", nonce="n", uri="sip:x", response="r"\r\n'
    got = _hdr(_options(srv.port, "X-Alg: 5\r\nX-Set: 1\r\n", "au1", auth=auth), "X-Du")
    order = ["sip:127.0.0.1:15063", "sip:127.0.0.1:15062", "sip:127.0.0.1:15061"]
    assert got == order[L.ds_hash("alice") % 3]
    # weight 50/50 over 100 selections: exactly 50 each
    counts = {}
    for i in range(100):
        u = _hdr(_options(srv.port, "X-Alg: 9\r\nX-Set: 2\r\n", f"w{i}"), "X-Du")
        counts[u] = counts.get(u, 0) + 1
    assert counts == {"sip:127.0.0.1:15071": 50, "sip:127.0.0.1:15072": 50}
    # priority: the highest first
    assert _hdr(_options(srv.port, "X-Alg: 8\r\nX-Set: 2\r\n", "p1"), "X-Du") == "sip:127.0.0.1:15071"
    # a set whose only destination is disabled selects nothing
    assert _options(srv.port, "X-Alg: 4\r\nX-Set: 3\r\n", "d1").startswith("SIP/2.0 404")
    assert _options(srv.port, "X-Alg: 4\r\nX-Set: 9\r\n", "d2").startswith("SIP/2.0 404")


def test_is_from_list(srv):
    r = _options(srv.port, "X-From: sip:127.0.0.1:15062\r\n", "f1")
    assert _hdr(r, "X-Match") == "yes" and _hdr(r, "X-Src") is None
    r = _options(srv.port, "X-From: sip:127.0.0.1:15999\r\n", "f2")
    assert _hdr(r, "X-Match") is None


def test_rpc_list_set_state_and_reload(srv):
    out = srv.rpc("dispatcher.list")
    assert out["NRSETS"] == 3
    ids = [r["SET"]["ID"] for r in out["RECORDS"]]
    assert ids == [1, 3, 2]   # Kamailio's AVL walk
    s3 = out["RECORDS"][1]["SET"]["TARGETS"][0]["DEST"]
    assert s3 == {"URI": "sip:127.0.0.1:15081;transport=udp", "FLAGS": "DX", "PRIORITY": 0,
                  "ATTRS": {"BODY": "duid=x;foo=bar", "DUID": "x", "MAXLOAD": 0, "WEIGHT": 0,
                            "RWEIGHT": 0, "SOCKET": None, "SOCKNAME": None, "OBPROXY": None}}
    assert srv.rpc("dispatcher.set_state", "a", 3, "sip:127.0.0.1:15081;transport=udp") == \
        "Ok. Dispatcher state updated."
    assert srv.rpc("dispatcher.list", "short")["RECORDS"][1]["SET"]["TARGETS"][0]["DEST"]["FLAGS"] == "AX"
    with pytest.raises(RuntimeError, match="State Update Failed"):
        srv.rpc("dispatcher.set_state", "a", 3, "sip:127.0.0.9")
    assert srv.rpc("dispatcher.ping_active") == {"OldPingState": 1}
    assert srv.rpc("dispatcher.hash", 4, "bob", "server.com") == {"hashid": 3883463682, "slot": 2}
    full = srv.rpc("dispatcher.list", "full")["RECORDS"][0]["SET"]["TARGETS"][0]["DEST"]
    assert full["IPADDR"] == "127.0.0.1" and full["PORT"] == 15063 and full["PROTOID"] == 0
    # a reload brings back the file's states; the other workers see the new list
    assert srv.rpc("dispatcher.reload") == "Ok. Dispatcher successfully reloaded."
    flags = {srv.rpc("dispatcher.list")["RECORDS"][1]["SET"]["TARGETS"][0]["DEST"]["FLAGS"]
             for _ in range(4)}
    assert flags == {"DX"}


def _poll(fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def _flags(srv, uri):
    for rec in srv.rpc("dispatcher.list")["RECORDS"]:
        for t in rec["SET"]["TARGETS"]:
            if t["DEST"]["URI"] == uri:
                return t["DEST"]["FLAGS"]
    return None


def test_probing_takes_a_stopped_uas_out_and_back():
    """3 SIPp UAS; one stopped mid-run: keepalives mark it down within the threshold,
    the calls go to the other two with no failure beyond the in-flight ones, and it is
    back up once restarted."""
    _failover(150, 25, cycles=1, max_failed=4)


@pytest.mark.slow
def test_probing_soak_two_outages_under_load():
    """The same at 80 calls/s for ~25 s, the UAS stopped and restarted twice."""
    _failover(2000, 80, cycles=2, max_failed=12, children=4)


def _failover(n_calls, rate, cycles, max_failed, children=2):
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    ports = free_udp_ports(3)
    dests = [f"1 sip:127.0.0.1:{p} 0 0" for p in ports]

    def uas(p):
        return SippRun(str(SCEN / "tm_uas_call.xml"), "", "-aa", "-d", "50",
                       local_port=p).start()

    with DsServer(dests, threshold=2, children=children) as srv:
        servers = [uas(p) for p in ports]
        uac = None
        victim = f"sip:127.0.0.1:{ports[1]}"
        try:
            time.sleep(1.5)
            assert [_flags(srv, f"sip:127.0.0.1:{p}") for p in ports] == ["AP"] * 3
            uac = SippRun(str(SCEN / "tm_uac_call.xml"), f"127.0.0.1:{srv.port}", "-s", "svc",
                          "-m", str(n_calls), "-r", str(rate), "-l", str(rate),
                          "-timeout", str(n_calls // rate + 30), "-timeout_error").start()
            for _ in range(cycles):
                time.sleep(2.0)
                t0 = time.monotonic()
                servers[1].kill()
                # marked down by the failure route of an in-flight INVITE, or by the
                # pings (threshold 2 at a 1 s interval, each ping's 408 after 1 s)
                assert _poll(lambda: _flags(srv, victim) == "IP", 6), _flags(srv, victim)
                assert time.monotonic() - t0 < 6
                assert _poll(lambda: "DS-DOWN " in srv.log(), 2)
                time.sleep(1.0)
                servers[1] = uas(ports[1])
                assert _poll(lambda: _flags(srv, victim) == "AP", 6), _flags(srv, victim)
                assert _poll(lambda: f"DS-UP {victim} code=200" in srv.log(), 2)
            uac.wait(n_calls // rate + 40)
            st = uac.stats()
            ok, failed = int(st["SuccessfulCall(C)"]), int(st["FailedCall(C)"])
            err = Path(uac.dir, "err.log")
            why = err.read_text(errors="replace")[-3000:] if err.exists() else ""
            # calls up at the moment of the kill may lose their BYE (failed, or still
            # retransmitting it when SIPp's global timeout ends the run); no other fails
            assert ok >= n_calls - max_failed * cycles, (ok, failed, why)
            # without traffic, the keepalives alone: two 408s (the threshold) take it out
            t0 = time.monotonic()
            servers[1].kill()
            assert _poll(lambda: _flags(srv, victim) == "IP", 7), _flags(srv, victim)
            assert time.monotonic() - t0 < 7
            assert _poll(lambda: f"DS-DOWN {victim} code=408" in srv.log(), 2)
        finally:
            if uac:
                uac.kill()
            for s in servers:
                s.kill()
