"""Flow tokens: what encode() writes comes back from decode(); anything changed,
truncated, foreign or made with another key does not (RFC 5626 §5.2: the edge must
know a token it did not make)."""

from __future__ import annotations

import base64
import re

import pytest
from kamapy_modules.outbound import flow_token as ft

from kamapy.sip.msg import PROTO_TCP, PROTO_TLS, PROTO_UDP, PROTO_WS, RecvInfo


@pytest.fixture(autouse=True)
def _key():
    old = ft.key.key
    ft.key.set_secret("test-secret")
    yield
    ft.key.key = old


@pytest.mark.parametrize("proto,lip,lport,sip,sport", [
    (PROTO_UDP, "127.0.0.1", 5060, "10.1.2.3", 40000),
    (PROTO_TCP, "192.0.2.1", 5070, "198.51.100.7", 1),
    (PROTO_TLS, "::1", 5061, "2001:db8::5", 65535),
    (PROTO_WS, "0.0.0.0", 8080, "127.0.0.9", 33333),
])
def test_round_trip(proto, lip, lport, sip, sport):
    token = ft.encode(proto, lip, lport, sip, sport)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # unreserved in a URI user part
    assert len(token) == (63 if ":" in lip else 31)
    flow = ft.decode(token)
    assert isinstance(flow, ft.Flow)
    assert (flow.proto, flow.local_ip, flow.local_port, flow.src_ip, flow.src_port) == \
        (proto, lip, lport, sip, sport)


def test_v4_peer_on_v6_socket_is_v4_again():
    flow = ft.decode(ft.encode(PROTO_TCP, "::", 5060, "192.0.2.8", 1234))
    assert (flow.local_ip, flow.src_ip) == ("::", "192.0.2.8")


def test_encode_rcv_uses_the_listen_socket():
    class Sock:
        address, port = "127.0.0.5", 5099
    rcv = RecvInfo("10.0.0.1", 4242, "127.0.0.1", 1111, PROTO_TCP, Sock())
    flow = ft.decode(ft.encode_rcv(rcv))
    assert (flow.local_ip, flow.local_port, flow.src_ip, flow.src_port) == ("127.0.0.5", 5099, "10.0.0.1", 4242)


def test_every_changed_byte_fails_the_mac():
    token = ft.encode(PROTO_UDP, "127.0.0.1", 5060, "10.1.2.3", 40000)
    raw = bytearray(base64.urlsafe_b64decode(token + "=="))
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        if i == ft.MAC_LEN:  # the family bit changes the length: no longer a token
            bad[i] ^= 0x01
            bad[i] ^= 0x02
        t = base64.urlsafe_b64encode(bytes(bad)).rstrip(b"=").decode()
        assert ft.decode(t) == ft.BAD_MAC, i


def test_another_key_does_not_validate():
    token = ft.encode(PROTO_TCP, "127.0.0.1", 5060, "10.1.2.3", 40000)
    ft.key.set_secret("other")
    assert ft.decode(token) == ft.BAD_MAC
    ft.key.set_secret(None)  # a random key, as without flow_token_secret
    assert ft.decode(token) == ft.BAD_MAC
    ft.key.set_secret("test-secret")
    assert isinstance(ft.decode(token), ft.Flow)


@pytest.mark.parametrize("text", ["", "alice", "A" * 30, "A" * 32, "A" * 64, "*" * 31,
                                  "+" * 31, "/" * 31, "é" * 31])
def test_not_a_token(text):
    assert ft.decode(text) == ft.NOT_A_TOKEN


def test_kamailios_tokens_are_not_ours():
    # the shape of one of Kamailio's (standard base64, 23 bytes -> 32 characters, '=' pad)
    kam = base64.b64encode(bytes(range(23))).decode()
    assert ft.decode(kam) == ft.NOT_A_TOKEN
    # our length and alphabet, but not made with our key
    assert ft.decode(base64.urlsafe_b64encode(bytes(range(23))).rstrip(b"=").decode()) == ft.BAD_MAC
