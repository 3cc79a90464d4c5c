import logging

import pytest

from kamapy import core_functions as core
from kamapy.pv import script_flags
from kamapy.sip.msg import RecvInfo, SipMsg
from kamapy.sip.msg_flags import FL_ADD_LOCAL_RPORT, FL_FORCE_RPORT


def request(ruri: str) -> SipMsg:
    text = (f"INVITE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
            "Content-Length: 0\r\n\r\n")
    return SipMsg(text.encode(), RecvInfo())


def fn(name):
    f = core.exports.function(name) or next(f for f in core.KEX_FUNCTIONS if f.name == name)
    return f.handler


def test_exports_shape():
    names = {f.name for f in core.exports.functions}
    for expected in ("setflag", "rewritehostport", "append_branch", "force_rport", "forward",
                     "strip", "prefix", "revert_uri", "log"):
        assert expected in names
    # kex's, as in Kamailio: only with loadmodule "kex"
    from kamapy_modules.kex import exports as kex
    for name in ("setbflag", "setsflag", "isbflagset", "setdsturi", "isdsturiset", "is_myself"):
        assert name not in names
        assert kex.function(name) is not None
    assert core.exports.name == "core"
    strip = core.exports.function("strip")
    assert strip.min_args == 1 and strip.max_args == 1
    append = core.exports.function("append_branch")
    assert append.min_args == 0 and append.max_args == 2


def test_message_flags():
    m = request("sip:u@h")
    assert fn("isflagset")(m, 3) == -1
    assert fn("setflag")(m, 3) == 1
    assert fn("isflagset")(m, 3) == 1 and m.flags == 8
    assert fn("resetflag")(m, 3) == 1
    assert fn("isflagset")(m, 3) == -1
    assert fn("setflag")(m, 31) == 1 and m.flags == 1 << 31
    assert fn("setflag")(m, 32) < 0
    with pytest.raises(ValueError):
        core.exports.function("setflag").args[0].fixup(40)


def test_branch_flags():
    m = request("sip:u@h")
    assert fn("setbflag")(m, 2) == 1
    assert m.ruri_bflags == 4 and fn("isbflagset")(m, 2) == 1
    fn("append_branch")(m, "sip:x@y")
    assert m.branches[0].flags == 4  # takes the current branch flags
    assert fn("setbflag")(m, 5, 1) == 1
    assert m.branches[0].flags == 4 | 32
    assert fn("isbflagset")(m, 5, 1) == 1 and fn("isbflagset")(m, 5, 0) == -1
    assert fn("resetbflag")(m, 2, 1) == 1 and m.branches[0].flags == 32
    assert fn("setbflag")(m, 1, 7) == -1


def test_script_flags_are_per_process():
    script_flags.set_all(0)
    m1, m2 = request("sip:u@h"), request("sip:v@h")
    assert fn("setsflag")(m1, 6) == 1
    assert fn("issflagset")(m2, 6) == 1
    assert fn("resetsflag")(m2, 6) == 1
    assert fn("issflagset")(m1, 6) == -1


@pytest.mark.parametrize("func,arg,before,after", [
    ("strip", 3, "sip:12345@h", "sip:45@h"),
    ("strip", 5, "sip:12345@h", "sip:h"),
    ("strip", 9, "sip:12345@h;x=1", "sip:h;x=1"),
    ("strip_tail", 2, "sip:12345@h:5070", "sip:123@h:5070"),
    ("prefix", "00", "sip:12345@h", "sip:0012345@h"),
    ("prefix", "+1", "sip:h", "sip:+1@h"),
    ("rewriteuser", "bob", "sip:alice:pw@h:5070;lr?x=y", "sip:bob:pw@h:5070;lr?x=y"),
    ("rewriteuser", "", "sip:alice@h", "sip:h"),
    ("rewriteuserpass", "bob:secret", "sip:alice:pw@h", "sip:bob:secret@h"),
    ("rewritehost", "10.0.0.9", "sip:alice@h:5070;transport=tcp", "sip:alice@10.0.0.9:5070;transport=tcp"),
    ("rewritehostport", "10.0.0.9:5080", "sip:alice@h:5070;lr", "sip:alice@10.0.0.9:5080;lr"),
    ("rewritehostport", "10.0.0.9", "sip:alice@h:5070;lr", "sip:alice@10.0.0.9;lr"),
    ("rewritehostporttrans", "gw:5090", "sip:a@h:5070;x=1;transport=tcp;y=2", "sip:a@gw:5090;x=1;y=2"),
    ("rewriteport", "5099", "sip:alice@h:5070", "sip:alice@h:5099"),
    ("rewriteport", "5099", "sip:alice@h", "sip:alice@h:5099"),
    ("rewriteport", "", "sip:alice@h:5070", "sip:alice@h"),
    ("rewriteuri", "sip:new@where", "sip:alice@h", "sip:new@where"),
    ("rewritehost", "gw.example", "tel:+1555;phone-context=x", "sip:+1555;phone-context=x@gw.example;user=phone"),
    ("strip", 2, "tel:+1555", "tel:555"),
    ("prefix", "9", "sips:123@h", "sips:9123@h"),
])
def test_rewrite_family(func, arg, before, after):
    m = request(before)
    assert fn(func)(m, arg) == 1
    assert m.current_uri == after


def test_rewrite_on_bad_uri_and_tel_port():
    m = request("sip:alice@")
    assert fn("rewriteuser")(m, "x") < 0
    t = request("tel:+1555")
    assert fn("rewriteport")(t, "5060") < 0
    assert t.current_uri == "tel:+1555"


def test_set_uri_user_phone():
    m = request("sip:+1555@h")
    assert fn("set_uri_user_phone")(m) == 1
    assert m.current_uri == "sip:+1555@h;user=phone"
    assert fn("set_uri_user_phone")(m) == 1
    assert m.current_uri == "sip:+1555@h;user=phone"


def test_revert_uri():
    m = request("sip:alice@h")
    fn("rewritehost")(m, "x")
    assert fn("revert_uri")(m) == 1
    assert m.current_uri == "sip:alice@h" and m.new_uri is None


def test_append_branch():
    m = request("sip:alice@h")
    m.dst_uri = "sip:proxy:5070"
    assert fn("append_branch")(m) == 1
    assert fn("append_branch")(m, "sip:bob@h2", "0.5") == 1
    assert [b.uri for b in m.branches] == ["sip:alice@h", "sip:bob@h2"]
    assert m.branches[0].dst_uri == "sip:proxy:5070"
    assert m.branches[1].q == 500 and m.branches[0].q == -1
    assert fn("append_branch")(m, "sip:c@h", "2.0") < 0
    while len(m.branches) < 11:
        assert fn("append_branch")(m, "sip:more@h") == 1
    assert fn("append_branch")(m, "sip:toomany@h") == -1
    assert fn("remove_branch")(m, 0) == 1 and len(m.branches) == 10
    assert fn("clear_branches")(m) == 1 and m.branches == []


def test_dst_uri_functions():
    m = request("sip:alice@h")
    assert fn("isdsturiset")(m) == -1
    assert fn("setdsturi")(m, "sip:p") == 1 and m.dst_uri == "sip:p"
    assert fn("isdsturiset")(m) == 1
    assert fn("resetdsturi")(m) == 1 and m.dst_uri is None


def test_rport_and_socket():
    m = request("sip:alice@h")
    assert fn("force_rport")(m) == 1 and m.xflags & FL_FORCE_RPORT
    assert fn("add_local_rport")(m) == 1 and m.xflags & FL_ADD_LOCAL_RPORT
    assert fn("force_send_socket")(m, "tcp:10.1.1.1:5080") == 1
    assert m.force_send_socket == ("tcp", "10.1.1.1", 5080)
    assert core.parse_socket("[::1]:5060") == ("udp", "[::1]", 5060)
    assert core.parse_socket("10.0.0.1") == ("udp", "10.0.0.1", 0)
    with pytest.raises(ValueError):
        core.parse_socket("udp:1.2.3.4:abc")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def test_log_and_misc():
    m = request("sip:alice@h")
    logger = logging.getLogger("kamapy.script")
    handler = _Collect()
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        assert fn("log")(m, -1, "boom") == 1
        assert fn("log")(m, "quiet") == 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert (logging.ERROR, "<script>: boom") in handler.lines
    assert (logging.DEBUG, "<script>: quiet") in handler.lines
    assert fn("error")(m, "x", "y") == 1
    assert fn("len_gt")(m, 10) == 1
    assert fn("len_gt")(m, 100000) == -1


def test_send_flags_are_kept_per_direction():
    msg = request("sip:bob@example.com")
    assert msg.fwd_send_flags == msg.rpl_send_flags == 0
    assert fn("set_forward_no_connect")(msg) == 1
    assert msg.fwd_send_flags == core.SND_F_FORCE_CON_REUSE and msg.rpl_send_flags == 0
    fn("set_reply_close")(msg)
    assert msg.rpl_send_flags == core.SND_F_CON_CLOSE
    fn("set_forward_close")(msg)
    fn("set_reply_no_connect")(msg)
    both = core.SND_F_FORCE_CON_REUSE | core.SND_F_CON_CLOSE
    assert msg.fwd_send_flags == msg.rpl_send_flags == both
