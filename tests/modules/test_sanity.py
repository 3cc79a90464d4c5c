"""sanity: each check's reply code and reason, autodrop/noreply, the defaults."""

from __future__ import annotations

import pytest
from kamapy_modules import sanity
from kamapy_modules.sanity import checks as c
from module_test_messages import reply, request

from kamapy.sip.errors import SipParseError
from kamapy.sip.msg_flags import FL_MSG_NOREPLY


@pytest.fixture(autouse=True)
def replies(monkeypatch):
    sent = []
    monkeypatch.setattr(sanity, "_send", lambda msg, code, reason: sent.append((code, reason)) or 1)
    monkeypatch.setattr(sanity, "cfg", sanity.Config())
    return sent


def raw(text):
    msg = request()
    return type(msg)(text.encode("latin-1"), msg.rcv)


def edit(old, new, **kw):
    msg = request(**kw)
    return raw(msg.text.replace(old, new))


def test_defaults():
    assert c.DEFAULT_CHECKS == 3047
    assert c.DEFAULT_URI_CHECKS == 7


def test_good_request_passes(replies):
    assert sanity.w_sanity_check(request(body="v=0\r\n")) == 1
    assert sanity.w_sanity_check(request(), 1024 | 4096 | 16384 | 32768 | 65536, 15) == 1
    assert replies == []


@pytest.mark.parametrize("old,new,code,reason", [
    ("SIP/2.0\r\n", "SIP/3.0\r\n", 505, "Version Not Supported (R-URI)"),
    # an unknown scheme fails Kamailio's URI parse, which the check answers with 400
    ("INVITE sip:bob@example.com", "INVITE http://bob", 400, "Bad Request URI"),
    ("INVITE sip:bob@example.com", "INVITE foo:bar@example.com", 400, "Bad Request URI"),
    ("CSeq: 1 INVITE", "CSeq: 1 BYE", 400, "CSeq method does not match request method"),
    ("CSeq: 1 INVITE", "CSeq: 99999999999 INVITE", 400, "CSeq number is illegal"),
    ("Content-Length: 0", "Content-Length: 10", 400, "Content-Length mis-match"),
    ("Content-Length: 0", "Expires: soon\r\nContent-Length: 0", 400, "Expires value is illegal"),
    ("Content-Length: 0", "Authorization: Digest username=\"a\", realm=\"r\"\r\nContent-Length: 0",
     400, "Bad Auth Credentials"),
])
def test_failures_reply_like_kamailio(replies, old, new, code, reason):
    assert sanity.w_sanity_check(edit(old, new)) == 0
    assert replies == [(code, reason)]


def test_proxy_require_unsupported_gets_420_with_unsupported_header(replies):
    msg = edit("Content-Length: 0", "Proxy-Require: foo\r\nContent-Length: 0")
    assert sanity.w_sanity_check(msg) == 0
    assert replies == [(420, "Bad Proxy Require Extension")]
    assert msg.reply_lumps == ["Unsupported: foo\r\n"]
    sanity.cfg.proxy_require = frozenset({"foo"})
    assert sanity.w_sanity_check(edit("Content-Length: 0", "Proxy-Require: foo\r\nContent-Length: 0")) == 1


def test_missing_required_header_is_not_answered(replies):
    msg = edit("Call-ID: 3848276298220188511@198.51.100.7\r\n", "")
    assert sanity.w_sanity_check(msg) == 0
    assert msg.xflags & FL_MSG_NOREPLY
    assert replies == []


def test_duplicate_from_fails(replies):
    # a second From is refused by the parser itself now (Kamailio's parse_headers stops
    # there), before To: the message never gets as far as sanity
    with pytest.raises(SipParseError, match="duplicate from header"):
        msg = edit("To:", "From: <sip:x@y>;tag=2\r\nTo:")
        sanity.w_sanity_check(msg)


def test_parse_uris(replies):
    msg = edit("From: Alice <sip:alice@example.org>", "From: Alice <sip:alice@exa mple.org>")
    assert sanity.w_sanity_check(msg, 1024, 2) == 0
    assert replies == [(400, "Invalid From Header")]


def test_rfc3261_and_via1(replies):
    msg = request(via="SIP/2.0/UDP 198.51.100.7;branch=old")
    assert sanity.w_sanity_check(msg, 32768) == 0
    msg = request(headers="Route: <sip:p1.example.net>")
    assert sanity.w_sanity_check(msg, 32768) == 0
    msg = request(via="SIP/2.0/UDP 198.51.100.7")
    assert sanity.w_sanity_check(msg, 16384) == 0
    assert msg.xflags & FL_MSG_NOREPLY


def test_size_checks(replies):
    sanity.cfg.sizes = dict(sanity.SIZE_PARAMS, size_ruri=10)
    assert sanity.w_sanity_check(request(), 65536) == 0
    assert replies == []


def test_autodrop_off_returns_minus_one(replies):
    sanity.cfg.autodrop = 0
    assert sanity.w_sanity_check(edit("SIP/2.0\r\n", "SIP/3.0\r\n")) == -1


def test_noreply_keeps_the_answer_for_sanity_reply(replies):
    sanity.cfg.noreply = 1
    msg = edit("SIP/2.0\r\n", "SIP/3.0\r\n")
    assert sanity.w_sanity_check(msg) == 0
    assert replies == []
    assert sanity.w_sanity_reply(msg) == 1
    assert replies == [(505, "Version Not Supported (R-URI)")]


def test_bad_parameters_and_replies():
    assert sanity.w_sanity_check(request(), 0) == -1
    assert sanity.w_sanity_check(request(), 1, 16) == -1
    assert sanity.w_sanity_check(reply()) == 1
