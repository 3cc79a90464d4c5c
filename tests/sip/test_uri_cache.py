"""parse_uri answers from a per-process cache by text (kamapy.sip.uri._uri_cache); what it
answers must be what parsing the text gives (parse_uri_text), whatever the URI, and an
error must be raised every time, never remembered as an answer."""

import pytest

from kamapy.sip import uri as uri_mod
from kamapy.sip.errors import SipParseError
from kamapy.sip.uri import parse_uri, parse_uri_text

FIELDS = ("text", "scheme", "user", "password", "host", "port", "port_str", "params_str", "headers")

GOOD = [
    "sip:alice@example.com", "sip:alice@example.com:5070", "sip:127.0.0.1:5060;transport=UDP",
    "sip:127.0.0.1:41256;lr;ftag=5SIPpTag001", "sips:alice:secret@example.com:5061;transport=tcp;lr?subject=x",
    "sip:[2001:db8::1]:5070;maddr=10.0.0.1", "SIP:Bob%20Smith@Host.Example.COM",
    "sip:+1555;npdi;rn=+1556@gw.example.com;user=phone", "tel:+14155551212;phone-context=example.com",
    "sip:10.0.0.1", "urn:service:sos", "urn:service:123", "sip:a@b;maddr=10.1.1.1;transport=tcp",
]
BAD = ["", "sip:", "http://x", "sip:@host", "sip:a@[::1", "sip:a@host:99999", "sip:a@ho st", "nocolon"]


def _fields(u):
    return tuple(getattr(u, f) for f in FIELDS) + (u.params, u.transport)


@pytest.mark.parametrize("text", GOOD)
def test_cached_answer_is_the_parse(text):
    uri_mod._uri_cache.clear()
    first = parse_uri(text)
    again = parse_uri(text)
    assert again is first  # from the cache
    assert _fields(again) == _fields(parse_uri_text(text))
    assert parse_uri_text(text) is not first


@pytest.mark.parametrize("text", BAD)
def test_an_error_is_raised_every_time(text):
    uri_mod._uri_cache.clear()
    for _ in range(2):
        with pytest.raises(SipParseError):
            parse_uri(text)
        with pytest.raises(SipParseError):
            parse_uri_text(text)
    assert text not in uri_mod._uri_cache


def test_the_cache_is_bounded():
    uri_mod._uri_cache.clear()
    for i in range(3 * uri_mod._URI_CACHE_MAX):
        u = parse_uri(f"sip:u{i}@example.com;x={i}")
        assert u.user == f"u{i}" and u.param("x") == str(i)
        assert len(uri_mod._uri_cache) <= uri_mod._URI_CACHE_MAX
