"""The config language over the wire: a real kamapy runs a config that uses every kind
of statement, operator and directive, and each request's reply says what the script
computed (the R-URI user picks the case)."""

from __future__ import annotations

import pytest

from tests.support.server import KamapyServer
from tests.support.sipclient import SipClient, status_of

pytestmark = pytest.mark.wire

CFG = r"""#!KAMAILIO
#!define BASE_CODE 400
#!define WITH_TWEAKS
#!substdef "/GREETING/hello/"
#!ifdef WITH_TWEAKS
#!define TWEAK "on"
#!else
#!define TWEAK "off"
#!endif
#!ifndef NOT_DEFINED
#!define FLT_SEEN 5
#!endif

debug=2
children=2
listen=udp:127.0.0.1:{port}
server_header="Server: kamapy-test"

loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"

modparam("pv", "shvset", "counter=i:10")

request_route {
    if (method == "OPTIONS" && $rU == $null) {
        sl_send_reply("200", "OK");
        exit;
    }
    # a reply code computed from the R-URI user: sip:code486@ -> 486
    if ($rU =~ "^code[0-9]{3}$") {
        sl_send_reply("$(rU{s.substr,4,3}{s.int})", "computed");  # s.substr alone is a string: no int side, 500
        exit;
    }
    switch ($rU) {
        case "arith":
            $var(x) = (7 * 6 - 2) / 4 % 7;           # 10 % 7 = 3
            $var(y) = $var(x) | 8 ^ 1;               # ^ binds tighter than | (cfg.y): 3 | 9
            sl_send_reply("200", "x=$var(x) y=$var(y) neg=$(var(x){s.int})");
            exit;
        case "concat":
            $var(s) = "GREETING" + "-" + $rm + "-" + TWEAK;
            sl_send_reply("200", "$var(s) len=$(var(s){s.len})");
            exit;
        case "loop":
            $var(i) = 0;
            $var(acc) = "";
            while ($var(i) < 5) {
                $var(acc) = $var(acc) + $var(i);
                $var(i) = $var(i) + 1;
            }
            sl_send_reply("200", "acc=$var(acc)");
            exit;
        case "route":
            route(CHECK);
            $var(rc) = $rc;
            route(NEGATIVE);
            sl_send_reply("200", "check=$var(rc) neg=$rc");
            exit;
        case "flags":
            setflag(FLT_SEEN);
            if (isflagset(FLT_SEEN) && !isflagset(6)) {
                sl_send_reply("200", "flag set");
                exit;
            }
            sl_send_reply("500", "flags broken");
            exit;
        case "avp":
            $avp(a) = "one";
            $avp(a) = "two";
            $xavp(r=>k) = "v";
            sl_send_reply("200", "avp=$avp(a) first=$(avp(a)[1]) xavp=$xavp(r=>k)");
            exit;
        case "shv":
            $shv(counter) = $shv(counter) + 1;
            sl_send_reply("200", "shv=$shv(counter)");
            exit;
        case "hdr":
            if (is_present_hf("X-Test") && $hdr(X-Test) == "abc" && $(hdr(X-Test){s.toupper}) == "ABC") {
                sl_send_reply("200", "hdr ok $hdrc(Via)");
                exit;
            }
            sl_send_reply("500", "hdr broken");
            exit;
        case "cmp":
            # string vs number comparisons follow the left operand's type
            if ("10" == 10 && 10 == "010" && !("abc" == "abd") && $null == $null && $var(none) == 0) {
                sl_send_reply("200", "cmp ok");
                exit;
            }
            sl_send_reply("500", "cmp broken");
            exit;
        case "body":
            set_reply_body("hello body", "text/plain");
            sl_send_reply("200", "with body");
            exit;
        case "drop":
            drop;
        default:
            break;
    }
    if ($rU == "elif") {
        if ($si != "127.0.0.1") {
            sl_send_reply("500", "wrong source");
        } else if (src_ip == 127.0.0.1 && proto == udp && af == inet) {
            sl_send_reply("200", "elif ok $sp/$Rp");
        } else {
            sl_send_reply("500", "no branch");
        }
        exit;
    }
    if (uri == myself) {
        sl_send_reply(BASE_CODE + 4, "Not Found $rU");
        exit;
    }
    sl_send_reply("403", "Not ours");
}

route[CHECK] {
    if ($rm == "OPTIONS") {
        return 7;
    }
    return -1;
}

route[NEGATIVE] {
    return -2;
}
"""


@pytest.fixture(scope="module")
def server():
    with KamapyServer(CFG, children=2) as srv:
        yield srv


def ask(server, user, extra=""):
    with SipClient(("127.0.0.1", server.port)) as c:
        return c.request(c.options(ruri=f"sip:{user}@127.0.0.1:{server.port}", extra=extra))


def reason(reply: bytes) -> str:
    return reply.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode()


@pytest.mark.parametrize("code", [302, 486, 603])
def test_reply_code_computed_from_ruri_user(server, code):
    reply = ask(server, f"code{code}")
    assert status_of(reply) == code
    assert reason(reply) == "computed"


def test_arithmetic_and_bitwise(server):
    assert reason(ask(server, "arith")) == "x=3 y=11 neg=3"


def test_concat_defines_and_substdef(server):
    assert reason(ask(server, "concat")) == "hello-OPTIONS-on len=16"


def test_while_loop(server):
    assert reason(ask(server, "loop")) == "acc=01234"


def test_route_return_codes(server):
    assert reason(ask(server, "route")) == "check=7 neg=-2"


def test_flags_with_defined_flag_number(server):
    assert reason(ask(server, "flags")) == "flag set"


def test_avp_stack_and_xavp(server):
    assert reason(ask(server, "avp")) == "avp=two first=one xavp=v"


def test_shared_variable_is_shared_by_the_workers(server):
    values = {int(reason(ask(server, "shv")).split("=")[1]) for _ in range(6)}
    # six increments from 10, whichever of the two workers took each request
    assert values == {11, 12, 13, 14, 15, 16}


def test_header_pvs_and_transformations(server):
    assert reason(ask(server, "hdr", extra="X-Test: abc\r\n")) == "hdr ok 1"


def test_comparison_typing(server):
    assert reason(ask(server, "cmp")) == "cmp ok"


def test_else_if_and_keywords(server):
    r = reason(ask(server, "elif"))
    assert r.startswith("elif ok ") and r.endswith(f"/{server.port}")


def test_reply_body_from_set_reply_body(server):
    reply = ask(server, "body")
    assert reason(reply) == "with body"
    assert b"Content-Type: text/plain\r\n" in reply
    assert b"Content-Length: 10\r\n" in reply and reply.endswith(b"\r\n\r\nhello body")


def test_drop_sends_nothing(server):
    assert ask(server, "drop") is None


def test_myself_and_int_expression_as_code(server):
    reply = ask(server, "someone")
    assert status_of(reply) == 404
    assert reason(reply) == "Not Found someone"
    assert b"Server: kamapy-test" in reply
