"""kamapy.net.onsend: when onsend_route runs, what $snd reads there, and that `drop`
(only drop) stops the send while the caller's run context survives."""

import socket
from types import SimpleNamespace

import pytest

from kamapy.cfg.run_context import DROP, EXIT, RunContext
from kamapy.net import onsend
from kamapy.pv import parse_pv
from kamapy.runtime import rt


class Msg:
    def __init__(self):
        self.ctx = RunContext(1)


@pytest.fixture
def routes(monkeypatch):
    ns = SimpleNamespace(onsend=None)
    monkeypatch.setattr(rt, "routes", ns)
    monkeypatch.setattr(rt, "core", SimpleNamespace(onsend_route_reply=0))
    return ns


def test_no_route_means_no_run(routes):
    assert onsend.onsend_route() is None
    routes.onsend = lambda msg, ctx: 1
    assert onsend.onsend_route() is routes.onsend
    assert onsend.onsend_route(is_reply=True) is None  # onsend_route_reply=0
    rt.core.onsend_route_reply = 1
    assert onsend.onsend_route(is_reply=True) is routes.onsend


def test_snd_values_and_context_restored(routes):
    seen = {}
    sock = SimpleNamespace(address="127.0.0.1", port=5080)

    def route(msg, ctx):
        for name in ("$snd(ip)", "$snd(port)", "$snd(proto)", "$snd(sproto)", "$snd(af)",
                     "$snd(len)", "$sndfrom(ip)", "$sndfrom(port)"):
            seen[name] = parse_pv(name).get(msg)
        seen["buf"] = parse_pv("$snd(buf)").get(msg)
        return 1

    msg = Msg()
    outer = msg.ctx
    ok = onsend.run_onsend(route, msg, 1, "127.0.0.2", 5999, socket.AF_INET, sock, b"OPTIONS x\xff")
    assert ok is True
    assert msg.ctx is outer  # request_route goes on with its own context
    assert seen == {"$snd(ip)": "127.0.0.2", "$snd(port)": 5999, "$snd(proto)": 1,
                    "$snd(sproto)": "udp", "$snd(af)": 2, "$snd(len)": 10,
                    "$sndfrom(ip)": "127.0.0.1", "$sndfrom(port)": 5080, "buf": "OPTIONS x\xff"}
    assert parse_pv("$snd(ip)").get(msg) is None  # outside onsend_route: $null


def test_only_drop_stops_the_send(routes):
    def drop(msg, ctx):
        ctx.flags |= DROP | EXIT
        return 0

    def exit_(msg, ctx):
        ctx.flags |= EXIT
        return 0

    msg = Msg()
    assert onsend.run_onsend(drop, msg, 1, "::1", 5060, socket.AF_INET6, None, b"x") is False
    assert onsend.run_onsend(exit_, msg, 1, "::1", 5060, socket.AF_INET6, None, b"x") is True
    assert onsend.run_onsend(lambda m, c: -1, msg, 1, "::1", 5060, socket.AF_INET6, None, b"x") is True


def test_af6_and_broken_route_still_sends(routes):
    got = {}

    def route(msg, ctx):
        got["af"] = parse_pv("$snd(af)").get(msg)
        raise RuntimeError("boom")

    msg = Msg()
    outer = msg.ctx
    assert onsend.run_onsend(route, msg, 1, "::1", 5060, socket.AF_INET6, None, b"x") is True
    assert got["af"] == 10 and msg.ctx is outer
