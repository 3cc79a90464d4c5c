"""Issue 15's first acceptance item: two baresip UAs call each other through kamapy
running etc/kamapy.cfg with -A WITH_RTPENGINE. The caller sits behind a small NAT of
our own on loopback (a UDP relay with its own port: the proxy sees a source port that
is not the one in Via, so nat_uac_test("19") flags the caller, as a home router
would), so route(NATMANAGE) runs rtpengine_manage() on the INVITE, the 200 and the BYE
exactly as Kamailio's stock config does. Checked: the SDP each UA receives points at
rtpengine, rtpengine counts RTP both ways for the call, and after the BYE it lists no
call.

The proxy advertises the NAT's port (and takes it as an alias), so alice's in-dialog
requests cross the NAT too and are NAT-detected on their own. That is how a real NAT
behaves, and it is also needed for now: kamapy's add_rr_param(";nat=yes") in
branch_route does not reach the Record-Route that record_route() added in
request_route (tm copies the lumps for the branch), so check_route_param("nat=yes") is
never true on the BYE -- Kamailio 5.6.3 does put ;nat=yes there."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from tests.support.baresip import baresip_path, hang_up, register_and_call, ua_pair, wait_until
from tests.support.server import REPO, KamapyServer

from .rtpe import Rtpengine, assert_media_relayed, rtpengine_path

pytestmark = [pytest.mark.wire,
              pytest.mark.skipif(baresip_path() is None, reason="baresip is not installed"),
              pytest.mark.skipif(rtpengine_path() is None, reason="rtpengine is not installed")]

DEFAULT = (REPO / "etc" / "kamapy.cfg").read_text()


class LoopNat:
    """A NAT on loopback in front of the proxy: each UA that sends to `port` gets an
    outside socket of its own (a binding), the proxy sees that socket's port, and what
    the proxy sends to it goes back to the UA."""

    def __init__(self, server: tuple[str, int]):
        self.server = server
        self.inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.inside.bind(("127.0.0.1", 0))
        self.inside.settimeout(0.2)
        self.port = self.inside.getsockname()[1]
        self.bindings: dict[tuple, socket.socket] = {}
        self.seen: list[bytes] = []   # what crossed the NAT, for a failing test's message
        self.stop_flag = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._in, daemon=True)]
        self.threads[0].start()

    def _in(self):
        while not self.stop_flag:
            try:
                data, addr = self.inside.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            out = self.bindings.get(addr)
            if out is None:
                out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                out.bind(("127.0.0.1", 0))
                out.settimeout(0.2)
                self.bindings[addr] = out
                t = threading.Thread(target=self._out, args=(out, addr), daemon=True)
                self.threads.append(t)
                t.start()
            self.seen.append(b">> " + data)
            out.sendto(data, self.server)

    def _out(self, out, client):
        while not self.stop_flag:
            try:
                data, _addr = out.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            self.seen.append(b"<< " + data)
            self.inside.sendto(data, client)

    def close(self):
        self.stop_flag = True
        for t in self.threads:
            t.join(1)
        self.inside.close()
        for s in self.bindings.values():
            s.close()


def test_two_baresips_through_rtpengine(tmp_path):
    with Rtpengine() as rtpe:
        nat = LoopNat(("127.0.0.1", 0))
        # the proxy advertises the NAT's port in Record-Route, so alice's in-dialog
        # requests (ACK, BYE) cross the NAT as well -- as every packet of a UA behind a
        # home router does
        text = DEFAULT.replace("listen=udp:127.0.0.1:5060",
                               f"listen=udp:127.0.0.1:{{port}} advertise 127.0.0.1:{nat.port}\n"
                               f'alias="127.0.0.1:{nat.port}"')
        text = text.replace('"udp:127.0.0.1:22222"', f'"{rtpe.url}"')
        assert text.count(rtpe.url) == 1, "etc/kamapy.cfg's rtpengine_sock line moved"
        with KamapyServer(text, children=2, args=["-A", "WITH_RTPENGINE"]) as srv:
            nat.server = ("127.0.0.1", srv.port)
            alice, bob = ua_pair(tmp_path, srv.port)
            # alice reaches the proxy only through the NAT (an outbound proxy)
            acc = alice.dir / "accounts"
            acc.write_text(acc.read_text().replace(
                ";regint=60", f';regint=60;outbound="sip:127.0.0.1:{nat.port}"'))
            try:
                register_and_call(alice, bob, srv.port, srv.log)
                calls = rtpe.calls()
                assert len(calls) == 1, (calls, srv.log()[-3000:])
                assert_media_relayed(rtpe, calls[0], (alice, bob))
                hang_up(alice, bob, srv.log)
                assert wait_until(lambda: rtpe.calls() == [], 3), f"rtpengine still lists {rtpe.calls()}"
            except AssertionError:
                with open(os.path.join(str(tmp_path), "trace.log"), "w") as f:
                    f.write(srv.log() + "\n=====\n" + b"\n".join(nat.seen).decode("latin-1"))
                raise
            finally:
                alice.stop()
                bob.stop()
                nat.close()
