"""A module function may hand the config compiler an expression for its common case
(handler.inline, kamapy.cfg.compiler._make_call): is_method does, for a list of known
methods. With and without it, every statement shape must give the same branch, return
code, $rc and flags, for requests of every method (known, unknown, odd case) and
replies whatever their CSeq says (is_method reads the CSeq method of a reply)."""

import itertools

import pytest
from kamapy_modules.textops import strings

from kamapy.cfg import compile_routes, parse_text, run_route
from kamapy.cfg import compiler as compiler_mod
from kamapy.module import Arg, Function
from kamapy.sip.methods import METHOD_IDS
from kamapy.sip.msg import RecvInfo, SipMsg
from tests.cfg.conftest import Recorder, make_msg

SPECS = ["INVITE", "OPTIONS", "REGISTER", "ACK", "INVITE|BYE|CANCEL", "invite", "FOO", "INVITE|FOO",
         "PUBLISH|SUBSCRIBE|NOTIFY", "KDMQ"]
SHAPES = [
    "if ({c}) {{ reply(1); }} else {{ reply(2); }}",
    "if (!{c}) {{ reply(1); exit; }} reply(3);",
    "if ({c} && {c}) {{ reply(1); }}",
    "if ({c}) {{ $var(x) = $rc; reply(\"$var(x)\"); }} else {{ reply(\"$rc\"); }}",
    "{c}; reply(\"$rc\");",
    "$var(y) = {c}; reply(\"$var(y)\");",
]


def _reply(status, cseq):
    data = (f"SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            f"From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c1\r\n"
            f"CSeq: {cseq}\r\nContent-Length: 0\r\n\r\n")
    return SipMsg(data.encode(), RecvInfo(src_ip="10.0.0.1", src_port=5070))


MESSAGES = ([lambda m=m: make_msg(m) for m in sorted(METHOD_IDS)]
            + [lambda m=m: make_msg(m) for m in ("FOO", "invite", "Options")]
            + [lambda c=c: _reply(200, c) for c in ("1 INVITE", "2 BYE", "3 FOO", "4 invite", "x", "")]
            + [lambda: _reply(180, "7 REGISTER")])


def _run(text, make, inline, monkeypatch):
    rec = Recorder()
    extra = (Function("is_method", strings.is_method, (Arg("raw", fixup=strings.MethodSet),)),)
    monkeypatch.setattr(compiler_mod.Compiler, "inline_calls", inline)
    routes = compile_routes(parse_text(text), rec.registry(extra))
    msg = make()
    code = run_route(routes.lookup("request", None), msg, 1)
    ctx = msg.ctx
    return code, rec.calls, ctx.flags, ctx.last_rc, ctx.exited


@pytest.mark.parametrize("spec,shape", list(itertools.product(SPECS, SHAPES)))
def test_inlined_is_method_is_the_call(spec, shape, monkeypatch):
    text = "request_route { " + shape.format(c=f'is_method("{spec}")') + " }"
    for make in MESSAGES:
        assert _run(text, make, True, monkeypatch) == _run(text, make, False, monkeypatch), (spec, make().first_line)


def test_the_inline_form_is_used(monkeypatch):
    """The generated call of `if (is_method("OPTIONS"))` holds the expression (no call
    to is_method for a request of a known method); a list with an unknown name keeps
    the call."""
    calls = []
    real = strings.is_method

    def counting(msg, methods):
        calls.append(msg.method)
        return real(msg, methods)
    counting.inline = real.inline
    rec = Recorder()
    for spec, want in (("OPTIONS", []), ("OPTIONS|FOO", ["INVITE"])):
        calls.clear()
        routes = compile_routes(parse_text(f'request_route {{ if (is_method("{spec}")) {{ reply(1); }} }}'),
                                rec.registry((Function("is_method", counting, (Arg("raw", fixup=strings.MethodSet),)),)))
        run_route(routes.lookup("request", None), make_msg("INVITE"), 1)
        assert calls == want, spec
