"""TLS over the wire: kamapy with the tls module and a tls.cfg of Kamailio's format
(certificates from trustme), Python ssl peers on the TLS side and SIPp on the UDP
side (this machine's SIPp is built without TLS, so `-t l1` cannot run here).

Socket {port}: [server:default] (no client certificate asked). Socket {tport2}: its
own profile with verify_certificate and require_certificate. [client:default]
verifies the callee's certificate against the test CA.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from tests.support.ports import free_udp_ports
from tests.support.rpc import rpc_call
from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient
from tests.support.sipp import SippRun, sipp_path

from .stream import StreamReader, headers, read_messages, reply_to

trustme = pytest.importorskip("trustme")
pytestmark = [pytest.mark.wire]

HERE = Path(__file__).parent
CFG = (HERE / "tls_proxy.cfg").read_text()

TLS_CFG = """
# kamapy tls wire tests
[server:default]
method = TLSv1.2+
certificate = server.pem
private_key = server.pem

[server:127.0.0.1:{tport2}]
method = TLSv1.2+
certificate = server.pem
ca_list = ca.pem
verify_certificate = yes
require_certificate = yes

[client:default]
verify_certificate = yes
ca_list = ca.pem
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "kamapy.test").private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    ca.issue_cert("alice.test", common_name="alice").private_key_and_cert_chain_pem.write_to_path(
        str(d / "alice.pem"))
    other = trustme.CA()   # a CA kamapy does not trust
    other.issue_cert("mallory.test", common_name="mallory").private_key_and_cert_chain_pem.write_to_path(
        str(d / "mallory.pem"))
    return d, ca


@pytest.fixture(scope="module")
def net(pki):
    d, _ = pki
    uas, tport2 = free_udp_ports(2)
    (d / "tls.cfg").write_text(TLS_CFG.replace("{tport2}", str(tport2)))
    server = KamapyServer(CFG, fmt={"uas": uas, "tport2": tport2, "dir": str(d), "rpc": str(d / "rpc.sock")})
    with server:
        yield server, uas, tport2, d


def client_ctx(d: Path, cert: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(str(d / cert))
    return ctx


def tls_connect(d, port, cert=None):
    raw = socket.create_connection(("127.0.0.1", port), timeout=3)
    return client_ctx(d, cert).wrap_socket(raw)


def options(port: int, lport: int, n: int = 1) -> bytes:
    return (f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/TLS 127.0.0.1:{lport};branch=z9hG4bK-tls{n}-{lport}\r\n"
            f"From: <sip:t@127.0.0.1>;tag=t{n}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tls-{n}-{lport}\r\n"
            f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


def udp_ping(server) -> bool:
    with SipClient(("127.0.0.1", server.port)) as c:
        return c.ping(1.0)


def test_options_over_tls_default_profile(net):
    server, _, _, d = net
    with tls_connect(d, server.port) as s:
        lport = s.getsockname()[1]
        s.sendall(options(server.port, lport))
        reply = read_messages(s, 1)[0]
    assert reply.startswith(b"SIP/2.0 200 OK")
    assert b"Via: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bK-tls1-%d\r\n" % (lport, lport) in reply
    time.sleep(0.2)
    assert re.search(rf"tls-test: OPTIONS proto=tls Rp={server.port} version=TLSv1\.[23] verified=0 cn=<null>",
                     server.log())


def test_client_certificate_required_on_its_socket(net):
    server, _, tport2, d = net
    # no certificate: the handshake fails and the connection is closed
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with tls_connect(d, tport2) as s:
            s.sendall(options(tport2, 1))
            if not read_messages(s, 1):
                raise ConnectionResetError("closed")
    # a certificate from a CA the profile does not trust: refused too
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with tls_connect(d, tport2, "mallory.pem") as s:
            s.sendall(options(tport2, 2))
            if not read_messages(s, 1):
                raise ConnectionResetError("closed")
    time.sleep(0.2)
    assert "tls handshake with 127.0.0.1" in server.log()
    assert udp_ping(server)
    # a good one: answered, and the script sees the verified peer
    with tls_connect(d, tport2, "alice.pem") as s:
        s.sendall(options(tport2, s.getsockname()[1], 3))
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")
    time.sleep(0.2)
    m = re.search(rf"tls-test: OPTIONS proto=tls Rp={tport2} version=\S+ verified=1 cn=alice subject=(.*)$",
                  server.log(), re.M)
    assert m and m.group(1).endswith("/CN=alice"), server.log()[-1500:]


def test_tls_rpcs_and_reload(net):
    server, _, _, d = net
    rpc = str(d / "rpc.sock")
    with tls_connect(d, server.port) as s:
        s.sendall(options(server.port, s.getsockname()[1], 4))
        assert read_messages(s, 1)
        lport = s.getsockname()[1]
        conns = rpc_call(rpc, "tls.list")
        mine = [c for c in conns if c["src_port"] == lport]
        assert len(mine) == 1 and mine[0]["state"] == "established" and "TLSv1" in mine[0]["cipher"]
        assert rpc_call(rpc, "tls.info")["opened_connections"] >= 1
        assert rpc_call(rpc, "core.tcp_info")["opened_tls_connections"] >= 1
    good = (d / "tls.cfg").read_text()
    try:
        (d / "tls.cfg").write_text(good + "\n[server:nonsense\n")
        with pytest.raises(RuntimeError, match="tls.cfg:"):
            rpc_call(rpc, "tls.reload")
        (d / "tls.cfg").write_text(good)
        assert rpc_call(rpc, "tls.reload") == "Ok. TLS configuration reloaded."
    finally:
        (d / "tls.cfg").write_text(good)
    with tls_connect(d, server.port) as s:   # served with the reloaded profiles
        s.sendall(options(server.port, s.getsockname()[1], 5))
        assert read_messages(s, 1)[0].startswith(b"SIP/2.0 200 OK")


def test_tls_caller_to_udp_callee_through_tm(net):
    """A TLS caller (Python ssl) calls a SIPp callee on UDP: INVITE, 200, ACK and BYE
    along the Record-Route, the 200s back on the caller's connection."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    server, uas_port, _, d = net
    uas = SippRun(str(HERE / "tcp_uas_call.xml"), "127.0.0.1", "-m", "1", "-timeout", "15s",
                  local_port=uas_port).start()
    time.sleep(0.3)
    try:
        with tls_connect(d, server.port) as s:
            r = StreamReader(s)
            lport = s.getsockname()[1]
            me = f"127.0.0.1:{lport}"
            common = (f"From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:udp@127.0.0.1>\r\n"
                      f"Call-ID: tls-call-{lport}\r\nMax-Forwards: 70\r\n")
            s.sendall((f"INVITE sip:udp@127.0.0.1:{server.port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/TLS {me};branch=z9hG4bK-inv{lport}\r\n{common}"
                       f"CSeq: 1 INVITE\r\nContact: <sip:alice@{me};transport=tls>\r\n"
                       f"Content-Length: 0\r\n\r\n").encode())
            final = None
            for _ in range(4):
                msgs = r.messages(1, 6)
                assert msgs, server.log()[-2000:]
                code = int(msgs[0].split(b" ", 2)[1])
                if code >= 200:
                    final = msgs[0]
                    break
            assert final is not None and final.startswith(b"SIP/2.0 200"), final
            h = headers(final)
            rr = h["record-route"][0]
            assert ";transport=tls" in rr
            contact = re.search(r"<([^>]+)>", h["contact"][0]).group(1)
            to = h["to"][0]
            for method, cseq, branch in (("ACK", 1, "ack"), ("BYE", 2, "bye")):
                s.sendall((f"{method} {contact} SIP/2.0\r\n"
                           f"Via: SIP/2.0/TLS {me};branch=z9hG4bK-{branch}{lport}\r\n"
                           f"Route: {rr}\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: {to}\r\n"
                           f"Call-ID: tls-call-{lport}\r\nMax-Forwards: 70\r\nCSeq: {cseq} {method}\r\n"
                           f"Content-Length: 0\r\n\r\n").encode())
                time.sleep(0.1)
            bye_ok = r.messages(1, 5)
            assert bye_ok and bye_ok[0].startswith(b"SIP/2.0 200") and b"CSeq: 2 BYE" in bye_ok[0]
        uas.wait(15)
    finally:
        uas.kill()
    assert int(uas.stats()["SuccessfulCall(C)"]) == 1


class TlsCallee(threading.Thread):
    """A TLS UAS: answers INVITE and BYE with 200, takes the ACK; records what came."""

    def __init__(self, d: Path, port: int):
        super().__init__(daemon=True)
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(d / "server.pem"))
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(4)
        self.lsock.settimeout(10)
        self.port = port
        self.got: list[str] = []
        self.error = None

    def run(self):
        try:
            raw, _ = self.lsock.accept()
            with self.ctx.wrap_socket(raw, server_side=True) as s:
                r = StreamReader(s)
                while True:
                    msgs = r.messages(1, 8)
                    if not msgs:
                        return
                    req = msgs[0]
                    method = req.split(b" ", 1)[0].decode()
                    self.got.append(method)
                    contact = f"Contact: <sip:callee@127.0.0.1:{self.port};transport=tls>\r\n"
                    if method in ("INVITE", "BYE"):
                        s.sendall(reply_to(req, 200, "OK", "callee1", contact))
                    if method == "BYE":
                        return
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.lsock.close()


def test_udp_caller_to_tls_callee(net, tmp_path):
    """kamapy as TLS client ([client:default] verifies the callee against the test
    CA): a SIPp caller on UDP, the callee on TLS; BYE reuses the connection."""
    if sipp_path() is None:
        pytest.skip("sipp not installed")
    server, uas_port, _, d = net
    callee = TlsCallee(d, uas_port)
    callee.start()
    uac = SippRun(str(HERE / "tcp_uac_call.xml"), f"127.0.0.1:{uas_port}", "-rsa", f"127.0.0.1:{server.port}",
                  "-s", "tls", "-m", "1", "-recv_timeout", "6000", "-timeout", "15s",
                  local_port=free_udp_ports(1)[0])
    stats = uac.run(20)
    callee.join(10)
    assert callee.error is None, callee.error
    assert callee.got == ["INVITE", "ACK", "BYE"], (callee.got, server.log()[-2000:])
    assert int(stats["SuccessfulCall(C)"]) == 1
