"""Issue 13's first acceptance item, through a real NAT: the default config with
WITH_NAT, a UA behind the NAT registers (usrloc keeps the address the NAT gave it), a
UA outside calls it and it calls out, and each call completes with in-dialog requests
both ways (Record-Route + Contact alias), behind a cone and behind a symmetric NAT. Then the same lab without pings: once the NAT has
forgotten the binding, the incoming call no longer reaches the UA (the lab is real)."""

from __future__ import annotations

import time

import pytest

from tests.netlab.natserver import NatServer
from tests.netlab.sipua import SipUA


def _uas(lab):
    proxy = (lab.server_ip, 5060)
    alice_sock = lab.socket(lab.clients[0])
    alice_sock.bind((lab.client_ips[0], 0))
    bob_sock = lab.socket(lab.srv)
    bob_sock.bind((lab.add_public_host(), 0))  # a UA on the public side, not behind NAT
    return SipUA(alice_sock, "alice", proxy), SipUA(bob_sock, "bob", proxy)


def _call(caller: SipUA, callee: SipUA, hang_up_by_callee: bool, server=None):
    """A call from caller to callee through the proxy; whichever of them is behind the
    NAT, its Contact reaches the other with the proxy's alias on it."""
    natted = callee if callee.user == "alice" else caller
    caller.invite(f"sip:{callee.user}@{caller.proxy[0]}")
    invite = callee.recv(3)
    assert invite is not None and invite.method == "INVITE", \
        (f"the INVITE did not reach {callee.user}", server and server.log()[-4000:])
    assert invite.ruri == callee.contact, "the request URI is not the callee's registered Contact"
    assert invite.all("Record-Route"), "the proxy did not record-route the NATed call"
    if natted is caller:
        contact = invite.all("Contact")[0]
        assert "alias=" in contact, f"the NATed caller's Contact got no alias: {contact}"
    dlg_callee = callee.answer(invite)
    ok = caller.recv(3)
    assert ok is not None and ok.status == 200, f"the 200 did not reach {caller.user}"
    if natted is callee:
        contact = ok.all("Contact")[0]
        assert "alias=" in contact, f"the 200's Contact got no NAT alias: {contact}"
    dlg_caller = caller.confirm(ok)
    ack = callee.recv(3)
    assert ack is not None and ack.method == "ACK", f"the ACK did not reach {callee.user}"
    assert "alias=" not in ack.ruri, "handle_ruri_alias() did not take the alias off"
    if hang_up_by_callee:
        callee.bye(dlg_callee)
        bye = caller.recv(3)
        assert bye is not None and bye.method == "BYE", f"the callee's BYE did not reach {caller.user}"
        assert "alias=" not in bye.ruri, "handle_ruri_alias() did not take the alias off"
        caller.reply_to(bye)
        done = callee.recv(3)
    else:
        caller.bye(dlg_caller)
        bye = callee.recv(3)
        assert bye is not None and bye.method == "BYE", f"the caller's BYE did not reach {callee.user}"
        callee.reply_to(bye)
        done = caller.recv(3)
    assert done is not None and done.status == 200 and done.method == "BYE"


# symmetric: masquerade `random`, so alice's binding towards the proxy has a port
# unrelated to hers and only the proxy may use it -- the case Record-Route + alias exist for
# and once (cone) with the same logic as a KEMI script, etc/kamapy.py
@pytest.mark.parametrize(("nat_lab", "engine"), [({}, "native"), ({"symmetric": True}, "native"), ({}, "kemi")],
                         indirect=["nat_lab"], ids=["cone", "symmetric", "cone-kemi"])
def test_natted_ua_registers_and_calls_complete_both_ways(nat_lab, engine):
    with NatServer(nat_lab, engine=engine) as server:
        alice, bob = _uas(nat_lab)
        with alice.sock, bob.sock:
            reply = alice.register()
            assert reply is not None and reply.status == 200, reply and reply.first
            contacts = server.contacts("alice")
            assert len(contacts) == 1
            c = contacts[0]
            assert c["Address"] == alice.contact
            # fix_nated_register(): the address the NAT gave alice, as Kamailio stores it
            assert c["Received"].startswith(f"sip:{nat_lab.public_ip}:"), c
            if nat_lab.symmetric:
                mapped = int(c["Received"].rsplit(":", 1)[1].split(";")[0])
                assert mapped != alice.port, "a `random` NAT kept alice's own port"
            # bob (outside) calls alice (behind the NAT), hang-ups from both ends
            _call(bob, alice, hang_up_by_callee=True, server=server)
            _call(bob, alice, hang_up_by_callee=False, server=server)
            # alice calls bob: her INVITE leaves through the NAT, bob's BYE comes back in
            reply = bob.register()
            assert reply is not None and reply.status == 200
            _call(alice, bob, hang_up_by_callee=True, server=server)
            _call(alice, bob, hang_up_by_callee=False, server=server)


@pytest.mark.parametrize("nat_lab", [{"udp_timeout": 2}], indirect=True)
def test_without_pings_the_nat_forgets_the_ua(nat_lab):
    with NatServer(nat_lab) as server:
        server.rpc("nathelper.enable_ping", 0)
        alice, bob = _uas(nat_lab)
        with alice.sock, bob.sock:
            reply = alice.register()
            assert reply is not None and reply.status == 200
            time.sleep(4.5)  # past the router's UDP timeout, nothing sent meanwhile
            bob.invite(f"sip:alice@{bob.proxy[0]}")
            assert alice.recv(3) is None, "the INVITE reached alice after the NAT should have dropped her binding"
