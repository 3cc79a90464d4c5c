"""Debian's stock kamailio.cfg, unchanged, with -A WITH_ANTIFLOOD on a real kamapy (two
workers): a REGISTER flood from one address gets pike-blocked (between x and 3x
requests of reqs_density 16), the htable ban ($sht(ipban=>$si)) then keeps the address
out after pike has let go of it, other addresses are still served, and once the ban's
time is over (shortened here through htable.setex) the address is answered again."""

from __future__ import annotations

import os
import time

import pytest

from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

STOCK = "/etc/kamailio/kamailio.cfg"

pytestmark = pytest.mark.wire


def register(c: SipClient, port: int, n: int) -> bytes:
    return (f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {c.host}:{c.port};branch=z9hG4bK-fl{n}-{time.time_ns()};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:flood@127.0.0.1>;tag=f{n}\r\nTo: <sip:flood@127.0.0.1>\r\n"
            f"Call-ID: flood-{c.host}-{n}@x\r\nCSeq: {n} REGISTER\r\n"
            f"Contact: <sip:flood@{c.host}:{c.port}>\r\nExpires: 60\r\nContent-Length: 0\r\n\r\n").encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(STOCK):
        pytest.skip("Debian's kamailio package (its kamailio.cfg) is not installed")
    run = tmp_path_factory.mktemp("run")
    text = open(STOCK).read()
    srv = KamapyServer(text, children=2)
    srv.args = ["-A", "WITH_ANTIFLOOD", "-l", f"udp:127.0.0.1:{srv.port}", "-Y", str(run)]
    with srv:
        srv.rpc = str(run / "kamapy_rpc.sock")
        yield srv


def test_flood_is_blocked_and_the_ban_holds(server):
    port = server.port
    with SipClient(("127.0.0.1", port), host="127.0.0.2") as flood:
        answered = 0
        for n in range(1, 80):
            reply = flood.request(register(flood, port, n), timeout=0.5)
            if reply is None:
                break
            assert status_of(reply) == 200
            answered += 1
        assert 16 <= answered <= 48, f"{answered} REGISTERs answered before the block"
        assert "PIKE - BLOCKing ip 127.0.0.2" in server.log()
        assert "ALERT: pike blocking REGISTER from sip:flood@127.0.0.1 (IP:127.0.0.2:" in server.log()
        top = rpc_call(server.rpc, "pike.top")
        assert [r["ip_addr"] for r in top["list"]] == ["127.0.0.2"] and top["max_hits"] == 16
        ban = rpc_call(server.rpc, "htable.get", "ipban", "127.0.0.2")["item"]
        assert ban["value"] == 1 and ban["expire"] != "NEVER"
        assert rpc_call(server.rpc, "cnt.get", "pike", "blocked_ips") == 1

        # another address is served meanwhile
        with SipClient(("127.0.0.1", port), host="127.0.0.3") as other:
            assert status_of(other.request(register(other, port, 1))) == 200

        # pike lets go once its units are quiet (sampling 2 s); the ban still holds
        deadline = time.monotonic() + 10
        while rpc_call(server.rpc, "pike.top")["list"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not rpc_call(server.rpc, "pike.top")["list"], "pike never unblocked the address"
        assert flood.request(register(flood, port, 100), timeout=0.5) is None

        # the ban's time runs out: answered again
        assert rpc_call(server.rpc, "htable.setex", "ipban", "127.0.0.2", 1) == "Ok"
        deadline = time.monotonic() + 5
        reply = None
        while reply is None and time.monotonic() < deadline:
            time.sleep(0.5)
            reply = flood.request(register(flood, port, 101), timeout=0.5)
        assert status_of(reply) == 200
