"""The keepalive options reach accepted connections: kamapy sets them once on the
listening socket (accepted sockets inherit them on Linux), Kamailio on each accepted
socket. Seen from outside with `ss -o`: the server side of an established connection
runs a keepalive timer of about tcp_keepidle seconds; none with tcp_keepalive=no, unless
tcp_keepidle & co. are set, which force it on in Kamailio (tcp_options.c) and kamapy.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time

import pytest

from tests.support.kamailio import KamailioServer, kamailio_path
from tests.support.server import KamapyServer

pytestmark = [pytest.mark.wire, pytest.mark.skipif(shutil.which("ss") is None, reason="no ss")]

CFG = r"""
debug=2
children=1
tcp_children=1
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
tcp_keepalive={ka}
{keep}
{mpath_line}
loadmodule "sl{so}"
request_route { sl_send_reply("200", "OK"); exit; }
"""

SERVERS = ["kamapy", pytest.param("kamailio", marks=pytest.mark.skipif(
    kamailio_path() is None, reason="kamailio not installed"))]


def server_timer(port: int, client_port: int) -> str:
    """ss's timer field of the server's end of the connection from client_port."""
    out = subprocess.run(["ss", "-tnoH", "state", "established", f"( sport = :{port} and dport = :{client_port} )"],
                         capture_output=True, text=True, timeout=5).stdout
    m = re.search(r"timer:\(([^)]*)\)", out)
    return m.group(1) if m else ""


KEEP = "tcp_keepidle=37\ntcp_keepintvl=5\ntcp_keepcnt=3"


@pytest.mark.parametrize("kind", SERVERS)
@pytest.mark.parametrize("ka,keep,expect", [
    (1, KEEP, 37),   # the configured idle time
    (0, KEEP, 37),   # forced on by the keep* parameters
    (0, "", 0),      # off
])
def test_keepalive_on_accepted_connections(kind, ka, keep, expect):
    cls = KamailioServer if kind == "kamailio" else KamapyServer
    text = CFG.replace("{mpath_line}", 'mpath="{mpath}"' if cls is KamailioServer else "")
    text = text.replace("{so}", ".so" if cls is KamailioServer else "")
    with cls(text, fmt={"ka": ka, "keep": keep}) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=3) as c:
        c.sendall(b"\r\n\r\n")      # a keepalive ping: the reader has the connection
        c.settimeout(2)
        assert c.recv(16) == b"\r\n"
        time.sleep(0.2)
        timer = server_timer(server.port, c.getsockname()[1])
    if expect:
        m = re.fullmatch(r"keepalive,(\d+)(?:\.\d+)?sec,0", timer)
        assert m and expect - 7 <= int(m.group(1)) <= expect, timer
    else:
        assert not timer.startswith("keepalive"), timer
