"""Hooks a module declares in its exports (Kamailio's response_f, register_script_cb)
reach the lists receive_msg walks, in Kamailio's order, once each, and do their job over
the wire (sl's declared ACK filter is tested in tests/modules/test_sl_ack_filter.py)."""

import pytest

from kamapy.loader import ModuleRegistry
from kamapy.module import POST_SCRIPT, PRE_SCRIPT, ModuleExports, ScriptCallback
from kamapy.runtime import rt


@pytest.fixture
def clean_hooks():
    saved = (list(rt.reply_hooks), list(rt.pre_script_hooks), list(rt.post_script_hooks))
    rt.reply_hooks[:], rt.pre_script_hooks[:], rt.post_script_hooks[:] = [], [], []
    yield
    rt.reply_hooks[:], rt.pre_script_hooks[:], rt.post_script_hooks[:] = saved


def _mod(name, **kw):
    return ModuleExports(name=name, **kw)


def test_response_functions_newest_module_first_and_once(clean_hooks):
    def first(msg):
        return False

    def second(msg):
        return False
    reg = ModuleRegistry()
    reg.add(_mod("a_first", response=first))
    reg.add(_mod("b_plain"))
    reg.add(_mod("c_second", response=second))
    reg.mod_init_all()
    reg.mod_init_all()  # tests (and -c then serve) may init twice: no second copy
    assert rt.reply_hooks == [second, first]


def test_script_callbacks_land_in_their_lists_in_load_order(clean_hooks):
    calls = []

    def pre_a(msg):
        calls.append("pre_a")

    def pre_b(msg):
        calls.append("pre_b")

    def post_a(msg):
        calls.append("post_a")
    reg = ModuleRegistry()
    reg.add(_mod("a", script_callbacks=[ScriptCallback(PRE_SCRIPT, pre_a), ScriptCallback(POST_SCRIPT, post_a)]))
    reg.add(_mod("b", script_callbacks=[ScriptCallback(PRE_SCRIPT, pre_b)]))
    reg.mod_init_all()
    assert rt.pre_script_hooks == [pre_a, pre_b]
    assert rt.post_script_hooks == [post_a]
    for hook in rt.pre_script_hooks + rt.post_script_hooks:
        hook(None)
    assert calls == ["pre_a", "pre_b", "post_a"]


def test_a_pre_script_callback_names_its_methods(clean_hooks, monkeypatch):
    """ScriptCallback.methods: receive_msg enters the pre-script loop only for a method
    some callback names (sl's ACK filter costs an OPTIONS nothing); -1 names all."""
    from kamapy.sip.methods import METHOD_ACK, METHOD_OPTIONS
    monkeypatch.setattr(rt, "pre_script_methods", 0)
    reg = ModuleRegistry()
    reg.add(_mod("a", script_callbacks=[ScriptCallback(PRE_SCRIPT, lambda m: False, methods=METHOD_ACK)]))
    reg.mod_init_all()
    assert rt.pre_script_methods & METHOD_ACK and not rt.pre_script_methods & METHOD_OPTIONS
    reg.add(_mod("b", script_callbacks=[ScriptCallback(PRE_SCRIPT, lambda m: False)]))
    reg.mod_init_all()
    assert rt.pre_script_methods & METHOD_OPTIONS


OPTIONS = (b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-as1\r\n"
           b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: as-1\r\n"
           b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def test_after_script_runs_once_after_the_route_and_the_post_script_callbacks(clean_hooks, monkeypatch):
    """msg.after_script(fn): armed by the script for this request alone, run once when
    request_route has ended, after the declared POST_SCRIPT callbacks; a request that
    armed nothing runs nothing."""
    import types

    from kamapy.server.receive import receive_msg
    from kamapy.sip.msg import RecvInfo
    calls = []

    def armed(msg):
        calls.append(("armed", msg.get_header("call-id").value))

    def route(msg, ctx):
        calls.append("route")
        if msg.method == "OPTIONS":
            msg.after_script(armed)
            msg.after_script(armed)  # twice: runs once
        return 1
    monkeypatch.setattr(rt, "routes", types.SimpleNamespace(request=route, reply=None))
    monkeypatch.setattr(rt, "pre_script_methods", 0)
    rt.post_script_hooks.append(lambda msg: calls.append("post"))
    receive_msg(OPTIONS, RecvInfo("127.0.0.1", 5999))
    assert calls == ["route", "post", ("armed", "as-1")]
    calls.clear()
    receive_msg(OPTIONS.replace(b"OPTIONS", b"MESSAGE"), RecvInfo("127.0.0.1", 5999))
    assert calls == ["route", "post"]
