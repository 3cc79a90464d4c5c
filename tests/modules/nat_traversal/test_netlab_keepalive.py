"""Through a real NAT (tests/support/netlab.py): a UA behind a router whose conntrack
forgets an idle UDP binding after 13 s stays reachable for an incoming call long
after several such timeouts because nat_keepalive() keeps the binding busy; a second UA
registered the same way but without nat_keepalive() is unreachable by then (the
control: the NAT really does forget). kamapy restarts half way: the keepalives resume
from keepalive_state_file without a new REGISTER, and keep the binding open."""

from __future__ import annotations

import time

import pytest

from tests.support.netlab import LabUnavailable, NatLab, unavailable_reason
from tests.support.server import KamapyServer

from .test_keepalive_wire import wait_stats
from .ua import Ua

pytestmark = pytest.mark.wire

UDP_TIMEOUT = 13  # above keepalive_interval's minimum of 10 s

CFG = r"""
debug=2
children=2
listen=udp:{ip}:{port}
loadmodule "sl.so"
loadmodule "tm.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "jsonrpcs.so"
loadmodule "nat_traversal.so"
modparam("jsonrpcs", "dgram_socket", "{dir}/rpc.sock")
modparam("jsonrpcs", "fifo_name", "")
modparam("nat_traversal", "keepalive_interval", 10)
modparam("nat_traversal", "keepalive_state_file", "{dir}/keepalive_state")
request_route {
    if (method == "OPTIONS" && uri =~ "^sip:[0-9]") { sl_send_reply("200", "OK"); exit; }
    if (method == "REGISTER") {
        if (client_nat_test("3")) {
            if ($fU == "alice") { nat_keepalive(); }
            fix_contact();
        }
        save("location");
        exit;
    }
    # after a restart usrloc (memory only) is empty: the test names the target itself
    if ($hdr(X-Dst) != $null) { $du = $hdr(X-Dst); t_relay(); exit; }
    if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
    t_relay();
}
"""


@pytest.fixture
def lab():
    why = unavailable_reason()
    if why:
        pytest.skip(f"no NAT lab here: {why}")
    lab = NatLab(clients=2, udp_timeout=UDP_TIMEOUT)
    try:
        lab.up()
    except LabUnavailable as e:
        pytest.skip(f"no NAT lab here: {e}")
    try:
        yield lab
    finally:
        lab.down()


def _register(ua, user, srv_addr):
    ua.cseq += 1
    ip, port = ua.sock.getsockname()
    msg = (f"REGISTER sip:{srv_addr[0]}:{srv_addr[1]} SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{user}{ua.cseq};rport\r\n"
           "Max-Forwards: 70\r\n"
           f"From: <sip:{user}@example.com>;tag={user}1\r\n"
           f"To: <sip:{user}@example.com>\r\n"
           f"Call-ID: reg-{user}-{ua.callid}\r\n"
           f"CSeq: {ua.cseq} REGISTER\r\n"
           f"Contact: <sip:{user}@{ip}:{port}>\r\n"
           "Expires: 300\r\n"
           "Content-Length: 0\r\n\r\n")
    ua.sock.sendto(msg.encode(), srv_addr)
    return ua.final_reply()


def _message(sender, user, srv_addr, n, method="MESSAGE", extra=""):
    ip, port = sender.sock.getsockname()
    msg = (f"{method} sip:{user}@example.com SIP/2.0\r\n"
           f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKmsg{user}{n}\r\n"
           "Max-Forwards: 70\r\n"
           f"From: <sip:carol@example.com>;tag=c{n}\r\n"
           f"To: <sip:{user}@example.com>\r\n"
           f"Call-ID: msg-{user}-{n}-{sender.callid}\r\n"
           f"CSeq: 1 {method}\r\n"
           f"Contact: <sip:carol@{ip}:{port}>\r\n{extra}"
           "Content-Length: 0\r\n\r\n")
    sender.sock.sendto(msg.encode(), srv_addr)


def _public_contact(reply: bytes) -> str:
    """fix_contact()'s Contact as the registrar's 200 echoes it: where the NAT put the UA."""
    line = next(ln for ln in reply.decode("latin-1").split("\r\n") if ln.lower().startswith("contact:"))
    return line.split("<", 1)[1].split(">", 1)[0]


def _count_keepalives(ua, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        if ua.wait_request("NOTIFY", deadline - time.monotonic()) is not None:
            n += 1
    return n


@pytest.mark.slow  # 48 s: several NAT timeouts pass
def test_keepalives_hold_the_nat_binding_open(lab, tmp_path):
    fmt = {"ip": lab.server_ip, "dir": tmp_path}
    srv = KamapyServer(CFG, children=2, fmt=fmt, lab=lab, netns=lab.srv, host=lab.server_ip).start()
    try:
        addr = (lab.server_ip, srv.port)
        alice = Ua(addr, sock=lab.socket(lab.clients[0]))
        bob = Ua(addr, sock=lab.socket(lab.clients[1]))
        carol = Ua(addr, sock=lab.socket(lab.srv))
        for s, ip in ((alice, lab.client_ips[0]), (bob, lab.client_ips[1]), (carol, lab.server_ip)):
            s.sock.bind((ip, 5060))
        try:
            public = {}
            for ua, user in ((alice, "alice"), (bob, "bob")):
                rpl = _register(ua, user, addr)
                assert rpl is not None and rpl.startswith(b"SIP/2.0 200"), (user, rpl, srv.log())
                public[user] = _public_contact(rpl)
                assert f"@{lab.public_ip}:" in public[user], public
            want = {"keepalive_endpoints": 1, "registered_endpoints": 1, "dialog_endpoints": 0}
            got = wait_stats(str(tmp_path), want)
            assert all(got[k] == v for k, v in want.items()), got   # alice only, over RPC
            # while bob's binding is fresh a request reaches him: routing to him works
            _message(carol, "bob", addr, 0)
            assert bob.wait_request("MESSAGE", 3) is not None, srv.log()
            assert carol.final_reply(3).startswith(b"SIP/2.0 200")
            # wait out three conntrack timeouts; alice answers the keepalives (that
            # outbound reply is what refreshes her binding), bob stays silent. Half way
            # kamapy restarts: keepalive_state_file brings alice back, no REGISTER needed
            before = _count_keepalives(alice, 1.5 * UDP_TIMEOUT)
            assert before >= 1, (before, srv.log())
            srv.stop()
            srv = KamapyServer(CFG, port=addr[1], children=2, fmt=fmt, lab=lab, netns=lab.srv,
                               host=lab.server_ip).start()
            got = wait_stats(str(tmp_path), want)
            assert all(got[k] == v for k, v in want.items()), ("not restored", got)
            after = _count_keepalives(alice, 1.5 * UDP_TIMEOUT + 2)
            assert after >= 2, ("keepalives did not resume from the state file", after, srv.log())
            assert bob.recv(0.1) is None  # bob got no keepalive: he never asked for it
            # then carol calls both: the INVITE reaches alice, whose 200 comes back
            _message(carol, "alice", addr, 1, method="INVITE", extra=f"X-Dst: {public['alice']}\r\n")
            _message(carol, "bob", addr, 2, method="INVITE", extra=f"X-Dst: {public['bob']}\r\n")
            got = alice.wait_request("INVITE", 3)
            assert got is not None, srv.log()
            assert bob.wait_request("INVITE", 3) is None  # the NAT forgot bob's binding
            rpl = carol.final_reply(3)
            assert rpl is not None and rpl.startswith(b"SIP/2.0 200") and b"INVITE" in rpl, rpl
        finally:
            for ua in (alice, bob, carol):
                ua.close()
    finally:
        srv.stop()
