"""Helpers for the config tests: parse text, compile with fake module functions, run on a message."""

import pytest

from kamapy.cfg import DictRegistry, compile_routes, parse_text, run_route
from kamapy.module import ANY_ROUTE, Arg, Function
from kamapy.sip.msg import RecvInfo, SipMsg


def make_msg(method="INVITE", ruri="sip:100@example.com", src_ip="10.0.0.1", extra=""):
    data = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP {src_ip};branch=z9hG4bK1\r\n"
            f"From: \"A\" <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
            f"Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n")
    return SipMsg(data.encode(), RecvInfo(src_ip=src_ip, src_port=5070))


class Recorder:
    """Fake module functions that record their calls."""

    def __init__(self):
        self.calls = []

    def registry(self, extra=()):
        def rec(name, ret=1):
            def handler(msg, *args):
                self.calls.append((name, *args))
                return ret
            return handler

        fns = [
            Function("reply", rec("reply"), (Arg("igp"), Arg("spve", optional=True, default=""))),
            Function("log", rec("log"), (Arg("spve"),)),
            Function("ok", rec("ok", 1), ()),
            Function("fail", rec("fail", -1), ()),
            Function("stop", rec("stop", 0), ()),
            Function("ret", lambda msg, n: n, (Arg("igp"),)),
            Function("setflag", rec("setflag"), (Arg("int"),)),
            Function("only_request", rec("only_request"), (), route_types=1),
            Function("ispv", rec("ispv"), (Arg("pvar"),)),
            Function("rx", lambda msg, r: 1 if r.search(msg.ruri) else -1, (Arg("regex"),)),
            Function("any", rec("any"), (), route_types=ANY_ROUTE),
            *extra,
        ]
        return DictRegistry(fns)


@pytest.fixture
def rec():
    return Recorder()


@pytest.fixture
def run(rec):
    """run(cfg_text, msg=None, route='request') -> (code, msg); calls in rec.calls."""

    def runner(text, msg=None, kind="request", name=None, route_type=1):
        routes = compile_routes(parse_text(text), rec.registry())
        msg = msg or make_msg()
        route = routes.lookup(kind, name)
        code = run_route(route, msg, route_type)
        return code, msg

    return runner
