"""Messages the PV and core-function tests read."""

from __future__ import annotations

from kamapy.sip.msg import RecvInfo, SipMsg

INVITE = (
    "INVITE sip:12345@example.com:5080;transport=tcp;lr?subject=hi SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111;rport\r\n"
    "Via: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bK222\r\n"
    "v: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK333\r\n"
    'From: "Alice Smith" <sip:alice@atlanta.example.com>;tag=1928301774\r\n'
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.4:5062;transport=udp>;expires=60\r\n"
    "User-Agent: TestPhone/1.0\r\n"
    "X-Custom: First\r\n"
    "X-Custom: Second\r\n"
    "P-Asserted-Identity: <sip:+15551234@atlanta.example.com>, <tel:+15551234>\r\n"
    'Proxy-Authorization: Digest username="alice@atlanta.example.com", realm="atlanta.example.com", '
    'nonce="abc123", uri="sip:bob@biloxi.example.com", response="0123456789abcdef", algorithm=MD5, '
    'cnonce="0a4f113b", opaque="5ccc069c", qop=auth, nc=00000001\r\n'
    "Content-Type: application/sdp\r\n"
    "Content-Length: 14\r\n"
    "\r\n"
    "v=0\r\no=x 1 1\r\n"
)

REPLY = (
    "SIP/2.0 180 Ringing\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK111\r\n"
    "From: <sip:alice@a.example>;tag=1\r\n"
    "To: <sip:bob@b.example>;tag=2\r\n"
    "Call-ID: c1\r\n"
    "CSeq: 7 INVITE\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)


def make_msg(text: str = INVITE, **rcv) -> SipMsg:
    params = {"src_ip": "192.0.2.4", "src_port": 5062, "dst_ip": "198.51.100.1",
              "dst_port": 5060}
    params.update(rcv)
    return SipMsg(text.encode("latin-1"), RecvInfo(**params))


