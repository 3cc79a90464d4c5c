import pytest

from kamapy.sip.errors import SipParseError
from kamapy.sip.sdp import parse_sdp
from tests.sip.corpus import SDP


def test_session_and_media():
    s = parse_sdp(SDP)
    assert s.version == "0" and s.origin.sess_id == "3912345678" and s.session_name == "Softphone"
    assert s.connection.address == "192.168.1.20" and s.times == ["0 0"]
    audio, video = s.medias
    assert audio.media == "audio" and audio.port == 40000 and audio.proto == "RTP/AVP"
    assert audio.formats == ["9", "0", "8", "101"] and audio.rtpmap["101"] == "telephone-event/8000"
    assert audio.effective_connection is s.connection and audio.direction == "sendrecv"
    assert video.connection.address == "192.168.1.21" and video.direction == "recvonly"
    assert audio.attributes.get("ptime") == "20"


def test_offsets_point_into_body():
    s = parse_sdp(SDP)
    for line in s.lines:
        assert SDP[line.start:line.end] == f"{line.type}={line.value}"
    c = s.medias[1].connection
    assert SDP[c.address_start:c.address_end] == "192.168.1.21"
    m = s.medias[0]
    assert SDP[m.port_start:m.port_end] == "40000"


def test_lf_and_bad_lines():
    s = parse_sdp("v=0\nm=audio 1/2 RTP/AVP 0\n")
    assert s.medias[0].port_count == 2
    for bad in ["x", "v=0\r\nbad\r\n", "v=0\r\nc=IN IP4\r\n", "v=0\r\nm=audio x RTP/AVP 0\r\n",
                "m=audio 1 RTP/AVP 0\r\n", "v=0\r\no=- 1\r\n"]:
        with pytest.raises(SipParseError):
            parse_sdp(bad)
