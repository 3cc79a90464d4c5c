"""Every class of config error names file:line:col, shows the line with a caret, and hints."""

import pytest

from kamapy.cfg import ConfigError, apply_core_params, compile_routes, parse_text
from tests.cfg.conftest import Recorder


def error_of(text, compile=False):
    with pytest.raises(ConfigError) as e:
        cfg = parse_text(text, name="t.cfg")
        apply_core_params(cfg, cfg.sources)
        if compile:
            compile_routes(cfg, Recorder().registry())
    return e.value


def test_missing_semicolon():
    e = error_of("request_route {\n  $var(a) = 1\n  exit;\n}\n")
    p = e.first
    assert (p.pos.line, p.pos.col) == (2, 14) and "missing ';'" in p.message
    assert "^" in str(e) and "$var(a) = 1" in str(e)


def test_unbalanced_brace():
    e = error_of("request_route {\n  if (1) {\n    exit;\n}\n")
    assert e.first.pos.line == 1 and "never closed" in e.first.message


def test_assign_in_condition():
    e = error_of("request_route {\n  if ($rU = \"1\") exit;\n}\n")
    assert (e.first.pos.line, e.first.pos.col) == (2, 11) and "==" in e.first.hint


def test_compare_as_statement():
    e = error_of("request_route {\n  $var(a) == 1;\n}\n")
    assert e.first.pos.line == 2 and "'='" in e.first.hint


def test_unknown_route_type():
    e = error_of("debug=2\nrequst_route {\n exit;\n}\n")
    assert e.first.pos.line == 2 and "unknown route type 'requst_route'" in e.first.message


def test_unterminated_string():
    e = error_of('debug=2\nserver_header="Server: x\n')
    assert (e.first.pos.line, e.first.pos.col) == (2, 15) and "unterminated string" in e.first.message


def test_unterminated_ifdef():
    e = error_of("#!ifdef WITH_X\ndebug=2\n")
    assert e.first.pos.line == 1 and "#!endif" in e.first.message


def test_unknown_core_parameter():
    e = error_of("debug=2\nchildrn=4\n")
    assert e.first.pos.line == 2 and "unknown core parameter 'childrn'" in e.first.message
    assert "children" in e.first.hint


def test_bad_core_parameter_value():
    e = error_of('children="four"\n')
    assert e.first.pos.line == 1 and "number" in e.first.message


def test_unknown_function():
    e = error_of("request_route {\n  ok();\n  nosuch(1);\n}\n", compile=True)
    assert (e.first.pos.line, e.first.pos.col) == (3, 3) and "unknown function 'nosuch'" in e.first.message


def test_wrong_parameter_count():
    e = error_of("request_route {\n  reply(1, \"a\", 3);\n}\n", compile=True)
    assert e.first.pos.line == 2 and "takes 1 to 2 parameters, 3 given" in e.first.message


def test_function_not_allowed_directly_in_failure_route():
    text = "request_route { exit; }\nfailure_route[F] {\n  only_request();\n}\n"
    p = error_of(text, compile=True).first
    assert (p.pos.line, p.pos.col) == (3, 3)
    assert "cannot be used in failure_route" in p.message and "allowed in: request_route" in p.hint


def test_function_allowed_when_reached_only_from_allowed_types():
    cfg = parse_text("request_route { route(X); }\nroute[X] { only_request(); }\n")
    compile_routes(cfg, Recorder().registry())


def test_undefined_route():
    e = error_of("request_route {\n  route(NOPE);\n}\n", compile=True)
    assert e.first.pos.line == 2 and "route 'NOPE' is not defined" in e.first.message


def test_bad_static_argument():
    e = error_of('request_route {\n  reply("abc");\n}\n', compile=True)
    assert e.first.pos.line == 2 and "must be a number" in e.first.message


def test_bad_pv_points_into_the_pv():
    e = error_of("request_route {\n  $var(a) = $nosuchpv;\n}\n", compile=True)
    assert e.first.pos.line == 2 and "nosuchpv" in e.first.message


def test_loadmodule_and_modparam_keep_positions():
    cfg = parse_text('debug=1\nloadmodule "tm.so"\nloadmodule("sl")\n'
                     'modparam("tm|sl", "fr_timer", 30000)\nmodparam("x", "y", "z")\n', name="m.cfg")
    assert [(m.path, m.pos.line, m.pos.col) for m in cfg.modules] == [("tm.so", 2, 1), ("sl", 3, 1)]
    mp = cfg.modparams[0]
    assert (mp.modules, mp.name, mp.value.value, mp.pos.line) == ("tm|sl", "fr_timer", 30000, 4)
    assert (mp.value.pos.line, mp.value.pos.col) == (4, 31)
    assert cfg.modparams[1].value.kind == "str"


def test_duplicate_route():
    e = error_of("route[A] { exit; }\nroute[A] { exit; }\n")
    assert e.first.pos.line == 2 and "duplicate route[A]" in e.first.message


def test_several_problems_reported_at_once():
    e = error_of("request_route {\n  nosuch1();\n  nosuch2();\n}\n", compile=True)
    assert [p.pos.line for p in e.problems] == [2, 3]


def test_report_never_shows_a_traceback():
    e = error_of("request_route {\n  if (\n}\n")
    assert "Traceback" not in str(e)


def test_define_name_under_a_switch_that_is_off(tmp_path):
    """Debian's stock config: `modparam("auth_db", "db_url", DBURL)` with WITH_AUTH but
    not WITH_MYSQL, which #!trydef's DBURL: the hint says where the define is."""
    from kamapy.cfg.parser import parse_config
    cfg = tmp_path / "k.cfg"
    cfg.write_text('#!ifdef WITH_MYSQL\n#!trydef DBURL "mysql://k@localhost/k"\n#!endif\n'
                   'loadmodule "auth_db.so"\nmodparam("auth_db", "db_url", DBURL)\n'
                   "request_route { exit; }\n")
    with pytest.raises(ConfigError) as e:
        parse_config(str(cfg))
    p = e.value.first
    assert (p.pos.line, p.pos.col) == (5, 31) and "unexpected 'DBURL'" in p.message
    assert f"#!trydef at {cfg}:2" in p.hint


def test_unknown_upper_case_word_hints_at_a_define():
    e = error_of('modparam("x", "y", NOPE_NAME)\n')
    assert "-A NOPE_NAME=VALUE" in e.first.hint
