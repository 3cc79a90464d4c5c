"""A burst of requests from UDP callers to one new TCP next hop: four UDP workers
relay them at once, each worker connects itself (kamapy/net/tcp_connect.py), and all
of them must share one connection -- the first claims the destination before its
connect(), the others hand their bytes to the reader that will own it, which holds
them until the connection arrives. Started right after the server is up, so a TCP
reader may start after the first sends (it must not forget the placeholder then).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.server import KamapyServer

from .stream import StreamReader, reply_to

pytestmark = [pytest.mark.wire]

CFG = r"""
debug=2
children=4
tcp_children=3
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
loadmodule "pv"
loadmodule "tm"
loadmodule "sl"
request_route {
  if (method=="OPTIONS" && $rU==$null) { sl_send_reply("200","OK"); exit; }
  t_relay();
  exit;
}
"""

N = 60


class Peer:
    """The next hop: accepts connections, answers every MESSAGE 200 on its own."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.05)
        self.port = self.lsock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.answered = 0
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        readers = {}
        deadline = time.monotonic() + 10
        while not self.stop and time.monotonic() < deadline:
            try:
                c, _ = self.lsock.accept()
                self.conns.append(c)
                readers[c] = StreamReader(c)
            except socket.timeout:
                pass
            for c, r in readers.items():
                for m in r.messages(N, 0.01):
                    c.sendall(reply_to(m, 200, "OK", "p"))
                    self.answered += 1

    def close(self):
        self.stop = True
        self.th.join(3)
        for c in self.conns:
            c.close()
        self.lsock.close()


def test_burst_to_a_new_tcp_peer_shares_one_connection():
    with KamapyServer(CFG, children=4) as server:
        peer = Peer()
        socks = []
        try:
            for _ in range(N):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind(("127.0.0.1", 0))
                socks.append(u)
            for i, u in enumerate(socks):
                lp = u.getsockname()[1]
                u.sendto((f"MESSAGE sip:b@127.0.0.1:{peer.port};transport=tcp SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bKshared{i}\r\n"
                          f"From: <sip:a@x>;tag=1\r\nTo: <sip:b@y>\r\nCall-ID: shared{i}-{lp}\r\n"
                          "CSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                         ("127.0.0.1", server.port))
            codes = []
            deadline = time.monotonic() + 5
            for u in socks:
                u.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    codes.append(u.recv(65535).split(b"\r\n", 1)[0])
                except socket.timeout:
                    codes.append(None)
        finally:
            for u in socks:
                u.close()
            peer.close()
        log = server.log()
        assert codes == [b"SIP/2.0 200 OK"] * N, (codes.count(None), log[-3000:])
        assert len(peer.conns) == 1, (len(peer.conns), log[-3000:])
        assert peer.answered == N
        assert "bytes not sent" not in log and "never handed over" not in log, log[-3000:]
