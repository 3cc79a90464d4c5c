"""A call returning 0 inside an expression stops the script (Kamailio's exit flag, checked
after if/switch conditions and after every statement), and igp arguments take a PV's int
side only. Each rule here was checked against Kamailio 5.6 (tests/differential/cases/cfgexpr)."""

import pytest

from kamapy.module import Arg, Function
from tests.cfg.conftest import make_msg


def replies(rec):
    return [c[1] for c in rec.calls if c[0] == "reply"]


@pytest.mark.parametrize("cond", ["!stop()", "stop()", "!route(Z)", "route(Z)", "stop() && ok()"])
def test_zero_in_a_condition_stops_before_either_branch(run, rec, cond):
    code, msg = run(f"""request_route {{ if ({cond}) {{ reply(1); }} else {{ reply(2); }} reply(3); }}
                        route[Z] {{ return(0); }}""")
    assert replies(rec) == []
    assert msg.ctx.exited and code == 0


def test_zero_in_a_condition_without_else(run, rec):
    run("request_route { if (!stop()) { reply(1); } reply(3); }")
    assert replies(rec) == []


def test_negative_in_a_negated_condition_runs_the_block(run, rec):
    code, msg = run("request_route { if (!fail()) { reply(1); } reply(3); }")
    assert replies(rec) == [1, 3]
    assert not msg.ctx.exited


def test_the_last_call_of_an_expression_decides(run, rec):
    # stop() returns 0, then ok() runs on fresh flags: the script goes on (Kamailio: yes)
    run("request_route { if (stop() || ok()) { reply(1); } reply(3); }")
    assert [c[0] for c in rec.calls] == ["stop", "ok", "reply", "reply"]
    rec.calls.clear()
    run("request_route { if (ok() || stop()) { reply(1); } reply(3); }")
    assert replies(rec) == [1, 3]  # ok() short-circuits: stop() never runs
    rec.calls.clear()
    run("request_route { if (fail() || stop()) { reply(1); } reply(3); }")
    assert replies(rec) == []


def test_switch_on_a_zero_call_runs_no_case(run, rec):
    run("request_route { switch (stop()) { case 0: reply(1); break; default: reply(2); } reply(3); }")
    assert replies(rec) == []


def test_assignment_and_arithmetic_with_a_zero_call_stop(run, rec):
    run("request_route { $var(x) = stop(); reply(1); }")
    assert replies(rec) == []
    run("request_route { $var(x) = 1 + route(Z); reply(1); } route[Z] { return(0); }")
    assert replies(rec) == []


def test_while_on_a_negated_zero_call_runs_one_statement(run, rec):
    # the exit flag is looked at after each statement of the body, not before the first
    run("request_route { while (!stop()) { reply(1); reply(2); } reply(3); }")
    assert replies(rec) == [1]


def test_route_return_in_a_condition_does_not_leak(run, rec):
    code, msg = run("""request_route { if (route(R)) { reply(1); } reply(2); }
                       route[R] { return(5); }""")
    assert replies(rec) == [1, 2] and not msg.ctx.exited


# ---------------------------------------------------------------- igp: the int side of a PV
@pytest.mark.parametrize("setup, arg, want", [
    ('$var(c) = 404;', '"$var(c)"', 404),
    ('$var(c) = "404";', '"$var(c)"', None),
    ('', '"$hdr(X-Code)"', None),
    ('', '"$(hdr(X-Code){s.int})"', 404),
    ('', '"$hdr(X-None)"', None),
    ('$var(u) = "c404";', '"$(var(u){s.substr,1,3})"', None),
    ('$avp(c) = 404;', '"$avp(c)"', 404),
    ('$avp(c) = "404";', '"$avp(c)"', None),
    ('', '"404"', 404),
])
def test_igp_takes_the_int_side_only(run, rec, setup, arg, want):
    got = []
    handler = lambda msg, code: got.append(code) or 1  # noqa: E731
    handler.takes_no_int = True
    reg = rec.registry
    rec.registry = lambda extra=(): reg((Function("code", handler, (Arg("igp"),)),))
    run(f"request_route {{ {setup} code({arg}); }}", make_msg(extra="X-Code: 404\r\n"))
    assert got == [want]


def test_igp_without_an_int_side_fails_the_call(run, rec):
    # a handler not prepared for None is not called: the call returns -1
    code, msg = run('request_route { $var(c) = "404"; if (reply("$var(c)")) { log("ran"); } '
                    '$var(r) = $rc; }')
    assert rec.calls == []
    from kamapy.pv import parse_pv
    assert parse_pv("$var(r)").get(msg) == -1


# ---------------------------------------------------------------- @select
def test_select_is_the_sel_pv(run, rec):
    from kamapy.pv import parse_pv
    msg = make_msg(extra="Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n")
    code, msg = run('request_route { $var(t) = @from.tag; $var(b) = @via[2].branch; '
                    'if (@cseq.method == "INVITE" && @ruri.user == "100") { reply(@cseq.num); } }', msg)
    assert parse_pv("$var(t)").get(msg) == "1"
    assert parse_pv("$var(b)").get(msg) == "z9hG4bK2"
    assert replies(rec) == [1]


def test_select_parses_to_a_sel_reference():
    from kamapy.cfg import ast, parse_text
    cfg = parse_text('request_route { $var(x) = @hf_value["X-A"]; $var(y) = @via[-1].host; }')
    refs = [s.expr for s in cfg.routes[0].body]
    assert all(isinstance(r, ast.PvRef) for r in refs)
    assert [r.text for r in refs] == ['$sel(@hf_value["X-A"])', "$sel(@via[-1].host)"]


def test_unknown_select_is_a_config_error_with_a_position(rec):
    from kamapy.cfg import ConfigError, compile_routes, parse_text
    with pytest.raises(ConfigError) as e:
        compile_routes(parse_text("request_route {\n  $var(x) = @nosuch.thing;\n}"), rec.registry())
    text = str(e.value)
    assert ":2:" in text and "nosuch.thing" in text
