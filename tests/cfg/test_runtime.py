"""Compiled routes run against SipMsg objects with fake module functions."""

import kamapy.runtime
from kamapy.pv import parse_pv
from tests.cfg.conftest import make_msg


def var(msg, name):
    return parse_pv(f"$var({name})").get(msg)


def test_reply_code_computed_from_ruri_user(run, rec):
    cfg = """
    request_route {
        if ($rU =~ "^1[0-9]+$") { $var(code) = 400 + strlen($rU); }
        else { $var(code) = 500; }
        reply("$var(code)", "for $rU");
    }"""
    run(cfg, make_msg(ruri="sip:123@x"))
    assert rec.calls == [("reply", 403, "for 123")]
    rec.calls.clear()
    run(cfg, make_msg(ruri="sip:alice@x"))
    assert rec.calls == [("reply", 500, "for alice")]


def test_function_returning_zero_stops_the_script(run, rec):
    code, msg = run("request_route { ok(); stop(); reply(1); }")
    assert rec.calls == [("ok",), ("stop",)]
    assert msg.ctx.exited and msg.ctx.last_rc == 0


def test_negative_is_false_positive_is_true(run, rec):
    run("request_route { if (fail()) reply(1); else reply(2); if (ok()) reply(3); }")
    assert [c for c in rec.calls if c[0] == "reply"] == [("reply", 2, ""), ("reply", 3, "")]


def test_zero_in_condition_exits(run, rec):
    run("request_route { if (stop()) reply(1); else reply(2); reply(3); }")
    assert rec.calls == [("stop",)]


def test_rc_and_return_from_route(run, rec):
    cfg = """
    request_route {
        route(R);
        $var(a) = $rc;
        ret(-5);
        $var(b) = $retcode;
        if (route(R)) { $var(c) = 1; }
    }
    route[R] { return 7; reply(99); }
    """
    code, msg = run(cfg)
    assert (var(msg, "a"), var(msg, "b"), var(msg, "c")) == (7, -5, 1)
    assert ("reply", 99, "") not in rec.calls


def test_return_in_request_route_ends_it(run, rec):
    run("request_route { return; reply(1); }")
    assert rec.calls == []


def test_return_zero_is_exit(run, rec):
    code, msg = run("request_route { route(R); reply(1); } route[R] { return 0; }")
    assert rec.calls == [] and msg.ctx.exited


def test_exit_and_drop(run, rec):
    code, msg = run("request_route { exit; reply(1); }")
    assert rec.calls == [] and msg.ctx.exited and not msg.ctx.dropped
    code, msg = run("request_route { route(D); reply(1); } route[D] { drop; }")
    assert rec.calls == [] and msg.ctx.dropped and code == 0


def test_if_else_if_chain(run, rec):
    cfg = """request_route {
        if (method == "REGISTER") reply(1);
        else if (is_method_invite == 1) reply(2);
        else if (method == "invite") reply(3);
        else reply(4);
    }""".replace("is_method_invite == 1", "$rm == \"X\"")
    run(cfg)
    assert rec.calls == [("reply", 3, "")]


def test_switch_int_fallthrough_and_break(run, rec):
    cfg = """request_route {
        $var(i) = 2;
        switch ($var(i)) {
            case 1: reply(1);
            case 2: reply(2);
            case 3: reply(3); break;
            case 4: reply(4);
            default: reply(5);
        }
        reply(6);
    }"""
    run(cfg)
    assert [c[1] for c in rec.calls] == [2, 3, 6]


def test_switch_strings_and_regex_and_default(run, rec):
    cfg = """request_route {
        switch ($rU) {
            case "alice": reply(1); break;
            case /"^1[0-9]+": reply(2); break;
            default: reply(3);
        }
    }"""
    run(cfg, make_msg(ruri="sip:155@x"))
    run(cfg, make_msg(ruri="sip:alice@x"))
    run(cfg, make_msg(ruri="sip:zed@x"))
    assert [c[1] for c in rec.calls] == [2, 1, 3]


def test_while_with_break(run, rec):
    cfg = """request_route {
        $var(i) = 0;
        while ($var(i) < 10) {
            $var(i) = $var(i) + 1;
            if ($var(i) == 4) break;
        }
        reply($var(i));
    }"""
    run(cfg)
    assert rec.calls == [("reply", 4, "")]


def test_runaway_while_stops_at_max_while_loops(run, rec):
    run("request_route { $var(i) = 0; while (1) { $var(i) = $var(i) + 1; } reply($var(i)); }")
    assert rec.calls == [("reply", 100, "")]


def test_operators(run):
    cfg = """request_route {
        $var(a) = 7 + 3 * 2;
        $var(b) = (7 + 3) * 2;
        $var(c) = 17 mod 5;
        $var(d) = -7 / 2;
        $var(e) = 6 | 1;
        $var(f) = 6 & 3;
        $var(g) = 6 ^ 3;
        $var(h) = 1 << 4;
        $var(i) = ~0;
        $var(j) = "ab" + 1;
        $var(k) = 1 + "2";
        $var(l) = !0;
        $var(m) = 3 > 2 && 2 >= 2 && 1 < 2 && 2 <= 2;
        $var(n) = 0 || 0;
        $var(o) = strempty("") + strlen("abcd");
        $var(p) = defined $avp(nope);
        $var(q) = 0x10 + 010;
        $var(r) = (str)12 + 3;
        $var(s) = (int)"12" + 3;
        $var(t) = 16 >> 2;
        $var(u) = "abc" eq "abc";
        $var(v) = "10" ieq 10;
    }"""
    code, msg = run(cfg)
    got = {k: var(msg, k) for k in "abcdefghijklmnopqrstuv"}
    assert got == {"a": 13, "b": 20, "c": 2, "d": -3, "e": 7, "f": 2, "g": 5, "h": 16, "i": -1,
                   "j": "ab1", "k": 3, "l": 1, "m": 1, "n": 0, "o": 5, "p": 0, "q": 24, "r": "123",
                   "s": 15, "t": 4, "u": 1, "v": 1}


def test_mixed_type_comparison_follows_left_operand(run):
    cfg = """request_route {
        $var(s) = "10";
        $var(a) = ($var(s) == 10);
        $var(b) = ("010" == 10);
        $var(c) = (10 == "010");
        $var(d) = ($var(none) == "");
        $var(e) = ($var(none) == 0);
        $var(f) = ("abc" == 0);
    }"""
    code, msg = run(cfg)
    assert [var(msg, k) for k in "abcdef"] == [1, 0, 1, 1, 1, 0]


def test_null_assignment_and_comparison(run):
    cfg = """request_route {
        $avp(x) = "v";
        $var(a) = ($avp(x) == $null);
        $avp(x) = $null;
        $var(b) = ($avp(x) == $null);
        $var(c) = ($avp(x) != $null);
    }"""
    code, msg = run(cfg)
    assert [var(msg, k) for k in "abc"] == [0, 1, 0]


def test_regex_match_is_case_insensitive_and_not_match(run):
    code, msg = run('request_route { $var(a) = ($rm =~ "^inv"); $var(b) = ($rU !~ "^1"); }')
    assert (var(msg, "a"), var(msg, "b")) == (1, 0)


def test_message_keywords(run, monkeypatch):
    seen = []
    monkeypatch.setattr(kamapy.runtime, "is_myself", lambda h, p, proto: seen.append((h, p)) or h == "me.local",
                        raising=False)
    cfg = """request_route {
        $var(a) = (method == "INVITE");
        $var(b) = (uri == myself);
        $var(c) = (src_ip == 10.0.0.0/8);
        $var(d) = (src_ip == 192.168.1.1);
        $var(e) = (src_port == 5070);
        $var(f) = (proto == udp);
        $var(g) = (af == inet);
        $var(h) = (from_uri =~ "alice@");
        $var(i) = (myself == uri);
        $var(j) = (msg:len > 100);
        $var(k) = (method == INVITE);
    }"""
    code, msg = run(cfg, make_msg(ruri="sip:100@me.local:5062"))
    assert [var(msg, k) for k in "abcdefghijk"] == [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1]
    assert seen[0] == ("me.local", 5062)


def test_function_args_kinds(run, rec):
    cfg = """request_route {
        $var(n) = 42;
        reply($var(n), "r $rU");
        log("static");
        ispv($var(n));
        if (rx("^sip:1")) reply(2);
        setflag(FLAG_X);
        reply(3 + 4);
    }"""
    text = "flags FLAG_X: 5;\n" + cfg
    run(text)
    assert rec.calls[0] == ("reply", 42, "r 100")
    assert rec.calls[1] == ("log", "static")
    assert rec.calls[2][0] == "ispv" and hasattr(rec.calls[2][1], "get")
    assert ("reply", 2, "") in rec.calls
    assert ("setflag", 5) in rec.calls
    assert rec.calls[-1] == ("reply", 7, "")


def test_other_route_blocks_compile_and_run(run, rec):
    cfg = """
    request_route { reply(1); }
    failure_route[F] { reply(2); }
    branch_route[B] { reply(3); }
    onreply_route[O] { reply(4); }
    reply_route { reply(5); }
    onsend_route { reply(6); }
    event_route[tm:local-request] { reply(7); }
    route["quoted"] { reply(8); }
    route[9] { reply(9); }
    """
    for kind, name, expect in [("failure", "F", 2), ("branch", "B", 3), ("onreply", "O", 4),
                               ("reply", None, 5), ("onsend", None, 6), ("event", "tm:local-request", 7),
                               ("route", "quoted", 8), ("route", "9", 9)]:
        rec.calls.clear()
        run(cfg, kind=kind, name=name)
        assert rec.calls == [("reply", expect, "")], kind


def test_dynamic_route_name(run, rec):
    run('request_route { $var(r) = "X"; route($var(r)); } route[X] { reply(1); }')
    assert rec.calls == [("reply", 1, "")]


def test_selval_and_nested_blocks(run):
    code, msg = run('request_route { $var(a) = selval($rU == "100", "yes", "no"); }')
    assert var(msg, "a") == "yes"


def test_string_concatenation_of_adjacent_literals(run, rec):
    run('request_route { log("a" "b"\n "c"); }')
    assert rec.calls == [("log", "abc")]
