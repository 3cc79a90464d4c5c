"""Real-world-shaped SIP messages (written for these tests) and the facts each holds."""

SDP = (
    "v=0\r\n"
    "o=- 3912345678 3912345678 IN IP4 192.168.1.20\r\n"
    "s=Softphone\r\n"
    "c=IN IP4 192.168.1.20\r\n"
    "t=0 0\r\n"
    "m=audio 40000 RTP/AVP 9 0 8 101\r\n"
    "a=rtpmap:9 G722/8000\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=ptime:20\r\n"
    "a=sendrecv\r\n"
    "m=video 40002 RTP/AVP 96\r\n"
    "c=IN IP4 192.168.1.21\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=recvonly\r\n"
)


def crlf(s: str) -> bytes:
    return s.replace("\n", "\r\n").encode("latin-1")


def with_body(head: str, body: str) -> bytes:
    return (head.replace("\n", "\r\n").replace("@CL@", str(len(body))) + body).encode("latin-1")


INVITE_SDP = with_body(
    "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-524287-1---e6b6a1a95ee3c1b0;rport\n"
    "Max-Forwards: 70\n"
    "Contact: <sip:alice@192.168.1.20:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\n"
    "To: <sip:bob@biloxi.example.com>\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 INVITE\n"
    "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\n"
    "Content-Type: application/sdp\n"
    "Supported: replaces, norefersub, extended-refer, timer, outbound, path, X-cisco-serviceuri\n"
    "User-Agent: Z 5.4.12 v2.10.13.2\n"
    "Allow-Events: presence, kpml, talk\n"
    "Content-Length: @CL@\n"
    "\n", SDP)

REGISTER_MULTI = crlf(
    "REGISTER sip:example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP 10.0.0.5:52301;branch=z9hG4bK.kj8v1Rf3c;rport;alias\n"
    "From: <sip:1001@example.com>;tag=XWmV7RDpp\n"
    "To: sip:1001@example.com\n"
    "CSeq: 20 REGISTER\n"
    "Call-ID: 0_2581720613@10.0.0.5\n"
    "Max-Forwards: 70\n"
    "Supported: replaces, outbound, gruu, path\n"
    "Accept: application/sdp\n"
    "Contact: <sip:1001@10.0.0.5:52301;transport=tcp>;+sip.instance=\"<urn:uuid:5a8b1c2d-0000-4000-8000-0123456789ab>\";reg-id=1;expires=600;q=0.9,\n"
    " <sip:1001@[2001:db8::5]:5060>;expires=3600;q=0.5\n"
    "Contact: \"Desk, phone\" <sip:1001@desk.example.com;ob>;methods=\"INVITE, MESSAGE\";expires=0\n"
    "Authorization: Digest username=\"1001\", realm=\"example.com\", nonce=\"Y1X2ZWFkYmVlZg==\", uri=\"sip:example.com\", response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\n"
    "Expires: 3600\n"
    "User-Agent: Linphone/5.2.0 (belle-sip/5.2.0)\n"
    "Content-Length: 0\n"
    "\n")

OPTIONS = crlf(
    "OPTIONS sip:proxy.example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 203.0.113.9:5062;branch=z9hG4bK1701a;rport\n"
    "From: <sip:monitor@monitor.example.net>;tag=a73kszlfl\n"
    "To: <sip:proxy.example.com>\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@monitor.example.net\n"
    "CSeq: 1 OPTIONS\n"
    "Max-Forwards: 70\n"
    "Accept: application/sdp\n"
    "Content-Length: 0\n"
    "\n")

COMPACT = crlf(
    "INVITE sip:carol@chicago.example.com SIP/2.0\n"
    "v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8\n"
    "v: SIP/2.0/TCP proxy1.example.com:5070;branch=z9hG4bK2d4790.1 , SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKx;received=10.1.1.2\n"
    "t: Carol <sip:carol@chicago.example.com>\n"
    "f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\n"
    "i: a84b4c76e66710@pc33.atlanta.example.com\n"
    "CSeq: 314159 INVITE\n"
    "m: <sip:alice@pc33.atlanta.example.com>\n"
    "k: 100rel\n"
    "l: 0\n"
    "\n")

IPV6 = crlf(
    "INVITE sip:bob@[2001:db8::10]:5070;transport=udp SIP/2.0\n"
    "Via: SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bKv6x1;rport\n"
    "From: <sip:alice@[2001:db8::9]>;tag=v6tag\n"
    "To: <sip:bob@[2001:db8::10]>\n"
    "Call-ID: v6call@2001:db8::9\n"
    "CSeq: 7 INVITE\n"
    "Contact: <sip:alice@[2001:db8::9]:5060>\n"
    "Route: <sip:[2001:db8::1];lr>, <sip:edge.example.com;lr;transport=tcp>\n"
    "Max-Forwards: 69\n"
    "Content-Length: 0\n"
    "\n")

FOLDED = crlf(
    "SUBSCRIBE sip:presence@example.com SIP/2.0\n"
    "Via: SIP/2.0/UDP 192.0.2.4:5060\n"
    "  ;branch=z9hG4bKfold1;rport\n"
    "From: Watcher\n"
    "\t<sip:watcher@example.com>;tag=w1\n"
    "To:    <sip:presence@example.com>   \n"
    "Call-ID:   fold-call-1@192.0.2.4\n"
    "CSeq:   5    SUBSCRIBE\n"
    "Event: presence;id=17\n"
    "Expires: 1800\n"
    "Contact: <sip:watcher@192.0.2.4>\n"
    "Content-Length:   0\n"
    "\n")

ODD_SPACING = crlf(
    "MESSAGE sip:user@example.com SIP/2.0\n"
    "Via :  SIP / 2.0 / UDP   198.51.100.7 : 5080 ; branch = z9hG4bKodd ; rport\n"
    "FROM:<sip:sender@example.com>;TAG=odd1\n"
    "to:\"Quoted \\\"name\\\", with comma\" <sip:user@example.com>\n"
    "call-id:odd-1@198.51.100.7\n"
    "cseq:1 MESSAGE\n"
    "max-forwards:10\n"
    "Content-Type: text/plain;charset=UTF-8\n"
    "Content-Length: 5\n"
    "\n"
    "hello")

RINGING_FORK1 = crlf(
    "SIP/2.0 180 Ringing\n"
    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK.2a0b.0\n"
    "Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-524287-1---e6b6a1a95ee3c1b0;rport=5060;received=198.51.100.1\n"
    "Record-Route: <sip:proxy.example.com;lr;ftag=9fxced76sl>\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "To: <sip:bob@biloxi.example.com>;tag=fork-a-314\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:bob@192.0.2.100>\n"
    "Content-Length: 0\n"
    "\n")

OK_FORK2 = with_body(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK.2a0b.1, SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-524287-1---e6b6a1a95ee3c1b0;rport=5060;received=198.51.100.1\n"
    "Record-Route: <sip:proxy.example.com;lr;ftag=9fxced76sl>\n"
    "From: \"Alice Liddell\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\n"
    "To: <sip:bob@biloxi.example.com>;tag=fork-b-271\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\n"
    "CSeq: 1 INVITE\n"
    "Contact: <sip:bob@192.0.2.200:5060>\n"
    "Content-Type: application/sdp\n"
    "Content-Length: @CL@\n"
    "\n", SDP.replace("192.168.1.20", "192.0.2.200").replace("192.168.1.21", "192.0.2.201"))

BYE_TEL = crlf(
    "BYE tel:+14155551212;phone-context=example.com SIP/2.0\n"
    "Via: SIP/2.0/TLS gw.example.com:5061;branch=z9hG4bKtel1\n"
    "From: <tel:+14155550000>;tag=t1\n"
    "To: <sip:+14155551212@example.com;user=phone>;tag=t2\n"
    "Call-ID: tel-bye-1\n"
    "CSeq: 2 BYE\n"
    "Route: <sips:edge.example.com;lr>\n"
    "Content-Length: 0\n"
    "\n")

CORPUS = {
    "invite_sdp": INVITE_SDP,
    "register_multi": REGISTER_MULTI,
    "options": OPTIONS,
    "compact": COMPACT,
    "ipv6": IPV6,
    "folded": FOLDED,
    "odd_spacing": ODD_SPACING,
    "ringing_fork1": RINGING_FORK1,
    "ok_fork2": OK_FORK2,
    "bye_tel": BYE_TEL,
}
