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
