"""The NAT lab itself: the server sees the router's address, the NAT forgets an idle
binding after its UDP timeout, the symmetric variant maps per destination, and nothing
is left behind."""

import socket
import subprocess
import time

import pytest

from tests.support.netlab import NatLab, unavailable_reason


def _pair(lab, client=0):
    srv = lab.socket(lab.srv)
    srv.bind((lab.server_ip, 0))
    cli = lab.socket(lab.clients[client])
    cli.bind((lab.client_ips[client], 0))
    srv.settimeout(2)
    cli.settimeout(1)
    return srv, cli


def test_server_sees_the_public_address_and_can_answer(nat_lab):
    srv, cli = _pair(nat_lab)
    with srv, cli:
        cli.sendto(b"hello", srv.getsockname())
        data, src = srv.recvfrom(100)
        assert data == b"hello"
        assert src[0] == nat_lab.public_ip
        srv.sendto(b"back", src)
        assert cli.recvfrom(100)[0] == b"back"


@pytest.mark.parametrize("nat_lab", [{"udp_timeout": 2}], indirect=True)
def test_the_nat_forgets_an_idle_binding(nat_lab):
    srv, cli = _pair(nat_lab)
    with srv, cli:
        cli.sendto(b"open", srv.getsockname())
        _, src = srv.recvfrom(100)
        time.sleep(1)
        srv.sendto(b"still-open", src)
        assert cli.recvfrom(100)[0] == b"still-open"   # the reply refreshed the binding
        time.sleep(3.5)
        srv.sendto(b"too-late", src)
        with pytest.raises(socket.timeout):
            cli.recvfrom(100)


@pytest.mark.parametrize("nat_lab", [{"symmetric": True}], indirect=True)
def test_symmetric_nat_maps_each_destination_to_its_own_port(nat_lab):
    second = nat_lab.add_public_host()
    srv, cli = _pair(nat_lab)
    srv2 = nat_lab.socket(nat_lab.srv)
    srv2.bind((second, srv.getsockname()[1]))
    srv2.settimeout(2)
    with srv, srv2, cli:
        cli.sendto(b"a", srv.getsockname())
        cli.sendto(b"b", srv2.getsockname())
        _, src1 = srv.recvfrom(100)
        _, src2 = srv2.recvfrom(100)
        assert src1[0] == src2[0] == nat_lab.public_ip
        assert src1[1] != src2[1]


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_no_namespace_is_left_behind():
    with NatLab(clients=2) as lab:
        names = {lab.srv, lab.nat, *lab.clients}
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert names <= {line.split()[0] for line in listed.splitlines() if line.strip()}
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not names & {line.split()[0] for line in listed.splitlines() if line.strip()}
