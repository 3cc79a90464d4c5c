"""kamapy.sip.sdp_body, the one SDP finder of nathelper, rtpproxy and rtpengine: plain
and multipart/mixed bodies in both flavours (Kamailio's extract_body of nhelpr_funcs.c /
rtpproxy_funcs.c and of rtpengine_funcs.c, and the core's get_mixed_part_delimiter /
find_sdp_line_delimiter)."""

from __future__ import annotations

import pytest

from kamapy.sip import sdp_body as sb
from kamapy.sip.msg import RecvInfo, SipMsg

SDP = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def msg(body: str, ctype: str | None = "application/sdp", clen: int | None = None) -> SipMsg:
    lines = ["INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1",
             "From: <sip:a@example.com>;tag=1", "To: <sip:bob@example.com>", "Call-ID: c1",
             "CSeq: 1 INVITE"]
    if ctype is not None:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body) if clen is None else clen}")
    return SipMsg(("\r\n".join(lines) + "\r\n\r\n" + body).encode("latin-1"), RecvInfo("10.0.0.1", 5060))


def found(m, flavour=sb.NATHELPER):
    r = sb.extract_sdp(m, flavour)
    return None if r is None else (m.text[r[0]:r[1]], r[2])


def mp(*parts, delim="b1", end="\r\n", preamble=""):
    return preamble + "".join(f"--{delim}{end}{p}{end}" for p in parts) + f"--{delim}--{end}"


SDP_PART = "Content-Type: application/sdp\r\n\r\n" + SDP
TEXT_PART = "Content-Type: text/plain\r\n\r\nhello"


def test_plain_body():
    # nathelper/rtpproxy leave every trailing CR/LF out; rtpengine sends the body as it is
    assert found(msg(SDP + "\r\n")) == (SDP.rstrip("\r\n"), sb.CT_SDP)
    assert found(msg(SDP + "\r\n"), sb.RTPENGINE) == (SDP + "\r\n", sb.CT_SDP)


def test_nothing_but_line_ends_is_an_empty_body_for_nathelper():
    assert found(msg("\r\n\r\n")) is None
    assert found(msg("\r\n\r\n"), sb.RTPENGINE) == ("\r\n\r\n", sb.CT_SDP)


@pytest.mark.parametrize("ctype,kind,trickle_kind", [
    ("application/sdp", 1, 1), ("Application / SDP ;x=1", 1, 1), ("application/sdp;charset=x", 1, 1),
    ("multipart/mixed;boundary=x", 2, 2), ("MULTIPART/MIXED; boundary=x", 2, 2),
    ("application/trickle-ice-sdpfrag", -1, 3), ("text/plain", -1, -1), ("application/sdpx", -1, -1),
    ("application", -1, -1), (None, 1, 1)])
def test_content_kinds(ctype, kind, trickle_kind):
    m = msg(SDP, ctype)
    assert sb.content_kind(m) == kind and sb.content_kind(m, trickle=True) == trickle_kind


@pytest.mark.parametrize("ctype,delim", [
    ("multipart/mixed;boundary=b1", "b1"), ('multipart/mixed; boundary="b1"', "b1"),
    ("multipart/mixed;boundary='b1'", "b1"), ("multipart/mixed ; Boundary = b1", "b1"),
    ("multipart/mixed;boundary=b1;x=y", "b1;x=y"),   # the rest of the header, as Kamailio reads it
    ("multipart/mixed;x=y;boundary=b1", None),       # boundary must be the first parameter
    ("multipart/mixed", None), ("multipart/mixed;boundary=", None), ('multipart/mixed;boundary="b1', None),
])
def test_boundary(ctype, delim):
    assert sb.mixed_part_delimiter(ctype) == delim


@pytest.mark.parametrize("parts", [(SDP_PART,), (TEXT_PART, SDP_PART), (SDP_PART, TEXT_PART)])
def test_multipart_sdp_part_wherever_it_is(parts):
    body = mp(*parts)
    m = msg(body, 'multipart/mixed;boundary="b1"')
    assert found(m) == (SDP.rstrip("\r\n"), sb.CT_MULTIPART)
    # rtpengine: one CRLF before the next delimiter left out, the SDP's own last one kept
    assert found(m, sb.RTPENGINE) == (SDP, sb.CT_MULTIPART)


def test_multipart_variants():
    ct = "multipart/mixed;boundary=b1"
    # a compact "c:" header, parameters and spaces on the part's type
    assert found(msg(mp("c: Application/SDP ; x=1\r\n\r\n" + SDP), ct))[0] == SDP.rstrip("\r\n")
    # a preamble before the first delimiter
    assert found(msg(mp(SDP_PART, preamble="this is a preamble\r\n"), ct))[0] == SDP.rstrip("\r\n")
    # LF-only line ends
    lf = SDP.replace("\r\n", "\n")
    assert found(msg(mp("Content-Type: application/sdp\n\n" + lf, end="\n"), ct))[0] == lf.rstrip("\n")
    # the first of two SDP parts
    other = SDP.replace("4000", "5000")
    assert "4000" in found(msg(mp(SDP_PART, "Content-Type: application/sdp\r\n\r\n" + other), ct))[0]


def test_a_delimiter_must_start_a_line():
    ct = "multipart/mixed;boundary=b1"
    body = "--b1\r\nContent-Type: application/sdp\r\n\r\n" + SDP + "a=x:--b1\r\n--b1--\r\n"
    assert found(msg(body, ct))[0] == SDP + "a=x:--b1"


def test_the_search_skips_after_a_dash_pair_that_is_not_the_boundary():
    # Kamailio's find_sdp_line_delimiter: after "--" not followed by the boundary it
    # goes on len(boundary) + 2 further, so "---b1" at a line start is no delimiter
    # and neither is the "--b1" inside it
    text = "x\r\n---b1\r\n--b1\r\n"
    assert sb.find_delimiter(text, 0, len(text), "b1") == text.index("\r\n--b1\r\n") + 2
    assert sb.find_delimiter("x\r\n--b1", 0, 7, "b1") == -1  # a delimiter that reaches the end


@pytest.mark.parametrize("body,ctype", [
    (mp(TEXT_PART), "multipart/mixed;boundary=b1"),         # no SDP part
    ("no delimiter at all\r\n", "multipart/mixed;boundary=b1"),
    (mp(SDP_PART), "multipart/mixed;charset=x;boundary=b1"),  # boundary not first: none found
    (mp(SDP_PART), "multipart/mixed"),
])
def test_multipart_without_an_sdp_part(body, ctype):
    m = msg(body, ctype)
    assert found(m) is None and found(m, sb.RTPENGINE) is None and not sb.has_sdp(m)


def test_no_body_and_bad_lengths():
    assert found(msg("")) is None
    assert found(msg(SDP, clen=len(SDP) + 10)) is None  # content-length beyond the packet
    assert found(msg(SDP, "text/plain")) is None


def test_has_sdp():
    assert sb.has_sdp(msg(SDP))
    assert sb.has_sdp(msg(mp(TEXT_PART, SDP_PART), "multipart/mixed;boundary=b1"))
    assert not sb.has_sdp(msg(""))
    assert not sb.has_sdp(msg(SDP, "text/plain"))
    assert not sb.has_sdp(msg(SDP, None))


def test_trickle_is_rtpengines_only():
    m = msg("a=candidate:1 1 UDP 1 10.0.0.1 4000 typ host\r\n", "application/trickle-ice-sdpfrag")
    assert found(m) is None
    assert found(m, sb.RTPENGINE)[1] == sb.CT_TRICKLE
