"""Route-type checks as Kamailio 5.6's parser makes them (each verified with kamailio -c,
see tests/cfg/verdicts/rt_*.cfg): a call is checked against the block it stands in,
route[] counting as request_route; reached through route() it is accepted, with a
warning naming the call chain when the function is not meant for that route type."""

import pytest

from kamapy import module as M
from kamapy.cfg import ConfigError, compile_routes, parse_text, run_route
from kamapy.module import Function
from tests.cfg.conftest import Recorder, make_msg


def registry(rec):
    return rec.registry([
        Function("fail_only", lambda msg: 1, (), route_types=M.FAILURE_ROUTE),
        Function("tm_reply_only", lambda msg: 1, (), route_types=M.TM_ONREPLY_ROUTE | M.REQUEST_ROUTE),
        Function("event_too", lambda msg: 1, (), route_types=M.FAILURE_ROUTE | M.EVENT_ROUTE),
    ])


def compile_text(text):
    rec = Recorder()
    return compile_routes(parse_text(text, name="t.cfg"), registry(rec)), rec


def refused(text):
    with pytest.raises(ConfigError) as e:
        compile_text(text)
    return e.value.first


def test_direct_call_in_failure_route_is_refused():
    p = refused("request_route { exit; }\nfailure_route[F] {\n  only_request();\n}\n")
    assert (p.pos.file, p.pos.line, p.pos.col) == ("t.cfg", 3, 3)
    assert "cannot be used in failure_route (failure_route[F])" in p.message


def test_call_reached_from_failure_route_is_a_warning_with_the_chain():
    routes, _ = compile_text("request_route { route(A); }\nfailure_route[MF] {\n  route(A);\n}\n"
                             "route[A] {\n  route(RELAY);\n}\nroute[RELAY] {\n  only_request();\n}\n")
    assert routes.warnings == [
        "t.cfg:9:3: warning: function 'only_request' is not meant for failure_route, reached as "
        "failure_route[MF] -> route(A) -> route(RELAY) -> only_request(); it runs there all the same, "
        "as in Kamailio"]


def test_one_warning_per_route_type_reaching_the_call():
    routes, _ = compile_text("request_route { route(R); }\nfailure_route[F] { route(R); }\n"
                             "branch_route[B] { route(R); }\nonreply_route[O] { route(R); }\n"
                             "onsend_route { drop; }\nroute[R] {\n  only_request();\n}\n")
    kinds = sorted(w.split("meant for ")[1].split(",")[0] for w in routes.warnings)
    assert kinds == ["branch_route", "failure_route", "onreply_route"]


def test_reached_call_runs_in_the_failure_route():
    routes, rec = compile_text("failure_route[F] { route(R); }\nroute[R] { only_request(); }\n")
    run_route(routes.lookup("failure", "F"), make_msg(), M.FAILURE_ROUTE)
    assert rec.calls == [("only_request",)]


@pytest.mark.parametrize("text", [
    "request_route { exit; }\nroute[NEVER] {\n  fail_only();\n}\n",                     # never called
    "failure_route[F] { route(R); }\nroute[R] {\n  fail_only();\n}\n",                 # only failure reaches it
])
def test_route_blocks_are_checked_as_request_route(text):
    p = refused(text)
    assert p.pos.line == 3 and "cannot be used in request_route (route[" in p.message
    assert "checked as request_route" in p.hint


def test_event_route_takes_any_overlap_with_request_route():
    compile_text("event_route[tm:local-request] {\n  only_request();\n  event_too();\n}\n")
    p = refused("event_route[tm:local-request] {\n  fail_only();\n}\n")
    assert "cannot be used in event_route" in p.message


def test_core_reply_route_and_tm_onreply_route_differ():
    compile_text("onreply_route[O] {\n  tm_reply_only();\n}\n")
    for head in ("reply_route", "onreply_route", "onreply_route[0]"):
        p = refused(f"{head} {{\n  tm_reply_only();\n}}\n")
        assert "cannot be used in reply_route" in p.message, head


def test_onsend_route_refuses_route_calls_and_direct_request_functions():
    p = refused("onsend_route {\n  route(R);\n}\nroute[R] { exit; }\n")
    assert (p.pos.line, "route() is not allowed in onsend_route") == (2, p.message)
    p = refused("onsend_route {\n  only_request();\n}\n")
    assert "cannot be used in onsend_route" in p.message


def test_snd_ip_only_in_onsend_route():
    compile_text("onsend_route {\n  if (snd_ip == 127.0.0.1) { drop; }\n}\n")
    p = refused("request_route {\n  if (snd_ip == 127.0.0.1) { drop; }\n}\n")
    assert p.pos.line == 2 and "snd_ip is allowed only in onsend_route" in p.message


def test_function_call_as_a_parameter_is_refused():
    p = refused('request_route {\n  reply(ok(), "x");\n}\n')
    assert p.pos.line == 2 and "cannot be a parameter of 'reply'" in p.message
