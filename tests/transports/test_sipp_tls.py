"""SIPp over TLS: register, call, BYE -- against kamapy and against Kamailio 5.6.

Debian's SIPp is built without OpenSSL, so `-t l1` cannot run here. SIPp runs `-t t1`
and speaks TCP to tests/support/tls_tunnel.py on loopback; the tunnel carries the bytes
over a real TLS connection (Python ssl, trustme certificates) to the server's tls
listener, and a second tunnel is the callee's TLS side (the server connects to it over
TLS, it forwards to the SIPp UAS's TCP port). So the hops server<->tunnel are the
server's own TLS stack, both as TLS server and as TLS client.

That the traffic really went over TLS is checked three ways: the server's xlog line for
each request says proto=tls with a TLS version; the SIPp callee checks the top Via of
INVITE and BYE says SIP/2.0/TLS; the tunnels saw TLS sessions and bytes. Plain TCP
would fail each of them.
"""

from __future__ import annotations

import re
import ssl
import time
from pathlib import Path

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.ports import free_port_block, free_tcp_port
from tests.support.server import KamapyServer
from tests.support.sipp import SippRun, sipp_path
from tests.support.tls_tunnel import TlsTunnel

trustme = pytest.importorskip("trustme")
pytestmark = [pytest.mark.wire, pytest.mark.skipif(sipp_path() is None, reason="sipp not installed")]

HERE = Path(__file__).parent
CFG = (HERE / "tls_sipp.cfg").read_text()

TLS_CFG = """
[server:default]
method = TLSv1.2+
certificate = {dir}/server.pem
private_key = {dir}/server.pem

[client:default]
method = TLSv1.2+
verify_certificate = yes
ca_list = {dir}/ca.pem
"""

SERVERS = ["kamapy", pytest.param("kamailio", marks=pytest.mark.skipif(
    kamailio_path() is None, reason="kamailio not installed"))]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("sipp-tls")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    (d / "tls.cfg").write_text(TLS_CFG.replace("{dir}", str(d)))
    return d


def start_server(kind: str, d: Path):
    cls = KamailioServer if kind == "kamailio" else KamapyServer
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
    text = text.replace("{so}", ".so" if cls is KamailioServer else "")
    return cls(text, port=free_port_block(1), fmt={"dir": str(d), "tcpport": free_tcp_port()}).start()


def contexts(d: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(client side: verifies the server against the test CA and its IP SAN,
    server side: the callee's certificate)."""
    cli = ssl.create_default_context(cafile=str(d / "ca.pem"))
    srv = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    srv.load_cert_chain(str(d / "server.pem"))
    return cli, srv


def ok(stats) -> tuple[int, int]:
    return int(stats["SuccessfulCall(C)"]), int(stats["FailedCall(C)"])


@pytest.mark.parametrize("kind", SERVERS)
def test_sipp_register_call_bye_over_tls(pki, kind):
    server = start_server(kind, pki)
    cli_ctx, srv_ctx = contexts(pki)
    callee_tcp = free_port_block(1)   # SIPp -t t1 binds TCP (and UDP) on -p
    uas = None
    try:
        with TlsTunnel("server", ("127.0.0.1", callee_tcp), srv_ctx) as callee_side, \
             TlsTunnel("client", ("127.0.0.1", server.port), cli_ctx) as caller_side:
            key = ("-key", "callee_port", str(callee_side.port))
            reg = SippRun(str(HERE / "tls_register.xml"), f"127.0.0.1:{caller_side.port}", "-t", "t1",
                          "-s", "callee", *key, "-m", "1", "-recv_timeout", "5000", "-timeout", "10s",
                          local_port=free_port_block(1))
            assert ok(reg.run(15)) == (1, 0), server.log()[-2000:]

            uas = SippRun(str(HERE / "tls_uas_call.xml"), "127.0.0.1", "-t", "t1", *key, "-m", "1",
                          "-timeout", "15s", local_port=callee_tcp).start()
            time.sleep(0.3)
            uac = SippRun(str(HERE / "tls_uac_call.xml"), f"127.0.0.1:{caller_side.port}", "-t", "t1",
                          "-s", "callee", "-m", "1", "-recv_timeout", "6000", "-timeout", "15s",
                          local_port=free_port_block(1))
            uac_stats = uac.run(20)
            uas.wait(15)
            assert ok(uac_stats) == (1, 0), server.log()[-3000:]
            assert ok(uas.stats()) == (1, 0), server.log()[-3000:]
            time.sleep(0.2)
            cstats, sstats = caller_side.stats, callee_side.stats
    finally:
        if uas:
            uas.kill()
        log = server.log()
        server.stop()

    lines = re.findall(r"sipp-tls: (\S+) proto=(\S+) version=(\S+)", log)
    assert [m for m, _, _ in lines] == ["REGISTER", "INVITE", "ACK", "BYE"], log[-3000:]
    for method, proto, version in lines:
        assert proto == "tls" and re.fullmatch(r"TLSv1\.[23]", version), (method, proto, version)
    # the caller's two SIPp connections each became a TLS session to the server; the
    # server opened one TLS session to the callee and sent INVITE, ACK, BYE on it
    assert cstats.accepted == 2 and cstats.refused == 0, cstats
    assert all(re.fullmatch(r"TLSv1\.[23]", v) for v in cstats.tls_versions) and len(cstats.tls_versions) == 2
    assert sstats.accepted == 1 and sstats.tls_versions[0].startswith("TLSv1."), sstats
    assert sstats.bytes_in > 500 and sstats.bytes_out > 500, sstats
