"""Modules declare their hooks, they do not append to runtime lists: the reply hook is
ModuleExports.response (Kamailio's response_f), script callbacks are
ModuleExports.script_callbacks (register_script_cb), transaction events go through
tm's callback API (bind_api("tm"), register_tmcb). Only the loader fills the lists
receive_msg walks (rt.reply_hooks, rt.pre_script_hooks, rt.post_script_hooks), and the
old ad-hoc list tm/uas.reply_out_callbacks is gone."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.tree_grep import ROOT
from tests.support.tree_grep import offenders as tree_offenders

# the loader installs the declared hooks; receive_msg walks them; runtime defines them
ALLOWED = ("kamapy/loader.py", "kamapy/server/receive.py", "kamapy/runtime.py")
PATTERNS = {
    # a change to one: .append/.insert/.extend/.remove, an item or slice set, += or =
    "rt hook list": re.compile(r"\b(reply_hooks|pre_script_hooks|post_script_hooks)\s*"
                               r"(\.(append|insert|extend|remove)\b|\[|\+=|=(?!=))"),
    "tm reply_out_callbacks": re.compile(r"\breply_out_callbacks\b"),
}


def offenders(root: Path = ROOT) -> list[str]:
    return tree_offenders(PATTERNS, lambda rel: rel in ALLOWED, root)


def test_no_module_touches_the_hook_lists():
    bad = offenders()
    assert not bad, ("hooks must be declared in ModuleExports (response=, script_callbacks=) "
                     "or registered through tm's API, not appended to lists:\n" + "\n".join(bad))


def test_the_grep_finds_what_it_looks_for(tmp_path):
    mod = tmp_path / "modules" / "planted"
    mod.mkdir(parents=True)
    (tmp_path / "kamapy").mkdir()
    (mod / "__init__.py").write_text(
        "def mod_init():\n"
        "    rt.reply_hooks.insert(0, f)\n"
        "    rt.pre_script_hooks.append(g)\n"
        "    '''rt.post_script_hooks: named in a docstring is fine'''\n"
        "    uas.reply_out_callbacks.append(h)\n")
    (tmp_path / "kamapy" / "loader.py").write_text("rt.reply_hooks.append(fn)\n")  # allowed
    bad = offenders(tmp_path)
    assert len(bad) == 3 and all(b.startswith("modules/planted/__init__.py:") for b in bad), bad


def test_the_modules_declare_their_hooks():
    """tm (its reply hook), dialog and nat_traversal declare theirs statically; nathelper sets its
    response in mod_init when SIP pings are on, as nathelper.c does."""
    from kamapy_modules import dialog, nat_traversal, tm

    from kamapy.module import POST_SCRIPT

    assert tm.exports.response is not None
    # tm's delayed error reply is armed per request (msg.after_script), not declared
    assert not any(cb.when == POST_SCRIPT for cb in tm.exports.script_callbacks)
    assert any(cb.when == POST_SCRIPT for cb in dialog.exports.script_callbacks)
    assert nat_traversal.exports.response is not None
    api = tm.exports.api
    assert api is not None and api.TMCB_RESPONSE_OUT == 1 << 9
