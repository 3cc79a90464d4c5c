"""jsonrpcs in a running kamapy: its processes, the core commands over the FIFO and
the datagram socket, statistics that move, and the clean-up at shutdown."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import pytest

from kamapy.ctl.clients.dgram import DgramClient
from kamapy.ctl.clients.fifo import FifoClient
from tests.support.server import KamapyServer, alive
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
alias="example.com:5080"
loadmodule "sl.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "fifo_name", "{dir}/kamapy_rpc.fifo")
modparam("jsonrpcs", "dgram_socket", "{dir}/kamapy_rpc.sock")
request_route {
    if (method == "OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""


@pytest.fixture(scope="module")
def server():
    rundir = tempfile.mkdtemp(prefix="kprpc")   # short: unix socket paths are limited
    try:
        srv = KamapyServer(CFG, children=2, fmt={"dir": rundir})
        srv.fifo = os.path.join(rundir, "kamapy_rpc.fifo")
        srv.sock = os.path.join(rundir, "kamapy_rpc.sock")
        with srv:
            yield srv
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


def rpc(server, method, *params, via="socket"):
    doc = {"jsonrpc": "2.0", "method": method, "id": 1}
    if params:
        doc["params"] = list(params)
    client = DgramClient(server.sock, 5.0) if via == "socket" else FifoClient(server.fifo, 5.0)
    return json.loads(client.request(doc))


def test_rpc_processes_are_in_the_process_table(server):
    procs = rpc(server, "core.psx")["result"]
    descs = [p["DSC"] for p in procs]
    assert descs[0] == "main process - attendant" and procs[0]["PID"] == server.pid
    assert "JSONRPCS FIFO" in descs and "JSONRPCS DATAGRAM" in descs
    assert sum(d.startswith("udp receiver") for d in descs) == 2
    assert {p["PID"] for p in procs[1:]} == set(server.workers())


def test_same_answers_over_fifo_and_socket(server):
    for via in ("socket", "fifo"):
        assert rpc(server, "core.version", via=via)["result"].startswith("kamapy ")
        assert rpc(server, "core.echo", "a", 1, via=via)["result"] == ["a", "1"]


def test_core_commands(server):
    up = rpc(server, "core.uptime")["result"]
    assert 0 <= up["uptime"] < 120
    shm = rpc(server, "core.shmmem")["result"]
    assert shm["total"] == 64 * 1024 * 1024 and 0 < shm["real_used"] < shm["total"]
    assert set(shm) == {"total", "free", "used", "real_used", "max_used", "fragments"}
    sockets = rpc(server, "core.sockets_list")["result"]
    assert sockets == [{"socket": {"proto": "udp", "address": "127.0.0.1", "port": str(server.port),
                                   "mcast": "no", "mhomed": "no", "virtual": "no"}}]
    aliases = rpc(server, "core.aliases_list")["result"]["aliases"]
    assert {"alias": {"proto": "*", "address": "example.com", "port": 5080}} in aliases
    names = rpc(server, "system.listMethods")["result"]
    assert {"sl.stats", "jsonrpc.echo", "core.psx", "stats.fetch"} <= set(names)
    assert rpc(server, "no.such")["error"] == {"code": 500, "message": "Method Not Found"}


def test_statistics_move_with_traffic(server):
    before = int(rpc(server, "stats.fetch", "sl.200_replies")["result"]["sl.200_replies"])
    with SipClient(("127.0.0.1", server.port)) as c:
        for _ in range(3):
            assert status_of(c.request(c.options())) == 200
    # a worker counts a reply just after sending it: allow it that moment
    deadline = time.monotonic() + 2
    while True:
        after = rpc(server, "stats.get_statistics", "sl:")["result"]
        if f"sl:200_replies = {before + 3}" in after or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert f"sl:200_replies = {before + 3}" in after
    rpc(server, "stats.reset_statistics", "sl:")
    assert rpc(server, "stats.fetchn", "sl.200_replies")["result"] == {"sl.200_replies": 0}


def test_malformed_message_counts_in_bad_msg_hdr(server):
    def bad_msg_hdr():
        return int(rpc(server, "stats.fetch", "core.bad_msg_hdr")["result"]["core.bad_msg_hdr"])

    before = bad_msg_hdr()
    with SipClient(("127.0.0.1", server.port)) as c:
        for n in range(2):
            c.send(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:70000;branch=z9hG4bKx"
                   + str(n).encode() + b"\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: bad\r\n"
                   b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        assert status_of(c.request(c.options())) == 200  # the server goes on
    # Two workers share the socket: the OPTIONS may be answered by one while the other
    # is still logging its bad message, so wait (bounded) for the counter.
    deadline = time.monotonic() + 5
    while bad_msg_hdr() < before + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bad_msg_hdr() == before + 2


def test_received_messages_count_by_method_and_reply_class(server):
    """core: rcv_requests with the method's own counter (an unknown method counts as
    unsupported_methods), rcv_replies with its class (and _18x for 180-189); sl:
    sent_replies with the code's counter."""
    names = ["core.rcv_requests", "core.rcv_requests_options", "core.rcv_requests_invite",
             "core.unsupported_methods", "core.rcv_replies", "core.rcv_replies_1xx",
             "core.rcv_replies_18x", "core.rcv_replies_2xx", "sl.sent_replies",
             "sl.200_replies", "sl.404_replies"]

    def counts():
        got = rpc(server, "stats.fetch", "core:", "sl:")["result"]
        return {n: int(got[n]) for n in names}

    before = counts()
    with SipClient(("127.0.0.1", server.port)) as c:
        for _ in range(2):
            assert status_of(c.request(c.options())) == 200
        via = f"Via: SIP/2.0/UDP 127.0.0.1:{c.port};branch=z9hG4bKcount".encode()
        hdrs = (b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: count\r\n")
        c.send(b"FROB sip:x@127.0.0.1 SIP/2.0\r\n" + via + b"1\r\n" + hdrs
               + b"CSeq: 1 FROB\r\nContent-Length: 0\r\n\r\n")
        assert status_of(c.recv(3.0)) == 404
        # replies nobody asked for: counted, then dropped (their Via is not ours)
        for code in (b"180 Ringing", b"100 Trying", b"200 OK"):
            c.send(b"SIP/2.0 " + code + b"\r\n" + via + b"2\r\n" + hdrs
                   + b"CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
    want = dict(before)
    for n, d in (("core.rcv_requests", 3), ("core.rcv_requests_options", 2),
                 ("core.unsupported_methods", 1), ("core.rcv_replies", 3),
                 ("core.rcv_replies_1xx", 2), ("core.rcv_replies_18x", 1),
                 ("core.rcv_replies_2xx", 1), ("sl.sent_replies", 3), ("sl.200_replies", 2),
                 ("sl.404_replies", 1)):
        want[n] += d
    deadline = time.monotonic() + 5  # two workers: the last reply may still be counting
    while counts() != want and time.monotonic() < deadline:
        time.sleep(0.02)
    assert counts() == want


def test_kamapyctl_finds_the_server_from_its_config(server):
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "kamapy.ctl", "-f", str(server.cfg_path), "-F", "json", "ps"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)[0]["PID"] == server.pid


def test_fifo_and_socket_go_away_with_the_server():
    rundir = tempfile.mkdtemp(prefix="kprpc")
    try:
        srv = KamapyServer(CFG, children=1, fmt={"dir": rundir})
        with srv:
            fifo, sock = os.path.join(rundir, "kamapy_rpc.fifo"), os.path.join(rundir, "kamapy_rpc.sock")
            assert os.path.exists(fifo) and os.path.exists(sock)
            kids = srv.workers()
            assert srv.stop() == 0
        assert not os.path.exists(fifo) and not os.path.exists(sock)
        assert not [p for p in kids if alive(p)]
    finally:
        shutil.rmtree(rundir, ignore_errors=True)
