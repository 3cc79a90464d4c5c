"""siputils: to-tag, URI params, e164, URI comparison, GRUU, first hop, options_reply."""

from __future__ import annotations

import pytest
from kamapy_modules.siputils import checks, options, uri_ops
from module_test_messages import PROXY_IP, reply, request, use_sockets

from kamapy.pv import parse_pv
from kamapy.runtime import rt


class Cell:
    def __init__(self):
        self.value = None

    def set(self, msg, value):
        self.value = value


def test_has_totag():
    assert checks.has_totag(request()) == -1
    assert checks.has_totag(request(to_tag="x")) == 1


def test_request_reply():
    assert checks.is_request(request()) == 1 and checks.is_reply(request()) == -1
    assert checks.is_reply(reply()) == 1


def test_uri_params():
    msg = request(ruri="sip:bob@example.com;user=phone;lr")
    assert uri_ops.uri_param(msg, "user") == 1
    assert uri_ops.uri_param(msg, "user", "phone") == 1
    assert uri_ops.uri_param(msg, "user", "ip") == -1
    assert uri_ops.uri_param(msg, "nope") == -1
    cell = Cell()
    assert uri_ops.get_uri_param(msg, "user", cell) == 1 and cell.value == "phone"
    assert uri_ops.add_uri_param(msg, "nat=yes") == 1
    assert msg.current_uri == "sip:bob@example.com;user=phone;lr;nat=yes"
    plain = request(ruri="sip:bob@example.com")
    uri_ops.add_uri_param(plain, "a=1")
    assert plain.current_uri == "sip:bob@example.com;a=1"


def test_e164():
    m = request()
    assert checks.is_e164(m, "+4930123456") == 1
    assert checks.is_e164(m, "4930123456") == -1
    assert checks.is_e164(m, "+12345678901234567") == -1
    assert checks.is_uri_user_e164(m, "sip:+4930123@example.com") == 1
    assert checks.is_uri_user_e164(m, "sip:alice@example.com") == -1
    assert checks.is_numeric(m, "123") == 1 and checks.is_numeric(m, "12a") == -1
    assert checks.is_alphanum(m, "ab1") == 1 and checks.is_tel_number(m, "+123") == 1


def test_cmp_uri_and_aor():
    m = request()
    assert uri_ops.cmp_uri(m, "sip:bob@EXAMPLE.com:5060", "sip:bob@example.com") == 1
    assert uri_ops.cmp_uri(m, "sip:bob@example.com;transport=tcp", "sip:bob@example.com") == -1
    assert uri_ops.cmp_uri(m, "sip:Bob@example.com", "sip:bob@example.com") == -1
    assert uri_ops.cmp_aor(m, "sip:bob@example.com;x=1", "sip:bob@Example.com:5060") == 1
    assert uri_ops.is_uri(m, "sip:a@b") == 1 and uri_ops.is_uri(m, "nope") == -1


def test_gruu_and_tel2sip():
    m = request(ruri="sip:bob@example.com;gr=urn:uuid:1")
    assert uri_ops.is_gruu(m) == 1
    assert uri_ops.is_gruu(m, "sip:bob@example.com;gr") == 2
    assert uri_ops.is_gruu(m, "sip:bob@example.com") == -1
    cell = Cell()
    uri_ops.tel2sip(m, "tel:+4930123;ext=1", "gw.example.net", cell)
    assert cell.value == "sip:+4930123;ext=1@gw.example.net;user=phone"


def test_is_supported_and_user():
    msg = request(headers='Supported: timer, 100rel\r\nProxy-Authorization: Digest username="alice", '
                          'realm="r", nonce="n", uri="sip:x", response="y"')
    assert checks.is_supported(msg, "100rel") == 1
    assert checks.is_supported(msg, "path") == -1
    with pytest.raises(ValueError):
        checks.supported_option("bogus")
    assert checks.is_user(msg, "alice") == 1
    assert checks.is_user(msg, "bob") == -1


def test_is_first_hop():
    old = rt.sockets
    use_sockets(("udp", PROXY_IP, 5060))
    try:
        assert checks.is_first_hop(request()) == 1
        two = request(headers="Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2")
        assert checks.is_first_hop(two) == -1
        assert checks.is_first_hop(reply()) == 1
        assert checks.is_first_hop(reply(headers=f"Record-Route: <sip:{PROXY_IP};lr>")) == 1
        assert checks.is_first_hop(reply(headers="Record-Route: <sip:10.9.9.9;lr>")) == -1
    finally:
        rt.sockets = old


def test_options_reply(monkeypatch):
    sent = []
    monkeypatch.setattr(options, "_reply", lambda msg, code, reason: sent.append((code, reason)) or 1)
    msg = request("OPTIONS", f"sip:{PROXY_IP}")
    assert options.options_reply(msg) == 1
    assert sent == [(200, "OK")]
    assert msg.reply_lumps == ["Accept: */*\r\nAccept-Encoding: \r\nAccept-Language: en\r\nSupported: \r\n"]
    assert options.options_reply(request("OPTIONS", "sip:bob@example.com")) == -1
    assert options.options_reply(request("INVITE", f"sip:{PROXY_IP}")) == -1


def test_pvar_argument_is_a_real_pv():
    msg = request(ruri="sip:bob@example.com;user=phone")
    pv = parse_pv("$var(up)")
    uri_ops.get_uri_param(msg, "user", pv)
    assert pv.get(msg) == "phone"
