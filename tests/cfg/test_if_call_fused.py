"""`if (f())` / `if (!f())` compile to one generated function (Compiler.if_of_call); the
general form (if_call over the condition's call) is what every other condition uses.
Both must give the same branch, return code, $rc, exit/drop flags and calls, for every
return a module function can give and every shape of the statement around it."""

import itertools

import pytest

from kamapy.cfg import compile_routes, parse_text, run_route
from kamapy.cfg import compiler as compiler_mod
from kamapy.module import Arg, Function
from tests.cfg.conftest import Recorder, make_msg

RETURNS = [1, 2, -1, -2, 0, None, True, False]
SHAPES = [
    "if ({c}) {{ reply(1); }}",
    "if ({c}) {{ reply(1); }} else {{ reply(2); }}",
    "if ({c}) {{ reply(1); exit; }} reply(3);",
    "if ({c}) {{ }} else {{ reply(2); drop; }} reply(3);",
    "if ({c}) {{ if ({c}) {{ reply(4); }} reply(5); }} reply(3);",
    "route(R); reply(3); }} route[R] {{ if ({c}) {{ return(7); }} return(-3);",
    "if ({c}) {{ $var(x) = $rc; reply(\"$var(x)\"); }} else {{ reply(\"$rc\"); }}",
]


def _run(text, ret, fused, monkeypatch):
    rec = Recorder()
    extra = (Function("f", lambda msg, a: rec.calls.append(("f", a)) or ret, (Arg("igp"),)),)
    monkeypatch.setattr(compiler_mod.Compiler, "fuse_if", fused)
    routes = compile_routes(parse_text(text), rec.registry(extra))
    msg = make_msg()
    code = run_route(routes.lookup("request", None), msg, 1)
    ctx = msg.ctx
    return code, rec.calls, ctx.flags, ctx.last_rc, ctx.exited


@pytest.mark.parametrize("ret,shape,neg", list(itertools.product(RETURNS, SHAPES, [False, True])))
def test_fused_if_is_the_general_if(ret, shape, neg, monkeypatch):
    cond = ("!" if neg else "") + "f(5)"
    text = "request_route { " + shape.format(c=cond) + " }"
    general = _run(text, ret, False, monkeypatch)
    fused = _run(text, ret, True, monkeypatch)
    assert fused == general


def test_the_fused_form_is_used(monkeypatch):
    # one frame for the if and its call: the generated function is named after the call
    rec = Recorder()
    routes = compile_routes(parse_text("request_route { if (!ok()) { reply(1); } }"), rec.registry())
    fn = routes.lookup("request", None)
    assert fn.__code__.co_filename == "<cfg if ok>"
    monkeypatch.setattr(compiler_mod.Compiler, "fuse_if", False)
    routes = compile_routes(parse_text("request_route { if (!ok()) { reply(1); } }"), rec.registry())
    assert routes.lookup("request", None).__code__.co_filename != "<cfg if ok>"
