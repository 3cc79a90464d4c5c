"""A running kamapy with usrloc, managed by Debian's kamctl (RPCFIFO engine: ps,
uptime, stats, ul show after a REGISTER) and by kamapyctl (ul add / show / rm)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

from .kamctl_runner import KAMCTL, kamctl, reply_json

pytestmark = pytest.mark.wire
needs_kamctl = pytest.mark.skipif(KAMCTL is None, reason="kamctl (Debian package kamailio) not installed")

BASE_CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "fifo_name", "{dir}/kamapy_rpc.fifo")
modparam("jsonrpcs", "transport", 2)
request_route {
    if (method == "OPTIONS") {
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""

UL_CFG = r"""
debug=2
children=2
listen=udp:127.0.0.1:{port}
loadmodule "sl.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "jsonrpcs.so"
modparam("jsonrpcs", "fifo_name", "{dir}/kamapy_rpc.fifo")
modparam("jsonrpcs", "transport", 2)
request_route {
    if (method == "REGISTER") {
        save("location");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""

REGISTER = (
    "REGISTER sip:example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-kamctl-1\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@example.com>;tag=a1\r\n"
    "To: <sip:alice@example.com>\r\n"
    "Call-ID: kamctl-reg-1@127.0.0.1\r\n"
    "CSeq: 1 REGISTER\r\n"
    "Contact: <sip:alice@127.0.0.1:{lport}>;expires=600\r\n"
    "Content-Length: 0\r\n\r\n")


def _serve(cfg):
    rundir = tempfile.mkdtemp(prefix="kpctl")   # short: unix socket paths are limited
    try:
        srv = KamapyServer(cfg, children=2, fmt={"dir": rundir})
        srv.fifo = os.path.join(rundir, "kamapy_rpc.fifo")
        with srv:
            yield srv
    finally:
        shutil.rmtree(rundir, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    yield from _serve(BASE_CFG)


@pytest.fixture(scope="module")
def ul_server():
    yield from _serve(UL_CFG)


@needs_kamctl
def test_kamctl_ps(server, tmp_path):
    res = kamctl(tmp_path, server.fifo, "ps")
    assert res.returncode == 0, res.stderr
    procs = reply_json(res.stdout)["result"]
    assert procs[0] == {"IDX": 0, "PID": server.pid, "DSC": "main process - attendant"}
    assert "JSONRPCS FIFO" in [p["DSC"] for p in procs]


@needs_kamctl
def test_kamctl_uptime(server, tmp_path):
    up = reply_json(kamctl(tmp_path, server.fifo, "uptime").stdout)["result"]
    assert set(up) == {"now", "up_since", "uptime"} and 0 <= up["uptime"] < 120


@needs_kamctl
def test_kamctl_stats(server, tmp_path):
    with SipClient(("127.0.0.1", server.port)) as c:
        assert status_of(c.request(c.options())) == 200
    res = kamctl(tmp_path, server.fifo, "stats", "sl")
    lines = [line.strip().strip('",') for line in res.stdout.splitlines() if "=" in line]
    assert any(line.startswith("sl:200_replies = ") and int(line.split("= ")[1]) >= 1 for line in lines), res.stdout
    res = kamctl(tmp_path, server.fifo, "stats")
    assert "shmem:total_size = 67108864" in res.stdout


@needs_kamctl
def test_kamctl_ul_show(ul_server, tmp_path):
    server = ul_server
    with SipClient(("127.0.0.1", server.port)) as c:
        lport = c.sock.getsockname()[1]
        assert status_of(c.request(REGISTER.format(lport=lport).encode())) == 200
    res = kamctl(tmp_path, server.fifo, "ul", "show")
    assert res.returncode == 0, res.stderr
    dump = reply_json(res.stdout)["result"]["Domains"][0]["Domain"]
    assert dump["Domain"] == "location"
    # usrloc's default use_domain=0: the AOR is the user part, as in Kamailio
    (aor,) = [a["Info"] for a in dump["AoRs"] if a["Info"]["AoR"] == "alice"]
    assert aor["Contacts"][0]["Contact"]["Address"] == f"sip:alice@127.0.0.1:{lport}"
    one = reply_json(kamctl(tmp_path, server.fifo, "ul", "show", "alice@example.com").stdout)
    assert one["result"]["Contacts"][0]["Contact"]["Address"] == f"sip:alice@127.0.0.1:{lport}", one


def kamapyctl(server, *args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "kamapy.ctl", "--fifo", server.fifo, *args],
                          capture_output=True, text=True, timeout=30)


def test_kamapyctl_ul_add_show_rm(ul_server):
    server = ul_server
    res = kamapyctl(server, "ul", "add", "bob", "sip:bob@192.0.2.7:5060", "--expires", "300")
    assert res.returncode == 0, res.stderr
    res = kamapyctl(server, "-F", "json", "ul", "show", "bob")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["Contacts"][0]["Contact"]["Address"] == "sip:bob@192.0.2.7:5060"
    # the default output is for people: an indented tree, one value a line, no JSON
    res = kamapyctl(server, "ul", "show")
    assert res.returncode == 0, res.stderr
    assert ["Address", "sip:bob@192.0.2.7:5060"] in [ln.split() for ln in res.stdout.splitlines()]
    assert "{" not in res.stdout
    assert kamapyctl(server, "ul", "rm", "bob").returncode == 0
    res = kamapyctl(server, "ul", "show", "bob")
    assert res.returncode == 1 and res.stderr.startswith("Error: ") and "Traceback" not in res.stderr
