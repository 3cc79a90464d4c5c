"""The registrar of Kamailio's outbound README (Example 1.2) with tm's serial forking:
the config as the README prints it passes `kamapy -c` as it passes `kamailio -c`; on
the wire (kamapy and Kamailio 5.6 alike) an INVITE for a UA with two flows goes down
one flow only, and that flow's 430 sends it down the other (t_next_contact_flow in
event_route[tm:branch-failure]), not before."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.kamailio import MODULES, KamailioServer, kamailio_path
from tests.support.server import REPO, KamapyServer

HERE = Path(__file__).resolve().parent
README_CFG = HERE / "readme_registrar.cfg"  # outbound README 5.6, Example 1.2 ("#!KA" restored)
WIRE_CFG = REPO / "tests" / "differential" / "configs" / "outbound_readme.cfg"
INSTANCE = "<urn:uuid:00000000-0000-0000-0000-00000000e001>"


def _kamapy_check(path: Path):
    r = subprocess.run([sys.executable, "-m", "kamapy", "-c", "-f", str(path)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def _kamailio_check(path: Path):
    r = subprocess.run([kamailio_path(), "-c", "-f", str(path)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def _with_mpath(tmp_path: Path, text: str, name: str) -> Path:
    p = tmp_path / name
    p.write_text(text.replace('mpath="/usr/lib64/kamailio/modules"', f'mpath="{MODULES}"'))
    return p


def test_readme_registrar_config_loads(tmp_path):
    text = README_CFG.read_text()
    assert "t_load_contacts()" in text and "t_next_contact_flow()" in text and "$T_reply_ruid" in text
    rc, out = _kamapy_check(_with_mpath(tmp_path, text, "readme.cfg"))
    assert rc == 0 and "config file ok" in out, out
    if kamailio_path() is not None:
        rc, out = _kamailio_check(_with_mpath(tmp_path, text, "readme.cfg"))
        assert rc == 0 and "config file ok" in out, out


def test_t_next_contact_flow_not_in_failure_route(tmp_path):
    """Kamailio exports it for REQUEST_ROUTE (which event_route counts as) only."""
    text = README_CFG.read_text().replace(
        'if (t_check_status("430")) {', 'if (t_check_status("430") && t_next_contact_flow()) {')
    path = _with_mpath(tmp_path, text, "bad.cfg")
    rc, out = _kamapy_check(path)
    assert rc != 0 and "t_next_contact_flow" in out, out
    if kamailio_path() is not None:
        rc, out = _kamailio_check(path)
        assert rc != 0, out


class Peer:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"

    def send(self, text: str, port: int):
        self.sock.sendto(text.replace("\n", "\r\n").encode(), ("127.0.0.1", port))

    def wait(self, start: str, timeout: float = 2.0) -> tuple[str, tuple] | None:
        """The next message whose first line starts with `start` (others skipped)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except TimeoutError:
                return None
            text = data.decode("latin-1")
            if text.startswith(start):
                return text, src
        return None

    def reply(self, request: tuple[str, tuple], code: int, reason: str):
        text, src = request
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if re.match(r"(?i)(via|from|call-id|cseq|record-route):", h)]
        to = next(h for h in head if h.lower().startswith("to:"))
        lines = [f"SIP/2.0 {code} {reason}", *keep[:1], *keep[1:], to + ";tag=edge-tag", "Content-Length: 0"]
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), src)

    def close(self):
        self.sock.close()


def _register(edge: Peer, port: int, n: int, user: str):
    edge.send(f"""REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP {edge.addr};branch=z9hG4bK-ser-e{n}-{user};rport
Via: SIP/2.0/UDP 10.0.0.99:{5060 + n};received=10.0.0.99;branch=z9hG4bK-ser-u{n}-{user};rport={5060 + n}
Max-Forwards: 69
From: <sip:{user}@example.com>;tag=f-{user}
To: <sip:{user}@example.com>
Call-ID: reg-{user}@10.0.0.99
CSeq: {n} REGISTER
Path: <sip:flow{n}@{edge.addr};lr;ob>
Supported: outbound, path
Contact: <sip:{user}@10.0.0.99:{5060 + n};ob>;reg-id={n};+sip.instance="{INSTANCE}"
Expires: 600
Content-Length: 0

""", port)
    got = edge.wait("SIP/2.0 ")
    assert got is not None and got[0].startswith("SIP/2.0 200"), got


SERVERS = [pytest.param(KamapyServer, id="kamapy"),
           pytest.param(KamailioServer, id="kamailio",
                        marks=pytest.mark.skipif(kamailio_path() is None, reason="kamailio not installed"))]


@pytest.mark.wire
@pytest.mark.parametrize("server_class", SERVERS)
def test_one_flow_at_a_time_430_fails_over(server_class):
    text = WIRE_CFG.read_text()
    fmt = {"mpath": MODULES} if server_class is KamapyServer else {}
    kwargs = {"children": 1, "fmt": fmt}
    edge_a, edge_b, caller = Peer(), Peer(), Peer()
    try:
        with server_class(text, **kwargs) as srv:
            user = f"ua{srv.port}"
            _register(edge_a, srv.port, 1, user)
            _register(edge_b, srv.port, 2, user)
            caller.send(f"""INVITE sip:{user}@example.com SIP/2.0
Via: SIP/2.0/UDP {caller.addr};branch=z9hG4bK-ser-inv-{user};rport
Max-Forwards: 70
From: <sip:bob@example.com>;tag=b-{user}
To: <sip:{user}@example.com>
Call-ID: inv-{user}@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bob@{caller.addr}>
Content-Length: 0

""", srv.port)
            first = edge_a.wait("INVITE ")
            assert first is not None, srv.log()
            assert f"Route: <sip:flow1@{edge_a.addr};lr;ob>" in first[0]
            assert first[0].startswith(f"INVITE sip:{user}@10.0.0.99:5061;ob ")
            # the other flow of the instance waits (t_next_contacts took one per instance)
            assert edge_b.wait("INVITE ", timeout=0.8) is None
            edge_a.reply(first, 430, "Flow Failed")
            assert edge_a.wait("ACK ") is not None
            second = edge_b.wait("INVITE ")
            assert second is not None, srv.log()
            assert f"Route: <sip:flow2@{edge_b.addr};lr;ob>" in second[0]
            assert second[0].startswith(f"INVITE sip:{user}@10.0.0.99:5062;ob ")
            edge_b.reply(second, 200, "OK")
            final = caller.wait("SIP/2.0 2")
            assert final is not None and "tag=edge-tag" in final[0]
    finally:
        for p in (edge_a, edge_b, caller):
            p.close()
