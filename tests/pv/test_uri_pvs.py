import pytest
from pv_test_messages import make_msg

from kamapy.pv import parse_pv


def get(text, m):
    return parse_pv(text).get(m)


def put(text, m, value):
    return parse_pv(text).set(m, value)


@pytest.mark.parametrize("text,value", [
    ("$ru", "sip:12345@example.com:5080;transport=tcp;lr?subject=hi"),
    ("$rU", "12345"),
    ("$rd", "example.com"),
    ("$rp", "5080"),
    ("$rP", "tcp"),
    ("$rz", "sip"),
    ("$rUl", 5),
    ("$ou", "sip:12345@example.com:5080;transport=tcp;lr?subject=hi"),
    ("$oU", "12345"),
    ("$od", "example.com"),
    ("$op", "5080"),
    ("$du", None),
    ("$dd", None),
])
def test_ruri_reads(msg, text, value):
    assert get(text, msg) == value


def test_default_port_and_transport():
    m = make_msg("OPTIONS sip:alice@h.example SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    # Kamailio (checked on the wire, cases/pv/pv-ruri-*): "5060" and "UDP", text with
    # an int side, even for sips
    assert get("$rp", m) == "5060" and get("$rp", m).ri == 5060
    assert get("$rP", m) == "UDP" and get("$rP", m).ri == 1
    s = make_msg("OPTIONS sips:alice@h.example SIP/2.0\r\nVia: SIP/2.0/TLS h\r\n\r\n")
    assert get("$rp", s) == "5060"
    assert get("$rz", s) == "sips"
    hostonly = make_msg("OPTIONS sip:h.example SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    assert get("$rU", hostonly) is None


@pytest.mark.parametrize("ruri", ["foo:bar@h.example", "<sip:a@h.example>", "sip:a@[::1",
                                  "sip:a@h.example:65536"])
def test_unparsable_ruri_reads_null(ruri):
    # Kamailio 5.6's pv_get_ruri / pv_get_ouri parse the URI first and give $null when
    # that fails (receive/ruri-scheme-foo, torture-01/09/10)
    m = make_msg(f"OPTIONS {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    assert get("$ru", m) is None and get("$ou", m) is None and get("$rU", m) is None
    put("$ru", m, "sip:bob@h.example")
    assert get("$ru", m) == "sip:bob@h.example" and get("$ou", m) is None
    put("$ru", m, "http://x")
    assert get("$ru", m) is None


def test_urn_ruri_parts():
    m = make_msg("INVITE urn:service:sos SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n")
    assert get("$ru", m) == "urn:service:sos"
    assert (get("$rU", m), get("$rd", m), get("$rz", m), get("$rp", m)) == ("service", "sos", "urn", "5060")


def test_write_ruri_and_parts(msg):
    put("$ru", msg, "sip:bob@other.example")
    assert get("$ru", msg) == "sip:bob@other.example"
    assert get("$rU", msg) == "bob"
    assert get("$ou", msg) == "sip:12345@example.com:5080;transport=tcp;lr?subject=hi"
    put("$rU", msg, "carol")
    assert get("$ru", msg) == "sip:carol@other.example"
    put("$rd", msg, "third.example")
    assert get("$ru", msg) == "sip:carol@third.example"
    put("$rp", msg, 5090)
    assert get("$ru", msg) == "sip:carol@third.example:5090"
    put("$rp", msg, None)
    assert get("$ru", msg) == "sip:carol@third.example"
    put("$rU", msg, None)
    assert get("$ru", msg) == "sip:third.example"
    assert put("$ru", msg, None) == -1
    assert get("$ru", msg) == "sip:third.example"


def test_write_keeps_params_and_headers(msg):
    put("$rU", msg, "999")
    assert get("$ru", msg) == "sip:999@example.com:5080;transport=tcp;lr?subject=hi"
    put("$rd", msg, "1.2.3.4")
    assert get("$ru", msg) == "sip:999@1.2.3.4:5080;transport=tcp;lr?subject=hi"


def test_dst_uri(msg):
    put("$du", msg, "sip:proxy.example:5070;transport=tcp")
    assert msg.dst_uri == "sip:proxy.example:5070;transport=tcp"
    assert get("$du", msg) == "sip:proxy.example:5070;transport=tcp"
    assert get("$dd", msg) == "proxy.example"
    assert get("$dp", msg) == "5070" and get("$dp", msg).ri == 5070
    assert get("$dP", msg) == "tcp"
    put("$du", msg, None)
    assert msg.dst_uri is None and get("$du", msg) is None
