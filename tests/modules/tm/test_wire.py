"""tm over the wire: a real kamapy (2 workers) between SIPp callers and callees.

One config serves every case, keyed on the R-URI user the caller dials (SIPp -s):
plain calls, CANCEL, serial forking from failure_route on 486, a callee that rings
until fr_inv_timer ends it with 408, parallel forking where the first 200 wins.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.support.ports import free_udp_ports
from tests.support.server import KamapyServer
from tests.support.sipp import SippRun, sipp_path

pytestmark = [pytest.mark.wire, pytest.mark.skipif(sipp_path() is None, reason="sipp not installed")]

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "tm"
loadmodule "tmx"
loadmodule "sl"
loadmodule "rr"
modparam("tm", "fr_timer", 2000)

request_route {
    if (method == "OPTIONS" && $rU == $null) { sl_send_reply("200", "OK"); exit; }
    if ($tt != $null) {
        if (loose_route()) {
            if (!t_relay()) { sl_reply_error(); }
            exit;
        }
        if (method == "ACK") {
            if (t_check_trans()) { t_relay(); }
            exit;
        }
        sl_send_reply("404", "Not here");
        exit;
    }
    if (method == "CANCEL") {
        if (t_check_trans()) { t_relay(); }
        exit;
    }
    if (method != "ACK") {
        if (t_precheck_trans()) { t_check_trans(); exit; }
        t_check_trans();
    }
    if (method == "INVITE") {
        record_route();
        $avp(callee) = $rU;
        if ($rU == "serial") { t_on_failure("NEXT"); }
        if ($rU == "timeout") { t_set_fr(1500, 1000); t_on_failure("TIMEOUT"); }
        if ($rU == "fork") { append_branch("sip:fork2@127.0.0.1:{uas2}"); }
    }
    if (!t_relay()) { sl_reply_error(); }
    exit;
}

failure_route[NEXT] {
    if (t_is_canceled()) { exit; }
    if (t_check_status("486") && $avp(callee) == "serial") {
        $ru = "sip:second@127.0.0.1:{uas2}";
        t_relay();
    }
}

failure_route[TIMEOUT] {
    if (t_branch_timeout() && $T_reply_code == 408 && $avp(callee) == "timeout") {
        log(1, "tm-test: branch timed out, AVP kept");
    }
}
"""


def sipp_uas(scenario: str, port: int, calls: int = 1, *extra: str) -> SippRun:
    return SippRun(scenario, "127.0.0.1", "-m", str(calls), "-timeout", "20s", *extra,
                   local_port=port).start()


def sipp_uac(scenario: str, uas_port: int, server_port: int, service: str, calls: int = 1,
             *extra: str) -> SippRun:
    return SippRun(scenario, f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{server_port}",
                   "-s", service, "-m", str(calls), "-recv_timeout", "6000", "-timeout", "20s",
                   *extra, local_port=free_udp_ports(1)[0])


@pytest.fixture(scope="module")
def net():
    uas1, uas2 = free_udp_ports(2)
    server = KamapyServer(CFG, fmt={"uas2": uas2})
    with server:
        yield server, uas1, uas2


def ok(stats: dict) -> tuple[int, int]:
    return int(stats["SuccessfulCall(C)"]), int(stats["FailedCall(C)"])


def finish(*runs: SippRun, timeout: float = 25.0):
    try:
        for r in runs:
            r.wait(timeout)
    finally:
        for r in runs:
            r.kill()


def test_call_through_the_proxy(net):
    server, uas1, _ = net
    uas = sipp_uas("tm_uas_call.xml", uas1)
    time.sleep(0.2)
    uac = sipp_uac("tm_uac_call.xml", uas1, server.port, "alice").start()
    finish(uac, uas)
    assert ok(uac.stats()) == (1, 0), server.log()
    assert ok(uas.stats()) == (1, 0)


def test_cancel_before_answer(net):
    server, uas1, _ = net
    uas = sipp_uas("tm_uas_ring.xml", uas1)
    time.sleep(0.2)
    uac = sipp_uac("tm_uac_cancel.xml", uas1, server.port, "bob").start()
    finish(uac, uas)
    assert ok(uac.stats()) == (1, 0), server.log()
    assert ok(uas.stats()) == (1, 0), server.log()


def test_busy_then_serial_fork_from_failure_route(net):
    server, uas1, uas2 = net
    busy = sipp_uas("tm_uas_busy.xml", uas1)
    second = sipp_uas("tm_uas_call.xml", uas2)
    time.sleep(0.2)
    uac = sipp_uac("tm_uac_call.xml", uas1, server.port, "serial").start()
    finish(uac, busy, second)
    assert ok(uac.stats()) == (1, 0), server.log()
    assert ok(busy.stats()) == (1, 0)   # got its ACK from the proxy
    assert ok(second.stats()) == (1, 0)


def test_silent_callee_times_out_with_408(net):
    server, uas1, _ = net
    ring = sipp_uas("tm_uas_ring.xml", uas1)
    time.sleep(0.2)
    started = time.monotonic()
    uac = sipp_uac("tm_uac_408.xml", uas1, server.port, "timeout").start()
    finish(uac, ring)
    took = time.monotonic() - started
    assert ok(uac.stats()) == (1, 0), server.log()
    assert ok(ring.stats()) == (1, 0), server.log()  # CANCELed when the timer fired
    assert 1.3 < took < 6, took
    assert "tm-test: branch timed out, AVP kept" in server.log()


def test_parallel_fork_first_200_wins_other_canceled(net):
    server, uas1, uas2 = net
    answer = sipp_uas("tm_uas_call.xml", uas1, 1, "-d", "300")
    ring = sipp_uas("tm_uas_ring.xml", uas2)
    time.sleep(0.2)
    uac = sipp_uac("tm_uac_call.xml", uas1, server.port, "fork").start()
    finish(uac, answer, ring)
    assert ok(uac.stats()) == (1, 0), server.log()
    assert ok(answer.stats()) == (1, 0)
    assert ok(ring.stats()) == (1, 0), server.log()


def _invite(port: int, server_port: int, uas_port: int, tag: str) -> bytes:
    return (f"INVITE sip:retr@127.0.0.1:{uas_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-retr-{tag};rport\r\n"
            f"From: <sip:a@127.0.0.1:{port}>;tag={tag}\r\nTo: <sip:retr@127.0.0.1:{uas_port}>\r\n"
            f"Call-ID: retr-{tag}@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Content-Length: 0\r\n\r\n").encode()


def test_uac_retransmissions_absorbed(net):
    """The INVITE sent three times reaches the callee once; each copy gets the 100."""
    server, _, _ = net
    uac = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        uac.bind(("127.0.0.1", 0))
        uas.bind(("127.0.0.1", 0))
        uac.settimeout(1.0)
        uas.settimeout(0.3)
        data = _invite(uac.getsockname()[1], server.port, uas.getsockname()[1], str(time.time_ns()))
        trying = 0
        for _ in range(3):
            uac.sendto(data, ("127.0.0.1", server.port))
            reply = uac.recv(65535)
            trying += reply.startswith(b"SIP/2.0 100")
        forwarded = []
        deadline = time.monotonic() + 0.4  # under T1: no retransmission of our own yet
        while time.monotonic() < deadline:
            try:
                forwarded.append(uas.recv(65535))
            except socket.timeout:
                break
        assert trying == 3
        assert len(forwarded) == 1, forwarded
        # the callee answers 486: the proxy ACKs it and relays it; a retransmitted INVITE
        # now gets the 486 again
        inv = forwarded[0].decode()
        vias = [ln for ln in inv.split("\r\n") if ln.startswith("Via:")]
        keep = [ln for ln in inv.split("\r\n") if ln.split(":")[0] in ("From", "To", "Call-ID", "CSeq")]
        busy = "SIP/2.0 486 Busy Here\r\n" + "\r\n".join(vias + [k + (";tag=u1" if k.startswith("To") else "")
                                                               for k in keep]) + "\r\nContent-Length: 0\r\n\r\n"
        uas.sendto(busy.encode(), ("127.0.0.1", server.port))
        ack = uas.recv(65535)
        assert ack.startswith(b"ACK "), ack
        got = uac.recv(65535)
        assert got.startswith(b"SIP/2.0 486"), got
        uac.sendto(data, ("127.0.0.1", server.port))
        again = uac.recv(65535)
        assert again.startswith(b"SIP/2.0 486"), again
    finally:
        uac.close()
        uas.close()


def test_load_two_workers_no_failed_calls(net):
    server, uas1, _ = net
    calls = 300
    uas = SippRun("tm_uas_call.xml", "127.0.0.1", "-timeout", "30s", local_port=uas1).start()
    time.sleep(0.2)
    uac = sipp_uac("tm_uac_call.xml", uas1, server.port, "load", calls, "-r", "100", "-l", "200")
    uac.start()
    try:
        uac.wait(30)
        stats = uac.stats()
    finally:
        uac.kill()
        uas.kill()
    assert ok(stats) == (calls, 0), server.log()[-3000:]
