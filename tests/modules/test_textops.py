"""textops: search/replace/subst through lumps, header add/remove, reply lumps,
bodies, string tests."""

from __future__ import annotations

import pytest
from kamapy_modules import textops
from kamapy_modules.textops import body, headers, search, strings, subst
from kamapy_modules.textops.regex import compile_regex
from module_test_messages import header_lines, reply, request, sent

SDP = "v=0\r\no=- 1 1 IN IP4 198.51.100.7\r\nc=IN IP4 198.51.100.7\r\nm=audio 4000 RTP/AVP 0\r\n"


def rx(text):
    return compile_regex(text)


def test_search_whole_message_and_body():
    msg = request(body=SDP)
    assert search.search(msg, rx("^invite sip:bob")) == 1   # case-insensitive, first line too
    assert search.search(msg, rx("X-None")) == -1
    assert search.search_body(msg, rx("m=audio")) == 1
    assert search.search_body(request(), rx(".")) == -1


def test_replace_and_a_later_call_sees_the_original():
    msg = request()
    assert search.replace(msg, rx("Alice"), "Carol") == 1
    assert search.search(msg, rx("Alice")) == 1   # still the received text
    assert header_lines(sent(msg), "From") == ["From: Carol <sip:alice@example.org>;tag=fromtag1"]


def test_replace_does_not_touch_the_request_line():
    msg = request()
    assert search.replace_all(msg, rx("bob"), "robert") == 1
    out = sent(msg)
    assert out.startswith("INVITE sip:bob@example.com SIP/2.0")
    assert header_lines(out, "To") == ["To: <sip:robert@example.com>"]


def test_replace_body_and_all():
    msg = request(body=SDP)
    assert search.replace_body_all(msg, rx("198\\.51\\.100\\.7"), "203.0.113.1") == 1
    out = sent(msg)
    assert out.count("203.0.113.1") == 2
    assert "Via: SIP/2.0/UDP 198.51.100.7" in out
    assert f"Content-Length: {len(SDP) - 2}" in out


def test_search_append():
    msg = request()
    assert search.search_append(msg, rx("Call-ID: [^\r\n]*"), ";x=1") == 1
    assert header_lines(sent(msg), "Call-ID") == ["Call-ID: 3848276298220188511@198.51.100.7;x=1"]


def test_subst_flags_and_backrefs():
    msg = request()
    se = subst.parse_subst("/^From: (.*)tag=([a-z]+)/From: \\1tag=new-\\2/s")
    assert subst.subst(msg, se) == 1
    assert header_lines(sent(msg), "From") == ["From: Alice <sip:alice@example.org>;tag=new-fromtag1"]
    assert subst.subst(request(), subst.parse_subst("/nomatch/x/")) == -1
    with pytest.raises(ValueError):
        subst.parse_subst("/a/b/q")


def test_subst_uri_and_user():
    msg = request(ruri="sip:0049123@example.com")
    assert subst.subst_user(msg, subst.parse_subst("/^00/+/")) == 1
    assert msg.current_uri == "sip:+49123@example.com"
    assert subst.subst_uri(msg, subst.parse_subst("/example\\.com/gw.example.net/")) == 1
    assert msg.current_uri == "sip:+49123@gw.example.net"


def test_subst_replacement_with_pv():
    msg = request()
    se = subst.parse_subst("/^(Call-ID: [^\r\n]*)/\\1-$rm/s")
    assert subst.subst(msg, se) == 1
    assert header_lines(sent(msg), "Call-ID") == ["Call-ID: 3848276298220188511@198.51.100.7-INVITE"]


def test_append_insert_remove_headers():
    msg = request(headers="X-A: 1\r\nX-A: 2")
    assert headers.append_hf(msg, "X-End: e\r\n") == 1
    assert headers.insert_hf(msg, "X-Top: t") == 1
    assert headers.append_hf(msg, "X-After-To: a\r\n", "To") == 1
    assert headers.insert_hf(msg, "X-Before-CSeq: b\r\n", "CSeq") == 1
    assert headers.append_hf(msg, "X-Nope: n\r\n", "X-Missing") == -1
    assert headers.remove_hf(msg, "X-A") == 2
    assert headers.remove_hf(msg, "X-A-None") == -1
    lines = sent(msg).split("\r\n\r\n")[0].split("\r\n")
    assert lines[1] == "X-Top: t"
    assert lines[lines.index("To: <sip:bob@example.com>") + 1] == "X-After-To: a"
    assert lines[lines.index("X-Before-CSeq: b") + 1].startswith("CSeq:")
    assert lines[-1] == "X-End: e"
    assert not any(line.startswith("X-A:") for line in lines)


def test_remove_hf_compact_and_regex():
    msg = request(headers="k: timer\r\nX-Foo-1: a\r\nX-Foo-2: b")
    assert headers.is_present_hf(msg, "Supported") == 1
    assert headers.remove_hf(msg, "Supported") == 1
    assert headers.remove_hf_re(msg, rx("^X-Foo-[0-9]$")) == 2
    assert headers.is_present_hf_re(msg, rx("^x-foo")) == 1
    out = sent(msg)
    assert "k: timer" not in out and "X-Foo" not in out


def test_append_urihf():
    msg = request()
    msg.set_ruri("sip:carol@example.net")
    headers.append_urihf(msg, "Diversion: <", ">\r\n")
    assert header_lines(sent(msg), "Diversion") == ["Diversion: <sip:carol@example.net>"]


def test_append_to_reply_and_time():
    msg = request()
    assert headers.append_to_reply(msg, "Contact: <sip:x@y>\r\n") == 1
    assert headers.append_time(msg) == 1
    assert msg.reply_lumps[0] == "Contact: <sip:x@y>\r\n"
    assert msg.reply_lumps[1].startswith("Date: ") and msg.reply_lumps[1].endswith("GMT\r\n")


def test_bodies():
    assert body.has_body(request()) == -1
    msg = request(body=SDP)
    assert body.has_body(msg) == 1
    assert body.has_body(msg, "application/sdp") == 1
    assert body.has_body(msg, "text/plain") == -1
    assert body.set_body(msg, "hello", "text/plain") == 1
    out = sent(msg)
    assert out.endswith("\r\n\r\nhello")
    assert header_lines(out, "Content-Type") == ["Content-Type: text/plain"]
    assert "Content-Length: 5" in out
    empty = request()
    body.set_body(empty, "hi", "text/plain")
    assert sent(empty).endswith("Content-Length: 2\r\nContent-Type: text/plain\r\n\r\nhi") or \
        sent(empty).endswith("\r\n\r\nhi")


def test_set_reply_body():
    msg = request()
    assert body.set_reply_body(msg, "busy", "text/plain") == 1
    assert msg.reply_lumps == ["Content-Type: text/plain\r\n"]
    assert msg.reply_body == "busy"


def test_audio_on_hold():
    assert body.is_audio_on_hold(request(body=SDP)) == -1
    assert body.is_audio_on_hold(request(body=SDP + "a=sendonly\r\n")) == 2
    assert body.is_audio_on_hold(request(body=SDP.replace("c=IN IP4 198.51.100.7", "c=IN IP4 0.0.0.0"))) == 1


def test_is_method():
    ms = strings.MethodSet("INVITE|bye|FOO")
    assert strings.is_method(request(), ms) == 1
    assert strings.is_method(request("BYE"), ms) == 1
    assert strings.is_method(request("FOO"), ms) == 1
    assert strings.is_method(request("REGISTER"), ms) == -1
    assert strings.is_method(reply(), strings.MethodSet("INVITE")) == 1


def test_string_tests():
    m = request()
    assert strings.cmp_str(m, "abc", "abc") == 1
    assert strings.cmp_str(m, "abd", "abc") == -1
    assert strings.cmp_str(m, "abb", "abc") == -2
    assert strings.cmp_istr(m, "ABC", "abc") == 1
    assert strings.starts_with(m, "sip:bob", "sip:") == 1
    assert strings.starts_with(m, "si", "sip:") == -1
    assert strings.ends_with(m, "bob@example.com", ".com") == 1
    assert strings.str_find(m, "hello", "ll") == 3
    assert strings.str_find(m, "hello", "x") == -1
    assert strings.in_list(m, "b", "a, b ,c", ",") == 1
    assert strings.in_list(m, "d", "a,b,c", ",") == -1
    assert strings.in_list_prefix(m, "0049", "00,01", ",") == 1


def test_is_privacy():
    msg = request(headers="Privacy: id;header")
    assert strings.is_privacy(msg, "id") == 1
    assert strings.is_privacy(msg, "user") == -1
    with pytest.raises(ValueError):
        strings.privacy_value("bogus")


def test_exports_have_unique_names():
    names = [f.name for f in textops.exports.functions]
    assert len(names) == len(set(names))
