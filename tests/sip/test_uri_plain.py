"""parse_uri_text's quick reading of `sip:[user@]host[:port][;params]` (uri._plain_sip)
must give exactly what the general parser gives for the same text, and must decline
(None) whatever the general parser refuses or reads another way: compared on URIs built
from the pieces that decide the shape, in every order."""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kamapy.sip import uri as uri_mod
from kamapy.sip.errors import SipParseError

FIELDS = ("text", "scheme", "user", "password", "host", "port", "port_str", "params_str", "headers")


def _general(text):
    try:
        u = uri_mod._parse_general(text)
    except SipParseError:
        return None
    return tuple(getattr(u, f) for f in FIELDS) + (u.params, u.transport)


def _check(text):
    plain = uri_mod._plain_sip(text)
    general = _general(text)
    if plain is None:
        return False
    assert general is not None, f"{text!r}: the quick reading accepts what the general one refuses"
    assert tuple(getattr(plain, f) for f in FIELDS) + (plain.params, plain.transport) == general, text
    return True


SHAPES = [
    "sip:127.0.0.1:41256;lr;ftag=5SIPpTag001;did=a3.b1", "sip:127.0.0.1:5060;transport=UDP",
    "sip:alice@example.com", "sip:alice@example.com:5070;transport=tcp;lr", "sip:10.0.0.1",
    "sip:host;", "sip:host:;lr", "sip:host:65536;lr", "sip:host:99999", "sip:host:0;x",
    "sip:a;b@host", "sip:host;maddr=a@b", "sip:host;maddr=::1", "sip:h;x=a:b", "sip:@host;lr",
    "sip:a:pw@host;lr", "sip:host?x=1", "sip:[::1]:5060;lr", "sip:", "sip::5060", "sip:;lr",
    "sip:ho st;lr", "sip:host:5x;lr", "SIP:host;lr", "sips:host;lr", "sip:a@b@c;lr",
    "sip:host:٥٠٦٠;lr", "sip:hőst;lr", "sip:u@h:5060;user=phone;lr=on", "sip:host:00005060",
]


@pytest.mark.parametrize("text", SHAPES)
def test_listed_shapes(text):
    _check(text)


def test_the_bench_route_takes_the_quick_reading():
    # the shapes a dialog's ACK and BYE carry: the point of the quick reading
    for text in ("sip:127.0.0.1:5060;lr;ftag=1SIPpTag001", "sip:127.0.0.1;lr",
                 "sip:service@127.0.0.1:5080;transport=UDP"):
        assert _check(text), text


PIECES = ["sip:", "a", "@", ":", ";", "5060", "lr", "=", "?", "[", "]", " ", ".", "-", "%20", "é", "x=1"]


def test_every_short_combination():
    n = 0
    for k in range(1, 5):
        for combo in itertools.product(PIECES[1:], repeat=k):
            text = "sip:" + "".join(combo)
            n += _check(text)
    assert n > 100  # enough of them took the quick reading for the comparison to mean something


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="ab1.-_:;@=?[]% \tZé", max_size=24))
def test_generated(tail):
    _check("sip:" + tail)
